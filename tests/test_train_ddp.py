"""DDP: a two-process gloo run (torch.multiprocessing spawn) matches one process on the same data."""
from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from test_train import TinyData, _model, _recipe, _strip

from afg.runs import load_checkpoint
from afg.train import evaluate, fit

RECIPE = {"epochs": 2, "batch_size": 8, "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
              "schedule": {"name": "constant"}, "device": "cpu"}  # gloo on the CPU (forks)


def _worker(rank: int, world: int, port: int, out: str, recipe: dict | None = None,
            n_train: int = 32, kill_at: int | None = None) -> None:
    """One gloo rank training TinyAU on ``n_train`` samples with ``recipe`` (default
    :data:`RECIPE`; ``kill_at``: the training forward call that raises ``Kill``); rank 0 writes
    the evaluation before training, the history and the trained model's device to ``out/ddp.json``."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = _model(norm="none", dropout=0.0, kill_at=kill_at)
        ev_before = evaluate(model, TinyData(13, 1), batch_size=4)  # uneven shards, no padding
        res = fit(model, TinyData(n_train, 0), TinyData(13, 1), _recipe(**(recipe or RECIPE)),
                  run_dir=os.path.join(out, "run"))
        if rank == 0:
            with open(os.path.join(out, "ddp.json"), "w") as fh:
                json.dump({"eval": ev_before, "history": _strip(res.history),
                           "device": str(next(res.model.parameters()).device)}, fh)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_gloo_matches_one_process(tmp_path):
    model = _model(norm="none", dropout=0.0)
    ev_ref = evaluate(model, TinyData(13, 1), batch_size=4)
    ref = fit(model, TinyData(32, 0), TinyData(13, 1), _recipe(**RECIPE))
    # fork spares each child re-importing torch (the code path is the same), but cannot follow
    # a process whose autograd has run on CUDA (its device threads): spawn then
    method = "spawn" if torch.cuda.is_initialized() else "fork"
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True,
                       start_method=method)
    got = json.loads((tmp_path / "ddp.json").read_text())
    assert got["eval"] == pytest.approx(ev_ref, abs=1e-6)  # gathered over ranks = whole set
    hist = _strip(ref.history)
    assert len(got["history"]) == len(hist) == 2
    for a, b in zip(got["history"], hist):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-4, abs=1e-5), k
    assert (tmp_path / "run" / "best.pt").exists()


def _spawn(tmp_path, **kw) -> dict:
    method = "spawn" if torch.cuda.is_initialized() else "fork"
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path), kw.pop("recipe", RECIPE),
                                      kw.pop("n_train", 32), kw.pop("kill_at", None)),
                       nprocs=2, join=True, start_method=method)
    return json.loads((tmp_path / "ddp.json").read_text())


@pytest.mark.slow
def test_padded_duplicates_are_not_counted_in_the_metrics(tmp_path):
    """31 training samples on 2 ranks, one per rank and step: the sampler repeats the first sample
    of its shuffled order to give each rank 16. With a zero learning rate the model is fixed, so
    the epoch's training loss must be the mean of the 31 distinct per-sample losses (the repeated
    one would shift it) and the validation metrics those of the 13 validation faces."""
    from torch.utils.data import DistributedSampler

    from afg.data.stats import training_statistics

    recipe = {**RECIPE, "epochs": 1, "batch_size": 2, "optimizer": {"name": "sgd", "lr": 0.0}}
    got = _spawn(tmp_path, recipe=recipe, n_train=31)
    (row,) = got["history"]
    data, model = TinyData(31, 0), _model(norm="none", dropout=0.0)
    crit = model.build_criterion(training_statistics(data))
    with torch.no_grad():
        per = [float(crit(model(data.x[i:i + 1]), {"au": data.y[i:i + 1], "au_mask": torch.ones(1, 3, dtype=bool)})
                     ["loss"]) for i in range(31)]
    s = DistributedSampler(range(31), num_replicas=2, rank=1, shuffle=True, seed=0)
    dup = list(s)[-1]  # rank 1's last sample is the repeat
    assert row["step"] == 16
    assert row["train_loss"] == pytest.approx(sum(per) / 31, rel=1e-6)
    assert abs((sum(per) + per[dup]) / 32 - sum(per) / 31) > 1e-4  # what counting it twice gives
    ev = evaluate(model, TinyData(13, 1), batch_size=4)
    for k, v in ev.items():
        assert row[k] == pytest.approx(v, abs=1e-9), k


@pytest.mark.slow
def test_ddp_resume_after_a_kill_equals_the_uninterrupted_run(tmp_path):
    """Both ranks die at the same training step of epoch 2 (step checkpoints); the rerun resumes
    from rank 0's last.pt and ends with the uninterrupted two-rank run's history and weights."""
    from test_train import Kill  # noqa: F401 - raised in the workers

    recipe = {**RECIPE, "checkpoint_every_steps": 1}
    ref = _spawn(tmp_path / "ref", recipe=recipe)
    with pytest.raises(mp.ProcessRaisedException, match="Kill"):
        _spawn(tmp_path / "run", recipe=recipe, kill_at=7)  # 4 steps per epoch: epoch 2, step 3
    assert (tmp_path / "run" / "run" / "last.pt").exists()
    assert not (tmp_path / "run" / "run" / "training.json").exists()
    got = _spawn(tmp_path / "run", recipe=recipe)
    for a, b in zip(got["history"], ref["history"], strict=True):
        assert a.keys() == b.keys()
        for k in a:  # the running sums are added in another order: equal up to rounding
            assert a[k] == pytest.approx(b[k], rel=1e-12, abs=1e-15), (a["epoch"], k)
    a = load_checkpoint(tmp_path / "ref" / "run" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "run" / "run" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_two_process_moving_average_matches_one_process(tmp_path):
    """recipe.ema_decay under DDP: every rank averages the same synchronised weights, so the
    validated average (and the history it selects on) equals one process's."""
    rec = {**RECIPE, "ema_decay": 0.8}
    ref = fit(_model(norm="none", dropout=0.0), TinyData(32, 0), TinyData(13, 1), _recipe(**rec),
              run_dir=tmp_path / "one")
    got = _spawn(tmp_path / "two", recipe=rec)
    for a, b in zip(got["history"], _strip(ref.history)):
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-4, abs=1e-5), k
    one = load_checkpoint(tmp_path / "one" / "best.pt")
    two = load_checkpoint(tmp_path / "two" / "run" / "best.pt")
    assert two["ema_updates"] == one["ema_updates"] > 0
    for k, v in one["model"].items():
        torch.testing.assert_close(two["model"][k], v, rtol=1e-4, atol=1e-5)
