"""Runs through a real slurmctld (``make slurm-test``): submitit jobs filling the run cache, a
requeued job and a job at its time limit resuming from ``last.pt``, DDP over ``srun`` +
``torchrun`` (gloo), and failed jobs reported as one line. Each job trains for seconds."""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from afg.cli import main
from afg.cli.configs import load_ablation
from afg.experiments import Ablation, ExperimentConfig, run
from afg.experiments.executors import ExecutorSpec, slurm_state, submit_runs
from afg.experiments.runner import is_complete, run_dir_for

pytestmark = pytest.mark.slurm

ROOT = Path(__file__).resolve().parents[2]
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE"}


def _tiny(epochs: int = 2, steps: int = 2, backbone: str = "resnet_tiny", images: int = 4, **recipe) -> dict:
    return {
        "model": {"name": "baseline", "num_classes": 8, "backbone": backbone, "pretrained": False, "img_size": 48},
        "data": {"dataset": "synthetic", "profile": "disfa", "n_subjects": 4, "images_per_subject": images,
                 "size": 48, "folds": 2, "fold": 1},
        "recipe": {"epochs": epochs, "batch_size": 4, "max_steps_per_epoch": steps, "device": "cpu",
                   "progress": False, "deterministic": True, "schedule": {"name": "constant"}, **recipe},
    }


def _spec(**kw) -> ExecutorSpec:
    return ExecutorSpec(**{"name": "slurm", "gpus_per_job": 0, "cpus_per_job": 1, "mem_gb": 3, "time_min": 10,
                           "poll_s": 1.0, **kw})


def _starts(rd: Path) -> list[dict]:
    f = rd / "jobs.jsonl"
    return [json.loads(ln) for ln in f.read_text().splitlines()] if f.exists() else []


def _wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


