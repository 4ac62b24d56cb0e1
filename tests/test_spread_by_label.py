"""afg.experiments.spread_by_label: the variance of a row's label mean across runs, split into one
share per label, against NumPy's variance of the means and hand-made cases."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from afg.experiments import spread_by_label

LABELS = ["AU01", "AU02", "AU04"]


def _tidy(scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """``scores[variant]``: (runs, labels) F1 in [0, 1]; run k is fold 1, seed k; plus a mean row
    and an AUC per label that must be ignored."""
    rows = []
    for v, x in scores.items():
        for k, run in enumerate(x):
            for a, f in zip(LABELS, run, strict=True):
                rows.append({"variant": v, "fold": 1, "seed": k, "metric": f"f1/{a}", "value": f})
                rows.append({"variant": v, "fold": 1, "seed": k, "metric": f"auc/{a}", "value": 0.9})
            rows.append({"variant": v, "fold": 1, "seed": k, "metric": "f1_mean", "value": run.mean()})
    return pd.DataFrame(rows)


def test_shares_sum_to_one_and_the_variance_is_the_means():
    x = np.random.default_rng(0).uniform(0.1, 0.9, size=(7, 3))
    out = spread_by_label(_tidy({"A": x}), "A")
    assert list(out.index) == LABELS
    assert out["share"].sum() == pytest.approx(1.0)
    assert out.attrs["n"] == 7
    assert out.attrs["mean_std"] == pytest.approx(100 * x.mean(axis=1).std(ddof=1))
    np.testing.assert_allclose(out["std"], 100 * x.std(axis=0, ddof=1))
    np.testing.assert_allclose(out["mean"], 100 * x.mean(axis=0))
    # Var(mean) = (1/L²) Σ_ab C_ab, and the shares are the rows of C over its sum
    cov = np.cov(100 * x, rowvar=False)
    assert out.attrs["mean_std"] ** 2 == pytest.approx(cov.sum() / 9)
    np.testing.assert_allclose(out["share"], cov.sum(axis=1) / cov.sum())


def test_one_label_moving_takes_the_whole_share():
    x = np.full((5, 3), 0.5)
    x[:, 1] = [0.0, 0.4, 0.1, 0.5, 0.3]  # a rare AU crossing the threshold, or not
    out = spread_by_label(_tidy({"A": x}), "A")
    np.testing.assert_allclose(out["share"], [0.0, 1.0, 0.0], atol=1e-12)
    assert out.loc["AU02", "std"] == pytest.approx(100 * np.std(x[:, 1], ddof=1))


def test_a_label_moving_against_the_rest_has_a_negative_share():
    up = np.array([0.1, 0.2, 0.3, 0.4])
    x = np.stack([up, up, 0.8 - up], axis=1)  # AU04 falls when AU01 and AU02 rise
    out = spread_by_label(_tidy({"A": x}), "A")
    # C = v [[1,1,-1],[1,1,-1],[-1,-1,1]]: row sums v, v, -v over a total of v
    np.testing.assert_allclose(out["share"], [1.0, 1.0, -1.0])
    assert out.attrs["mean_std"] == pytest.approx(100 * np.std(up / 3, ddof=1))


def test_paired_difference_over_shared_pairs():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(size=(6, 3)), rng.uniform(size=(6, 3))
    tidy = _tidy({"A": a, "B": b})
    tidy = tidy[~((tidy.variant == "A") & (tidy.seed == 5))]  # A lacks seed 5: that run is unpaired
    out = spread_by_label(tidy, "B", reference="A")
    d = 100 * (b[:5] - a[:5])
    assert out.attrs["n"] == 5 and out.attrs["reference"] == "A"
    np.testing.assert_allclose(out["mean"], d.mean(axis=0))
    assert out.attrs["mean_std"] == pytest.approx(d.mean(axis=1).std(ddof=1))


def test_refuses_what_it_cannot_decompose():
    x = np.random.default_rng(2).uniform(size=(3, 3))
    with pytest.raises(KeyError, match="no f1/"):
        spread_by_label(_tidy({"A": x}), "Z")
    with pytest.raises(ValueError, match="at least 2"):
        spread_by_label(_tidy({"A": x[:1]}), "A")
    twice = _tidy({"A": x})
    with pytest.raises(ValueError, match="two 'f1/AU01' values"):
        spread_by_label(pd.concat([twice, twice.iloc[:1]]), "A")
