"""AU-GCN Table 1(b) (the DISFA graph M_bool) follows from the real DISFA training labels."""
from __future__ import annotations

import numpy as np
import pytest

from afg.graphs import cooccurrence_graph
from afg.reference.au_gcn_graphs import TABLE1_BP4D, TABLE1_DISFA


def _fold_labels(reference_dir, k: int) -> np.ndarray:
    return np.loadtxt(reference_dir / "disfa" / f"fold{k}_test_labels.txt", dtype=np.float64)


@pytest.fixture(scope="module")
def disfa_folds(reference_dir):
    return {k: _fold_labels(reference_dir, k) for k in (1, 2, 3)}


@pytest.mark.parametrize("fold", [1, 2, 3])
def test_table1b_from_disfa_training_labels(disfa_folds, fold):
    train = np.concatenate([disfa_folds[j] for j in (1, 2, 3) if j != fold])  # fold k trains on the others
    assert train.shape[1] == 8 and train.shape[0] > 80_000
    g = cooccurrence_graph(train, threshold=0.8)
    np.testing.assert_array_equal(g, TABLE1_DISFA)


def test_threshold_matters(disfa_folds):
    """The match is not trivial: a low or high threshold gives a different graph."""
    train = np.concatenate([disfa_folds[2], disfa_folds[3]])
    assert not np.array_equal(cooccurrence_graph(train, 0.5), TABLE1_DISFA)
    assert not np.array_equal(cooccurrence_graph(train, 1.1), TABLE1_DISFA)


def test_published_tables_are_symmetric_with_self_loops():
    for t in (TABLE1_BP4D, TABLE1_DISFA):
        assert (t == t.T).all() and (np.diag(t) == 1).all()
    assert TABLE1_BP4D.shape == (12, 12) and TABLE1_DISFA.shape == (8, 8)
    assert TABLE1_BP4D.sum() == 78 and TABLE1_DISFA.sum() == 20  # transcription checksums (row sums of the paper)
