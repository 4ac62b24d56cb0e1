"""Learned graphs vs the generator's label structure (afg.metrics.graph_agreement, #45)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from afg.data.synth import sample_au_labels
from afg.data.synth.labels import DISFA_JOINT, DISFA_RATES
from afg.graphs import cooccurrence_probabilities
from afg.metrics.graph_agreement import (
    agreement_table,
    generator_conditionals,
    matrix_agreement,
    prototype_similarity,
)


def test_generator_conditionals_are_what_the_sampler_draws():
    p = generator_conditionals("disfa")
    assert p[0, 1] == pytest.approx(DISFA_JOINT[0, 1] / DISFA_RATES[0])
    assert np.allclose(np.diag(p), 1.0)
    emp = cooccurrence_probabilities(sample_au_labels("disfa", 40000, seed=1))
    assert np.nanmax(np.abs(emp - p)) < 0.05


def test_prototype_similarity_by_hand():
    names = ["Neutral", "Happy", "Sad", "Surprise", "Fear"]
    s = prototype_similarity(names)
    assert np.isnan(s[0]).all()  # Neutral has no prototype
    assert s[1, 2] == 0.0  # happy {6, 12} and sad {1, 4, 15} share no AU
    # surprise {1,2,5,26} · fear {1,2,4,5,7,20(2),26} = 4; norms 2 and √10
    assert s[3, 4] == pytest.approx(4 / (2 * np.sqrt(10)))
    assert s[1, 1] == pytest.approx(1.0)


def test_matrix_agreement_exact_permutation_null_by_hand():
    """3 nodes, distinct entries: only the identity relabelling gives r = 1, so p = 1/3! exactly;
    the null is every relabelling, computed here with SciPy."""
    t = np.array([[0.0, 1, 2], [3, 0, 4], [5, 6, 0]])
    s = matrix_agreement(t, t)
    off = ~np.eye(3, dtype=bool)
    null = [stats.spearmanr(t[np.ix_(p, p)][off], t[off]).statistic for p in itertools.permutations(range(3))]
    assert s["r"] == pytest.approx(1.0) and s["p"] == pytest.approx(1 / 6) and s["n_perm"] == 6
    assert s["null_mean"] == pytest.approx(np.mean(null)) and s["n_entries"] == 6
    # a symmetric pair counts once
    sym = t + t.T
    assert matrix_agreement(sym, sym)["n_entries"] == 3


def test_matrix_agreement_separates_a_graph_that_follows_the_labels_from_noise():
    truth = generator_conditionals("disfa")
    rng = np.random.default_rng(0)
    noisy = truth + rng.normal(0, 0.02, truth.shape)
    good = matrix_agreement(noisy, truth, n_perm=500)
    off = ~np.eye(8, dtype=bool)
    assert good["r"] == pytest.approx(stats.spearmanr(noisy[off], truth[off]).statistic)
    assert good["r"] > good["null_q95"] and good["p"] < 0.01
    shuffled = rng.permutation(8)
    bad = matrix_agreement(rng.random((8, 8)), truth, n_perm=500)
    assert bad["p"] > 0.05 or bad["r"] < good["r"]
    pearson = matrix_agreement(noisy[np.ix_(shuffled, shuffled)], truth, method="pearson", n_perm=500)
    assert pearson["r"] < good["r"]
    table = agreement_table({"noisy": noisy}, {"generator": truth}, n_perm=200)
    assert table.loc[("noisy", "generator"), "r"] == pytest.approx(good["r"]) and "relabelled" in table.attrs["note"]