@contextlib.contextmanager
def _no_requeue_delay(job_id: str):
    """SLURM holds a requeued job for two minutes (its begin time); while the block runs, such a
    job is made eligible at once (``scontrol update StartTime=now``), so the tests stay short."""
    stop = threading.Event()

    def release() -> None:
        while not stop.wait(1.0):
            out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True).stdout
            if "JobState=PENDING" in out and "Reason=BeginTime" in out:
                subprocess.run(["scontrol", "update", f"jobid={job_id}", "StartTime=now"], capture_output=True)

    t = threading.Thread(target=release, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()


def _same_metrics(a: dict, b: dict, tol: float = 1e-4) -> None:
    for k, v in a.items():
        if isinstance(v, float) and not math.isnan(v):
            assert b[k] == pytest.approx(v, abs=tol), k


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    """The metrics of the requeue/time-limit config trained in this process without interruption."""
    torch_threads = os.environ.get("OMP_NUM_THREADS")
    import torch

    torch.set_num_threads(1)
    try:
        res = run(ExperimentConfig.from_dict(_tiny(**LONG)), root=tmp_path_factory.mktemp("ref"))
    finally:
        if torch_threads:
            torch.set_num_threads(int(torch_threads))
    return res.metrics


#: a run of ~10 s on one CPU (48 steps) that checkpoints every step: long enough to interrupt
LONG = {"epochs": 8, "steps": 6, "images": 16, "checkpoint_every_steps": 1}


# ------------------------------------------------------------------------------ ablation
def test_ablate_submits_jobs_and_a_second_call_submits_none(cluster, tmp_path, capsys, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("AFG_RUNS_DIR", str(runs))
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(_tiny()))
    spec = {"base": "tiny.yaml", "folds": [1], "metrics": ["f1_mean", "auc_mean"],
            "variants": {"plain": {}, "dropout": {"model.dropout": 0.5}},
            "executor": {"gpus_per_job": 0, "cpus_per_job": 1, "mem_gb": 3, "time_min": 10, "poll_s": 1.0}}
    abl = tmp_path / "abl.yaml"
    abl.write_text(yaml.safe_dump(spec, sort_keys=False))
    assert main(["ablate", str(abl), "--executor", "slurm"]) == 0
    out = capsys.readouterr().out
    jobs = {rd.name: json.loads((rd / "job.json").read_text()) for rd in runs.glob("baseline-*")}
    print("\n" + out + "\njob ids: " + ", ".join(f"{n}: {j['job_id']}" for n, j in jobs.items()))
    assert len(jobs) == 2 and all(j["executor"] == "slurm" for j in jobs.values())
    for name, rec in jobs.items():
        _wait_for(lambda rec=rec: slurm_state(rec["job_id"]) in FINAL, 60, f"job {rec['job_id']} to end")
        assert slurm_state(rec["job_id"]) == "COMPLETED"
        assert (runs / name / "evaluation.json").exists()
        assert [s["array_task"] is not None for s in _starts(runs / name)] == [True]  # one start, in the array
    # a second call finds both runs in the cache: no job
    assert main(["ablate", str(abl), "--executor", "slurm"]) == 0
    again = {rd.name: json.loads((rd / "job.json").read_text())["job_id"] for rd in runs.glob("baseline-*")}
    assert again == {n: j["job_id"] for n, j in jobs.items()}
    # the Python API: Ablation.run(executor=...) submits nothing either
    a, _ = load_ablation(str(abl), str(runs))
    a.run(executor=_spec())
    assert all(res.cached for *_, res in a.results)
    assert {rd.name: json.loads((rd / "job.json").read_text())["job_id"] for rd in runs.glob("baseline-*")} == again


def test_ablation_run_with_a_slurm_executor_fills_the_cache(cluster, tmp_path):
    base = ExperimentConfig.from_dict(_tiny(epochs=1))
    abl = Ablation(base, {"lr 1e-3": {"recipe.optimizer.lr": 1e-3}}, folds=[1], root=tmp_path)
    abl.run(executor=_spec())
    (*_, res), = abl.results
    rec = json.loads((res.run_dir / "job.json").read_text())
    print(f"\nAblation.run: job {rec['job_id']} -> {res.run_dir.name}")
    assert res.cached and (res.run_dir / "evaluation.json").exists()


# ------------------------------------------------------------------------------ requeue
def test_scontrol_requeue_resumes_from_last_pt(cluster, tmp_path, uninterrupted):
    cfg = ExperimentConfig.from_dict(_tiny(**LONG))
    sub = submit_runs([("long", cfg)], _spec(wait=False), root=tmp_path)
    rd = run_dir_for(cfg, tmp_path)
    job_id = json.loads((rd / "job.json").read_text())["job_id"]
    _wait_for(lambda: (rd / "last.pt").exists() and _starts(rd), 120, "the job's first last.pt")
    subprocess.run(["scontrol", "requeue", job_id], check=True)
    print(f"\njob {job_id}: scontrol requeue at {_resumed(rd)}")
    with _no_requeue_delay(job_id):
        # right after `scontrol requeue` the job passes through states a poll may read as ended:
        # wait for SLURM to count the restart and for the second start to begin, then for the end
        _wait_for(lambda: "Restarts=1" in _show(job_id), 120, f"job {job_id} to be requeued")
        _wait_for(lambda: len(_starts(rd)) >= 2, 180, f"job {job_id} to start again")
        sub.wait(progress=False)
    starts = _starts(rd)
    print(f"job {job_id}: starts {[(s['job_id'], s['resumed_from']) for s in starts]}")
    assert len(starts) >= 2 and starts[-1]["resumed_from"]["global_step"] > 0
    _wait_for(lambda: is_complete(rd), 120, f"job {job_id}'s run to complete")
    _same_metrics(uninterrupted, json.loads((rd / "evaluation.json").read_text())["metrics"])


def _resumed(rd: Path) -> str:
    from afg.experiments.executors import _resume_point

    p = _resume_point(rd)
    return f"step {p['global_step']}" if p else "the start"


# ------------------------------------------------------------------------------ time limit
def test_a_job_at_its_time_limit_requeues_itself_and_finishes(cluster, tmp_path):
    """Once the job trains, its time limit is lowered to 1 min (``scontrol update TimeLimit=1``):
    the limit is near, SLURM sends USR2 (``signal_s`` = 45 s before it; SLURM may send it up to a
    minute early, so the limit is lowered only after start-up, when submitit's handler is in
    place), the job requeues itself (submitit's handler → ``TrainJob.checkpoint``) and stops; the
    requeued job (limit 10 min again) resumes from the last.pt written every step and finishes."""
    cfg = ExperimentConfig.from_dict(_tiny(**{**LONG, "epochs": 160}))  # outlasts the lowered limit on a quiet machine
    sub = submit_runs([("long", cfg)], _spec(time_min=10, signal_s=45, max_requeue=4, wait=False), root=tmp_path)
    rd = run_dir_for(cfg, tmp_path)
    job_id = json.loads((rd / "job.json").read_text())["job_id"]
    _wait_for(lambda: (rd / "last.pt").exists() and _starts(rd), 120, "the job's first last.pt")
    subprocess.run(["scontrol", "update", f"jobid={job_id}", "TimeLimit=1"], check=True)
    print(f"\njob {job_id}: time limit 1 min at {_resumed(rd)}")
    with _no_requeue_delay(job_id):
        _wait_for(lambda: "Restarts=1" in _show(job_id), 120, f"job {job_id} to requeue itself")
        subprocess.run(["scontrol", "update", f"jobid={job_id}", "TimeLimit=10"], check=True)
        sub.wait(progress=False)
    starts = _starts(rd)
    log = Path(sub.jobs["long"].paths.stderr).read_text()
    print(f"job {job_id}: starts {[(s['job_id'], s['resumed_from']) for s in starts]}")
    print("\n".join(ln for ln in log.splitlines() if "timed out" in ln.lower() or "requeu" in ln.lower()))
    assert len(starts) >= 2 and starts[-1]["resumed_from"]["global_step"] > 0
    assert "requeu" in log.lower()
    assert is_complete(rd)


def _show(job_id: str) -> str:
    return subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True).stdout


