"""Emotion-GCN losses: inverse-frequency weighted CE (Eq. 8-9) and CCC (Eq. 11-12)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from afg.losses import (
    EmotionCriterion,
    ccc,
    ccc_loss,
    expression_class_weights,
    weighted_cross_entropy,
)


def _np_ccc(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def test_class_weights_are_nmin_over_nc_like_the_authors():
    counts = [74874, 134415, 25459, 14090, 6378, 3803, 24882]
    authors = [3803 / 74874, 3803 / 134415, 3803 / 25459, 3803 / 14090, 3803 / 6378, 1, 3803 / 24882]
    np.testing.assert_allclose(expression_class_weights(counts), authors, rtol=1e-12)
    # the rarest class weighs most (the paper's printed Eq. 9, f_i / f_min, would invert this)
    w = expression_class_weights([10, 0, 5])
    np.testing.assert_allclose(w, [0.5, 1.0, 1.0])


def test_weighted_ce_matches_hand_formula():
    torch.manual_seed(0)
    logits = torch.randn(6, 7)
    target = torch.tensor([0, 1, 5, 5, 2, -1])
    w = torch.tensor(expression_class_weights([74874, 134415, 25459, 14090, 6378, 3803, 24882]), dtype=torch.float32)
    loss = weighted_cross_entropy(logits, target, w)
    logp = torch.log_softmax(logits[:5], 1)
    t = target[:5]
    ref = -(w[t] * logp[torch.arange(5), t]).sum() / w[t].sum()
    assert float(loss) == pytest.approx(float(ref), rel=1e-6)
    # no labelled sample: 0, still differentiable
    z = weighted_cross_entropy(logits.requires_grad_(), torch.full((6,), -1))
    z.backward()
    assert float(z.detach()) == 0.0


def test_ccc_equals_numpy_reference():
    rng = np.random.default_rng(0)
    x = rng.normal(0.2, 0.5, (40, 2))
    y = 0.6 * x + rng.normal(0, 0.3, (40, 2)) - 0.1
    got = ccc(torch.tensor(x), torch.tensor(y)).numpy()
    np.testing.assert_allclose(got, [_np_ccc(x[:, 0], y[:, 0]), _np_ccc(x[:, 1], y[:, 1])], rtol=1e-12)
    loss = ccc_loss(torch.tensor(x), torch.tensor(y), eps=0.0)
    assert float(loss) == pytest.approx(1 - 0.5 * (_np_ccc(x[:, 0], y[:, 0]) + _np_ccc(x[:, 1], y[:, 1])), rel=1e-12)
    # perfect prediction: 1 (population moments); negated: -1
    assert float(ccc(torch.tensor(x[:, 0]), torch.tensor(x[:, 0]))) == pytest.approx(1.0)
    assert float(ccc(torch.tensor(-x[:, 0] + 2 * x[:, 0].mean()), torch.tensor(x[:, 0]))) == pytest.approx(-1.0)


@pytest.mark.parametrize("b", [2, 5, 35])
def test_unbiased_variance_caps_perfect_batch(b):
    y = torch.randn(b, 2, dtype=torch.float64)
    np.testing.assert_allclose(ccc(y, y, unbiased_variance=True).numpy(), (b - 1) / b, rtol=1e-12)
    assert float(ccc_loss(y, y, unbiased_variance=True, eps=0.0)) == pytest.approx(1 / b)
    assert float(ccc_loss(y, y, eps=0.0)) == pytest.approx(0.0, abs=1e-12)


def test_ccc_loss_masks_nan_targets():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(10, 2)), rng.normal(size=(10, 2))
    yn = y.copy()
    yn[:3, 0] = np.nan
    got = float(ccc_loss(torch.tensor(x), torch.tensor(yn), eps=0.0))
    ref = 1 - 0.5 * (_np_ccc(x[3:, 0], y[3:, 0]) + _np_ccc(x[:, 1], y[:, 1]))
    assert got == pytest.approx(ref, rel=1e-12)


def _f(t):
    return float(t.detach())


def test_criterion_variants():
    torch.manual_seed(1)
    out = {"expression": torch.randn(4, 7, requires_grad=True), "va": torch.randn(4, 2, requires_grad=True)}
    batch = {"expression": torch.tensor([0, 3, 5, 1]), "va": torch.rand(4, 2) * 2 - 1}
    c = EmotionCriterion(regression="ccc")(out, batch)
    assert _f(c["loss"]) == pytest.approx(_f(c["expression"] + c["va"]))
    assert _f(c["va"]) == pytest.approx(_f(ccc_loss(out["va"], batch["va"])))
    m = EmotionCriterion(regression="mse", lambda_va=2.0)(out, batch)
    assert _f(m["va"]) == pytest.approx(_f(((out["va"] - batch["va"]) ** 2).mean()))
    assert _f(m["loss"]) == pytest.approx(_f(m["expression"] + 2 * m["va"]))
    s = EmotionCriterion(regression=None)(out, batch)
    assert set(s) == {"loss", "expression"}
    v = EmotionCriterion(regression="ccc", classification=False)(out, batch)
    assert set(v) == {"loss", "va"}
    v["loss"].backward()
    assert out["va"].grad is not None and out["expression"].grad is None
    with pytest.raises(ValueError):
        EmotionCriterion(regression="l1")
