"""Where the runs of an ablation, sweep or cross-validation train: local processes or SLURM jobs.

``Ablation.run(executor=...)``, ``Sweep.run`` and ``cross_validation`` (``afg ablate`` /
``afg cv --executor``) take an :class:`ExecutorSpec` (or its name, or a mapping):

* ``local`` — today's process pool on this machine (:func:`afg.experiments.parallel.train_parallel`;
  ``jobs`` workers, 1 = one run after the other in this process);
* ``slurm`` — one SLURM job per run through `submitit <https://github.com/facebookincubator/submitit>`_
  (the runs of one call form a job array: ``partition``, ``gpus_per_job``, ``cpus_per_job``,
  ``mem_gb``, ``time_min``, ``array_parallelism``, extra ``sbatch`` options, shell ``setup``
  lines);
* ``submitit-local`` — submitit's local executor: the same job code path without ``sbatch``
  (each job a process on this machine; what the tests use).

Every job calls :func:`afg.experiments.run` on its config, so it writes into the same run cache
(``<root>/<model>-<hash>``) as a local run would, and the caller reads every result back from the
cache. A job that is pre-empted or reaches its time limit gets submitit's signal, asks to be
requeued (:meth:`TrainJob.checkpoint`, at most ``max_requeue`` times) and continues from the
run's resumable checkpoint (set ``recipe.checkpoint_every_steps`` so that little is lost); a job that was
killed outright is resubmitted by the next call for the same runs and resumes the same way.

Submitting does not have to wait: with ``wait=False`` the call submits the missing runs, records
each job in ``<run dir>/job.json`` and returns the finished runs only, so a notebook cell can
submit, return, and be executed again later — runs whose job is still queued or running are not
submitted twice, finished ones are read from the cache, killed ones are resubmitted. A run that
starts from another pending run's checkpoint (``StageAblation``) is submitted once that run has
finished (a later call, or the same call when it waits).

Each job appends one line per start to ``<run dir>/jobs.jsonl`` (job id, host, process id, the
step its resumable checkpoint had reached), which shows where a resubmitted job resumed.
"""
from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..config import Config, ConfigError
from ..runs import RunFolder, load_checkpoint
from ..utils import atomic_save_json
from .config import ExperimentConfig
from .parallel import _ensure_pretrained
from .runner import ResolvedRun, is_complete, resolve_runs, run, runs_root

__all__ = ["EXECUTORS", "ExecutorSpec", "RunSubmission", "TrainJob", "resolve_executor", "slurm_state",
           "submit_runs"]

#: executor names
EXECUTORS = ("local", "slurm", "submitit-local")

#: SLURM states of a job that will still run (or is running)
_ACTIVE_STATES = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING",
                  "SUSPENDED", "REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING", "STAGE_OUT"}


@dataclass
class ExecutorSpec(Config):
    """Where and how runs train (YAML ``executor:`` section of an ablation file; ``afg ablate``
    / ``afg cv`` options ``--executor``, ``--partition``, ``--gpus``, ``--time``,
    ``--array-parallelism``, ``--sbatch KEY=VALUE``, ``--no-wait``).

    Args:
        name: ``local`` | ``slurm`` | ``submitit-local``.
        jobs: local worker processes (``None``: ``$AFG_JOBS`` or 1).
        partition: SLURM partition (``None``: the cluster's default).
        gpus_per_job: GPUs of each job (SLURM ``--gpus-per-node``).
        cpus_per_job: CPU cores of each job (``--cpus-per-task``; also the job's torch threads).
        mem_gb: memory of each job (``--mem``).
        time_min: time limit of each job in minutes (``--time``); a run that needs longer is
            requeued and resumes from its checkpoints.
        array_parallelism: at most this many jobs of the array run at once (``--array=…%N``).
        sbatch: further sbatch options, ``{"account": "proj", "qos": "normal",
            "constraint": "h100"}`` (submitit's ``slurm_additional_parameters``).
        setup: shell lines run before each job (``module load cuda``, ``source .venv/bin/activate``).
        folder: job logs and submission files (default ``<runs root>/.submitit``).
        max_requeue: how often a job may be requeued after a time-out.
        signal_s: seconds before the time limit that SLURM signals a job (``USR2``; it then
            requeues itself and stops; the requeued job resumes from its checkpoints).
        wait: block until every submitted run has finished (``False``: submit and return).
        poll_s: seconds between two looks at the jobs while waiting.
    """

    name: str = "local"
    jobs: int | None = None
    partition: str | None = None
    gpus_per_job: int = 1
    cpus_per_job: int | None = None
    mem_gb: float | None = None
    time_min: int = 240
    array_parallelism: int = 64
    sbatch: dict[str, Any] = field(default_factory=dict)
    setup: list[str] = field(default_factory=list)
    folder: str | None = None
    max_requeue: int = 3
    signal_s: int = 90
    wait: bool = True
    poll_s: float = 10.0

    def __post_init__(self) -> None:
        self.name = str(self.name).lower()
        if self.name not in EXECUTORS:
            raise ConfigError(f"executor.name: {self.name!r} is not one of {', '.join(EXECUTORS)}")
        if self.time_min < 1 or self.array_parallelism < 1 or self.gpus_per_job < 0:
            raise ConfigError("executor: time_min and array_parallelism must be >= 1, gpus_per_job >= 0")


