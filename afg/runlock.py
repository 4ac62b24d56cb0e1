"""A lock file beside a cache entry, so that one process builds it while the others wait.

The run cache (:func:`afg.experiments.run`) and the pretraining cache
(:func:`afg.pretrain.synthetic_weights`) fill an entry the first time it is asked for. Several
processes may ask at once (notebooks sharing ``runs/``, duplicated array jobs, DDP ranks); the
first takes the entry's lock and builds it, the others print one line naming the entry and the
holder, wait, and read the finished entry.

The primitive (docs/cluster.md): a lock file ``<folder>/.<entry>.lock`` made by ``link(2)`` of a
private temporary file holding ``{pid, host, token, ...}`` — the "create a unique file and link it"
recipe of ``open(2)``, atomic on local file systems and on NFSv2/v3/v4, Lustre, GPFS and
BeeGFS. ``link`` either creates the lock with its whole content or fails with ``EEXIST``; when
the NFS reply is lost, the link count of the private file (2) says whether it succeeded. Unlike
``fcntl``/``flock`` it needs no lock daemon (``lockd``, NFSv3), survives a client reboot visibly,
and a waiter can read who holds it.

A lock whose process died is *stale* and is taken over:

* same host (the hostname recorded in the lock): the process id is gone, or has been reused by a
  process started later (Linux start time from ``/proc``);
* another host: the holder's heartbeat stopped — a thread touches the lock every ``heartbeat_s``
  seconds; it is stale when its modification time is ``stale_s`` older than the file system's
  "now" (read from a file touched beside it, so the clocks of the hosts need not agree).

Taking over goes through a second, short-lived lock (``.<entry>.lock.takeover``), so of several
waiters that find the same stale lock only one removes it.
"""
from __future__ import annotations

import errno
import json
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["LockHolder", "RunLock", "exclusive"]

#: seconds between two heartbeats of a held lock
HEARTBEAT_S = 10.0
#: a lock of another host whose heartbeat is this old is stale
STALE_S = 120.0


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3… of ``/proc/<pid>/stat`` (state, ppid, …; ``None`` without Linux ``/proc``)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _start_ticks(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux; ``None`` elsewhere)."""
    stat = _proc_stat(pid)
    return int(stat[19]) if stat else None  # field 22 of proc(5)


def _pid_alive(pid: int, ticks: int | None) -> bool:
    """Is process ``pid`` (started at ``ticks``, when known) running on this host? A zombie (killed,
    not yet reaped) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    stat = _proc_stat(pid)
    if stat is None:
        return True
    return stat[0] not in ("Z", "X") and (ticks is None or int(stat[19]) == ticks)


def _fs_now(folder: Path) -> float:
    """The file system's current time: the modification time of a file created in ``folder``."""
    fd, tmp = tempfile.mkstemp(prefix=".clock-", dir=folder)
    try:
        return os.fstat(fd).st_mtime
    finally:
        os.close(fd)
        os.unlink(tmp)


def _stale(path: Path, holder: LockHolder | None, mtime: float | None, stale_s: float) -> bool:
    """Does the lock ``path``, read as (``holder``, ``mtime``), belong to a process that is gone?
    Same host: its process id is not running; another host (or no readable record): no heartbeat
    for ``stale_s`` seconds of the file system's clock."""
    if mtime is None:
        return False
    if holder is not None and holder.get("host") == socket.gethostname():
        return not _pid_alive(int(holder.get("pid", -1)), holder.get("ticks"))
    return _fs_now(path.parent) - mtime > stale_s


class LockHolder(dict):
    """What a lock file records: ``pid``, ``host``, ``token``, ``since``, ``ticks``, ``group``."""

    def describe(self) -> str:
        return f"pid {self.get('pid', '?')} on host {self.get('host', '?')}"


