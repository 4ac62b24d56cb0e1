"""Fold properties over many random subject layouts (uneven subject sizes, shuffled rows):
``subject_folds`` and ``FaceDataset.folds(k)`` give disjoint test sets that cover every row
exactly once, train on exactly the other rows, and never put a tested subject into training.
A seeded loop stands in for a property-testing library (hypothesis is not installed).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from afg.data.datasets import FaceDataset
from afg.data.datasets.records import protocol_folds, subject_folds

LAYOUTS = 60  # random layouts per test


def random_subjects(rng: np.random.Generator) -> np.ndarray:
    """Rows of 2-15 subjects with 1-40 rows each (very uneven), in a shuffled order."""
    n_subj = int(rng.integers(2, 16))
    sizes = rng.integers(1, 41, size=n_subj)
    names = np.array([f"S{int(i):03d}" for i in rng.choice(1000, n_subj, replace=False)])
    rows = np.repeat(names, sizes)
    return rows[rng.permutation(len(rows))]


def check_folds(folds: list[tuple[np.ndarray, np.ndarray]], subjects: np.ndarray, k: int) -> None:
    n = len(subjects)
    assert len(folds) == k
    tested = np.concatenate([te for _, te in folds])
    # every row is tested exactly once (disjoint test sets covering the rows)
    assert np.array_equal(np.sort(tested), np.arange(n)), "a row is tested twice or never"
    for j, (tr, te) in enumerate(folds):
        assert len(te) > 0, f"fold {j + 1} tests nothing"
        # training = exactly the rows this fold does not test
        assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(n))
        assert not set(tr.tolist()) & set(te.tolist())
        leaked = set(subjects[tr]) & set(subjects[te])
        assert not leaked, f"fold {j + 1}: test subjects {sorted(leaked)} are also in training"


@pytest.mark.parametrize("k", [2, 3, 5])
def test_subject_folds_properties(k):
    rng = np.random.default_rng(k)
    checked = 0
    for _ in range(LAYOUTS):
        subjects = random_subjects(rng)
        if len(set(subjects)) < k:
            with pytest.raises(ValueError, match="at least k subjects"):
                subject_folds(subjects, k)
            continue
        check_folds(subject_folds(subjects, k, seed=int(rng.integers(100))), subjects, k)
        checked += 1
    assert checked >= LAYOUTS // 2


def face_dataset(subjects: np.ndarray, **columns) -> FaceDataset:
    """A FaceDataset over a table of rows (no images read: folds use the table only)."""
    ds = FaceDataset.__new__(FaceDataset)
    ds.table = pd.DataFrame({"subject": subjects, **columns})
    ds.meta = {"dataset": "layout"}
    return ds


@pytest.mark.parametrize("k", [2, 3, 4])
def test_face_dataset_folds_properties(k):
    rng = np.random.default_rng(100 + k)
    for _ in range(LAYOUTS):
        subjects = random_subjects(rng)
        if len(set(subjects)) < k:
            continue
        check_folds(face_dataset(subjects).folds(k), subjects, k)


def test_release_fold_column_properties():
    """A ``fold`` column (the release's subject-independent parts): fold j tests exactly the rows
    of part j; rows of no part are in no fold, neither tested nor trained on."""
    rng = np.random.default_rng(7)
    for _ in range(LAYOUTS):
        subjects = random_subjects(rng)
        uniq = sorted(set(subjects))
        part = {s: int(rng.integers(1, 4)) for s in uniq}
        if len(set(part.values())) < 3:
            continue
        stray = uniq[0] if len(uniq) > 3 and rng.random() < 0.5 else None  # a subject of no part
        fold = np.array([np.nan if s == stray else part[s] for s in subjects])
        folds = face_dataset(subjects, fold=fold).folds()
        kept = np.flatnonzero(~np.isnan(fold))
        tested = np.concatenate([te for _, te in folds])
        assert np.array_equal(np.sort(tested), kept)
        for j, (tr, te) in enumerate(folds, start=1):
            assert (fold[te] == j).all() and not (fold[tr] == j).any()
            assert not np.isnan(fold[tr]).any(), "a row of no fold is trained on"
            assert not set(subjects[tr]) & set(subjects[te])


def test_cross_validation_on_an_official_split_is_off_protocol_and_subject_disjoint():
    rng = np.random.default_rng(11)
    subjects = random_subjects(rng)
    while len(set(subjects)) < 4:
        subjects = random_subjects(rng)
    split = np.where(np.isin(subjects, sorted(set(subjects))[:2]), "validation", "train")
    table = pd.DataFrame({"subject": subjects, "split": split})
    with pytest.warns(UserWarning, match="NOT the official split"):
        folds, proto = protocol_folds(table, 3, "toy")
    assert proto.kind == "subject-cv" and not proto.official
    check_folds(folds, subjects, 3)