# ------------------------------------------------------------------------------ DDP
def test_the_torchrun_sbatch_example_trains_ddp_like_one_process(cluster, tmp_path):
    """configs/slurm/ddp_torchrun.sbatch as written, scaled down by sbatch options: two tasks, each a
    torchrun of one gloo rank. convnext_atto (LayerNorm, no batch statistics) makes the sharded
    global batch the same optimisation as one process: losses and metrics agree to 1e-4."""
    cfg = _tiny(backbone="convnext_atto", find_unused_parameters=True)
    (tmp_path / "cnx.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "AFG_RUNS_DIR": str(tmp_path / "ddp")}
    out = subprocess.run(["sbatch", "--parsable", "--nodes=1", "--ntasks-per-node=2", "--gpus-per-node=0",
                          "--cpus-per-task=1", "--mem=6G", "--time=10", f"--output={tmp_path}/%x-%j.out",
                          str(ROOT / "configs" / "slurm" / "ddp_torchrun.sbatch"), str(tmp_path / "cnx.yaml")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    job_id = out.stdout.strip().split(";")[0]
    _wait_for(lambda: slurm_state(job_id) in FINAL, 300, f"DDP job {job_id}")
    log = (tmp_path / f"afg-ddp-{job_id}.out").read_text()
    print(f"\nDDP job {job_id}: {slurm_state(job_id)}\n" + "\n".join(log.splitlines()[:4]))
    assert slurm_state(job_id) == "COMPLETED", log[-3000:]
    assert "2 torchrun(s) on 1 node(s) x 1 rank(s)" in log
    ddp = json.loads(next((tmp_path / "ddp").glob("baseline-*/evaluation.json")).read_text())
    one = run(ExperimentConfig.from_dict(cfg), root=tmp_path / "one")
    print(f"DDP train_loss {[h['train_loss'] for h in ddp['history']]}, "
          f"one process {[h['train_loss'] for h in one.history]}")
    for a, b in zip(ddp["history"], one.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
    _same_metrics(one.metrics, ddp["metrics"])


# ------------------------------------------------------------------------------ failures
def test_a_job_with_a_bad_config_is_one_line_with_its_id_and_log(cluster, tmp_path):
    cfg = _tiny()
    cfg["model"]["name"] = "no_such_model"
    with pytest.raises(RuntimeError) as err:
        submit_runs([("broken", ExperimentConfig.from_dict(cfg))], _spec(), root=tmp_path)
    msg = str(err.value)
    print(f"\n{msg}")
    assert "\n" not in msg and re.search(r"the run: \S*Error: .*no_such_model", msg) and ".err" in msg
    job_id = json.loads((run_dir_for(ExperimentConfig.from_dict(cfg), tmp_path) / "job.json").read_text())["job_id"]
    assert f"job {job_id} " in msg


def test_a_job_out_of_memory_is_one_line_with_its_id_and_log(cluster, tmp_path):
    """--mem=200M: SLURM's memory poll (jobacct_gather/linux, OverMemoryKill) kills the job while
    it imports torch; no result file is left; the line carries the log's "Exceeded job memory limit"."""
    cfg = ExperimentConfig.from_dict(_tiny(epochs=3))
    t0 = time.time()
    with pytest.raises(RuntimeError) as err:
        submit_runs([("oom", cfg)], _spec(mem_gb=0.2), root=tmp_path)
    msg = str(err.value)
    print(f"\n{msg} ({time.time() - t0:.0f} s)")
    job_id = json.loads((run_dir_for(cfg, tmp_path) / "job.json").read_text())["job_id"]
    assert "\n" not in msg and f"job {job_id} " in msg and "memory limit" in msg and ".err" in msg
    assert not (run_dir_for(cfg, tmp_path) / "evaluation.json").exists()
