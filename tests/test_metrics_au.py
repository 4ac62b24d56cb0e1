"""AU metrics equal scikit-learn applied AU by AU to the observed labels."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from afg.metrics.au import au_accuracy, au_auc, au_f1, au_report


def _random(seed: int, n: int = 200, N: int = 6, missing: float = 0.2, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, N)) < rng.uniform(0.1, 0.6, N)).astype(float)
    s = rng.random((n, N))
    if ties:
        s = np.round(s, 1)
    y[rng.random((n, N)) < missing] = np.nan
    return y, s


@pytest.mark.parametrize("seed,ties", [(0, False), (1, True), (2, True)])
def test_equals_sklearn(seed, ties):
    y, s = _random(seed, ties=ties)
    f1, acc, auc = au_f1(y, s), au_accuracy(y, s), au_auc(y, s)
    for j in range(y.shape[1]):
        ok = ~np.isnan(y[:, j])
        yt, sj = y[ok, j].astype(int), s[ok, j]
        assert f1[j] == pytest.approx(f1_score(yt, sj >= 0.5, zero_division=0), abs=1e-12)
        assert acc[j] == pytest.approx(accuracy_score(yt, sj >= 0.5), abs=1e-12)
        assert auc[j] == pytest.approx(roc_auc_score(yt, sj), abs=1e-12)


def test_mask_and_torch_inputs_and_report():
    y, s = _random(3, missing=0.0)
    mask = np.random.default_rng(4).random(y.shape) > 0.3
    y_nan = np.where(mask, y, np.nan)
    rep = au_report(torch.tensor(y), torch.tensor(s), torch.tensor(mask), names=list("abcdef"))
    assert rep["f1/a"] == pytest.approx(au_f1(y_nan, s)[0])
    assert rep["f1_mean"] == pytest.approx(np.mean(au_f1(y_nan, s)))
    assert rep["auc_mean"] == pytest.approx(np.mean(au_auc(y_nan, s)))
    assert {k.split("/")[0] for k in rep} >= {"f1", "acc", "auc", "f1_mean"}


def test_degenerate_cases_hand_computed():
    y = np.array([[1, 0, 0], [1, 0, np.nan], [0, 0, 1], [0, 0, np.nan]], dtype=float)
    s = np.array([[0.9, 0.1, 0.2], [0.4, 0.2, 0.3], [0.6, 0.3, 0.7], [0.1, 0.4, 0.9]])
    # AU0: tp=1 fp=1 fn=1 -> F1 = 2/4 ; AU1: no positives, no predictions -> 0 ; AU2: tp=1 -> 1
    np.testing.assert_allclose(au_f1(y, s), [0.5, 0.0, 1.0])
    np.testing.assert_allclose(au_accuracy(y, s), [0.5, 1.0, 1.0])
    auc = au_auc(y, s)
    assert auc[0] == pytest.approx(0.75) and np.isnan(auc[1]) and auc[2] == pytest.approx(1.0)
