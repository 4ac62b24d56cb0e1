"""The run cache under concurrency (afg.runlock): one process trains a run folder, the others wait
and read it; different runs do not wait for each other; a lock left by a killed process is taken over."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from afg.experiments import ExperimentConfig, run
from afg.experiments.runner import run_dir_for
from afg.runlock import RunLock, exclusive

ROOT = Path(__file__).resolve().parents[1]
RUNLOCK_PY = ROOT / "afg" / "runlock.py"


def _tiny(seed: int = 0, epochs: int = 1) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "model": {"name": "baseline", "num_classes": 8, "backbone": "resnet_tiny", "pretrained": False,
                  "img_size": 48},
        "data": {"dataset": "synthetic", "profile": "disfa", "n_subjects": 4, "images_per_subject": 4,
                 "size": 48, "folds": 2, "fold": 1},
        "recipe": {"epochs": epochs, "batch_size": 4, "max_steps_per_epoch": 2, "device": "cpu",
                   "progress": False, "deterministic": True, "schedule": {"name": "constant"}, "seed": seed},
    })


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _holder_process(target: Path) -> subprocess.Popen:
    """A process that takes ``target``'s lock (afg/runlock.py alone: no torch import) and sleeps."""
    code = (f"import importlib.util, sys, time\n"
            f"spec = importlib.util.spec_from_file_location('runlock', {str(RUNLOCK_PY)!r})\n"
            f"m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            f"lock = m.RunLock({str(target)!r}, heartbeat_s=0.2)\n"
            f"assert lock.try_acquire()\nprint('held', flush=True)\ntime.sleep(600)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


# ------------------------------------------------------------------------------ the primitive
def test_one_holder_at_a_time_and_the_file_names_it(tmp_path):
    a, b = RunLock(tmp_path / "run-1"), RunLock(tmp_path / "run-1")
    assert a.path == tmp_path / ".run-1.lock"
    assert a.try_acquire() and not b.try_acquire()
    holder = b.holder()
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    assert RunLock(tmp_path / "run-2").try_acquire()  # another entry: free
    a.release()
    assert not a.path.exists() and b.try_acquire()
    b.release()


def test_a_dead_holder_on_this_host_is_taken_over(tmp_path, capsys):
    lock = RunLock(tmp_path / "run")
    lock.path.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "token": "old"}))
    assert lock.try_acquire()
    assert lock.holder()["token"] == lock.token != "old"
    assert "taking over the lock of pid" in capsys.readouterr().err
    lock.release()


def test_a_reused_pid_is_not_the_holder(tmp_path):
    """Same pid, other start time: the holder died and the pid went to a later process."""
    lock = RunLock(tmp_path / "run")
    lock.path.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "token": "x",
                                     "ticks": 1}))
    assert lock.try_acquire()
    lock.release()


def test_another_hosts_lock_is_stale_only_when_its_heartbeat_stopped(tmp_path):
    lock = RunLock(tmp_path / "run", stale_s=60)
    lock.path.write_text(json.dumps({"pid": 1, "host": "node-elsewhere", "token": "x"}))
    assert not lock.try_acquire()  # fresh heartbeat: a live job on another node
    old = time.time() - 3600
    os.utime(lock.path, (old, old))
    assert lock.try_acquire()
    lock.release()


def test_the_heartbeat_refreshes_the_lock(tmp_path):
    lock = RunLock(tmp_path / "run", heartbeat_s=0.05)
    assert lock.try_acquire()
    old = time.time() - 3600
    os.utime(lock.path, (old, old))
    time.sleep(0.5)
    assert time.time() - lock.path.stat().st_mtime < 60
    lock.release()


def test_a_waiter_reads_what_the_holder_built(tmp_path, capsys):
    target, built = tmp_path / "run", tmp_path / "run" / "done"
    holder = RunLock(target)
    assert holder.try_acquire()
    out = {}

    def wait() -> None:
        with exclusive(target, done=built.exists) as build:
            out["build"] = build

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.8)
    assert t.is_alive()  # waiting
    built.parent.mkdir()
    built.touch()
    holder.release()
    t.join(10)
    assert out == {"build": False}
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{target} is being built by pid {os.getpid()}" in err[0]