def resolve_executor(executor: ExecutorSpec | str | dict | None = None, **changes: Any) -> ExecutorSpec:
    """An :class:`ExecutorSpec` from a spec, a name or a mapping (``None``: ``local``), with
    ``changes`` (fields that are not ``None``) applied on top."""
    if executor is None:
        spec = ExecutorSpec()
    elif isinstance(executor, ExecutorSpec):
        spec = executor
    elif isinstance(executor, str):
        spec = ExecutorSpec(name=executor)
    elif isinstance(executor, dict):
        spec = ExecutorSpec.from_dict(executor)
    else:
        raise ConfigError(f"executor: expected a name, a mapping or an ExecutorSpec, got {type(executor).__name__}")
    changes = {k: v for k, v in changes.items() if v is not None}
    return ExecutorSpec.from_dict({**spec.to_dict(), **changes}) if changes else spec


class TrainJob:
    """The callable a submitit job runs: :func:`afg.experiments.run` on one config.

    submitit calls :meth:`checkpoint` when SLURM pre-empts the job or its time limit is near; the
    returned submission (the same run) is requeued and resumes from its checkpoints.
    """

    def __init__(self, config: dict[str, Any], root: str, threads: int | None = None):
        self.config, self.root, self.threads = config, root, threads

    def __call__(self) -> dict[str, Any]:
        if self.threads:
            torch.set_num_threads(int(self.threads))
        r = ResolvedRun.resolve(ExperimentConfig.from_dict(self.config), self.root)
        _log_start(r.run_dir, _resume_point(r.run_dir))
        res = run(r)
        return {"run_dir": str(res.run_dir), "seconds": float(res.seconds), "cached": bool(res.cached)}

    def checkpoint(self, *args: Any, **kwargs: Any):
        """The resubmission after a pre-emption or time-out: the same run, which resumes from its
        checkpoints."""
        from submitit.helpers import (
            DelayedSubmission,  # local: optional dependency (submitit), only for cluster/local-pool runs
        )

        return DelayedSubmission(TrainJob(self.config, self.root, threads=self.threads))


def _resume_point(rd: Path) -> dict[str, Any] | None:
    """Stage and step of the newest resumable checkpoint of an unfinished run (``None``: none yet)."""
    cks = RunFolder(rd).resumable()
    if not cks:
        return None
    newest = max(cks, key=lambda p: p.stat().st_mtime)
    ck = load_checkpoint(newest)
    return {"checkpoint": newest.relative_to(rd).as_posix(), "epoch": int(ck.get("epoch", 0)),
            "global_step": int(ck.get("global_step", 0))}


def _log_start(rd: Path, resume: dict[str, Any] | None) -> None:
    rd.mkdir(parents=True, exist_ok=True)
    line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "host": socket.gethostname(), "pid": os.getpid(),
            "job_id": os.environ.get("SLURM_JOB_ID") or os.environ.get("SUBMITIT_LOCAL_JOB_ID"),
            "array_task": os.environ.get("SLURM_ARRAY_TASK_ID"), "resumed_from": resume}
    with open(rd / "jobs.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")


