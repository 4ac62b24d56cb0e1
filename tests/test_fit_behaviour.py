"""What ``fit`` promises beyond "it trains": model selection by the monitor (scripted validation
metrics), resume after a kill in stage 2, gradient accumulation = one large batch (including an
incomplete last window), gradient clipping, callbacks, an unreadable training record."""
from __future__ import annotations

import json
import math

import pytest
import torch
from test_train import Kill, TinyData, _model, _recipe, _strip

import afg.train.loop
from afg.runs import load_checkpoint
from afg.train import fit


# ------------------------------------------------------------------------------ model selection
class ScriptedEvaluate:
    """Stands in for ``afg.train.loop.evaluate``: the k-th call returns ``values[k]`` under
    ``monitor`` and records a copy of the weights it was shown."""

    def __init__(self, values, monitor="f1_mean"):
        self.values, self.monitor, self.states = list(values), monitor, []

    def __call__(self, model, data, **kw):
        core = afg.train.loop._unwrap(model)
        self.states.append({k: v.detach().clone() for k, v in core.state_dict().items()})
        v = self.values[len(self.states) - 1]
        return {self.monitor: v, "marker": len(self.states)}


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)


@pytest.mark.parametrize("in_memory", [False, True])
def test_best_epoch_is_the_best_monitor_value(tmp_path, monkeypatch, in_memory):
    script = ScriptedEvaluate([0.2, 0.7, 0.5, 0.6])
    monkeypatch.setattr(afg.train.loop, "evaluate", script)
    run_dir = None if in_memory else tmp_path
    res = fit(_model(), TinyData(24, 0), TinyData(8, 1), _recipe(epochs=4), run_dir=run_dir)
    assert res.best_epoch == 2
    assert res.metrics["f1_mean"] == 0.7 and res.metrics["marker"] == 2  # the best epoch's row
    assert res.last_metrics["marker"] == 4
    assert _same(res.model.state_dict(), script.states[1])  # the returned model: epoch 2's weights
    assert not _same(script.states[1], script.states[3])
    if not in_memory:
        assert _same(load_checkpoint(tmp_path / "best.pt")["model"], script.states[1])
        assert _same(load_checkpoint(tmp_path / "last.pt")["model"], script.states[3])
        done = json.loads((tmp_path / "training.json").read_text())
        assert done["best_epoch"] == 2 and done["metrics"]["marker"] == 2


def test_monitor_mode_min_on_val_loss(tmp_path, monkeypatch):
    script = ScriptedEvaluate([0.9, 0.4, 0.3, 0.8], monitor="val_loss")
    monkeypatch.setattr(afg.train.loop, "evaluate", script)
    res = fit(_model(), TinyData(24, 0), TinyData(8, 1),
              _recipe(epochs=4, monitor="val_loss", monitor_mode="min"), run_dir=tmp_path)
    assert res.best_epoch == 3 and res.metrics["val_loss"] == 0.3
    assert _same(load_checkpoint(tmp_path / "best.pt")["model"], script.states[2])


def test_eval_every_selects_among_evaluated_epochs(tmp_path, monkeypatch):
    """``eval_every: 2`` over 5 epochs evaluates after epochs 2, 4 and 5 (the last)."""
    script = ScriptedEvaluate([0.9, 0.1, 0.5])
    monkeypatch.setattr(afg.train.loop, "evaluate", script)
    res = fit(_model(), TinyData(24, 0), TinyData(8, 1), _recipe(epochs=5, eval_every=2), run_dir=tmp_path)
    assert len(script.states) == 3
    assert ["f1_mean" in row for row in res.history] == [False, True, False, True, True]
    assert res.best_epoch == 2 and res.metrics["marker"] == 1
    assert _same(load_checkpoint(tmp_path / "best.pt")["model"], script.states[0])


def test_nan_monitor_value_is_never_the_best(tmp_path, monkeypatch):
    script = ScriptedEvaluate([math.nan, 0.3, math.nan, 0.2])
    monkeypatch.setattr(afg.train.loop, "evaluate", script)
    res = fit(_model(), TinyData(24, 0), TinyData(8, 1), _recipe(epochs=4), run_dir=tmp_path)
    assert res.best_epoch == 2 and res.metrics["f1_mean"] == 0.3
    assert _same(load_checkpoint(tmp_path / "best.pt")["model"], script.states[1])


# ------------------------------------------------------------------------------ stage-2 resume
TWO_STAGES = [
    {"name": "pre", "epochs": 2},
    {"name": "fine", "epochs": 2, "init_from": "previous", "freeze": ["backbone"],
     "optimizer": {"lr": 0.01}},
]


