"""The trainer's parts on their own: ``TrainState`` and its checkpoint record, model selection,
``build_loader`` (drop_last, step cap, resumable shuffling) and ``train_one_epoch``."""
from __future__ import annotations

import importlib.util
import math
import time

import numpy as np
import pytest
import torch
from test_train import TinyData, _model, _recipe

from afg.runs import load_checkpoint
from afg.train import (
    DistContext,
    TrainState,
    build_loader,
    fit,
    save_checkpoint,
    train_one_epoch,
)
from afg.train.epoch import build_parts

# the afg-checkpoint-v1 layout, in the order earlier versions wrote it (afg.train.checkpoint)
V1_KEYS = ["afg_version", "model", "model_config", "task", "label_names", "optimizer", "scheduler",
           "scaler", "epoch", "batch_in_epoch", "global_step", "rng", "recipe", "stage", "metrics",
           "history", "best", "accum"]


def _parts(recipe=None, n=24):
    recipe = recipe or _recipe(epochs=2, batch_size=4)
    model = _model(norm="none", dropout=0.0)
    return build_parts(model, TinyData(n, 0), None, recipe, torch.device("cpu"), DistContext(), "main", None)


def _state() -> TrainState:
    return TrainState(epoch=3, batch_in_epoch=2, global_step=17, best_value=0.75, best_epoch=2,
                      best_metrics={"f1_mean": 0.75, "cm": np.eye(2)}, history=[{"epoch": 1, "lr": 0.1}],
                      accum={"_n": 8.0, "train_loss": 4.0}, last_metrics={"epoch": 3, "f1_mean": 0.5})


def _record(state: TrainState, parts) -> dict:
    return state.to_checkpoint(model=parts.model, optimizer=parts.optimizer, scheduler=parts.scheduler,
                               scaler=parts.scaler, recipe=parts.recipe, stage="main", task="au")


def test_checkpoint_record_keeps_the_v1_layout():
    parts = _parts()
    ck = _record(_state(), parts)
    assert list(ck) == V1_KEYS
    assert (ck["epoch"], ck["batch_in_epoch"], ck["global_step"], ck["stage"], ck["task"]) == (3, 2, 17, "main", "au")
    assert ck["best"] == {"value": 0.75, "epoch": 2, "metrics": {"f1_mean": 0.75, "cm": [[1.0, 0.0], [0.0, 1.0]]}}
    assert ck["accum"] == {"_n": 8.0, "train_loss": 4.0} and ck["recipe"]["batch_size"] == 4
    over = _state().to_checkpoint(model=parts.model, optimizer=parts.optimizer, scheduler=parts.scheduler,
                                  scaler=parts.scaler, recipe=parts.recipe, stage="s", task="au",
                                  accum={"_n": 16.0})
    assert over["accum"] == {"_n": 16.0}


def test_from_checkpoint_restores_state_weights_and_random_streams(tmp_path):
    parts = _parts()
    parts.optimizer.step()  # some optimiser state to restore
    save_checkpoint(tmp_path / "s.pt", _record(_state(), parts))
    draws = (torch.rand(3), np.random.rand(3))  # what follows the saved RNG state
    fresh = _parts()
    torch.nn.init.zeros_(fresh.model.head.weight)
    torch.manual_seed(123)
    np.random.seed(123)
    ck = load_checkpoint(tmp_path / "s.pt")
    got = TrainState.from_checkpoint(ck, model=fresh.model, optimizer=fresh.optimizer,
                                     scheduler=fresh.scheduler, scaler=fresh.scaler)
    assert torch.equal(torch.rand(3), draws[0]) and np.array_equal(np.random.rand(3), draws[1])
    want = _state()
    for f in ("epoch", "batch_in_epoch", "global_step", "best_value", "best_epoch", "history", "accum",
              "last_metrics"):
        assert getattr(got, f) == getattr(want, f), f
    assert got.best_metrics["cm"] == [[1.0, 0.0], [0.0, 1.0]]
    assert torch.equal(fresh.model.head.weight, parts.model.head.weight)
    assert fresh.scheduler.state_dict() == parts.scheduler.state_dict()
    other = TrainState.from_checkpoint(ck, model=fresh.model, optimizer=fresh.optimizer,
                                       scheduler=fresh.scheduler, scaler=fresh.scaler, is_main=False)
    assert other.accum == {"_n": 0.0, "train_loss": 0.0}  # rank 0 holds every rank's sums


