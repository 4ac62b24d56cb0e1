"""The ME-GraphAU recipes in configs/ carry the paper's hyper-parameters and build both stages."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from afg.experiments.config import load_experiment
from afg.models import model_from_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PAPER = [  # (file, AUs, K, backbone, lambda)
    ("me_graphau_bp4d_resnet50", 12, 4, "resnet50", 0.05),
    ("me_graphau_bp4d_swin_base", 12, 4, "swin_base_patch4_window7_224", 0.01),
    ("me_graphau_disfa_resnet50", 8, 3, "resnet50", 0.05),
    ("me_graphau_disfa_swin_base", 8, 3, "swin_base_patch4_window7_224", 0.01),
]


@pytest.mark.parametrize("name,n_aus,k,backbone,lam", PAPER)
def test_recipe_matches_paper(name, n_aus, k, backbone, lam):
    cfg = load_experiment(CONFIGS / f"{name}.yaml")
    m = cfg.model
    assert (m["name"], m["num_classes"], m["neighbor_num"], m["backbone"], m["lam"]) == (
        "me_graphau_stage1", n_aus, k, backbone, lam)
    assert m["img_size"] == 224 and m["pretrained"] is True
    r = cfg.recipe
    opt = r.optimizer
    assert (opt.name, opt.lr, tuple(opt.betas), opt.weight_decay) == ("adamw", 1e-4, (0.9, 0.999), 5e-4)
    assert r.schedule.name == "cosine" and r.schedule.per_iteration and r.batch_size == 64
    s1, s2 = r.stages
    assert (s1.epochs, s2.epochs) == (20, 20) and s1.init_from is None
    assert s2.model == {"name": "me_graphau"} and s2.init_from == "previous"
    assert s2.optimizer == {"lr": 1e-6}
    assert cfg.data.folds == 3


def test_synthetic_recipe_builds_both_stages():
    cfg = load_experiment(CONFIGS / "me_graphau_synthetic.yaml")
    assert cfg.data.dataset == "synthetic" and cfg.recipe.device == "cpu"
    s1 = model_from_config(dict(cfg.model)).eval()
    stage2 = {**cfg.model, **cfg.recipe.stages[1].model}  # how the trainer switches models
    s2 = model_from_config(stage2).eval()
    assert s1.stage == 1 and s2.stage == 2 and s2.lam == 0.05
    s2.init_from_stage1(s1)
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        out = s2(x)
    assert out["au"].shape == (2, 8) and out["edge"].shape == (2, 64, 4)
