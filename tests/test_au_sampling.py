"""AU-GCN's per-video frame sampling (Liu et al. 2020, §4.1): counts per video, pools, configs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from afg.config import ConfigError
from afg.data.build import build_data
from afg.data.sampling import FrameSampling, sample_per_video, video_ids
from afg.data.spec import DataSpec
from afg.experiments.config import load_experiment

NAN = np.nan


def _two_videos() -> tuple[np.ndarray, np.ndarray]:
    """Video "a": 12 frames, AU0 active in 5, AU1 active in 2 and not coded in 3.
    Video "b": 4 frames, AU0 active in 1, AU1 never active."""
    a = np.zeros((12, 2))
    a[:5, 0] = 1
    a[5:7, 1] = 1
    a[9:, 1] = NAN
    b = np.zeros((4, 2))
    b[0, 0] = 1
    videos = np.array(["a"] * 12 + ["b"] * 4)
    return np.vstack([a, b]), videos


def test_counts_per_video_and_au_are_min_of_request_and_pool() -> None:
    y, videos = _two_videos()
    idx = sample_per_video(y, videos, positives=2, negatives=3, seed=0, dedup=False)
    # hand count: (video, AU) -> drawn positives + negatives
    #   a/AU0: min(2, 5) + min(3, 7) = 5;  a/AU1: min(2, 2) + min(3, 7 coded zeros) = 5
    #   b/AU0: min(2, 1) + min(3, 3) = 4;  b/AU1: min(2, 0) + min(3, 4) = 3
    assert len(idx) == 5 + 5 + 4 + 3
    groups = [("a", 0, 2, 3), ("a", 1, 2, 3), ("b", 0, 1, 3), ("b", 1, 0, 3)]
    start = 0
    for video, au, n_pos, n_neg in groups:  # concatenation order: video, AU, positives, negatives
        pos, neg = idx[start:start + n_pos], idx[start + n_pos:start + n_pos + n_neg]
        start += n_pos + n_neg
        assert (videos[pos] == video).all() and (videos[neg] == video).all()
        assert (y[pos, au] == 1).all() and (y[neg, au] == 0).all()  # never a NaN (uncoded) frame
        assert len(set(pos)) == n_pos and len(set(neg)) == n_neg  # without replacement
    assert start == len(idx)


def test_union_is_the_deduplicated_concatenation_and_seeded() -> None:
    y, videos = _two_videos()
    cat = sample_per_video(y, videos, 2, 3, seed=7, dedup=False)
    union = sample_per_video(y, videos, 2, 3, seed=7)
    assert np.array_equal(union, np.unique(cat))
    assert np.array_equal(union, sample_per_video(y, videos, 2, 3, seed=7))
    # asking for more than a video holds takes every coded frame of it
    everything = sample_per_video(y, videos, 100, 100, seed=1)
    assert np.array_equal(everything, np.arange(len(y)))


def test_video_ids_follow_the_release() -> None:
    bp4d = pd.DataFrame({"subject": ["F001", "F001", "M002"], "task": ["T1", "T2", "T1"]})
    assert list(video_ids(bp4d)) == ["F001/T1", "F001/T2", "M002/T1"]  # 8 tasks = 8 videos
    disfa = pd.DataFrame({"subject": ["SN001", "SN002"]})
    assert list(video_ids(disfa)) == ["SN001", "SN002"]  # one left-camera video per subject


def test_paper_configs_sample_as_section_4_1() -> None:
    bp4d = load_experiment("configs/au_gcn_bp4d.yaml").data.frame_sampling
    disfa = load_experiment("configs/au_gcn_disfa.yaml").data.frame_sampling
    assert (bp4d["positives"], bp4d["negatives"]) == (100, 200)
    assert (disfa["positives"], disfa["negatives"]) == (800, 1600)


def test_synthetic_default_samples_like_the_paper_does_on_disfa() -> None:
    """The default mode's §4.1 sample (7 + 13 of a 40-frame identity, concatenated) keeps every
    AU's draw: more rows than faces and every AU's rate raised; the union of the same draws keeps
    nearly every face at the rates it had (docs/synthetic.md, afg.data.sampling)."""
    from afg.data.synth import sample_au_labels
    from afg.papers.notebook_setup import NotebookSetup

    fs = NotebookSetup(quick=False).config("au_gcn").data.frame_sampling
    assert fs == {"positives": 7, "negatives": 13, "dedup": False}
    y = sample_au_labels("disfa", 30 * 40, seed=0)
    videos = np.repeat(np.arange(30), 40)
    cat = sample_per_video(y, videos, 7, 13, seed=0, dedup=False)
    union = sample_per_video(y, videos, 7, 13, seed=0, dedup=True)
    assert 3.0 < len(cat) / len(y) < 3.7
    assert (y[cat].mean(0) > y.mean(0) + 0.005).all()
    assert len(union) / len(y) > 0.95
    np.testing.assert_allclose(y[union].mean(0), y.mean(0), atol=0.01)


def test_build_data_samples_training_frames_per_video_only() -> None:
    spec = {"dataset": "synthetic", "profile": "disfa", "n_subjects": 6, "images_per_subject": 20, "size": 32,
            "folds": 3, "fold": 1, "cache": False}
    full_train, full_val = build_data(DataSpec(**spec))
    train, val = build_data(DataSpec(**spec, frame_sampling={"positives": 1, "negatives": 2, "seed": 3}))
    assert len(val) == len(full_val)  # validation keeps every frame
    base = full_train.dataset if hasattr(full_train, "dataset") else full_train
    lab = base.labels()
    tr_idx = np.asarray(train.indices)
    full_idx = np.asarray(full_train.indices) if hasattr(full_train, "indices") else np.arange(len(lab["au"]))
    expected = full_idx[sample_per_video(lab["au"][full_idx], lab["subject"][full_idx], 1, 2, seed=3)]
    assert np.array_equal(tr_idx, expected)
    y, subj = lab["au"][tr_idx], lab["subject"][tr_idx]
    for s in np.unique(subj):  # per identity (= video): at most 1 positive + 2 negatives per AU drawn
        assert (subj == s).sum() <= y.shape[1] * 3
    assert len(train) < len(full_train)


def test_bad_frame_sampling_is_one_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="frame_sampling"):
        DataSpec(frame_sampling={"positives": 100})
    with pytest.raises(ConfigError, match="unknown keys"):
        DataSpec(frame_sampling={"positives": 1, "negatives": 2, "per_epoch": True})
    with pytest.raises(ValueError, match="count"):
        FrameSampling(positives=-1, negatives=2)