def test_a_killed_holder_is_taken_over_by_the_waiting_run(tmp_path, capsys):
    """A process holding the run's lock is SIGKILLed while run() waits: run() takes over and trains."""
    cfg = _tiny()
    rd = run_dir_for(cfg, tmp_path)
    p = _holder_process(rd)
    threading.Timer(1.0, p.kill).start()
    t0 = time.perf_counter()
    res = run(cfg, root=tmp_path)
    p.wait()
    assert not res.cached and time.perf_counter() - t0 > 1.0
    err = capsys.readouterr().err
    assert f"{rd} is being built by pid {p.pid}" in err and f"taking over the lock of pid {p.pid}" in err
    assert not (tmp_path / f".{rd.name}.lock").exists()


# ------------------------------------------------------------------------------ two processes
_CLIENT = """
import json, os, resource, sys, time
from pathlib import Path
from afg.experiments import ExperimentConfig, run
import afg.experiments.runner as runner
cfg = ExperimentConfig.from_dict(json.loads(sys.argv[1]))
go, hold = Path(sys.argv[3]), float(sys.argv[4])
if hold:  # keep the lock a moment longer, so that the other process surely finds it held
    train = runner._train_and_evaluate
    runner._train_and_evaluate = lambda r: (time.sleep(hold), train(r))[1]
print("ready", flush=True)
while not go.exists():
    time.sleep(0.05)
t0, c0 = time.perf_counter(), time.process_time()
res = run(cfg, root=sys.argv[2])
print(json.dumps({"cached": res.cached, "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0,
                  "metrics": res.scalars(), "pid": os.getpid()}), flush=True)
"""


def _client(cfg: ExperimentConfig, root: Path, go: Path, hold: float = 0.0) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([sys.executable, "-c", _CLIENT, json.dumps(cfg.to_dict()), str(root), str(go), str(hold)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().strip() == "ready", p.stderr.read()
    return p


def _result(p: subprocess.Popen) -> tuple[dict, str]:
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1]), err


@pytest.mark.slow
def test_two_processes_on_one_config_train_it_once(tmp_path):
    cfg = _tiny(epochs=2)
    rd = run_dir_for(cfg, tmp_path)
    a = _client(cfg, tmp_path, tmp_path / "go-a", hold=1.5)
    b = _client(cfg, tmp_path, tmp_path / "go-b")
    (tmp_path / "go-a").touch()
    lock = tmp_path / f".{rd.name}.lock"
    deadline = time.time() + 60
    while not lock.exists() and time.time() < deadline:
        time.sleep(0.02)
    (tmp_path / "go-b").touch()
    (ra, _), (rb, eb) = _result(a), _result(b)
    print(f"\ntrained: cpu {ra['cpu_s']:.2f} s, wall {ra['wall_s']:.2f} s; "
          f"waited: cpu {rb['cpu_s']:.2f} s, wall {rb['wall_s']:.2f} s")
    assert not ra["cached"] and rb["cached"]
    assert rb["metrics"] == ra["metrics"]
    waits = [ln for ln in eb.splitlines() if "is being built by" in ln]
    assert len(waits) == 1 and str(rd) in waits[0] and f"pid {ra['pid']}" in waits[0], eb
    assert rb["cpu_s"] < 0.5 * ra["cpu_s"]  # the waiter polled, it did not train
    assert not lock.exists()


@pytest.mark.slow
def test_different_configs_train_in_parallel(tmp_path):
    go = tmp_path / "go"
    a, b = _client(_tiny(seed=1), tmp_path, go), _client(_tiny(seed=2), tmp_path, go)
    go.touch()
    (ra, ea), (rb, eb) = _result(a), _result(b)
    assert not ra["cached"] and not rb["cached"]
    assert "is being built by" not in ea + eb
