"""Runs as submitit jobs (afg.experiments.executors): submitit's local executor is SLURM's code path
without sbatch — one process per run, writing into the shared run cache."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from test_cli import _ablation_file, one_line_error

import afg.experiments.ablation
from afg.cli import main
from afg.config import ConfigError
from afg.experiments import Ablation, ExperimentConfig, run
from afg.experiments.executors import (
    ExecutorSpec,
    TrainJob,
    _make_executor,
    resolve_executor,
    submit_runs,
)


def _cfg(**recipe) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "model": {"name": "baseline", "num_classes": 8, "backbone": "resnet_tiny", "pretrained": False,
                  "img_size": 48},
        "data": {"dataset": "synthetic", "profile": "disfa", "n_subjects": 4, "images_per_subject": 4,
                 "size": 48, "folds": 2, "fold": 1},
        "recipe": {"epochs": 1, "batch_size": 4, "max_steps_per_epoch": 2, "device": "cpu", "progress": False,
                   "deterministic": True, "schedule": {"name": "constant"}, **recipe},
    })


def _local(**kw) -> ExecutorSpec:
    return ExecutorSpec(name="submitit-local", gpus_per_job=0, cpus_per_job=1, poll_s=0.2, **kw)


@pytest.mark.slow
def test_two_variants_by_two_folds_as_jobs_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    abl = Ablation(_cfg(), {"GAP head": {}, "wd 0": {"recipe.optimizer.weight_decay": 0.0}}, folds=2,
                   root=tmp_path)
    first = abl.run(executor=_local(wait=False))  # submit and return (a notebook cell)
    sub = abl.submission
    assert len(sub.jobs) == 4 and sub.waiting == []
    assert set(first["variant"]) <= {"GAP head", "wd 0"}  # only runs that had finished
    again = Ablation(abl.base, abl.variants, folds=2, root=tmp_path)
    again.run(executor=_local(wait=False))  # re-executed while they run: nothing submitted twice
    assert again.submission.jobs == {}
    sub.wait(progress=False)
    tidy = Ablation(abl.base, abl.variants, folds=2, root=tmp_path)
    out = tidy.run(executor=_local())
    assert tidy.submission.jobs == {}  # everything came from the cache
    assert sorted(set(zip(out["variant"], out["fold"]))) == [("GAP head", 1), ("GAP head", 2), ("wd 0", 1),
                                                             ("wd 0", 2)]
    assert all(res.cached for *_, res in tidy.results)
    for *_, res in tidy.results:
        starts = [json.loads(x) for x in (res.run_dir / "jobs.jsonl").read_text().splitlines()]
        assert len(starts) == 1 and starts[0]["resumed_from"] is None
        assert json.loads((res.run_dir / "job.json").read_text())["executor"] == "submitit-local"
    # the job trained exactly what a run in this process trains
    local = run(_cfg(), root=tmp_path / "here")
    assert local.metrics == tidy.results[0][3].metrics


@pytest.mark.slow
def test_a_killed_job_resumes_from_last_pt_when_resubmitted(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    cfg = _cfg(epochs=3, max_steps_per_epoch=4, checkpoint_every_steps=1)
    sub = submit_runs([("only", cfg)], _local(wait=False), root=tmp_path)
    rd = sub.run_dirs[0]
    t0 = time.time()
    while not (rd / "last.pt").exists():  # half-way: the first step's checkpoint
        assert time.time() - t0 < 120 and not sub.jobs["only"].done(), "the job never checkpointed"
        time.sleep(0.02)
    pid = json.loads((rd / "jobs.jsonl").read_text().splitlines()[0])["pid"]
    os.kill(pid, signal.SIGKILL)  # a node failure: no signal handler, no requeue
    while not sub.jobs["only"].done():
        time.sleep(0.05)
    assert not (rd / "evaluation.json").exists()
    with pytest.raises(RuntimeError, match="ended without completing"):
        sub.wait(progress=False)
    # the same call again resubmits the run; the new job starts from last.pt
    abl = Ablation(cfg, {"only": {}}, folds=[1], root=tmp_path)
    abl.run(executor=_local())
    assert len(abl.submission.jobs) == 1
    starts = [json.loads(x) for x in (rd / "jobs.jsonl").read_text().splitlines()]
    assert len(starts) == 2 and starts[1]["resumed_from"]["global_step"] >= 1
    # and ends where an uninterrupted run ends (deterministic CPU training)
    whole = run(cfg, root=tmp_path / "whole")
    assert [round(h["train_loss"], 5) for h in abl.results[0][3].history] == \
        [round(h["train_loss"], 5) for h in whole.history]
    assert abl.results[0][3].metrics["f1_mean"] == pytest.approx(whole.metrics["f1_mean"])


def test_requeue_resubmits_the_same_run_without_force(tmp_path):
    job = TrainJob(_cfg().to_dict(), str(tmp_path), threads=2)
    again = job.checkpoint()
    assert isinstance(again.function, TrainJob) and again.function.config == job.config
    assert again.function.root == str(tmp_path) and again.args == () and again.kwargs == {}


def test_slurm_options_reach_sbatch(tmp_path, monkeypatch):
    from submitit.slurm.slurm import SlurmExecutor

    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # no srun here
    spec = resolve_executor({"name": "slurm", "partition": "gpu", "gpus_per_job": 2, "time_min": 90,
                             "array_parallelism": 8, "cpus_per_job": 16, "mem_gb": 64,
                             "sbatch": {"account": "affect", "qos": "high"},
                             "setup": ["module load cuda/12.4"]})
    ex = _make_executor(spec, tmp_path)
    text = ex._executor._make_submission_file_text("python -u job.py", "uid")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=2", "#SBATCH --time=90",
                 "#SBATCH --cpus-per-task=16", "#SBATCH --mem=64GB", "#SBATCH --account=affect",
                 "#SBATCH --qos=high", "module load cuda/12.4"):
        assert line in text, line
    assert ex._executor.parameters["array_parallelism"] == 8


def test_executor_spec_errors_and_overrides():
    with pytest.raises(ConfigError, match=r"executor\.name: 'pbs'"):
        resolve_executor("pbs")
    spec = resolve_executor("slurm", partition="a100", time_min=None)
    assert (spec.name, spec.partition, spec.time_min) == ("slurm", "a100", 240)
    assert resolve_executor(None).name == "local"


class _Submitted:
    def __init__(self, items, spec, **kw):
        self.spec, self.labels = spec, [lab for lab, _ in items]

    def finished(self):
        return [False] * len(self.labels)


def test_cli_executor_options_over_the_ablation_file(tmp_path, capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(afg.experiments.ablation, "submit_runs",
                        lambda items, spec, **kw: seen.append(_Submitted(items, spec, **kw)) or seen[-1])
    p = _ablation_file(tmp_path, executor={"name": "slurm", "partition": "gpu", "time_min": 60,
                                           "sbatch": {"account": "affect"}})
    assert main(["ablate", str(p), "--runs", str(tmp_path / "runs"), "--gpus", "2", "--no-wait",
                 "--sbatch", "qos=high", "--array-parallelism", "4"]) == 0
    out = capsys.readouterr().out
    assert "executor: slurm, partition gpu, 2 GPU(s) and 60 min per job (submit and return)" in out
    assert "no run has finished yet" in out
    spec = seen[-1].spec
    assert (spec.name, spec.partition, spec.gpus_per_job, spec.time_min, spec.array_parallelism,
            spec.wait) == ("slurm", "gpu", 2, 60, 4, False)
    assert spec.sbatch == {"account": "affect", "qos": "high"}
    assert seen[-1].labels == ["plain fold 1", "dropout fold 1"]


@pytest.mark.parametrize("argv, extra, match", [
    (["--executor", "slurm", "--sbatch", "account"], {}, "--sbatch 'account': expected KEY=VALUE"),
    ([], {"executor": {"name": "pbs"}}, "executor.name: 'pbs' is not one of local, slurm"),
    ([], {"executor": {"name": "slurm", "partiton": "gpu"}}, "partiton"),
])
def test_cli_executor_errors(tmp_path, capsys, argv, extra, match):
    p = _ablation_file(tmp_path, **extra)
    one_line_error(capsys, ["ablate", str(p), "--runs", str(tmp_path / "runs"), *argv], match)


def test_the_example_cluster_files_are_valid():
    import subprocess

    import yaml
    REPO = Path(__file__).resolve().parents[1]  # not `from conftest import`: tests/slurm has a conftest too

    spec = yaml.safe_load((REPO / "configs" / "slurm" / "ablation_executor.yaml").read_text())
    assert resolve_executor(spec["executor"]).name == "slurm"
    assert (REPO / "configs" / "slurm" / spec["base"]).is_file()
    script = REPO / "configs" / "slurm" / "ddp_torchrun.sbatch"
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    assert "torchrun" in script.read_text() and "-m afg train" in script.read_text()


def test_cli_cv_submits_every_fold_and_returns(tmp_path, capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(afg.experiments.ablation, "submit_runs",
                        lambda items, spec, **kw: seen.append(_Submitted(items, spec, **kw)) or seen[-1])
    p = _ablation_file(tmp_path).parent / "tiny.yaml"
    assert main(["cv", str(p), "--folds", "2", "--runs", str(tmp_path / "runs"), "--executor",
                 "submitit-local", "--no-wait"]) == 0
    assert "no fold has finished yet" in capsys.readouterr().out
    assert seen[-1].labels == ["cv fold 1", "cv fold 2"] and seen[-1].spec.name == "submitit-local"


def test_submission_status_reads_the_cache_and_the_job_records(tmp_path):
    import socket

    from afg.experiments.executors import RunSubmission

    done, running, lost = (tmp_path / n for n in ("done", "running", "lost"))
    for d in (done, running, lost):
        d.mkdir()
    (done / "evaluation.json").write_text(json.dumps({"status": "complete", "selection": "val",
                                                  "metrics": {}}))  # as afg.experiments.run writes it
    (running / "job.json").write_text(json.dumps({"executor": "submitit-local", "job_id": os.getpid(),
                                                  "host": socket.gethostname()}))
    (lost / "job.json").write_text(json.dumps({"executor": "submitit-local", "job_id": 2**22 + 12345,
                                               "host": socket.gethostname()}))  # no such process
    sub = RunSubmission(["a", "b", "c", "a again"], [done, running, lost, done], {}, [], _local())
    assert sub.finished() == [True, False, False, True]
    assert sub.status() == {"finished": 1, "running": 1, "waiting": 1}
