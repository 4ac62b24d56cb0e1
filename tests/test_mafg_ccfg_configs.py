"""The MAFG+CCFG recipes in configs/ carry the paper's hyper-parameters and build."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from afg.models import create_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name,n_aus,k", [("disfa", 8, 3), ("emotionet", 12, 4), ("synthetic", 8, 3)])
def test_recipe_matches_paper(name: str, n_aus: int, k: int) -> None:
    from afg.train.recipe import Recipe

    cfg = yaml.safe_load((CONFIGS / f"mafg_ccfg_{name}.yaml").read_text())
    assert cfg["model"]["name"] == "mafg_ccfg"
    assert cfg["model"]["num_classes"] == n_aus and cfg["model"]["neighbor_num"] == k
    recipe = Recipe.from_dict(cfg["recipe"])
    opt = recipe.optimizer
    assert (opt.name, opt.lr, tuple(opt.betas), opt.weight_decay) == ("adamw", 1e-4, (0.9, 0.999), 5e-4)
    assert recipe.schedule.name == "cosine"
    if name != "synthetic":
        assert (recipe.epochs, recipe.batch_size) == (40, 16)
        assert cfg["model"]["backbone"] == "resnet50" and cfg["model"]["img_size"] == 224


def test_synthetic_model_section_builds() -> None:
    cfg = yaml.safe_load((CONFIGS / "mafg_ccfg_synthetic.yaml").read_text())["model"]
    opts = {k: v for k, v in cfg.items() if k not in ("name", "num_classes")}
    model = create_model(cfg["name"], cfg["num_classes"], **opts).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 112, 112))["au"].shape == (2, 8)


@pytest.mark.parametrize("name", ["disfa", "emotionet", "synthetic"])
def test_configs_load_through_the_experiment_schema(name: str) -> None:
    from afg.experiments.config import load_experiment

    cfg = load_experiment(CONFIGS / f"mafg_ccfg_{name}.yaml")
    assert cfg.model["name"] == "mafg_ccfg"
    assert cfg.data.dataset == name
    assert cfg.data.folds == 3
