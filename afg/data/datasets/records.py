"""The records table's label arrays and fold splits, shared by the release adapters
(:mod:`afg.data.datasets.base`) and the torch dataset over prepared faces
(:mod:`afg.data.datasets.face_dataset`), which both import it.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["kfold_indices", "records_labels", "subject_folds"]


def records_labels(records: pd.DataFrame, au_names: Sequence[str], expression_names: Sequence[str],
                   has_va: bool, emotion_names: Sequence[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if au_names:
        out["au"] = records[list(au_names)].to_numpy(dtype=np.float64)
    if expression_names:
        out["expression"] = records["expression"].fillna(-1).to_numpy().astype(np.int64)
    if has_va:
        out["va"] = records[["valence", "arousal"]].to_numpy(dtype=np.float64)
    if emotion_names:
        out["emotions"] = records[list(emotion_names)].to_numpy(dtype=np.float64)
    return out


def subject_folds(subjects: Sequence[str], k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Subject-disjoint K folds (subjects shuffled with ``seed`` then dealt round-robin)."""
    subjects = np.asarray(subjects)
    uniq = np.array(sorted(set(subjects.tolist())))
    rng = np.random.default_rng(seed)
    order = uniq[rng.permutation(len(uniq))]
    fold_of = {s: i % k for i, s in enumerate(order)}
    f = np.array([fold_of[s] for s in subjects])
    return [(np.flatnonzero(f != j), np.flatnonzero(f == j)) for j in range(k)]


def kfold_indices(n: int, k: int, seed: int = 42) -> np.ndarray:
    """Fold id (1..k) of each of ``n`` rows, ``sklearn.model_selection.KFold(k, shuffle=True,
    random_state=seed)`` (the random split the papers use for EmotioNet and JAFFE)."""
    from sklearn.model_selection import KFold

    fold = np.zeros(n, dtype=np.int64)
    for j, (_, test) in enumerate(KFold(k, shuffle=True, random_state=seed).split(np.arange(n))):
        fold[test] = j + 1
    return fold
