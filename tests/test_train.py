"""Trainer: resume after a kill is bit-exact, NaN stops cleanly, stages chain, schedules, recipes."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from afg.config import ConfigError
from afg.models.base import AffectModel
from afg.runs import load_checkpoint
from afg.train import (
    NonFiniteLossError,
    Recipe,
    build_optimizer,
    cross_validate,
    evaluate,
    fit,
    schedule_factor,
    summarize,
)
from afg.train.recipe import OptimizerConfig, ScheduleConfig

N_AU = 3


class TinyData(torch.utils.data.Dataset):
    """Random 16x16 images whose AU labels are thresholds of channel means (learnable)."""

    au_names = ("AU01", "AU02", "AU04")

    def __init__(self, n: int = 24, seed: int = 0, missing: float = 0.0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, 16, 16, generator=g)
        self.y = (self.x.mean((2, 3)) > 0).float()
        if missing:
            m = torch.rand(n, N_AU, generator=g) < missing
            self.y[m] = float("nan")
        self.lm = torch.rand(n, 68, 2, generator=g) * 16

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return {"image": self.x[i], "au": self.y[i], "landmarks": self.lm[i], "subject": f"S{i % 4}"}

    def labels(self):
        return {"au": self.y.numpy()}

    def folds(self, k):
        return [np.arange(f, len(self), k) for f in range(k)]


class _Criterion(nn.Module):
    def __init__(self, weights=None, nan_at: int | None = None, scale: float = 1.0):
        super().__init__()
        self.register_buffer("w", torch.as_tensor(weights if weights is not None else np.ones(N_AU)).float())
        self.nan_at, self.calls, self.scale = nan_at, 0, scale

    def forward(self, out, batch):
        self.calls += 1
        y, m = batch["au"], batch["au_mask"]
        bce = F.binary_cross_entropy(out["au"].clamp(1e-6, 1 - 1e-6), torch.nan_to_num(y), reduction="none")
        bce = (bce * self.w * m).sum() / m.sum().clamp(min=1)
        reg = 1e-3 * out["au"].mean()
        if self.nan_at is not None and self.training and self.calls == self.nan_at:
            bce = bce * float("nan")
        return {"loss": self.scale * bce + reg, "bce": bce, "reg": reg}


class Kill(Exception):
    pass


class TinyAU(AffectModel):
    task = "au"

    def __init__(self, norm: str = "bn", kill_at: int | None = None, nan_at: int | None = None,
                 need_landmarks: bool = False, dropout: float = 0.2):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.BatchNorm2d(8) if norm == "bn" else nn.Identity(),
            nn.ReLU(), nn.Dropout(dropout),
        )
        self.head = nn.Linear(8 + 3, N_AU)
        self.kill_at, self.nan_at, self.calls = kill_at, nan_at, 0
        if need_landmarks:
            self.forward_keys = ("landmarks",)
        self.seen_landmarks = False

    def forward(self, images, landmarks=None, return_intermediates=False):
        if self.training:
            self.calls += 1
            if self.kill_at is not None and self.calls == self.kill_at:
                raise Kill()
        if landmarks is not None:
            self.seen_landmarks = True
        feats = self.backbone(images).mean((2, 3))
        return {"au": torch.sigmoid(self.head(torch.cat([feats, 16 * images.mean((2, 3))], 1)))}

    def build_criterion(self, stats=None, **options):
        w = None if stats is None else stats.get("au_class_weights")
        return _Criterion(w, nan_at=self.nan_at, **options)


def _recipe(**kw) -> Recipe:
    base = {"epochs": 3, "batch_size": 6, "optimizer": {"name": "adamw", "lr": 0.05},
                "schedule": {"name": "cosine", "warmup_steps": 2}, "deterministic": True, "progress": False}
    base.update(kw)
    return Recipe.from_dict(base)


def _strip(history):
    return [{k: v for k, v in row.items() if k not in ("time_s", "data_wait_share")} for row in history]


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    return TinyAU(**kw)


def test_fit_learns_and_writes_run_dir(tmp_path):
    train, val = TinyData(48, 0), TinyData(24, 1)
    res = fit(_model(), train, val, _recipe(epochs=4), run_dir=tmp_path)
    assert res.history[-1]["train_loss"] < 0.8 * res.history[0]["train_loss"]
    assert res.metrics["f1_mean"] > 0.5 and "f1/AU04" in res.metrics and "auc_mean" in res.metrics
    for f in ("last.pt", "best.pt", "metrics.csv", "metrics.json", "training.json", "recipe.yaml"):
        assert (tmp_path / f).exists(), f
    csv_lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and "f1_mean" in csv_lines[0] and "train_bce" in csv_lines[0]
    # checkpoints hold only plain types: loadable with weights_only=True
    ck = torch.load(tmp_path / "last.pt", weights_only=True)
    assert ck["epoch"] == 4 and ck["recipe"]["optimizer"]["lr"] == 0.05
    assert set(ck) >= {"model", "optimizer", "scheduler", "scaler", "rng", "metrics", "global_step"}
    # the returned model holds the best epoch's weights
    best = load_checkpoint(tmp_path / "best.pt")
    for k, v in res.model.state_dict().items():
        assert torch.equal(v.cpu(), best["model"][k])
    # a complete run is not retrained
    again = fit(_model(5), train, val, _recipe(epochs=4), run_dir=tmp_path)
    assert _strip(again.history) == _strip(res.history)


@pytest.mark.parametrize("kill_at,every", [(9, 0), (8, 1)])
def test_resume_after_kill_equals_uninterrupted(tmp_path, kill_at, every):
    """Killed mid-epoch (epoch-level or step-level checkpoints), resumed: bit-identical end."""
    train, val = TinyData(30, 0, missing=0.1), TinyData(12, 1)
    rec = _recipe(checkpoint_every_steps=every)
    ref = fit(_model(), train, val, rec, run_dir=tmp_path / "ref")
    with pytest.raises(Kill):  # 5 steps/epoch: call 8/9 is in the second epoch
        fit(_model(kill_at=kill_at), train, val, rec, run_dir=tmp_path / "run")
    ck = load_checkpoint(tmp_path / "run" / "last.pt")
    assert (ck["epoch"], ck["batch_in_epoch"]) == ((1, 2) if every else (1, 0))
    res = fit(_model(seed=123), train, val, rec, run_dir=tmp_path / "run")
    assert _strip(res.history) == _strip(ref.history)
    a = load_checkpoint(tmp_path / "ref" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "run" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_nan_loss_stops_cleanly(tmp_path):
    train = TinyData(24, 0)
    with pytest.raises(NonFiniteLossError) as err:
        fit(_model(nan_at=7), train, TinyData(8, 1), _recipe(), run_dir=tmp_path)
    e = err.value
    # 24 samples, batch 6: epoch 0 = criterion calls 1-4, its evaluation = calls 5-6 (8 samples in
    # batches of 6), call 7 = the first step of epoch 1 (0-based), after 4 optimiser steps
    assert (e.epoch, e.step, e.stage) == (1, 4, "stage1")
    assert math.isnan(e.terms["bce"]) and math.isnan(e.terms["loss"]) and math.isfinite(e.terms["reg"])
    assert "epoch 1, step 4" in str(e) and "bce=nan" in str(e)
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "non-finite loss"
    ck = load_checkpoint(tmp_path / "last.pt")  # last good state: end of epoch 1
    assert ck["epoch"] == 1 and all(torch.isfinite(v).all() for v in ck["model"].values()
                                    if v.is_floating_point())


def test_two_stage_recipe_loads_stage1_and_freezes(tmp_path):
    train, val = TinyData(24, 0), TinyData(12, 1)
    rec = _recipe(stages=[
        {"name": "pre", "epochs": 2},
        {"name": "fine", "epochs": 1, "init_from": "previous", "freeze": ["backbone"],
         "optimizer": {"lr": 0.01}, "losses": {"scale": 2.0}},
    ])
    res = fit(_model(), train, val, rec, run_dir=tmp_path)
    s1 = load_checkpoint(tmp_path / "stage1-pre" / "best.pt")["model"]
    s2 = load_checkpoint(tmp_path / "stage2-fine" / "last.pt")
    for k in s1:
        if k.startswith("backbone.") and "running" not in k and "num_batches" not in k:
            assert torch.equal(s1[k], s2["model"][k]), k  # frozen, loaded from stage 1
    assert not torch.equal(s1["head.weight"], s2["model"]["head.weight"])
    assert s2["recipe"]["optimizer"]["lr"] == 0.01 and s2["recipe"]["losses"] == {"scale": 2.0}
    assert [h["stage"] for h in res.history] == ["pre", "pre", "fine"]
    assert (tmp_path / "training.json").exists() and len(res.stages) == 2


def test_forward_keys_and_evaluate_and_cv(tmp_path):
    train, val = TinyData(12, 0), TinyData(12, 1)
    m = _model(need_landmarks=True)
    fit(m, train, val, _recipe(epochs=1))
    assert m.seen_landmarks
    met = evaluate(m, val, batch_size=5)
    assert 0 <= met["f1_mean"] <= 1 and "acc/AU01" in met
    frame, results = cross_validate(lambda f: _model(f), TinyData(18, 2), _recipe(epochs=1), k=3,
                                    run_dir=tmp_path)
    assert list(frame["fold"]) == [0, 1, 2] and len(results) == 3
    summ = summarize(frame)
    assert summ.loc["mean", "f1_mean"] == pytest.approx(frame["f1_mean"].mean())


def test_schedules_and_optimizer_groups():
    f = schedule_factor(ScheduleConfig(name="cosine", warmup_steps=4, warmup_start=0.0), 2, 10)
    assert f(0) == 0 and f(2) == pytest.approx(0.5) and f(4) == pytest.approx(1.0)
    assert f(12) == pytest.approx(0.5) and f(20) == pytest.approx(0.0, abs=1e-12)
    s = schedule_factor(ScheduleConfig(name="step", step_epochs=2, gamma=0.1), 6, 5)
    assert s(9) == 1 and s(10) == pytest.approx(0.1) and s(25) == pytest.approx(0.01)
    ms = schedule_factor(ScheduleConfig(name="multistep", milestones=[1, 3], gamma=0.5,
                                        per_iteration=False), 4, 100)
    assert [ms(e) for e in range(4)] == [1, 0.5, 0.5, 0.25]
    m = _model()
    opt = build_optimizer(m, OptimizerConfig(name="sgd", lr=0.1, lr_mult={"backbone": 0.1}))
    lrs = {g["name"]: g["lr"] for g in opt.param_groups}
    assert lrs == pytest.approx({"backbone": 0.01, "head": 0.1})
    assert isinstance(opt, torch.optim.SGD)
    m.backbone.requires_grad_(False)
    opt = build_optimizer(m, OptimizerConfig(name="adam", betas=(0.5, 0.9)))
    assert [g["name"] for g in opt.param_groups] == ["head"] and opt.param_groups[0]["betas"] == (0.5, 0.9)


def test_recipe_yaml_round_trip_and_errors():
    r = Recipe.from_yaml("epochs: 5\noptimizer: {name: SGD, lr: 0.01, momentum: 0.8}\namp: bf16\n")
    assert r.optimizer.name == "sgd" and Recipe.from_yaml(r.to_yaml()) == r
    with pytest.raises(ConfigError, match="lrr"):
        Recipe.from_dict({"optimizer": {"lrr": 1}})
    with pytest.raises(ConfigError, match="amp"):
        Recipe(amp="fp8")


def test_stage_switches_model_and_carries_weights(tmp_path):
    from afg.models.registry import _REGISTRY, create_model, register_model

    if "test_tiny_au_stages" not in _REGISTRY:
        register_model("test_tiny_au_stages")(
            lambda num_classes, backbone=None, pretrained=False, weights=None, img_size=16, **o: TinyAU(**o))
    torch.manual_seed(0)
    model = create_model("test_tiny_au_stages", N_AU, norm="bn")
    rec = _recipe(stages=[{"name": "a", "epochs": 1, "init_from": None},
                          {"name": "b", "epochs": 1, "model": {"norm": "none", "dropout": 0.0},
                           "init_from": "previous", "freeze": ["head"]}])
    res = fit(model, TinyData(12, 0), TinyData(6, 1), rec, run_dir=tmp_path)
    final = res.model
    assert final.model_config["norm"] == "none" and not isinstance(final.backbone[1], nn.BatchNorm2d)
    s1 = load_checkpoint(tmp_path / "stage1-a" / "best.pt")["model"]
    assert torch.equal(final.head.weight.cpu(), s1["head.weight"])  # loaded from stage 1, then frozen
    assert not torch.equal(final.backbone[0].weight.cpu(), s1["backbone.0.weight"])  # stage 2 trained it


def test_compute_metrics_expression_and_multilabel_match_sklearn():
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    from afg.train import compute_metrics

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(60, 7))
    y = rng.integers(0, 7, 60)
    y[:5] = -1  # missing
    va_t, va_p = rng.uniform(-1, 1, (60, 2)), rng.uniform(-1, 1, (60, 2))
    m = compute_metrics("expression", {"expression": logits, "va": va_p}, {"expression": y, "va": va_t})
    keep = y >= 0
    assert m["accuracy"] == pytest.approx(accuracy_score(y[keep], logits[keep].argmax(1)))
    assert m["mean_class_accuracy"] == pytest.approx(balanced_accuracy_score(y[keep], logits[keep].argmax(1)))
    assert np.asarray(m["confusion_matrix"]).sum() == keep.sum() and "ccc_valence" in m
    em_logits, em = rng.normal(size=(40, 6)), (rng.random((40, 6)) < 0.3).astype(float)
    em[0] = [1, 0, 0, 0, 0, 0]
    ml = compute_metrics("multilabel", {"emotions": em_logits}, {"emotions": em})
    assert len(ml) == 10 and ml["incomplete_rows"] == 0  # the nine metrics + the faces left out
    assert ml["macro_f1"] == pytest.approx(f1_score(em, em_logits >= 0, average="macro", zero_division=0))


def test_optional_forward_keys_passed_when_present():
    from afg.train import model_inputs

    m = _model()
    m.optional_forward_keys = ("landmarks",)
    batch = {"image": torch.zeros(1, 3, 16, 16), "landmarks": torch.zeros(1, 68, 2)}
    assert set(model_inputs(m, batch)[1]) == {"landmarks"}
    assert model_inputs(m, {"image": batch["image"]})[1] == {}
    m.forward_keys = ("landmarks",)
    with pytest.raises(KeyError, match="landmarks"):
        model_inputs(m, {"image": batch["image"]})


def test_num_workers_auto(monkeypatch):
    from afg.train.recipe import resolve_workers

    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert resolve_workers("auto", "cuda") == 8 and resolve_workers("auto", "cpu") == 0
    assert resolve_workers(3, "cpu") == 3
    assert Recipe.from_dict({"num_workers": "2"}).num_workers == 2
    with pytest.raises(ConfigError, match="num_workers"):
        Recipe.from_dict({"num_workers": "many"})
