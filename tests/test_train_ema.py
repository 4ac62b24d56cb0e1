"""``recipe.ema_decay``: an exponential moving average of the weights (:mod:`afg.train.ema`)."""
from __future__ import annotations

import pytest
import torch
from test_train import Kill, TinyData, _model, _recipe, _strip
from torch import nn

from afg.config import ConfigError
from afg.experiments import config_hash
from afg.runs import load_checkpoint
from afg.train import Recipe, fit
from afg.train.ema import build_ema, ema_decay_at
from afg.train.loop import _training_statistics


def test_decay_warm_up_by_hand():
    assert ema_decay_at(0.99, 0) == pytest.approx(1 / 10)
    assert ema_decay_at(0.99, 5) == pytest.approx(6 / 15)
    assert ema_decay_at(0.99, 10_000) == 0.99  # (1 + t) / (10 + t) > 0.99 once t > 890
    assert ema_decay_at(0.5, 8) == 0.5


def test_average_follows_the_update_rule_by_hand():
    """θ̄_0 = θ_0, θ̄_t = β_t θ̄_{t-1} + (1 − β_t) θ_t, on a parameter and on a batch-norm
    running mean; the integer batch counter takes the live value."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = build_ema(model, 0.9)
    ref_w, ref_m = None, None
    for t in range(25):
        with torch.no_grad():
            model[0].weight.add_(torch.randn(2, 2))
        model.train()
        model(torch.randn(8, 2))  # moves the running statistics
        ema.update_parameters(model)
        w, m = model[0].weight.detach().clone(), model[1].running_mean.clone()
        if t == 0:
            ref_w, ref_m = w, m
        else:
            b = min(0.9, (1 + t) / (10 + t))
            ref_w, ref_m = b * ref_w + (1 - b) * w, b * ref_m + (1 - b) * m
    torch.testing.assert_close(ema.module[0].weight, ref_w)
    torch.testing.assert_close(ema.module[1].running_mean, ref_m)
    assert ema.module[1].num_batches_tracked.item() == model[1].num_batches_tracked.item() == 25
    assert build_ema(model, None) is None
    assert not any(p.requires_grad for p in ema.parameters())


def test_recipe_field_and_the_run_cache_key():
    assert Recipe().ema_decay is None
    assert Recipe.from_dict({"ema_decay": 0.99}).ema_decay == 0.99
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ConfigError, match="ema_decay"):
            Recipe.from_dict({"ema_decay": bad})
    cfg = {"model": {"name": "me_graphau_stage1"}, "data": {"dataset": "synthetic"}}
    # off: the key of every run made before the option existed stays what it was
    assert config_hash(cfg) == config_hash({**cfg, "recipe": {"ema_decay": None}})
    assert config_hash(cfg) != config_hash({**cfg, "recipe": {"ema_decay": 0.99}})


def test_fit_selects_and_returns_the_average(tmp_path):
    """Validation scores the average, best.pt and the returned model hold it, last.pt keeps the
    live weights (for resuming) and the average beside them; the loss still falls."""
    train, val = TinyData(48, 0), TinyData(24, 1)
    rec = _recipe(epochs=4, ema_decay=0.9)
    res = fit(_model(), train, val, rec, run_dir=tmp_path)
    assert res.history[-1]["train_loss"] < 0.8 * res.history[0]["train_loss"]
    last, best = load_checkpoint(tmp_path / "last.pt"), load_checkpoint(tmp_path / "best.pt")
    assert last["ema_updates"] == last["global_step"] == 4 * 8
    key = "head.weight"
    assert not torch.equal(last["model"][key], last["ema"][key])  # live and averaged differ
    assert torch.equal(best["model"][key], best["ema"][key])
    for k, v in res.model.state_dict().items():
        assert torch.equal(v.cpu(), best["model"][k])
    # the reported validation metrics are the average's: re-evaluating the returned model
    # (the best epoch's average) gives them back
    from afg.train import evaluate

    again = evaluate(res.model, val, batch_size=6, criterion=res.model.build_criterion(_training_statistics(train)))
    assert again["val_loss"] == pytest.approx(res.metrics["val_loss"], rel=1e-6)
    # without the average, the same seed selects different weights
    plain = fit(_model(), train, val, _recipe(epochs=4), run_dir=tmp_path / "plain")
    assert not torch.equal(plain.model.state_dict()[key], res.model.state_dict()[key])


def test_resume_restores_the_average(tmp_path):
    train, val = TinyData(30, 0, missing=0.1), TinyData(12, 1)
    rec = _recipe(checkpoint_every_steps=1, ema_decay=0.8)
    ref = fit(_model(), train, val, rec, run_dir=tmp_path / "ref")
    with pytest.raises(Kill):
        fit(_model(kill_at=8), train, val, rec, run_dir=tmp_path / "run")
    res = fit(_model(seed=123), train, val, rec, run_dir=tmp_path / "run")
    assert _strip(res.history) == _strip(ref.history)
    a, b = (load_checkpoint(tmp_path / d / "last.pt") for d in ("ref", "run"))
    assert all(torch.equal(a["ema"][k], b["ema"][k]) for k in a["ema"])
    assert a["ema_updates"] == b["ema_updates"]


def test_without_a_run_dir_the_selected_weights_are_the_average():
    train, val = TinyData(48, 0), TinyData(24, 1)
    res = fit(_model(), train, val, _recipe(epochs=3, ema_decay=0.9))
    from afg.train import evaluate

    again = evaluate(res.model, val, batch_size=6, criterion=res.model.build_criterion(_training_statistics(train)))
    assert again["val_loss"] == pytest.approx(res.metrics["val_loss"], rel=1e-6)


def test_an_experiment_run_scores_the_average_and_its_table_says_so(tmp_path):
    """Through afg.experiments.run: the held-out evaluation (evaluation.json) scores the averaged
    weights best.pt holds, and the ablation note names the moving average."""
    from afg.experiments import Ablation, run
    from afg.papers.results import predictions

    cfg = {"model": {"name": "baseline", "backbone": "resnet_tiny", "pretrained": False, "img_size": 32},
           "data": {"dataset": "synthetic", "n_subjects": 3, "images_per_subject": 4, "size": 32,
                    "folds": 3, "fold": 1},
           "recipe": {"epochs": 2, "batch_size": 4, "max_steps_per_epoch": 2, "device": "cpu",
                      "progress": False, "ema_decay": 0.9}}
    res = run(cfg, root=tmp_path, load_model=True)
    best = load_checkpoint(res.run_dir / "best.pt")
    assert best["ema_updates"] in (2, 4)  # 2 steps an epoch; the epoch selected
    assert all(torch.equal(v, best["ema"][k]) for k, v in best["model"].items())
    assert all(torch.equal(v.cpu(), best["model"][k]) for k, v in res.model.state_dict().items())
    # the held-out metrics are those of the weights the run returns (the average)
    again = predictions(res)["metrics"]
    assert again["auc_mean"] == pytest.approx(res.metrics["auc_mean"], abs=1e-6)
    plain = {**cfg, "recipe": {**cfg["recipe"], "ema_decay": None}}
    assert "moving average (recipe.ema_decay 0.9)" in Ablation(cfg, {"a": {}}, folds=[1], root=tmp_path).note()
    assert "moving average" not in Ablation(plain, {"a": {}}, folds=[1], root=tmp_path).note()
