"""label_relations (SVML-RGCN Eq. 3-4) and the SVML-GCN adjacency (Eq. 13-14) on a hand-made table."""
from __future__ import annotations

import numpy as np
import pytest

from afg.graphs import cooccurrence_probabilities, label_relations, mlgcn_adjacency


def _labels() -> np.ndarray:
    """10 samples over 3 labels: N = (6, 5, 4); M_01 = 4, M_02 = 0, M_12 = 1."""
    rows = [[1, 1, 0]] * 4 + [[1, 0, 0]] * 2 + [[0, 1, 1]] + [[0, 0, 1]] * 3
    return np.array(rows, dtype=float)


def test_probabilities_by_hand():
    p = cooccurrence_probabilities(_labels())
    expected = np.array([[1, 4 / 6, 0], [4 / 5, 1, 1 / 5], [0, 1 / 4, 1]])
    np.testing.assert_allclose(p, expected)


def test_relations_hand_table():
    rel = label_relations(_labels(), t1=0.15, t2=0.4)
    # P: 0->1 .667 (+), 0->2 0 (-), 1->0 .8 (+), 1->2 .2 (none), 2->0 0 (-), 2->1 .25 (none)
    np.testing.assert_array_equal(rel["positive"], [[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(rel["negative"], [[0, 0, 1], [0, 0, 0], [1, 0, 0]])
    # JAFFE-style thresholds: only exact zeros are negative, 1->2 (0.2) and 2->1 (0.25) stay none
    rel = label_relations(_labels(), t1=1e-6, t2=0.22)
    np.testing.assert_array_equal(rel["negative"], [[0, 0, 1], [0, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(rel["positive"], [[0, 1, 0], [1, 0, 0], [0, 1, 0]])  # directed
    with pytest.raises(ValueError):
        label_relations(_labels(), t1=0.5, t2=0.4)


def test_missing_and_never_seen_labels():
    y = np.c_[_labels(), np.zeros(10)]  # label 3 never occurs
    y[6, 1] = np.nan  # missing counts as absent: labels 1 and 2 no longer co-occur
    rel = label_relations(y, 0.15, 0.4)
    assert rel["negative"][1, 2] == 1 and rel["negative"][2, 1] == 1
    assert rel["positive"][3].sum() == 0 and rel["negative"][3].sum() == 0  # no evidence for row 3
    assert rel["negative"][0, 3] == 1  # label 0 never co-occurs with 3
    assert np.all(np.diag(rel["negative"]) == 0)


def test_mlgcn_adjacency():
    a = mlgcn_adjacency(_labels(), t=0.4, reweight=False)
    np.testing.assert_array_equal(a, [[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    y = np.array([[1, 1, 1]] * 3 + [[1, 0, 0]], dtype=float)  # P_0j = .75, P_1j = P_2j = 1
    at = mlgcn_adjacency(y, t=0.4, p=0.2)
    np.testing.assert_allclose(at, [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    at = mlgcn_adjacency(_labels(), t=0.4, p=0.2)
    np.testing.assert_allclose(at, [[0.8, 0.2, 0], [0.2, 0.8, 0], [0, 0, 0.8]])
