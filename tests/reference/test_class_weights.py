"""afg.losses.au_class_weights reproduces the authors' class-weight files."""
from __future__ import annotations

import numpy as np
import pytest

from afg.losses import au_class_weights

BP4D_AUS = ["AU01", "AU02", "AU04", "AU06", "AU07", "AU10", "AU12", "AU14", "AU15", "AU17", "AU23", "AU24"]


@pytest.mark.parametrize("dataset", ["disfa", "emotionet"])
@pytest.mark.parametrize("fold", [1, 2, 3])
def test_train_weights_from_other_folds(reference_dir, dataset, fold):
    d = reference_dir / dataset
    labels = np.concatenate([np.loadtxt(d / f"fold{k}_test_labels.txt") for k in (1, 2, 3) if k != fold])
    expected = np.loadtxt(d / f"official_train_weight_fold{fold}.txt")
    w = au_class_weights(labels)
    np.testing.assert_allclose(w, expected, rtol=0, atol=1e-5)
    assert abs(w.sum() - len(w)) < 1e-9


def test_missing_labels_ignored(reference_dir):
    d = reference_dir / "disfa"
    labels = np.concatenate([np.loadtxt(d / f"fold{k}_test_labels.txt") for k in (2, 3)])
    expected = np.loadtxt(d / "official_train_weight_fold1.txt")
    # appended rows of NaN (missing) must not change the weights
    noisy = np.concatenate([labels, np.full((500, labels.shape[1]), np.nan)])
    np.testing.assert_allclose(au_class_weights(noisy), expected, atol=1e-5)


# BP4D occurrence rates quoted in the project's issues, derived from these weight files with AU12 = .56
BP4D_RATES = [0.209, 0.169, 0.202, 0.459, 0.545, 0.592, 0.560, 0.463, 0.168, 0.342, 0.165, 0.151]


def test_bp4d_weights_imply_valid_rates(reference_dir):
    """No BP4D labels: w_i ∝ 1/r_i, so r_i = r_AU12 · w_AU12 / w_i. Each fold's weights must be
    positive, sum to N and imply rates in (0, 1); the fold-averaged weights give the issue's rates;
    and the formula applied to those rates gives the weights back."""
    ws = np.stack([np.loadtxt(reference_dir / "bp4d" / f"official_train_weight_fold{k}.txt") for k in (1, 2, 3)])
    assert ws.shape == (3, 12) and (ws > 0).all()
    np.testing.assert_allclose(ws.sum(1), 12, atol=1e-3)
    i12 = BP4D_AUS.index("AU12")
    for w in ws:
        rates = 0.56 * w[i12] / w
        assert ((rates > 0.1) & (rates < 0.7)).all()
        # w is a fixed point of the formula on the implied rates (any positive row count works)
        np.testing.assert_allclose(au_class_weights((np.arange(1000)[:, None] < 1000 * rates).astype(float)), w,
                                   rtol=0.01)
    w_mean = ws.mean(0)
    np.testing.assert_allclose(0.56 * w_mean[i12] / w_mean, BP4D_RATES, atol=0.002)
    ranked = [BP4D_AUS[i] for i in np.argsort(w_mean)]  # frequent AUs get small weights
    assert set(ranked[:3]) == {"AU07", "AU10", "AU12"} and ranked[-1] == "AU24"
