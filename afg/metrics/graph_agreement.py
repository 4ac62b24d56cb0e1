"""Learned label graphs scored against the label structure the synthetic generator samples from.

A graph over labels (ME-GraphAU's K-NN neighbour frequencies, MAFG+CCFG's adjacency, SVML-RGCN's
relations, Emotion-GCN's classifier cosines) is compared entry by entry with a truth matrix:

* :func:`generator_conditionals` — the generator's own ``P(j | i) = P(i, j) / P(i)`` (the
  co-occurrence statistics its pairwise model is fitted to, :mod:`afg.data.synth.labels`);
* :func:`afg.graphs.cooccurrence_probabilities` of the training labels — the empirical
  conditionals the model could have learned;
* :func:`prototype_similarity` — the cosine similarity of the expressions' EMFACS prototypes
  (the AU patterns the generator derives expressions from).

:func:`matrix_agreement` gives the rank (Spearman) or Pearson correlation over the off-diagonal
entries and a **permutation baseline** (a Mantel test): the same correlation after relabelling the
learned graph's nodes by a random permutation π, ``G'_{ij} = G_{π(i)π(j)}``, which keeps the
graph's own structure (degrees, symmetry) and breaks only its link to the labels. The p-value is
``(#{r_π ≥ r} + 1) / (n_perm + 1)``, or exact over all ``N!`` relabellings when ``N!`` ≤ ``n_perm``.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..data.synth.labels import ALL_AUS, EMOTION_NAMES, PROTOTYPES, target_statistics

__all__ = ["agreement_table", "generator_conditionals", "matrix_agreement", "prototype_similarity"]


def generator_conditionals(profile: str) -> np.ndarray:
    """``(N, N)`` the generator's ``P(j | i) = P(i, j) / P(i)`` for ``profile``'s AUs (its order);
    diagonal 1."""
    st = target_statistics(profile)
    rates, joint = np.asarray(st["rates"], float), np.array(st["joint"], float)
    np.fill_diagonal(joint, rates)
    return joint / rates[:, None]


def prototype_similarity(names: Sequence[str]) -> np.ndarray:
    """``(C, C)`` cosine similarity of the generator's EMFACS prototypes (AU weight vectors over
    the rendered AUs) of the emotions ``names``; NaN rows/columns for names without a prototype
    (``Neutral``, ``Valence`` …)."""
    lower = [n.lower() for n in EMOTION_NAMES]
    vec = np.full((len(names), len(ALL_AUS)), np.nan)
    for k, n in enumerate(names):
        if str(n).lower() in lower:
            proto = PROTOTYPES[lower.index(str(n).lower())]
            vec[k] = [proto.get(a, 0.0) for a in ALL_AUS]
    norm = np.linalg.norm(vec, axis=1)
    return (vec @ vec.T) / np.outer(norm, norm)


def _entries(n: int, symmetric: bool) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays of the off-diagonal entries (the upper triangle for symmetric matrices)."""
    i, j = np.triu_indices(n, 1) if symmetric else np.nonzero(~np.eye(n, dtype=bool))
    return i, j


def matrix_agreement(learned: np.ndarray, truth: np.ndarray, method: str = "spearman", n_perm: int = 2000,
                     seed: int = 0, symmetric: bool | None = None) -> dict[str, float]:
    """Correlation of ``learned`` with ``truth`` over their off-diagonal entries, with its
    permutation baseline (module docstring).

    Args:
        learned, truth: ``(N, N)``; rows/columns where ``truth`` is NaN are left out.
        method: ``"spearman"`` (rank) or ``"pearson"``.
        n_perm: random relabellings (exhaustive when ``N!`` ≤ ``n_perm``).
        symmetric: count each pair once (default: when both matrices are symmetric).

    Returns:
        ``r``, ``null_mean``, ``null_q95`` (the 95th percentile of the relabelled r), ``p``,
        ``n_entries``, ``n_perm`` (relabellings drawn, the identity included when exhaustive).
    """
    a, t = np.asarray(learned, float), np.asarray(truth, float)
    keep = ~np.all(np.isnan(t) | np.eye(len(t), dtype=bool), axis=1)
    a, t = a[np.ix_(keep, keep)], t[np.ix_(keep, keep)]
    n = len(t)
    if symmetric is None:
        symmetric = bool(np.allclose(a, a.T, equal_nan=True) and np.allclose(t, t.T, equal_nan=True))
    i, j = _entries(n, symmetric)
    corr = (lambda x, y: stats.spearmanr(x, y).statistic) if method == "spearman" else (
        lambda x, y: stats.pearsonr(x, y).statistic)
    if method not in ("spearman", "pearson"):
        raise ValueError(f"method must be 'spearman' or 'pearson', got {method!r}")

    def r_of(perm: np.ndarray) -> float:
        x, y = a[np.ix_(perm, perm)][i, j], t[i, j]
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
            return float("nan")
        return float(corr(x[ok], y[ok]))

    r = r_of(np.arange(n))
    if math.factorial(n) <= n_perm:
        null = np.array([r_of(np.array(p)) for p in itertools.permutations(range(n))])
        p_value = float(np.mean(null >= r - 1e-12))
    else:
        rng = np.random.default_rng(seed)
        null = np.array([r_of(rng.permutation(n)) for _ in range(n_perm)])
        p_value = float((np.sum(null >= r - 1e-12) + 1) / (n_perm + 1))
    null = null[np.isfinite(null)]
    return {"r": r, "null_mean": float(null.mean()) if len(null) else float("nan"),
            "null_q95": float(np.quantile(null, 0.95)) if len(null) else float("nan"),
            "p": p_value, "n_entries": len(i), "n_perm": len(null)}


def agreement_table(graphs: Mapping[str, np.ndarray], truths: Mapping[str, np.ndarray],
                    method: str = "spearman", n_perm: int = 2000, seed: int = 0) -> pd.DataFrame:
    """:func:`matrix_agreement` of every learned graph with every truth: rows ``(graph, truth)``,
    columns ``r``, ``null mean``, ``null 95 %``, ``p``, ``entries``; ``attrs["note"]`` says what
    the baseline is."""
    rows = {}
    for g, m in graphs.items():
        for tname, t in truths.items():
            s = matrix_agreement(m, t, method, n_perm, seed)
            rows[(g, tname)] = {"r": s["r"], "null mean": s["null_mean"], "null 95 %": s["null_q95"],
                                "p": s["p"], "entries": s["n_entries"]}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = pd.MultiIndex.from_tuples(out.index, names=["graph", "truth"])
    out.attrs["note"] = (f"{method.capitalize()} correlation over the off-diagonal entries; baseline: the "
                         f"same graph with its nodes relabelled at random ({n_perm} relabellings or all "
                         "of them): r above 'null 95 %' (p < 0.05) means the graph follows the labels.")
    return out
