"""The models' criteria live in afg.losses: every ``build_criterion`` returns one, and the ones that
moved out of the model files compute what they did (hand-computed cases)."""
from __future__ import annotations

import math

import pytest
import torch

from afg import losses
from afg.models import create_model

BB = {"backbone": "resnet_tiny", "img_size": 32}


@pytest.mark.parametrize("name,options,expected", [
    ("baseline", {"task": "au"}, losses.BaselineCriterion),
    ("baseline", {"task": "multilabel"}, losses.BaselineCriterion),
    ("me_graphau_stage1", {}, losses.MEGraphAUCriterion),
    ("me_graphau", {}, losses.MEGraphAUCriterion),
    ("mafg_ccfg", {}, losses.MAFGCCFGCriterion),
    ("svml_rgcn", {"variant": "baseline"}, losses.MultiLabelBCELoss),
])
def test_build_criterion_returns_a_loss_of_afg_losses(name, options, expected):
    crit = create_model(name, 3, **BB, **options).build_criterion(None)
    assert type(crit) is expected and type(crit).__module__.startswith("afg.losses.")


def test_model_modules_keep_the_public_criterion_names():
    from afg.models.baseline import BaselineCriterion
    from afg.models.me_graphau import MEGraphAUCriterion

    assert BaselineCriterion is losses.BaselineCriterion and MEGraphAUCriterion is losses.MEGraphAUCriterion


def _multilabel_case():
    # logits (2, 2); labels with one missing entry. BCE-with-logits by hand:
    # s = 0 -> ln 2 whatever the label; s = ln 3, y = 0 -> -ln(1 - 3/4) = ln 4.
    logits = torch.tensor([[0.0, math.log(3.0)], [math.log(3.0), 0.0]])
    y = torch.tensor([[1.0, 0.0], [float("nan"), 1.0]])
    return {"emotions": logits}, {"emotions": y}  # observed: ln 2 + ln 4 + ln 2 = 4 ln 2


def test_multilabel_bce_sum_is_per_image_and_mean_is_per_entry():
    out, batch = _multilabel_case()
    total = 4 * math.log(2.0)
    assert losses.MultiLabelBCELoss("sum")(out, batch)["loss"].item() == pytest.approx(total / 2)  # 2 images
    assert losses.MultiLabelBCELoss("mean")(out, batch)["loss"].item() == pytest.approx(total / 3)  # 3 entries
    with pytest.raises(ValueError, match="loss_reduction"):
        losses.MultiLabelBCELoss("max")


def test_baseline_multilabel_criterion_is_the_mean_over_observed_entries():
    out, batch = _multilabel_case()
    res = losses.BaselineCriterion("multilabel")(out, batch)
    assert res["loss"].item() == pytest.approx(4 * math.log(2.0) / 3) and res["bce"].item() == res["loss"].item()


def test_mafg_ccfg_criterion_is_the_weighted_asymmetric_loss():
    p = torch.tensor([[0.5, 0.25]])
    y = torch.tensor([[1.0, 0.0]])
    # Eq. 15 with w = (1, 1): -(1/2)[log 0.5 + 0.25 · log 0.75]
    expected = -0.5 * (math.log(0.5) + 0.25 * math.log(0.75))
    res = losses.MAFGCCFGCriterion(losses.WeightedAsymmetricLoss())({"au": p}, {"au": y})
    assert res["loss"].item() == pytest.approx(expected) and set(res) == {"loss", "wa"}
