"""Faces without labels (JAFFE: a picture with no row in the rating table) are dropped when the
dataset is built, with one warning naming how many; they are neither trained on nor scored."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_datasets_faces import StubAligner

from afg.data.datasets import JAFFE, FaceDataset
from afg.data.fake_release import make_fake_release
from afg.data.prepare import prepare_dataset

NAN = np.nan


def test_labelled_rows_by_hand():
    from afg.data.datasets.face_dataset import labelled_rows

    labels = {"au": np.array([[NAN, NAN], [1, NAN], [NAN, NAN], [NAN, NAN]]),
              "expression": np.array([-1, -1, 3, -1]),
              "emotions": np.array([[NAN, NAN], [NAN, NAN], [NAN, NAN], [0, 0]])}
    assert labelled_rows(labels).tolist() == [False, True, True, True]  # any label at all
    assert labelled_rows(labels, ("emotions",)).tolist() == [False, False, False, True]
    assert labelled_rows(labels, ("au", "expression")).tolist() == [False, False, False, False]
    assert labelled_rows({"va": np.array([[NAN, 0.2], [NAN, NAN]])}).tolist() == [True, False]


def test_jaffe_picture_without_ratings_is_dropped_once_with_a_warning(tmp_path):
    root = make_fake_release("jaffe", tmp_path / "jaffe", with_failures=True)
    adapter = JAFFE(root)
    unrated = np.flatnonzero(np.isnan(adapter.records["Happiness"].to_numpy()))
    assert len(unrated) == 1 and not np.isnan(adapter.records["expression"].iloc[unrated[0]])
    out = tmp_path / "prepared"
    prepare_dataset(adapter, out, size=32, aligner=StubAligner(size=32), progress=False, verbose=False)
    with pytest.warns(UserWarning, match=r"jaffe: 1 of \d+ faces have no emotions label; dropped") as rec:
        faces = adapter.dataset(out)
    assert len([w for w in rec if "dropped" in str(w.message)]) == 1
    assert faces.unlabelled == 1 and len(faces) == len(adapter.records) - 1
    assert adapter.records["pic"].iloc[unrated[0]] not in set(faces.table["pic"])
    assert not np.isnan(faces.labels()["emotions"]).any()
    assert len(faces.labels()["expression"]) == len(faces) == len(faces.subjects)
    # the kept faces keep the authors' folds (KFold over every picture)
    kept = adapter.records.drop(index=unrated[0])
    assert faces.table["fold"].tolist() == kept["fold"].tolist()
    # the posed expression alone keeps the face when asked
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(JAFFE(root, require_ratings=False).dataset(out)) == len(adapter.records)
        # the prepared folder read alone keeps every aligned face (packing reads it); the
        # multi-label evaluation would leave the unrated one out and count it (incomplete_rows)
        assert len(FaceDataset(out)) == len(adapter.records)
        # without the adapter's required ratings, its posed expression is a label: kept
        assert len(FaceDataset(out, drop_unlabelled=True)) == len(adapter.records)
        assert len(FaceDataset(adapter, out, drop_unlabelled=False)) == len(adapter.records)
