"""recipe.optimizer.fused (issue 46): torch's fused Adam/AdamW kernel as a switch — the same
update rule as the default implementation, and no change of run-cache key while it is null."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from afg.config import ConfigError
from afg.experiments.config import ExperimentConfig
from afg.experiments.runner import config_hash
from afg.train.optim import build_optimizer
from afg.train.recipe import OptimizerConfig


@pytest.mark.parametrize("name", ["adamw", "adam"])
def test_fused_optimizer_follows_the_default_update(name):
    torch.manual_seed(0)
    models = [nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3)) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    opts = [build_optimizer(m, OptimizerConfig(name=name, lr=1e-2, weight_decay=1e-2, fused=f))
            for m, f in zip(models, (None, True))]
    assert opts[1].defaults.get("fused") and not opts[0].defaults.get("fused")
    x = torch.randn(16, 5)
    for _ in range(5):
        for m, o in zip(models, opts):
            o.zero_grad()
            (m(x) ** 2).mean().backward()
            o.step()
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6)


def test_fused_is_a_run_key_only_when_set():
    base = {"model": {"name": "baseline", "backbone": "resnet_tiny", "pretrained": False, "img_size": 32},
            "data": {"dataset": "synthetic", "profile": "disfa", "n_subjects": 3, "images_per_subject": 2,
                     "size": 32}}
    h = config_hash(ExperimentConfig.from_dict(base))
    fused = ExperimentConfig.from_dict({**base, "recipe": {"optimizer": {"fused": True}}})
    assert config_hash(fused) != h
    assert config_hash(ExperimentConfig.from_dict({**base, "recipe": {"optimizer": {"fused": None}}})) == h


def test_fused_sgd_is_refused():
    with pytest.raises(ConfigError, match=r"optimizer\.fused"):
        OptimizerConfig(name="sgd", fused=True)
