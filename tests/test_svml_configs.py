"""The SVML-RGCN recipes in configs/ carry the paper's hyper-parameters (Sec. 4.2) and build."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from afg.models import create_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

# name: (t1, t2, k, o, classifier lr, backbone lr)
PAPER = {
    "rafml": (0.15, 0.4, 4, 1024, 2e-4, 2e-6),
    "rafcompound": (0.15, 0.4, 5, 2000, 2e-4, 2e-6),
    "jaffe": (1e-6, 0.45, 5, 1000, 5e-4, 1e-4),
}


@pytest.mark.parametrize("name", sorted(PAPER))
def test_recipe_matches_paper(name: str) -> None:
    from afg.train.recipe import Recipe

    cfg = yaml.safe_load((CONFIGS / f"svml_rgcn_{name}.yaml").read_text())
    m = cfg["model"]
    t1, t2, k, o, lr_head, lr_bb = PAPER[name]
    assert m["name"] == "svml_rgcn" and m["num_classes"] == 6 and m["variant"] == "svml_rgcn"
    assert (m["t1"], m["t2"], m["mfb_k"], m["mfb_o"], m["num_layers"]) == (t1, t2, k, o, 2)
    assert (m["backbone"], m["img_size"], m["hidden_dim"]) == ("resnet50", 224, 2048)
    r = Recipe.from_dict(cfg["recipe"])
    assert (r.epochs, r.batch_size) == (80, 32)
    assert (r.optimizer.name, r.optimizer.weight_decay) == ("adam", 2e-4)
    assert r.optimizer.lr * r.optimizer.lr_mult.get("head", 1.0) == pytest.approx(lr_head)
    assert r.optimizer.lr * r.optimizer.lr_mult["backbone"] == pytest.approx(lr_bb)
    assert (r.schedule.name, r.schedule.step_epochs, r.schedule.gamma) == ("step", 20, 0.1)


def test_synthetic_config_builds_and_runs() -> None:
    from afg.train.recipe import Recipe

    cfg = yaml.safe_load((CONFIGS / "svml_rgcn_synthetic.yaml").read_text())
    Recipe.from_dict(cfg["recipe"])
    m = cfg["model"]
    model = create_model(m["name"], m["num_classes"], **{k: v for k, v in m.items() if k not in ("name", "num_classes")})
    assert set(model.param_groups()) == set(cfg["recipe"]["optimizer"]["lr_mult"])
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 112, 112))["emotions"].shape == (2, 6)
