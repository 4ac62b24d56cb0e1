"""Emotion-GCN adjacency against the matrices released with the authors' code."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from afg.graphs import emotion_adjacency, emotion_gcn_normalize

NODES = ["Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger", "Valence", "Arousal"]


def _read(reference_dir, name: str) -> pd.DataFrame:
    df = pd.read_csv(reference_dir / "emotion_gcn" / name, index_col=0)
    assert list(df.index) == NODES and list(df.columns) == NODES
    return df


def test_official_adjacency_matches_authors_code(reference_dir):
    corr = _read(reference_dir, "spearman_affectnet.csv")
    expected_a = _read(reference_dir, "official_code_A_tau0.1_p0.5.csv").to_numpy()
    expected_adj = _read(reference_dir, "official_code_adj_after_gen_adj.csv").to_numpy()
    a = emotion_adjacency(corr, tau=0.1, p=0.5, official=True)
    assert a.shape == (9, 9)
    np.testing.assert_allclose(a, expected_a, atol=1e-6)
    np.testing.assert_allclose(emotion_gcn_normalize(a), expected_adj, atol=1e-6)
    # the torch path of the normalisation agrees (float32, as the authors ran it)
    t = emotion_gcn_normalize(torch.tensor(a, dtype=torch.float32))
    np.testing.assert_allclose(t.numpy(), expected_adj, atol=1e-6)
    # rows sum to one, so their D^-1/2 A^T D^-1/2 is the transpose
    np.testing.assert_allclose(emotion_gcn_normalize(a), a.T, atol=1e-12)


def test_paper_mode_rows(reference_dir):
    corr = _read(reference_dir, "spearman_affectnet.csv")
    a = emotion_adjacency(corr, tau=0.1, p=0.7)
    off = a - np.diag(np.diag(a))
    has_nbr = (off > 0).any(1)
    assert has_nbr.all()  # every node of the AffectNet graph has a neighbour at tau = 0.1
    np.testing.assert_allclose(off.sum(1)[has_nbr], 0.7, atol=1e-12)
    np.testing.assert_allclose(np.diag(a), 0.3)
    # the edges of the paper's Fig. 3: happy-valence, surprise-arousal, no happy-arousal
    assert a[1, 7] == pytest.approx(0.7) and a[1, 8] == 0 and a[3, 8] == pytest.approx(0.7) and a[3, 7] == 0
    # same support as the authors' matrix (they differ only in p)
    ref = _read(reference_dir, "official_code_A_tau0.1_p0.5.csv").to_numpy()
    assert np.array_equal(a > 0, ref > 0)


def test_released_spearman_block_is_the_analytic_phi(reference_dir):
    """The released Cat-Cat block follows from AffectNet's training counts (the authors' class
    weights 3803/74874, ...): -sqrt(p_i p_j / ((1-p_i)(1-p_j)))."""
    corr = _read(reference_dir, "spearman_affectnet.csv").to_numpy()
    counts = np.array([74874, 134415, 25459, 14090, 6378, 3803, 24882], dtype=np.float64)
    pr = counts / counts.sum()
    phi = -np.sqrt(np.outer(pr, pr) / np.outer(1 - pr, 1 - pr))
    np.fill_diagonal(phi, 1.0)
    np.testing.assert_allclose(corr[:7, :7], phi, atol=1e-8)