@pytest.mark.parametrize("kill_at,every", [(11, 1), (14, 0)])
def test_resume_after_a_kill_in_stage_two(tmp_path, kill_at, every):
    """24 samples, batch 6: 4 steps per epoch, stage 1 = calls 1-8. A kill at call 11 (step 3 of
    stage 2's epoch 1, step checkpoints) or 14 (epoch 2): the rerun skips stage 1, resumes stage 2
    and ends exactly as the uninterrupted run."""
    train, val = TinyData(24, 0), TinyData(12, 1)
    rec = _recipe(stages=TWO_STAGES, checkpoint_every_steps=every)
    ref = fit(_model(), train, val, rec, run_dir=tmp_path / "ref")
    with pytest.raises(Kill):
        fit(_model(kill_at=kill_at), train, val, rec, run_dir=tmp_path / "run")
    s1 = tmp_path / "run" / "stage1-pre"
    assert (s1 / "training.json").exists() and not (tmp_path / "run" / "stage2-fine" / "training.json").exists()
    ck = load_checkpoint(tmp_path / "run" / "stage2-fine" / "last.pt")
    assert (ck["epoch"], ck["batch_in_epoch"]) == ((0, 2) if every else (1, 0))
    stamp = (s1 / "best.pt").stat().st_mtime_ns
    resumed = _model(seed=7)
    res = fit(resumed, train, val, rec, run_dir=tmp_path / "run")
    # stage 1 is not retrained; stage 2 runs only its remaining steps (8 - 2 or 8 - 4 calls)
    assert (s1 / "best.pt").stat().st_mtime_ns == stamp
    assert resumed.calls == (6 if every else 4)
    assert [h["stage"] for h in res.history] == ["pre", "pre", "fine", "fine"]
    assert _strip(res.history) == _strip(ref.history)
    for name in ("last.pt", "best.pt"):
        a = load_checkpoint(tmp_path / "ref" / "stage2-fine" / name)["model"]
        b = load_checkpoint(tmp_path / "run" / "stage2-fine" / name)["model"]
        assert _same(a, b), name
    assert _same(res.model.state_dict(), ref.model.state_dict())


# ------------------------------------------------------------------------------ accumulation
def _plain(**kw):
    base = {"epochs": 2, "optimizer": {"name": "sgd", "lr": 0.5, "momentum": 0.9, "weight_decay": 0.0},
            "schedule": {"name": "cosine", "warmup_steps": 1}}
    return _recipe(**{**base, **kw})


def test_gradient_accumulation_equals_one_large_batch():
    """24 samples: batches of 4 accumulated 3 at a time step as batches of 12 do (momentum SGD,
    cosine schedule: same steps, same learning rates, same weights, same epoch means)."""
    data = TinyData(24, 0)
    big = fit(_model(norm="none", dropout=0.0), data, None, _plain(batch_size=12))
    acc = fit(_model(norm="none", dropout=0.0), data, None, _plain(batch_size=4, grad_accum=3))
    assert [h["step"] for h in acc.history] == [h["step"] for h in big.history] == [2, 4]
    assert [h["lr"] for h in acc.history] == [h["lr"] for h in big.history]
    for k, v in big.model.state_dict().items():
        torch.testing.assert_close(acc.model.state_dict()[k], v, atol=1e-5, rtol=1e-5, msg=k)
    for a, b in zip(acc.history, big.history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)


def test_incomplete_last_accumulation_window_steps_scaled_by_its_length():
    """20 samples, batches of 4, ``grad_accum: 3``: per epoch a window of 3 batches and a last one
    of 2, which must step too, its gradient the mean over its own 2 batches — checked against
    plain SGD written out by hand on the sampler's order."""
    from torch.utils.data import DistributedSampler

    from afg.data.stats import training_statistics

    data, lr, epochs = TinyData(20, 0), 0.5, 2
    rec = _recipe(epochs=epochs, batch_size=4, grad_accum=3, schedule={"name": "constant"},
                  optimizer={"name": "sgd", "lr": lr, "momentum": 0.0, "weight_decay": 0.0})
    res = fit(_model(norm="none", dropout=0.0), data, None, rec)
    assert [h["step"] for h in res.history] == [2, 4]

    model = _model(norm="none", dropout=0.0)
    crit = model.build_criterion(training_statistics(data))
    sampler = DistributedSampler(range(20), num_replicas=1, rank=0, shuffle=True, seed=rec.seed)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        order = list(sampler)
        batches = [order[b:b + 4] for b in range(0, 20, 4)]
        for window in (batches[:3], batches[3:]):
            model.zero_grad()
            loss = sum(crit(model(data.x[b]), {"au": data.y[b], "au_mask": torch.ones(len(b), 3, dtype=bool)})
                       ["loss"] for b in window) / len(window)
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
    for k, v in model.state_dict().items():
        torch.testing.assert_close(res.model.state_dict()[k], v, atol=1e-6, rtol=1e-5, msg=k)


