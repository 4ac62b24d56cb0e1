"""DISFA protocol on the real label lists (../shared/reference/disfa): class weights per training
fold equal the authors' files to 1e-5 and each fold's subjects are the standard parts."""
from __future__ import annotations

import numpy as np
from torch.utils.data import Subset

from afg.data.datasets import DISFA_AUS, DISFA_PARTS, ListDataset
from afg.data.datasets.bp4d import fold_of_part
from afg.data.stats import per_subject_counts, training_statistics


def test_disfa_lists_folds_and_class_weights(reference_dir):
    ds = ListDataset.from_folds(reference_dir / "disfa", n_folds=3, au_names=DISFA_AUS)
    assert len(ds) == 130814
    assert ds.au_names == ["AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26"]
    rec = ds.records
    # the fold a subject's rows are tested in is the one the DISFA adapter assigns to its part
    assert (rec["subject"].map(fold_of_part(DISFA_PARTS)) == rec["fold"]).all()
    folds = ds.folds()
    assert len(folds) == 3
    all_subjects = set().union(*map(set, DISFA_PARTS))
    for k, (train, test) in enumerate(folds, start=1):
        test_subjects = set(rec["subject"].iloc[test])
        assert test_subjects == set(DISFA_PARTS[3 - k])  # fold 1 tests part 3, ..., fold 3 part 1
        assert set(rec["subject"].iloc[train]) == all_subjects - test_subjects
        weights = training_statistics(Subset(ds, train))["au_class_weights"]
        official = np.loadtxt(reference_dir / "disfa" / f"official_train_weight_fold{k}.txt")
        np.testing.assert_allclose(weights, official, atol=1e-5, rtol=0)
    counts = per_subject_counts(ds.labels()["au"], rec["subject"], ds.au_names)
    assert counts.shape == (27, 9) and counts["frames"].sum() == len(ds)
    assert counts.loc["SN003", "frames"] == (rec["subject"] == "SN003").sum()


def test_emotionet_lists_class_weights(reference_dir):
    """Same path for the real EmotioNet lists (random 3-fold split, 12 AUs)."""
    from afg.data.datasets.emotionet import EMOTIONET_AUS

    ds = ListDataset.from_folds(reference_dir / "emotionet", n_folds=3, au_names=EMOTIONET_AUS)
    assert ds.au_names[-1] == "AU43" and len(ds) == 24598
    for k, (train, _) in enumerate(ds.folds(), start=1):
        weights = training_statistics(Subset(ds, train))["au_class_weights"]
        official = np.loadtxt(reference_dir / "emotionet" / f"official_train_weight_fold{k}.txt")
        np.testing.assert_allclose(weights, official, atol=1e-5, rtol=0)


def test_section_4_1_sample_on_the_real_disfa_videos(reference_dir):
    """AU-GCN §4.1 (800 positive + 1600 negative frames per AU and DISFA video) on the real labels:
    the union of the draws keeps 98 % of the frames at their rates; their concatenation is 3.22x
    the frames with every AU's rate up by 0.01-0.03 (the reading the synthetic default scales
    down, configs/synthetic/default.yaml)."""
    from afg.data.sampling import sample_per_video

    ds = ListDataset.from_folds(reference_dir / "disfa", n_folds=3, au_names=DISFA_AUS)
    y, videos = ds.labels()["au"], ds.records["subject"].to_numpy()
    union = sample_per_video(y, videos, 800, 1600, seed=0, dedup=True)
    cat = sample_per_video(y, videos, 800, 1600, seed=0, dedup=False)
    assert 0.97 < len(union) / len(y) < 0.99
    np.testing.assert_allclose(y[union].mean(0), y.mean(0), atol=0.005)
    assert 3.1 < len(cat) / len(y) < 3.3
    rise = y[cat].mean(0) - y.mean(0)
    assert (rise > 0.008).all() and (rise < 0.04).all()
