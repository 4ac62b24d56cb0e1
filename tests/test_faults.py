"""The run cache under faults: a SIGKILL anywhere in a run (a checkpoint write included), a full
disk (ENOSPC) and a corrupted ``last.pt``; each rerun ends with a complete, loadable entry whose
metrics equal an uninterrupted run's (CPU, ``recipe.deterministic``)."""
from __future__ import annotations

import errno
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from afg.cli import main
from afg.experiments import ExperimentConfig, run
from afg.experiments.runner import is_complete, run_dir_for
from afg.runs import load_checkpoint, recover_run_dir
from afg.utils import WriteError

ROOT = Path(__file__).resolve().parents[1]


def _cfg(epochs: int = 2, steps: int = 2, every: int = 0, images: int = 4) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "model": {"name": "baseline", "num_classes": 8, "backbone": "resnet_tiny", "pretrained": False,
                  "img_size": 48},
        "data": {"dataset": "synthetic", "profile": "disfa", "n_subjects": 4, "images_per_subject": images,
                 "size": 48, "folds": 2, "fold": 1},
        "recipe": {"epochs": epochs, "batch_size": 4, "max_steps_per_epoch": steps, "device": "cpu",
                   "progress": False, "deterministic": True, "schedule": {"name": "constant"},
                   "checkpoint_every_steps": every},
    })


def _same(a: dict, b: dict) -> None:
    for k, v in a.items():
        if isinstance(v, float) and not math.isnan(v):
            assert b[k] == pytest.approx(v, abs=1e-6), k


def _left(rd: Path) -> list[str]:
    """What a run folder holds (names relative to it, hidden files included)."""
    return sorted(p.relative_to(rd).as_posix() for p in rd.rglob("*") if p.is_file()) if rd.exists() else []


def _assert_complete_entry(rd: Path) -> None:
    assert is_complete(rd)
    for ck in rd.rglob("*.pt"):
        assert "model" in load_checkpoint(ck)  # every checkpoint loads
    assert not list(rd.rglob(".*.tmp"))
    assert not (rd.parent / f".{rd.name}.lock").exists()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """Uninterrupted runs' metrics by config (the configs these tests interrupt)."""
    root = tmp_path_factory.mktemp("ref")
    return {key: run(cfg, root=root).metrics for key, cfg in (("short", _cfg()),)}


# ------------------------------------------------------------------------------ SIGKILL
_KILLED = """
import json, os, signal, sys, threading
from afg.experiments import ExperimentConfig, run
cfg, root, how, n = ExperimentConfig.from_dict(json.loads(sys.argv[1])), sys.argv[2], sys.argv[3], float(sys.argv[4])
replace, seen = os.replace, [0]
def killing_replace(src, dst, *a, **k):
    if str(dst).endswith(".pt"):
        seen[0] += 1
        if how == "write" and seen[0] == n:  # inside the n-th checkpoint write: written, not yet renamed
            print("killed in the write of", os.path.basename(dst), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        if how == "time" and seen[0] == 1:  # n seconds after the first checkpoint of this process
            threading.Timer(n, lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
    return replace(src, dst, *a, **k)
os.replace = killing_replace
run(cfg, root=root)
print("finished before the kill", flush=True)
"""


def _killed_run(cfg: ExperimentConfig, root: Path, how: str, n: float) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-c", _KILLED, json.dumps(cfg.to_dict()), str(root), how, str(n)],
                       capture_output=True, text=True, env=env, timeout=300)
    return f"rc {p.returncode}: {p.stdout.strip()}"


@pytest.mark.slow
def test_sigkill_anywhere_then_the_rerun_resumes_and_completes(tmp_path):
    cfg = _cfg(epochs=3, steps=4, every=1, images=16)  # a checkpoint after every step: 12 last.pt, <=3 best.pt
    ref = run(cfg, root=tmp_path / "ref").metrics
    rng = random.Random(47)
    faults = [("write", rng.randint(1, 4)), ("write", rng.randint(1, 4)), ("time", round(rng.uniform(0.1, 1.0), 2))]
    rd = run_dir_for(cfg, tmp_path / "runs")
    for how, n in faults:
        what = _killed_run(cfg, tmp_path / "runs", how, n)
        step = load_checkpoint(rd / "last.pt")["global_step"] if (rd / "last.pt").exists() else None
        print(f"\nSIGKILL at {how} {n}: {what}; last.pt at step {step}; left: {_left(rd)}")
        assert what.startswith("rc -9") and "finished" not in what and not is_complete(rd)
    res = run(cfg, root=tmp_path / "runs")
    print(f"rerun: cached={res.cached}, {json.loads((rd / 'evaluation.json').read_text())['status']}")
    _assert_complete_entry(rd)
    _same(ref, res.metrics)