def test_gradient_clipping_bounds_the_update():
    """Plain SGD (lr 1), one step on the whole set: the update is the gradient, whose global norm
    ``grad_clip`` caps; without clipping it is larger."""
    data = TinyData(12, 0)
    rec = {"epochs": 1, "batch_size": 12, "schedule": {"name": "constant"},
           "optimizer": {"name": "sgd", "lr": 1.0, "momentum": 0.0, "weight_decay": 0.0}}

    def update_norm(**kw):
        m0 = _model(norm="none", dropout=0.0)
        before = {k: v.clone() for k, v in m0.state_dict().items()}
        res = fit(m0, data, None, _recipe(**rec, **kw))
        after = res.model.state_dict()
        return math.sqrt(sum(float((after[k] - before[k]).pow(2).sum()) for k in before))

    free = update_norm()
    assert free > 0.05
    assert update_norm(grad_clip=0.01) == pytest.approx(0.01, rel=1e-4)
    assert update_norm(grad_clip=10 * free) == pytest.approx(free, rel=1e-6)  # above the norm: no-op


def test_callbacks_receive_every_epoch_row_in_order(tmp_path):
    rows = []

    def seen_on_disk(row):  # called after the epoch's checkpoint and logs are written
        ck = load_checkpoint(tmp_path / "last.pt")
        rows.append((dict(row), ck["epoch"]))

    res = fit(_model(), TinyData(24, 0), TinyData(8, 1), _recipe(epochs=3), run_dir=tmp_path,
              callbacks=[seen_on_disk])
    assert [e for _, e in rows] == [1, 2, 3]
    assert [r["epoch"] for r, _ in rows] == [1, 2, 3]
    assert _strip([r for r, _ in rows]) == _strip(res.history)
    assert all("f1_mean" in r and "train_loss" in r for r, _ in rows)


def test_unreadable_training_record_resumes_instead_of_crashing(tmp_path):
    train, val = TinyData(24, 0), TinyData(8, 1)
    ref = fit(_model(), train, val, _recipe(), run_dir=tmp_path)
    (tmp_path / "training.json").write_text('{"status": "compl')  # cut by a kill / a full disk
    with pytest.warns(UserWarning, match="unreadable"):
        again = fit(_model(3), train, val, _recipe(), run_dir=tmp_path)
    assert _strip(again.history) == _strip(ref.history)  # from last.pt: nothing retrained
    assert json.loads((tmp_path / "training.json").read_text())["status"] == "complete"


@pytest.mark.slow
@pytest.mark.parametrize("paper", ["me_graphau", "au_gcn"])
def test_paper_two_stage_recipe_resumes_in_stage_two(paper, tmp_path):
    """The papers' own two-stage recipes (quick synthetic configs; ME-GraphAU switches the model
    between stages, AU-GCN the loss): killed after stage 2's first epoch, the rerun skips stage 1,
    trains stage 2's second epoch only and ends as the uninterrupted run."""
    from afg.data.build import build_data
    from afg.experiments import ExperimentConfig
    from afg.experiments.config import build_model
    from afg.papers.notebook_setup import NotebookSetup

    d = NotebookSetup(quick=True).config(paper).to_dict()
    d["recipe"].update(deterministic=True, epochs=2)
    stages = d["recipe"]["stages"]
    assert len(stages) == 2
    stages[0]["epochs"], stages[1]["epochs"] = 1, 2
    cfg = ExperimentConfig.from_dict(d)
    train, val = build_data(cfg.data)

    def fresh():
        torch.manual_seed(cfg.recipe.seed)
        return build_model(cfg.model, train)

    ref = fit(fresh(), train, val, cfg.recipe, run_dir=tmp_path / "ref")
    rows = []

    def kill_in_stage_two(row):
        rows.append(row)
        if len(rows) == 2:  # stage 1's only epoch, then stage 2's first
            raise Kill()

    with pytest.raises(Kill):
        fit(fresh(), train, val, cfg.recipe, run_dir=tmp_path / "run", callbacks=[kill_in_stage_two])
    s1, s2 = sorted(p for p in (tmp_path / "run").iterdir() if p.is_dir() and p.name.startswith("stage"))
    assert (s1 / "training.json").exists() and not (s2 / "training.json").exists()
    assert load_checkpoint(s2 / "last.pt")["epoch"] == 1
    stamp = (s1 / "last.pt").stat().st_mtime_ns
    epochs_run = []
    res = fit(fresh(), train, val, cfg.recipe, run_dir=tmp_path / "run",
              callbacks=[lambda row: epochs_run.append(row["epoch"])])
    assert epochs_run == [2] and (s1 / "last.pt").stat().st_mtime_ns == stamp
    assert [h["stage"] for h in res.history] == [h["stage"] for h in ref.history]
    for got, want in zip(_strip(res.history), _strip(ref.history), strict=True):
        assert got.keys() == want.keys()
        for k, v in want.items():  # NaN (an AUC of an absent AU) equals NaN here
            same = v == got[k] or (isinstance(v, float) and math.isnan(v) and math.isnan(got[k]))
            assert same, (want["stage"], want["epoch"], k, got[k], v)
    a = load_checkpoint(tmp_path / "ref" / s2.name / "last.pt")["model"]
    b = load_checkpoint(s2 / "last.pt")["model"]
    assert _same(a, b)
    assert type(res.model) is type(ref.model)
