"""Emotion-GCN graph: Spearman matrix (Eq. 4) and adjacency (Eq. 3-6, official code, Sec. IV.E)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from afg.graphs import (
    emotion_adjacency,
    emotion_adjacency_conditional,
    emotion_gcn_normalize,
    spearman_matrix,
)

AFFECTNET_COUNTS = np.array([74874, 134415, 25459, 14090, 6378, 3803, 24882])


def test_spearman_on_affectnet_shaped_onehot_is_analytic_phi():
    rng = np.random.default_rng(0)
    expr = rng.permutation(np.repeat(np.arange(7), AFFECTNET_COUNTS))
    # valence/arousal with ties and class dependence, as real labels have
    val = np.round(0.5 * (expr == 1) - 0.3 * (expr == 2) + rng.normal(0, 0.3, expr.size), 2)
    aro = np.round(0.4 * (expr >= 3) + rng.normal(0, 0.3, expr.size), 2)
    c = spearman_matrix(expr, val, aro)
    assert c.shape == (9, 9)
    p = AFFECTNET_COUNTS / AFFECTNET_COUNTS.sum()
    phi = -np.sqrt(np.outer(p, p) / np.outer(1 - p, 1 - p))
    np.fill_diagonal(phi, 1.0)
    np.testing.assert_allclose(c[:7, :7], phi, atol=1e-6)
    np.testing.assert_allclose(c, c.T, atol=1e-12)
    # the continuous columns agree with scipy's Spearman
    sub = slice(0, 20000)
    onehot = np.eye(7)[expr[sub]]
    ref = spearmanr(np.column_stack([onehot, val[sub], aro[sub]])).statistic
    np.testing.assert_allclose(spearman_matrix(expr[sub], val[sub], aro[sub]), ref, atol=1e-10)
    assert c[1, 7] > 0.3 and c[2, 7] < 0  # happy ~ +valence, sad ~ -valence


def test_spearman_drops_missing_and_frames():
    rng = np.random.default_rng(1)
    e = rng.integers(0, 7, 300)
    v, a = rng.normal(size=300), rng.normal(size=300)
    e2, v2 = e.copy(), v.copy()
    e2[:10] = -1
    v2[10:20] = np.nan
    full = spearman_matrix(e[20:], v[20:], a[20:])
    np.testing.assert_allclose(spearman_matrix(e2, v2, a), full, atol=1e-12)
    df = spearman_matrix(e, v, a, as_frame=True)
    assert list(df.columns)[-2:] == ["Valence", "Arousal"] and df.loc["Happy", "Happy"] == 1.0
    # an absent class gives a zero row/column with 1 on the diagonal (not NaN)
    c = spearman_matrix(np.where(e == 4, 0, e), v, a)
    assert np.isfinite(c).all() and c[4, 4] == 1 and not c[4, :4].any()


def _corr(cat_val, cat_aro, va=0.0):
    c = np.eye(9)
    c[:7, 7] = c[7, :7] = cat_val
    c[:7, 8] = c[8, :7] = cat_aro
    c[7, 8] = c[8, 7] = va
    c[:7, :7] += -0.3 * (1 - np.eye(7))  # Cat-Cat correlations must be ignored
    return c


def test_paper_adjacency_hand_computed():
    val = np.array([-0.3, 0.86, -0.45, -0.03, -0.12, -0.18, -0.38])
    aro = np.array([-0.28, 0.01, -0.43, 0.34, 0.24, 0.14, 0.41])
    a = emotion_adjacency(_corr(val, aro, va=0.5), tau=0.1, p=0.7)
    # Happy: only valence (|0.01| < 0.1) -> 0.7 on valence, 0.3 on itself
    np.testing.assert_allclose(a[1], [0, 0.3, 0, 0, 0, 0, 0, 0.7, 0])
    # Neutral: both -> 0.35 each
    np.testing.assert_allclose(a[0], [0.3, 0, 0, 0, 0, 0, 0, 0.35, 0.35])
    # Valence: neighbours Neutral, Happy, Sad, Fear, Disgust, Anger (not Surprise, not Arousal)
    np.testing.assert_allclose(a[7, [0, 1, 2, 4, 5, 6]], 0.7 / 6)
    assert a[7, 3] == 0 and a[7, 8] == 0 and a[7, 7] == pytest.approx(0.3)
    np.testing.assert_allclose(a.sum(1), 1.0)
    assert not (a[:7, :7] - np.diag(np.diag(a[:7, :7]))).any()
    # tau = 0 links every Cat-Dim pair but still no Cat-Cat / Valence-Arousal edge
    a0 = emotion_adjacency(_corr(val, aro, va=0.5), tau=0.0, p=0.6)
    np.testing.assert_allclose(a0[:7, 7:], 0.3)
    np.testing.assert_allclose(a0[7, :7], 0.6 / 7)
    assert a0[7, 8] == 0


def test_isolated_node_guard_both_modes():
    val = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.01])
    aro = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.02])  # Anger has no neighbour at tau 0.1
    a = emotion_adjacency(_corr(val, aro), tau=0.1, p=0.7)
    np.testing.assert_allclose(a[6], np.eye(9)[6])  # keeps its own feature, row sums to one
    o = emotion_adjacency(_corr(val, aro), tau=0.1, p=0.5, official=True)
    assert np.isfinite(o).all()  # the authors' code would give 0/0 = NaN here
    np.testing.assert_allclose(o[6], 0.5 * np.eye(9)[6])
    n = emotion_gcn_normalize(o)
    assert np.isfinite(n).all()


def test_official_mode_quirks():
    val = np.array([-0.3, 0.86, -0.45, -0.03, -0.12, -0.18, -0.38])
    aro = np.array([-0.28, 0.01, -0.43, 0.34, 0.24, 0.14, 0.41])
    c = _corr(val, aro, va=0.5)
    o = emotion_adjacency(c, tau=0.1, p=0.5, official=True)
    # their code does not zero Valence-Arousal: |0.5| >= 0.1 is an edge
    assert o[7, 8] == pytest.approx(0.5 / 7) and o[8, 7] == pytest.approx(0.5 / 7)
    np.testing.assert_allclose(np.diag(o), 0.5)
    with pytest.warns(UserWarning, match="hard-codes p = 0.5"):
        o7 = emotion_adjacency(c, tau=0.1, p=0.7, official=True)
    np.testing.assert_allclose(o7, o)
    # tau = 0 in their code turns every entry (zeroed Cat-Cat ones too) into an edge
    full = emotion_adjacency(c, tau=0.0, p=0.5, official=True)
    np.testing.assert_allclose(full[~np.eye(9, dtype=bool)], 0.5 / 8)


def test_normalize_is_d_at_d():
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 1, (5, 5))
    d = np.diag(a.sum(1) ** -0.5)
    np.testing.assert_allclose(emotion_gcn_normalize(a), d @ a.T @ d, atol=1e-12)


def test_conditional_variant_adds_expression_edges():
    val = np.array([-0.3, 0.86, -0.45, -0.03, -0.12, -0.18, -0.38])
    aro = np.array([-0.28, 0.01, -0.43, 0.34, 0.24, 0.14, 0.41])
    # blended expressions: happy+surprise co-occur, fear+sad co-occur
    lab = np.zeros((10, 7))
    lab[0:4, 1] = 1
    lab[0:2, 3] = 1  # P(surprise | happy) = 0.5, P(happy | surprise) = 1
    lab[4:6, 3] = 0  # nothing
    lab[6:9, 2] = 1
    lab[6, 4] = 1  # P(fear | sad) = 1/3, P(sad | fear) = 1
    lab[9, 5] = 1
    a = emotion_adjacency_conditional(_corr(val, aro), lab, tau=0.4, p=0.5)
    # Happy: valence (|0.86|) + surprise (0.5 >= 0.4) -> 0.25 each
    np.testing.assert_allclose(a[1], [0, 0.5, 0, 0.25, 0, 0, 0, 0.25, 0])
    # Sad listens to valence, arousal but not fear (1/3 < 0.4); fear listens to sad (1.0)
    assert a[2, 4] == 0 and a[4, 2] > 0
    np.testing.assert_allclose(a.sum(1), 1.0)
    # tau_cond separately
    b = emotion_adjacency_conditional(_corr(val, aro), lab, tau=0.1, p=0.5, tau_cond=0.3)
    assert b[2, 4] > 0
    with pytest.raises(ValueError):
        emotion_adjacency_conditional(_corr(val, aro), lab[:, :5])
