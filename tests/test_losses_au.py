"""AU losses and edge targets (ME-GraphAU Eq. 6–8): hand-computed cases and library oracles."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from afg.graphs import cooccurrence_targets
from afg.losses import (
    EdgeCooccurrenceLoss,
    WeightedAsymmetricLoss,
    WeightedBCELoss,
    au_class_weights,
)


def test_class_weights_hand_case():
    labels = np.array([[1, 0], [1, 1], [0, np.nan], [1, 0]], dtype=float)
    # r = [3/4, 1/3] -> 1/r = [4/3, 3]; w = 2 * (1/r) / sum
    inv = np.array([4 / 3, 3.0])
    np.testing.assert_allclose(au_class_weights(labels), 2 * inv / inv.sum())


def test_weighted_asymmetric_loss_hand_case():
    p = torch.tensor([[0.8, 0.3]], requires_grad=True)
    y = torch.tensor([[1.0, 0.0]])
    w = [2.0, 0.5]
    loss = WeightedAsymmetricLoss(w)(p, y)
    expected = -(2.0 * math.log(0.8) + 0.5 * 0.3 * math.log(0.7)) / 2
    assert abs(loss.item() - expected) < 1e-6
    (g,) = torch.autograd.grad(loss, p)
    # the centre p is a constant: d/dp [-(w p̄ log(1-p))]/N = w p̄ / (1-p) / N
    torch.testing.assert_close(g, torch.tensor([[-2.0 / 0.8 / 2, 0.5 * 0.3 / 0.7 / 2]]))


def test_weighted_asymmetric_loss_clamp_and_mask():
    p = torch.tensor([[0.0, 1.0, 0.5]])
    y = torch.tensor([[1.0, 0.0, float("nan")]])
    loss = WeightedAsymmetricLoss()(p, y)  # NaN ignored; log(max(0, 1e-8))
    expected = -(math.log(1e-8) + 1.0 * math.log(1e-8)) / 2
    assert abs(loss.item() - expected) < 1e-4
    mask = torch.tensor([[True, False, False]])
    assert abs(WeightedAsymmetricLoss()(p, torch.nan_to_num(y), mask).item() + math.log(1e-8)) < 1e-4
    # no missing labels: equals mean over AUs then batch
    p2, y2 = torch.rand(4, 3) * 0.98 + 0.01, torch.randint(0, 2, (4, 3)).float()
    per = -(y2 * p2.log() + (1 - y2) * p2 * (1 - p2).log())
    torch.testing.assert_close(WeightedAsymmetricLoss()(p2, y2), per.mean(1).mean(0))


def test_weighted_bce_matches_torch():
    torch.manual_seed(0)
    p, y = torch.rand(5, 4) * 0.98 + 0.01, torch.randint(0, 2, (5, 4)).float()
    w = torch.tensor([1.0, 2.0, 0.5, 0.5])
    ref = F.binary_cross_entropy(p, y, weight=w.expand(5, 4))
    torch.testing.assert_close(WeightedBCELoss(w)(p, y), ref)


def test_cooccurrence_targets_hand_case():
    y = torch.tensor([[1.0, 0.0, 1.0]])
    t = cooccurrence_targets(y).view(3, 3)  # p = i*N + j -> 2*y_i + y_j
    assert t.tolist() == [[3, 2, 3], [1, 0, 1], [3, 2, 3]]
    ym = torch.tensor([[1.0, float("nan"), 0.0]])
    tm = cooccurrence_targets(ym).view(3, 3)
    assert tm[1].tolist() == [-100] * 3 and tm[:, 1].tolist() == [-100] * 3
    assert tm[0, 2].item() == 2 and tm[2, 0].item() == 1 and tm[0, 0].item() == 3
    out = cooccurrence_targets(np.array([[0, 1]]))
    assert isinstance(out, np.ndarray) and out.tolist() == [[0, 1, 2, 3]]


def test_edge_loss_matches_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(2, 9, 4)
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, float("nan")]])
    loss = EdgeCooccurrenceLoss()(logits, y)
    t = cooccurrence_targets(y)
    keep = t >= 0
    ref = F.cross_entropy(logits[keep], t[keep])
    torch.testing.assert_close(loss, ref)
    assert keep.sum() == 9 + 4  # sample 2: only the 2x2 observed pairs