@pytest.mark.parametrize("best,value,mode,want", [
    (None, 0.1, "max", True), (None, None, "max", True), (None, math.nan, "min", True),
    (0.5, math.nan, "max", False), (0.5, None, "max", False), (math.nan, 0.1, "max", True),
    (0.5, 0.6, "max", True), (0.5, 0.5, "max", False), (0.5, 0.4, "min", True), (0.5, 0.6, "min", False),
])
def test_improves_follows_the_selection_rules(best, value, mode, want):
    assert TrainState(best_value=best).improves(value, mode) is want


def test_record_best_takes_the_completed_epoch():
    s = TrainState(epoch=4)
    row = {"f1_mean": 0.8}
    s.record_best(0.8, row)
    row["f1_mean"] = 0.0
    assert (s.best_value, s.best_epoch, s.best_metrics) == (0.8, 4, {"f1_mean": 0.8})


@pytest.mark.parametrize("n,batch,cap,accum,want", [
    (10, 4, None, 1, 2),   # 10 samples in batches of 4: the incomplete third batch is dropped
    (3, 4, None, 1, 1),    # fewer samples than one batch: that one batch trains
    (40, 4, 3, 2, 6),   # max_steps_per_epoch 3 × grad_accum 2 batches
    (40, 4, 9, 1, 9),
])
def test_build_loader_batches(n, batch, cap, accum, want):
    r = _recipe(batch_size=batch, max_steps_per_epoch=cap, grad_accum=accum)
    tl = build_loader(TinyData(n, 0), r, DistContext(), torch.device("cpu"))
    assert tl.batches == want and tl.per_rank == batch
    assert [len(b["image"]) for b in tl.loader][:want] == [min(batch, n)] * want


def test_build_loader_resumes_the_same_shuffle_mid_epoch():
    r = _recipe(batch_size=4)
    data = TinyData(16, 0)

    def order(epoch, first):
        tl = build_loader(data, r, DistContext(), torch.device("cpu"))
        tl.start_epoch(epoch, first, r.seed)
        return torch.cat([b["image"] for b in tl.loader]), [tl.sampler.skip, len(tl.loader)]

    full, _ = order(1, 0)
    tail, (skip, batches) = order(1, 2)
    assert torch.equal(tail, full[8:]) and (skip, batches) == (8, 2)
    assert not torch.equal(order(2, 0)[0], full)  # another epoch, another shuffle


def test_train_one_epoch_advances_the_state_and_reports_sample_means():
    parts = _parts(_recipe(epochs=2, batch_size=4, grad_accum=2), n=20)  # 5 batches: windows 2, 2, 1
    losses, crit = [], parts.criterion

    def recorded(out, batch):
        terms = crit(out, batch)
        losses.append(float(terms["loss"].detach()))
        return terms

    parts.criterion = recorded
    state = TrainState()
    row, wait = train_one_epoch(state, parts)
    assert (state.epoch, state.batch_in_epoch, state.global_step) == (1, 0, 3)
    assert (row["epoch"], row["step"]) == (1, 3) and wait >= 0.0
    assert state.accum["_n"] == 20.0
    assert row["train_loss"] == pytest.approx(sum(losses) / 5, rel=1e-12)
    assert row["lr"] == parts.optimizer.param_groups[0]["lr"]


class _SlowData(TinyData):
    """TinyData whose items take 20 ms to load (the loader, not the model, is the bottleneck)."""

    def __getitem__(self, i):
        time.sleep(0.02)
        return super().__getitem__(i)


def test_data_wait_share_is_the_share_of_the_epoch_spent_loading():
    res = fit(_model(), _SlowData(8, 0), None, _recipe(epochs=2, batch_size=4, num_workers=0))
    for row in res.history:
        assert 0.0 < row["time_s"] and 0.6 < row["data_wait_share"] <= 1.0  # ≥ 160 ms of 8 × 20 ms


def test_tensorboard_scalars_or_one_warning(tmp_path):
    recipe = _recipe(epochs=2, batch_size=4, tensorboard=True)
    if importlib.util.find_spec("tensorboard") is None:
        with pytest.warns(UserWarning, match="tensorboard is not installed"):
            fit(_model(), TinyData(8, 0), TinyData(4, 1), recipe, run_dir=tmp_path)
        assert not (tmp_path / "tb").exists() and (tmp_path / "training.json").exists()
    else:
        fit(_model(), TinyData(8, 0), TinyData(4, 1), recipe, run_dir=tmp_path)
        assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