def _make_executor(spec: ExecutorSpec, folder: Path):
    try:
        import submitit  # local: optional dependency (submitit), only for cluster/local-pool runs
    except ImportError as exc:
        raise ImportError(f"executor {spec.name!r} needs submitit: pip install 'afg[cluster]' "
                          "(or pip install submitit)") from exc
    folder.mkdir(parents=True, exist_ok=True)
    if spec.name == "slurm":
        ex = submitit.AutoExecutor(folder=str(folder / "%j"), cluster="slurm",
                                   slurm_max_num_timeout=spec.max_requeue)
        params: dict[str, Any] = {"timeout_min": spec.time_min, "gpus_per_node": spec.gpus_per_job,
                                  "tasks_per_node": 1, "nodes": 1,
                                  "slurm_array_parallelism": spec.array_parallelism,
                                  "slurm_additional_parameters": dict(spec.sbatch),
                                  "slurm_signal_delay_s": spec.signal_s,
                                  "slurm_setup": _environment_lines() + list(spec.setup), "name": "afg"}
        if spec.partition:
            params["slurm_partition"] = spec.partition
        if spec.cpus_per_job:
            params["cpus_per_task"] = spec.cpus_per_job
        if spec.mem_gb:
            params["mem_gb"] = spec.mem_gb
        ex.update_parameters(**params)
        return ex
    from submitit.local.local import (
        LocalExecutor,  # local: optional dependency (submitit), only for cluster/local-pool runs
    )

    ex = LocalExecutor(folder=str(folder / "%j"), max_num_timeout=spec.max_requeue)
    ex.update_parameters(timeout_min=spec.time_min, gpus_per_node=spec.gpus_per_job, tasks_per_node=1,
                         nodes=1, setup=list(spec.setup))
    return ex


def _environment_lines() -> list[str]:
    """Shell lines giving a job this process's ``PYTHONPATH`` and runs folder, also where a site
    starts jobs with a clean environment (``SBATCH_EXPORT=NONE``); the job's Python is this
    process's (submitit runs ``sys.executable``)."""
    return [f"export {k}={shlex.quote(os.environ[k])}" for k in ("PYTHONPATH", "AFG_RUNS_DIR",
                                                                 "AFG_REFERENCE_DIR", "AFG_CACHE_DIR")
            if os.environ.get(k)]


#: jobs submitted from this process, by run folder (a notebook kernel re-executing a cell)
_JOBS: dict[Path, Any] = {}


