"""multilabel_report: hand-computed 3-sample case and an independent reference on random data."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import coverage_error, f1_score, hamming_loss, roc_auc_score

from afg.metrics import MULTILABEL_METRICS, multilabel_report, multilabel_report_frame, one_error

Y = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 1]])
S = np.array([[0.9, 0.6, 0.4, 0.1], [0.7, 0.2, 0.3, 0.8], [0.55, 0.95, 0.05, 0.35]])


def test_hand_computed_three_samples():
    rep = multilabel_report(Y, S)
    assert list(rep) == list(MULTILABEL_METRICS)
    expected = {
        "hamming_loss": 6 / 12,  # 2 + 3 + 1 wrong of 12
        "coverage": 7 / 3,  # depths 3, 4, 3 minus 1 each
        "one_error": 1 / 3,  # only sample 2's top label (3) is wrong
        "ranking_loss": (1 / 4 + 3 / 3 + 0) / 3,
        "average_precision": (5 / 6 + 1 / 4 + 1) / 3,
        "micro_f1": 6 / 12,  # TP 3, FP 3, FN 3
        "macro_f1": (0.8 + 0.5 + 0 + 0) / 4,
        "micro_auc": 23 / 36,
        "macro_auc": (0.5 + 0.5 + 1.0 + 0.5) / 4,
    }
    for k, v in expected.items():
        assert rep[k] == pytest.approx(v, abs=1e-12), k


def _reference(y: np.ndarray, s: np.ndarray, thr: float = 0.5) -> dict[str, float]:
    """Paper Eq. 8-12 written as loops; scikit-learn for F1 and AUC."""
    n, c = y.shape
    pred = (s > thr).astype(int)
    cov, oe, rl, ap = [], [], [], []
    for yi, si in zip(y, s):
        rel = np.flatnonzero(yi)
        irr = np.flatnonzero(yi == 0)
        def rank(j: int, si: np.ndarray = si) -> int:
            return int((si >= si[j]).sum())

        cov.append(max(rank(j) for j in rel) - 1)
        oe.append(float(yi[np.argmax(si)] == 0))
        rl.append(sum(si[a] < si[b] for a in rel for b in irr) / (len(rel) * len(irr)) if len(irr) else 0.0)
        ap.append(np.mean([sum(si[k] >= si[j] for k in rel) / rank(j) for j in rel]))
    return {
        "hamming_loss": float((pred != y).sum() / (n * c)),
        "coverage": float(np.mean(cov)),
        "one_error": float(np.mean(oe)),
        "ranking_loss": float(np.mean(rl)),
        "average_precision": float(np.mean(ap)),
        "micro_f1": f1_score(y, pred, average="micro"),
        "macro_f1": f1_score(y, pred, average="macro", zero_division=0),
        "micro_auc": roc_auc_score(y, s, average="micro"),
        "macro_auc": roc_auc_score(y, s, average="macro"),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_against_reference(seed):
    rng = np.random.default_rng(seed)
    n, c = 60, 6
    y = (rng.random((n, c)) < 0.3).astype(int)
    y[y.sum(1) == 0, rng.integers(0, c)] = 1  # every sample has a label
    s = np.clip(0.6 * y + 0.7 * rng.random((n, c)), 0, 1)
    rep = multilabel_report(y, s)
    ref = _reference(y, s)
    for k in MULTILABEL_METRICS:
        assert rep[k] == pytest.approx(ref[k], abs=1e-10), k
    assert rep["coverage"] == pytest.approx(coverage_error(y, s) - 1)
    assert rep["hamming_loss"] == pytest.approx(hamming_loss(y, s > 0.5))
    # tensors and a threshold work too
    rep_t = multilabel_report(torch.tensor(y), torch.tensor(s), threshold=0.3)
    assert rep_t["micro_f1"] == pytest.approx(f1_score(y, s > 0.3, average="micro"))


def test_constant_column_macro_auc_does_not_crash():
    y = Y.copy()
    y[:, 2] = 0  # label 2 absent from the evaluation set
    with pytest.warns(RuntimeWarning, match="constant"):
        rep = multilabel_report(y, S)
    defined = [roc_auc_score(y[:, j], S[:, j]) for j in (0, 1, 3)]
    assert rep["macro_auc"] == pytest.approx(np.mean(defined))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(multilabel_report(y, S, undefined_auc="nan")["macro_auc"])
    with pytest.warns(RuntimeWarning):
        rep0 = multilabel_report(np.zeros((3, 4)), S)
    assert np.isnan(rep0["micro_auc"]) and np.isnan(rep0["macro_auc"]) and np.isnan(rep0["coverage"])


def test_one_error_and_frame():
    assert one_error(Y, S) == pytest.approx(1 / 3)
    df = multilabel_report_frame(Y, S, name="toy")
    assert isinstance(df, pd.DataFrame) and df.shape == (1, 9)
    assert list(df.columns) == list(MULTILABEL_METRICS) and df.index[0] == "toy"
    assert df.loc["toy", "coverage"] == pytest.approx(7 / 3)
    with pytest.raises(ValueError):
        multilabel_report(Y, S[:, :3])


def test_rows_with_a_missing_label_are_left_out_and_counted():
    """A face without ratings (NaN labels) is not scored, neither as 0 nor as a crash."""
    y = np.vstack([Y, [np.nan] * 4, [1, np.nan, 0, 0]]).astype(float)  # an unrated face, a partial one
    s = np.vstack([S, [0.9, 0.1, 0.8, 0.2], [0.2, 0.9, 0.9, 0.9]])
    rep = multilabel_report(y, s)
    assert rep == pytest.approx(multilabel_report(Y, S))  # exactly the three complete rows
    filled = multilabel_report(np.nan_to_num(y), s)  # "scored as 0" would move the numbers
    assert filled["hamming_loss"] != pytest.approx(rep["hamming_loss"])
    assert one_error(y, s) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="2 rows with missing"):
        multilabel_report(y, s, incomplete="raise")
    with pytest.raises(ValueError, match="scores must not contain NaN"):
        multilabel_report(Y, np.where(S > 0.9, np.nan, S))
    assert all(np.isnan(v) for v in multilabel_report(y[3:], s[3:]).values())  # nothing complete
    # the evaluation report says how many faces it left out
    from afg.metrics.multilabel import incomplete_rows
    from afg.train.evaluate import compute_metrics

    assert incomplete_rows(y).tolist() == [False] * 3 + [True, True]
    logits = np.log(s / (1 - s))
    out = compute_metrics("multilabel", {"emotions": logits}, {"emotions": y})
    assert out["incomplete_rows"] == 2
    assert out["hamming_loss"] == pytest.approx(rep["hamming_loss"])
