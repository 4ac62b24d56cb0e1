"""Chance references (afg.metrics.chance) against scikit-learn's scores of the constant predictors."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, label_ranking_average_precision_score

from afg.metrics.chance import (
    chance_margins,
    every_present_f1,
    frequency_ranking_ap,
    majority_rate,
)


@pytest.fixture
def au() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((200, 5)) < np.array([0.05, 0.2, 0.5, 0.7, 0.9])).astype(int)


def test_every_present_f1_is_sklearns_f1_of_all_ones(au):
    oracle = np.mean([f1_score(au[:, i], np.ones(len(au), int)) for i in range(au.shape[1])])
    assert every_present_f1(au) == pytest.approx(oracle, abs=1e-12)


def test_every_present_f1_uses_known_labels_only(au):
    mask = np.ones_like(au)
    mask[:100, 0] = 0  # AU 0 known on the second half only
    keep = mask[:, 0] > 0
    f0 = f1_score(au[keep, 0], np.ones(keep.sum(), int))
    rest = [f1_score(au[:, i], np.ones(len(au), int)) for i in range(1, 5)]
    assert every_present_f1(au, mask) == pytest.approx(np.mean([f0, *rest]), abs=1e-12)


def test_majority_rate_is_accuracy_of_the_majority_class():
    y = np.array([0, 1, 1, 2, 2, 2, 3])
    assert majority_rate(y) == pytest.approx(accuracy_score(y, np.full(len(y), 2)))


def test_frequency_ranking_ap_is_lrap_of_a_constant_frequency_score():
    rng = np.random.default_rng(1)
    y = (rng.random((300, 6)) < np.array([0.6, 0.1, 0.3, 0.05, 0.4, 0.2])).astype(int)
    kept = y[y.sum(1) > 0]
    oracle = label_ranking_average_precision_score(kept, np.broadcast_to(kept.mean(0), kept.shape))
    assert frequency_ranking_ap(y) == pytest.approx(oracle, abs=1e-12)
    # a ranking by other frequencies (here reversed) scores lower on these labels
    assert frequency_ranking_ap(y, frequencies=-kept.mean(0)) < oracle


def test_chance_margins_verdicts():
    au = np.tile(np.array([[1, 0], [0, 1], [1, 1], [0, 0]]), (10, 1))
    ref = every_present_f1(au)
    good = chance_margins("au", {"f1_mean": 1.6 * ref, "auc_mean": 0.8}, {"au": au})
    weak = chance_margins("au", {"f1_mean": 1.4 * ref, "auc_mean": 0.6}, {"au": au})
    assert good["met"] and not weak["met"] and good["margin"] == pytest.approx(1.6)

    y = np.repeat(np.arange(4), 10)  # balanced: chance 0.25
    cm = np.diag([9, 9, 9, 0]) + np.array([[0, 0, 0, 1]] * 3 + [[10, 0, 0, 0]])
    m = chance_margins("expression", {"accuracy": 0.675, "confusion_matrix": cm.tolist()}, {"expression": y})
    assert m["chance"] == 0.25 and m["margin"] == pytest.approx(2.7)
    assert not m["met"]  # class 3 never recognised, although accuracy is 2.7x chance
    np.testing.assert_allclose(m["recall"], [0.9, 0.9, 0.9, 0.0])

    emo = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1]])
    base = frequency_ranking_ap(emo)
    ml = chance_margins("multilabel", {"average_precision": base + 0.05, "macro_auc": 0.6}, {"emotions": emo})
    assert not ml["met"] and ml["margin"] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="task"):
        chance_margins("va", {}, {})