def slurm_state(job_id: str) -> str:
    """The SLURM state of ``job_id`` (``RUNNING``, ``COMPLETED``, ``OUT_OF_MEMORY`` …): from
    ``sacct``, or from ``scontrol show job`` on a cluster without an accounting database (then a
    job is known until ``MinJobAge`` after its end); ``UNKNOWN`` when neither knows it."""
    try:
        out = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", str(job_id)],
                             capture_output=True, text=True, timeout=30)
        rows = [ln.split("|") for ln in out.stdout.splitlines() if "|" in ln]
        state = next((st for jid, st in rows if jid == str(job_id)), None)
        if out.returncode == 0 and state:
            return state.split()[0].upper()
        out = subprocess.run(["scontrol", "show", "job", "-o", str(job_id)], capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "UNKNOWN"
    for field_ in out.stdout.split():
        if field_.startswith("JobState="):
            return field_.split("=", 1)[1].upper()
    return "UNKNOWN"


def _job_active(rd: Path) -> bool:
    """True while the job last submitted for ``rd`` is queued or running."""
    job = _JOBS.get(rd.resolve())
    if job is not None:
        if job.paths.result_pickle.exists():
            return False
        if type(job).__name__ == "SlurmJob":  # not job.done(): that needs sacct
            return _slurm_active(str(job.job_id), time.time())
        return not job.done()
    f = rd / "job.json"
    if not f.is_file():
        return False
    try:
        rec = json.loads(f.read_text())
    except (OSError, ValueError):
        return False
    if rec.get("executor") == "submitit-local":
        if rec.get("host") != socket.gethostname():
            return False
        try:
            os.kill(int(rec["job_id"]), 0)  # the local job's controller process
        except (OSError, ValueError, KeyError):
            return False
        return True
    if rec.get("executor") == "slurm":
        return _slurm_active(str(rec["job_id"]), float(rec.get("submitted", 0)))
    return False


def _slurm_active(job_id: str, submitted: float) -> bool:
    state = slurm_state(job_id)
    if state == "UNKNOWN":  # not yet (or no longer) known to SLURM: trust a recent submission
        return time.time() - submitted < 60
    return state in _ACTIVE_STATES


@dataclass
class RunSubmission:
    """Runs handed to an executor: ``labels``/``run_dirs`` in the caller's order, the submitit
    ``jobs`` started by this call (by label) and the runs ``waiting`` for another run to finish."""

    labels: list[str]
    run_dirs: list[Path]
    jobs: dict[str, Any]
    waiting: list[str]
    spec: ExecutorSpec
    _items: list[tuple[str, ExperimentConfig, Path]] = field(default_factory=list, repr=False)
    _submit: Any = field(default=None, repr=False)
    _submitted: set[Path] = field(default_factory=set, repr=False)

    def finished(self) -> list[bool]:
        """Per run (caller's order): is it complete in the cache?"""
        return [is_complete(rd) for rd in self.run_dirs]

    def status(self) -> dict[str, int]:
        """Counts of ``finished``, ``running`` (queued or running) and ``waiting`` runs."""
        fin = self.finished()
        distinct = dict(zip(self.run_dirs, fin))
        running = sum(1 for rd, f in distinct.items() if not f and _job_active(rd))
        return {"finished": sum(distinct.values()), "running": running,
                "waiting": len(distinct) - sum(distinct.values()) - running}

    def wait(self, progress: bool = True) -> RunSubmission:
        """Block until every run is complete, submitting waiting runs as their inputs finish.

        Raises:
            RuntimeError: naming a run whose job ended without completing it, and its log.
        """
        todo = {rd for rd in self.run_dirs if not is_complete(rd)}
        total = len(set(self.run_dirs))
        bar = tqdm(total=total, initial=total - len(todo), desc=f"runs ({self.spec.name} jobs)",
                   leave=False, disable=not progress)
        try:
            while todo:
                for rd in sorted(todo):
                    if is_complete(rd):
                        todo.discard(rd)
                        bar.update(1)
                    elif rd in self._submitted and not _job_active(rd):
                        raise RuntimeError(_failure_message(rd, self._label_of(rd)))
                if any(rd not in self._submitted for rd in todo):
                    self.waiting = self._submit(self)  # runs whose inputs have finished
                    if not any(_job_active(rd) for rd in todo):
                        raise RuntimeError("runs wait for each other (cyclic init_from): "
                                           + ", ".join(self.waiting))
                if todo:
                    time.sleep(self.spec.poll_s)
        finally:
            bar.close()
        return self

    def _label_of(self, rd: Path) -> str:
        return next((lab for lab, d in zip(self.labels, self.run_dirs) if d == rd), rd.name)


def _failure_message(rd: Path, label: str) -> str:
    """One line: the run, the job id, how it ended (the exception's last line, or SLURM's state
    for a job killed from outside: ``OUT_OF_MEMORY``, ``TIMEOUT``, ``CANCELLED`` …) and its log."""
    job = _JOBS.get(rd.resolve())
    detail, log, jid = "", "", ""
    if job is not None:
        jid = f" {job.job_id}"
        if job.paths.result_pickle.exists() or type(job).__name__ != "SlurmJob":
            try:
                exc = job.exception()
                detail = f": {_last_line(exc)}" if exc else ""
            except Exception as e:  # noqa: BLE001 - submitit raises when a job left no result at all
                detail = f": {type(e).__name__}: {_last_line(e)}"
        else:  # killed from outside (memory, time, scancel): SLURM's state and its last error line
            detail = f": SLURM state {slurm_state(str(job.job_id))}" + _log_error(Path(job.paths.stderr))
        log = f" (log: {job.paths.stderr})"
    return (f"run {label!r} ({rd.name}): its job{jid} ended without completing the run{detail}{log}; "
            "run the same call again to resubmit it (it resumes from its checkpoints)")


def _log_error(log: Path) -> str:
    """``", <last line of the job's log that reports an error>"`` (``""`` when there is none)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    errors = [ln.strip() for ln in lines if "error" in ln.lower() and "Bypassing" not in ln]
    why = [ln for ln in errors if any(w in ln.lower() for w in ("memory", "oom", "time limit", "due to"))]
    return f", {(why or errors)[-1]}" if errors else ""


def _last_line(exc: BaseException) -> str:
    """The error line of an exception's text: the last ``SomeError: …`` line of a job's traceback
    (submitit's text goes on with the paths of the logs), else its last non-empty line."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b", ln)]
    return (errors or lines or [type(exc).__name__])[-1]


def _ready_runs(sub: RunSubmission) -> tuple[list[tuple[str, ExperimentConfig, Path]], list[str]]:
    """The runs of ``sub`` that are not complete, not queued or running and not yet submitted by
    this call: ``(ready, waiting labels)``; a run is ready once the runs its stages start from
    (``init_from`` inside another pending run's folder) are complete."""
    distinct: dict[Path, tuple[str, ExperimentConfig]] = {}
    for lab, cfg, rd in sub._items:
        distinct.setdefault(rd, (lab, cfg))
    pending = {rd for rd in distinct if not is_complete(rd)}
    ready, waiting = [], []
    for rd in sorted(pending):
        lab, cfg = distinct[rd]
        if rd in sub._submitted or _job_active(rd):
            continue
        needs = {o for o in pending if o != rd and any(
            isinstance(st.init_from, str) and st.init_from != "previous"
            and Path(st.init_from).is_relative_to(o) for st in cfg.recipe.stages or [])}
        (waiting if needs - {o for o in needs if is_complete(o)} else ready).append((lab, cfg, rd))
    return ready, [lab for lab, _, _ in waiting]


def _submit_ready(sub: RunSubmission, spec: ExecutorSpec, folder: Path, root: Path) -> list[str]:
    """Submit :func:`_ready_runs` of ``sub`` as one job array (each run folder gets its
    ``job.json``); returns the labels of the runs still waiting for another run."""
    ready, waiting = _ready_runs(sub)
    if ready:
        _ensure_pretrained([cfg for _, cfg, _ in ready])
        ex = _make_executor(spec, folder)
        jobs = []
        with ex.batch():
            for _lab, cfg, _rd in ready:
                jobs.append(ex.submit(TrainJob(cfg.to_dict(), str(root), threads=spec.cpus_per_job)))
        for (lab, _, rd), job in zip(ready, jobs):
            sub._submitted.add(rd)
            _JOBS[rd.resolve()] = job
            sub.jobs[lab] = job
            rd.mkdir(parents=True, exist_ok=True)
            atomic_save_json(rd / "job.json", {
                "executor": spec.name, "job_id": str(job.job_id), "folder": str(folder / "%j"),
                "host": socket.gethostname(), "submitted": time.time(), "label": lab})
    return waiting


def submit_runs(items: Sequence[tuple[str, ExperimentConfig]], executor: ExecutorSpec | str | dict,
                root: str | os.PathLike | None = None, force: bool = False, overrides: Any = None,
                device: str | None = None) -> RunSubmission:
    """Submit the runs of ``items`` (``(label, config)``) that are neither cached nor already
    queued/running as submitit jobs (one job per distinct run, one array per call); with
    ``spec.wait`` block until all are complete. Returns a :class:`RunSubmission`."""
    spec = resolve_executor(executor)
    if spec.name == "local":
        raise ValueError("submit_runs is for submitit executors; local runs go through train_parallel")
    root_path = runs_root(root)
    cfgs = [(label, r.config, r.run_dir) for label, r in resolve_runs(items, root_path, overrides, device)]
    folder = Path(spec.folder) if spec.folder else root_path / ".submitit"
    if force:  # retrain: the old folders go before any job starts (not those of running jobs)

        for rd in dict.fromkeys(rd for _, _, rd in cfgs):
            if not _job_active(rd):
                shutil.rmtree(rd, ignore_errors=True)
    submit = functools.partial(_submit_ready, spec=spec, folder=folder, root=root_path)
    sub = RunSubmission([lab for lab, _, _ in cfgs], [rd for _, _, rd in cfgs], {}, [], spec,
                        _items=cfgs, _submit=submit)
    sub.waiting = submit(sub)
    if spec.wait:
        sub.wait()
    return sub
