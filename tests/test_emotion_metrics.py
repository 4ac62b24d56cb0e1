"""Expression / V-A metrics against hand computations and scikit-learn."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, f1_score
from sklearn.metrics.pairwise import cosine_similarity

from afg.metrics import (
    accuracy,
    affwild2_score,
    concordance_cc,
    cosine_similarity_matrix,
    expression_confusion_matrix,
    expression_report,
    macro_f1,
    mean_class_accuracy,
    va_ccc,
)


def test_hand_computed_classification_metrics():
    y = np.array([0, 0, 0, 1, 1, 2, -1])
    p = np.array([0, 0, 1, 1, 2, 2, 0])
    assert accuracy(y, p) == pytest.approx(4 / 6)
    # recalls 2/3, 1/2, 1 -> mean 13/18
    assert mean_class_accuracy(y, p) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    cm = expression_confusion_matrix(y, p, num_classes=3)
    np.testing.assert_array_equal(cm, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_allclose(expression_confusion_matrix(y, p, 3, normalize="true").sum(1), 1)
    # f1: class0 2*2/(2*2+1) = .8; class1 P=.5 R=.5 -> .5; class2 P=.5 R=1 -> 2/3
    f1 = (0.8 + 0.5 + 2 / 3) / 3
    assert macro_f1(y, p) == pytest.approx(f1)
    assert affwild2_score(y, p, num_classes=3) == pytest.approx(0.67 * f1 + 0.33 * 4 / 6)
    assert affwild2_score(y, p, 3, accuracy_kind="mean_class") == pytest.approx(0.67 * f1 + 0.33 * 13 / 18)


def test_metrics_agree_with_sklearn_and_accept_logits():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 200)
    logits = torch.tensor(rng.normal(size=(200, 7)) + 2.0 * np.eye(7)[y])
    p = logits.argmax(1).numpy()
    assert mean_class_accuracy(y, logits) == pytest.approx(balanced_accuracy_score(y, p))
    assert macro_f1(y, logits) == pytest.approx(f1_score(y, p, average="macro"))
    rep = expression_report(torch.tensor(y), logits)
    assert rep["accuracy"] == pytest.approx((p == y).mean())
    assert expression_confusion_matrix(y, logits).shape == (7, 7)


def test_dataset_level_ccc():
    rng = np.random.default_rng(1)
    t = rng.uniform(-1, 1, (500, 2))
    pr = 0.7 * t + rng.normal(0, 0.2, t.shape) + 0.05
    c = concordance_cc(pr, t)
    for k in range(2):
        x, y = pr[:, k], t[:, k]
        ref = 2 * np.cov(x, y, bias=True)[0, 1] / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)
        assert c[k] == pytest.approx(ref, rel=1e-12)
    # dataset level differs from the mean of batch-level CCCs
    batches = np.mean([concordance_cc(pr[i : i + 5, 0], t[i : i + 5, 0]) for i in range(0, 500, 5)])
    assert abs(batches - c[0]) > 1e-3
    d = va_ccc(pr, t)
    assert d["ccc_valence"] == pytest.approx(c[0]) and d["ccc_mean"] == pytest.approx(c.mean())
    tn = t.copy()
    tn[:10, 1] = np.nan
    assert concordance_cc(pr, tn)[1] == pytest.approx(concordance_cc(pr[10:, 1], t[10:, 1]))
    assert concordance_cc(t[:, 0], t[:, 0]) == pytest.approx(1.0)


def test_cosine_similarity_matrix():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(9, 32))
    np.testing.assert_allclose(cosine_similarity_matrix(torch.tensor(w)), cosine_similarity(w), atol=1e-12)
    df = cosine_similarity_matrix(w[:2], names=["a", "b"])
    assert df.loc["a", "a"] == pytest.approx(1.0)
    z = cosine_similarity_matrix(np.array([[1.0, 0], [0, 0], [-2, 0]]))
    np.testing.assert_allclose(z, [[1, 0, -1], [0, 0, 0], [-1, 0, 1]])


# --- fig6_structure: Emotion-GCN §IV-D's reading of Fig. 6 -----------------------------------

_FIG6_NAMES = ["Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger", "Valence", "Arousal"]


def _fig6_vectors(valence: list[int], arousal: list[int]) -> np.ndarray:
    """Orthonormal classifiers e_0..e_6 (in R^9); the regressors are sums of chosen e_i."""
    v = np.zeros((9, 9))
    v[:7, :7] = np.eye(7)
    v[7, valence] = 1.0
    v[8, arousal] = 1.0
    return v


def test_fig6_structure_holds_on_a_hand_built_matrix():
    from afg.metrics import fig6_structure

    # Valence = e_Happy + 0.1 e_Sad; Arousal = e_Surprise + e_Fear + e_Disgust + e_Anger
    v = _fig6_vectors([1], [3, 4, 5, 6])
    v[7, 2] = 0.1
    s = fig6_structure(v, _FIG6_NAMES)
    assert s["valence_nearest"] == "Happy" and s["valence_happy_rank"] == 1
    assert s["arousal_high"] == pytest.approx(0.5)       # cos(e_i, sum of 4 e's) = 1 / 2
    assert s["arousal_rest"] == pytest.approx(0.0)
    assert s["classifier_cos"] == pytest.approx((0.0, 0.0, 0.0))
    assert s["holds"] and "not evidence" not in s["note"]


def test_fig6_structure_fails_where_the_regressors_point_elsewhere():
    from afg.metrics import fig6_structure

    s = fig6_structure(_fig6_vectors([2], [0]), _FIG6_NAMES)  # Valence = e_Sad, Arousal = e_Neutral
    # cosines to Valence: Sad 1, the rest 0 (ties in index order) -> Neutral, Happy: Happy ranks 3
    assert s["valence_nearest"] == "Sad" and s["valence_happy_rank"] == 3
    assert s["arousal_high"] == pytest.approx(0.0)
    assert s["arousal_rest"] == pytest.approx(1 / 3)      # Neutral, Happy, Sad: 1, 0, 0
    assert not s["holds"] and s["note"].count("does not hold") == 2


def test_fig6_structure_reads_affwild2_names_and_says_when_the_head_is_untrained():
    from sklearn.metrics.pairwise import cosine_similarity

    from afg.metrics import fig6_structure

    rng = np.random.default_rng(0)
    base = rng.normal(size=16)
    v = base + 0.05 * rng.normal(size=(9, 16))                # nine nearly parallel vectors
    names = ["Neutral", "Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise", "Valence", "Arousal"]
    s = fig6_structure(v, names, accuracy=0.20, chance=0.15)
    ref = cosine_similarity(v[:7])[~np.eye(7, dtype=bool)]
    assert s["classifier_cos"] == pytest.approx((ref.min(), np.median(ref), ref.max()))
    sim = cosine_similarity(v)
    assert s["arousal_high"] == pytest.approx(sim[8, [1, 2, 3, 6]].mean())
    assert s["valence_nearest"] == names[int(np.argmax(sim[7, :7]))]
    assert "not evidence" in s["note"] and "nearly parallel" in s["note"]
    assert "not evidence" not in fig6_structure(v, names, accuracy=0.40, chance=0.15)["note"]  # 2.7x chance
    with pytest.raises(ValueError, match="9 vectors but 8 names"):
        fig6_structure(v, names[:8])