def _link_create(path: Path, record: dict[str, Any]) -> bool:
    """Create ``path`` holding ``record`` atomically; ``False`` when it exists already."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # NFS: the reply may be lost although the link was made
            return os.stat(tmp).st_nlink == 2
        return True
    finally:
        os.unlink(tmp)


def _read(path: Path) -> tuple[LockHolder | None, float | None]:
    """The holder recorded in ``path`` (``None`` when unreadable) and the file's mtime (``None``
    when there is no lock)."""
    try:
        mtime = path.stat().st_mtime
        rec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError):
        return None, mtime
    return (LockHolder(rec) if isinstance(rec, dict) else None), mtime


class RunLock:
    """The lock of one cache entry ``target`` (a run folder or a weights file): the file
    ``<target's folder>/.<target name>.lock``.

    Args:
        target: the entry the lock guards (it need not exist).
        heartbeat_s: seconds between two heartbeats while held.
        stale_s: age of the heartbeat after which another host's lock counts as abandoned.
        group: processes of one group (the ranks of one ``torchrun``) share the holder's lock.
    """

    def __init__(self, target: str | os.PathLike, heartbeat_s: float = HEARTBEAT_S,
                 stale_s: float = STALE_S, group: str | None = None):
        self.target = Path(target)
        self.path = self.target.parent / f".{self.target.name}.lock"
        self.heartbeat_s, self.stale_s, self.group = heartbeat_s, stale_s, group
        self.token: str | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # -- state --------------------------------------------------------------------------------
    def holder(self) -> LockHolder | None:
        """Who holds the lock now (``None``: nobody, or a lock file that cannot be read)."""
        return _read(self.path)[0]

    def is_stale(self, holder: LockHolder | None, mtime: float | None) -> bool:
        """Does the lock read as (``holder``, ``mtime``) belong to a process that is gone?"""
        return _stale(self.path, holder, mtime, self.stale_s)

    @property
    def held(self) -> bool:
        return self.token is not None

    # -- taking and giving back ---------------------------------------------------------------
    def try_acquire(self) -> bool:
        """Take the lock if it is free or stale; ``True`` when this object now holds it."""
        if self.held:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        record = {"pid": os.getpid(), "host": socket.gethostname(), "token": token, "since": time.time(),
                  "ticks": _start_ticks(os.getpid()), "group": self.group, "target": str(self.target)}
        if not _link_create(self.path, record):
            holder, mtime = _read(self.path)
            if not self.is_stale(holder, mtime) or not self._remove_stale(holder):
                return False
            if not _link_create(self.path, record):
                return False
        self.token = token
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat, name=f"afg-lock-{self.target.name}", daemon=True)
        self._beat.start()
        return True

    def _remove_stale(self, holder: LockHolder | None) -> bool:
        """Remove the stale lock of ``holder`` under the takeover lock (one waiter does it)."""
        guard = self.path.with_name(self.path.name + ".takeover")
        if _stale(guard, *_read(guard), stale_s=30.0):
            _unlink(guard)  # a waiter died within its takeover (milliseconds long): rare
        if not _link_create(guard, {"pid": os.getpid(), "host": socket.gethostname(),
                                    "ticks": _start_ticks(os.getpid())}):
            return False
        try:
            now, mtime = _read(self.path)
            same = (now or {}).get("token") == (holder or {}).get("token")
            if mtime is not None and same and self.is_stale(now, mtime):
                _unlink(self.path)
                who = now.describe() if now is not None else "an unreadable lock"
                print(f"afg: {self.target}: taking over the lock of {who} (gone)", file=sys.stderr, flush=True)
            return True
        finally:
            _unlink(guard)

    def release(self) -> None:
        """Give the lock back (only the lock this object took: a lock taken over is left alone)."""
        if not self.held:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        holder = self.holder()
        if holder is not None and holder.get("token") == self.token:
            _unlink(self.path)
        self.token = None

    def _heartbeat(self) -> None:
        warned = False
        while not self._stop.wait(self.heartbeat_s):
            holder = self.holder()
            if holder is None or holder.get("token") != self.token:
                if not warned:
                    print(f"afg: warning: {self.target}: lost its lock to "
                          f"{holder.describe() if holder else 'nobody'} (heartbeat too late?)",
                          file=sys.stderr, flush=True)
                    warned = True
                continue
            try:
                os.utime(self.path)
            except OSError:
                pass

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def acquire(self, done: Callable[[], bool] | None = None, poll_s: float = 0.5,
                max_poll_s: float = 5.0) -> bool:
        """Wait for the lock; ``False`` (lock not taken) as soon as ``done()`` says the entry was
        built by the holder. Prints one line naming the entry and the holder when it waits."""
        told = False
        while True:
            if done is not None and done():
                return False
            if self.try_acquire():
                if done is not None and done():  # finished between the look and the lock
                    self.release()
                    return False
                return True
            if not told:
                holder = self.holder()
                who = holder.describe() if holder is not None else "another process"
                print(f"afg: {self.target} is being built by {who} (lock {self.path}); waiting for it",
                      file=sys.stderr, flush=True)
                told = True
            time.sleep(poll_s)
            poll_s = min(max_poll_s, poll_s * 1.5)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:  # pragma: no cover - e.g. a read-only file system
        if exc.errno != errno.ENOENT:
            raise


def _torchrun_group() -> str | None:
    """The id shared by the ranks of one ``torchrun`` (``None`` outside of one)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    return "/".join(os.environ.get(k, "") for k in ("TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT",
                                                       "SLURM_JOB_ID"))


@contextmanager
def exclusive(target: str | os.PathLike, done: Callable[[], bool] | None = None,
              **kwargs: Any) -> Iterator[bool]:
    """``with exclusive(entry, done=is_built) as build:`` — ``build`` is ``True`` when this process
    holds ``entry``'s lock and must build it, ``False`` when ``done()`` turned true (another
    process built it; read it). Waits while another process holds the lock.

    Under ``torchrun`` only rank 0 takes the lock; the other ranks wait until the entry is built
    or rank 0 holds the lock (then they build it with rank 0), so no rank waits at a collective
    for a rank that waits at the lock.
    """
    group = _torchrun_group()
    lock = RunLock(target, group=group, **kwargs)
    if group is not None and int(os.environ.get("RANK", "0")) != 0:
        while True:
            if done is not None and done():
                yield False
                return
            holder = lock.holder()
            if holder is not None and holder.get("group") == group:
                yield True
                return
            time.sleep(0.2)
    build = lock.acquire(done)
    try:
        yield build
    finally:
        lock.release()
