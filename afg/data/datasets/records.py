"""The records table's label arrays and fold splits, shared by the release adapters
(:mod:`afg.data.datasets.base`) and the torch dataset over prepared faces
(:mod:`afg.data.datasets.face_dataset`), which both import it.

The evaluation protocol of a table (:func:`protocol_folds`) is resolved in one place, by this
rule (``k`` is ``data.folds``):

====================  ============================  ============================================
the table has         ``k`` None (the default)      ``k`` ≥ 2
====================  ============================  ============================================
a ``fold`` column     the release's K folds         must equal K
a ``split`` column    the official split: train on  ``k``-fold subject-disjoint CV over the train
                      ``train``, score on ``test``  and evaluation rows — *off-protocol*: a
                      (else ``validation``)         warning, and :class:`Protocol` ``official``
                                                    False, which every export prints
neither               3 subject-disjoint folds      ``k`` subject-disjoint folds
====================  ============================  ============================================

``k = 0`` asks for the official split explicitly: an error where the table has neither a split
nor folds; on a table with folds, a warning and its folds.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Protocol", "kfold_indices", "protocol_folds", "records_labels", "subject_folds"]

Folds = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Protocol:
    """How a table's rows are split into training and scored faces.

    ``kind``: ``"folds"`` (the release's own folds), ``"official"`` (its train / evaluation
    split), ``"subject-cv"`` (subject-disjoint folds); ``k``: the number of (train, test) pairs;
    ``official``: False when cross-validation was asked for on data that has an official split;
    ``text``: one line saying all of it (a run's evaluation record's ``protocol``, table notes).
    """

    kind: str
    k: int
    official: bool
    text: str

    def fold_text(self, fold: int) -> str:
        """The line for the run that tests fold ``fold`` (1-based)."""
        return self.text if self.k == 1 else f"fold {fold} of {self.text}"

    def as_dict(self, fold: int = 1) -> dict[str, object]:
        return {"kind": self.kind, "k": self.k, "fold": fold if self.k > 1 else None,
                "official": self.official, "text": self.fold_text(fold), "scheme": self.text}


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


def subject_folds(subjects: Sequence[str], k: int, seed: int = 0) -> Folds:
    """Subject-disjoint K folds (subjects shuffled with ``seed`` then dealt round-robin): fold j
    tests every row of its subjects and trains on every other row; each row is tested once."""
    subjects = np.asarray(subjects).astype(str)
    uniq = np.array(sorted(set(subjects.tolist())))
    if k < 2 or len(uniq) < k:
        raise ValueError(f"{k} subject-disjoint folds need k >= 2 and at least k subjects "
                         f"(found {len(uniq)})")
    rng = np.random.default_rng(seed)
    order = uniq[rng.permutation(len(uniq))]
    fold_of = {s: i % k for i, s in enumerate(order)}
    f = np.array([fold_of[s] for s in subjects])
    return [(np.flatnonzero(f != j), np.flatnonzero(f == j)) for j in range(k)]


def kfold_indices(n: int, k: int, seed: int = 42) -> np.ndarray:
    """Fold id (1..k) of each of ``n`` rows, ``sklearn.model_selection.KFold(k, shuffle=True,
    random_state=seed)`` (the random split the papers use for EmotioNet and JAFFE)."""
    from sklearn.model_selection import (
        KFold,  # local: scikit-learn (~1 s to import) only for k-fold splits
    )

    fold = np.zeros(n, dtype=np.int64)
    for j, (_, test) in enumerate(KFold(k, shuffle=True, random_state=seed).split(np.arange(n))):
        fold[test] = j + 1
    return fold


#: split names that hold the faces an official protocol scores, in order of preference
EVALUATION_SPLITS = ("test", "validation", "val")


def protocol_folds(table: pd.DataFrame, k: int | None = None, name: str = "data",
                   scored: str | None = None) -> tuple[Folds, Protocol]:
    """``([(train_idx, test_idx), ...], Protocol)`` for ``table`` (positional indices) and
    ``k`` = ``data.folds`` by the rule of this module's docstring. Rows outside every fold / split
    (a ``fold`` or ``split`` the protocol does not name) are in no pair. ``scored`` (``data.split``)
    names the evaluation split where a table has several (else ``test``, with a warning that the
    others are unused)."""
    if (k is not None and k < 0) or k == 1:
        raise ValueError(f"{name}: data.folds {k} is not 0 (the official split), k >= 2 or unset")
    if "fold" in table.columns and table["fold"].notna().any():
        fold = pd.to_numeric(table["fold"], errors="coerce").to_numpy(dtype=float)
        ids = sorted(int(f) for f in np.unique(fold[~np.isnan(fold)]))
        if scored is not None:
            raise ValueError(f"{name} has no official train/test split: its protocol is {len(ids)} "
                             f"folds (leave data.folds unset or give {len(ids)}, and no data.split)")
        if k == 0:
            warnings.warn(f"{name} has no official train/test split: data.folds 0 means its protocol's "
                          f"{len(ids)} folds (data.fold picks one); leave data.folds unset", stacklevel=3)
        if k not in (None, 0) and k != len(ids):
            raise ValueError(f"{name} protocol defines {len(ids)} folds, asked for {k}")
        has = ~np.isnan(fold)
        pairs = [(np.flatnonzero(has & (fold != j)), np.flatnonzero(fold == j)) for j in ids]
        return pairs, Protocol("folds", len(ids), True, f"the {len(ids)} folds {name}'s protocol defines")
    if "split" in table.columns and table["split"].notna().any():
        split = table["split"].astype(str).to_numpy()
        present = [s for s in EVALUATION_SPLITS if (split == s).any()]
        if not present or not (split == "train").any():
            raise ValueError(f"{name}: the official split needs 'train' rows and one of "
                             f"{list(EVALUATION_SPLITS)}; found {sorted(set(split.tolist()))}")
        if scored is not None and scored not in present:
            raise ValueError(f"{name}: data.split {scored!r} is not one of its evaluation splits {present}")
        held = scored or present[0]
        if scored is None and len(present) > 1:
            warnings.warn(f"{name} has several evaluation splits {present}: scoring '{held}', the others "
                          "are unused (data.split picks one)", stacklevel=3)
        train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == held)
        if k in (None, 0):
            text = (f"the official split of {name}: train on 'train' ({len(train)} faces), "
                    f"score on '{held}' ({len(test)} faces)")
            return [(train, test)], Protocol("official", 1, True, text)
        rows = np.sort(np.concatenate([train, test]))
        subjects = table["subject"].astype(str).to_numpy()[rows]
        pairs = [(rows[tr], rows[te]) for tr, te in subject_folds(subjects, k)]
        text = (f"{k}-fold subject-disjoint cross-validation over {name}'s 'train' + '{held}' faces "
                f"(asked for by data.folds = {k}; NOT the official split, which trains on 'train' "
                f"and scores '{held}')")
        warnings.warn(f"{name}: {text}; leave data.folds unset for the official split", stacklevel=3)
        return pairs, Protocol("subject-cv", k, False, text)
    if k == 0 or scored is not None:
        raise ValueError(f"{name} has no official split (no 'split' column); give data.folds k >= 2 "
                         "and no data.split")
    kk = 3 if k is None else k
    pairs = subject_folds(table["subject"].astype(str).to_numpy(), kk)
    why = "the data defines no split" if k is None else f"data.folds = {k}"
    return pairs, Protocol("subject-cv", kk, True, f"{kk} subject-disjoint folds of {name} ({why})")