# ------------------------------------------------------------------------------ ENOSPC
def _full_disk(monkeypatch, names: tuple[str, ...], after: int = 0) -> None:
    """``os.fsync`` of the temporary file of an atomic write to one of ``names`` fails with ENOSPC
    (after ``after`` successful ones), as on a full disk."""
    fsync, seen = os.fsync, [0]

    def fake(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        if any(f"/.{n}." in target for n in names):
            seen[0] += 1
            if seen[0] > after:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", fake)


@pytest.mark.parametrize("names,after", [(("last.pt", "best.pt"), 1), (("evaluation.json",), 0)],
                         ids=["checkpoint", "result"])
def test_a_full_disk_is_one_line_and_no_entry_claims_completion(tmp_path, monkeypatch, reference, names, after):
    cfg = _cfg()
    rd = run_dir_for(cfg, tmp_path)
    with monkeypatch.context() as m:
        _full_disk(m, names, after)
        with pytest.raises(WriteError) as err:
            run(cfg, root=tmp_path)
    msg = str(err.value)
    print(f"\nENOSPC in {names}: {msg}; left: {_left(rd)}")
    assert "\n" not in msg and "No space left on device" in msg and str(rd) in msg
    assert not is_complete(rd) and not list(rd.rglob(".*.tmp"))
    assert not (tmp_path / f".{rd.name}.lock").exists()
    res = run(cfg, root=tmp_path)  # space again: resumes
    _assert_complete_entry(rd)
    _same(reference["short"], res.metrics)


def test_the_cli_reports_a_full_disk_as_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(_cfg().to_dict()))
    monkeypatch.setenv("AFG_RUNS_DIR", str(tmp_path / "runs"))
    _full_disk(monkeypatch, ("last.pt",))
    assert main(["train", str(tmp_path / "tiny.yaml"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("afg: error: [Errno 28] No space left on device:"), err
    assert "last.pt" in err[0]


# ------------------------------------------------------------------------------ corrupt last.pt
def test_a_corrupt_last_pt_resumes_from_best_pt_with_a_warning(tmp_path, reference):
    cfg = _cfg()
    rd = run_dir_for(cfg, tmp_path)
    run(cfg, root=tmp_path)
    for f in ("evaluation.json", "training.json"):  # neither the run nor its stage complete
        (rd / f).unlink()
    size = (rd / "last.pt").stat().st_size
    with open(rd / "last.pt", "r+b") as fh:
        fh.truncate(size // 2)
    best_epoch = load_checkpoint(rd / "best.pt")["epoch"]
    with pytest.warns(UserWarning, match=r"last.pt: truncated or corrupt, moved to last.pt.corrupt; resuming "
                                         rf"from best.pt \(epoch {best_epoch}\)"):
        res = run(cfg, root=tmp_path)
    assert not res.cached and (rd / "last.pt.corrupt").exists()
    _assert_complete_entry(rd)
    _same(reference["short"], res.metrics)


def test_a_corrupt_best_pt_restarts_the_stage_with_a_warning(tmp_path, reference):
    cfg = _cfg()
    rd = run_dir_for(cfg, tmp_path)
    run(cfg, root=tmp_path)
    for f in ("evaluation.json", "training.json"):  # neither the run nor its stage complete
        (rd / f).unlink()
    (rd / "best.pt").write_bytes(b"PK\x03\x04 not a zip any more")
    (rd / "last.pt").write_bytes(b"\x00" * 64)
    with pytest.warns(UserWarning, match="best.pt: truncated or corrupt, moved to best.pt.corrupt; the stage restarts"):
        res = run(cfg, root=tmp_path)
    _assert_complete_entry(rd)
    _same(reference["short"], res.metrics)


def test_recover_removes_temporary_files_of_unfinished_writes(tmp_path):
    (tmp_path / ".last.pt.abc123.tmp").write_bytes(b"half")
    (tmp_path / "stage1-a").mkdir()
    (tmp_path / "stage1-a" / ".best.pt.x.tmp").write_bytes(b"half")
    assert sorted(recover_run_dir(tmp_path)) == ["removed .best.pt.x.tmp", "removed .last.pt.abc123.tmp"]
    assert _left(tmp_path) == []
