"""Per-video frame sampling of AU-GCN's training sets (Liu et al., MMM 2020, §4.1).

The paper trains on a sample of each training video rather than on every frame:

* BP4D: "For each AU, we sampled 100 positive frames and 200 negative frames for each video"
  (328 videos = 41 subjects × 8 tasks);
* DISFA: "To be consistent with the 8-video setting of BP4D, we sampled 800 positive frames
  and 1600 negative frames for each video" (one left-camera video per subject).

Read literally, for every video ``v`` and every AU ``j`` we draw, without replacement,
``min(P, n⁺_vj)`` frames where AU ``j`` is active and ``min(Q, n⁻_vj)`` frames where it is
inactive (frames whose AU ``j`` is not coded are in neither pool). The training set is the union
of these draws (``dedup=True``, a frame drawn for several AUs appears once) or their
concatenation (``dedup=False``, a frame appears once per draw). The paper states neither the
union/concatenation choice nor whether the sample is redrawn per epoch; afg draws once per
training run from ``numpy.random.default_rng(seed)``, so the sample (and with it the occurrence
rates, the class weights of Eq. 7, Dice and F1) is reproducible.

The two readings differ in effect. On the real DISFA labels (27 videos, 130,814 frames; 800 and
1600, ``tests/reference/test_disfa_protocol.py``) the union keeps 98 % of the frames at their
occurrence rates, so it changes almost nothing; the concatenation is 3.22× the frames with every
AU's rate 0.01–0.03 higher. The real-data configs keep the union; the synthetic default mode of
notebook 04 uses the concatenation scaled to a 40-face identity (7 and 13; 3.35× the faces), the
reading under which the sample changes training (``docs/synthetic.md``).

Config (``data.frame_sampling``; :func:`afg.data.build.build_data` applies it to the
*training* part of a fold only; validation keeps every frame)::

    frame_sampling: {positives: 100, negatives: 200, seed: 0, dedup: true}
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FrameSampling", "sample_per_video", "video_ids"]


class FrameSampling:
    """Validated ``data.frame_sampling`` options (see the module docstring)."""

    KEYS = ("positives", "negatives", "seed", "dedup")

    def __init__(self, positives: int, negatives: int, seed: int = 0, dedup: bool = True) -> None:
        for name, value in (("positives", positives), ("negatives", negatives)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"data.frame_sampling.{name}: expected a count >= 0, got {value!r}")
        self.positives, self.negatives, self.seed, self.dedup = int(positives), int(negatives), int(seed), bool(dedup)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FrameSampling:
        unknown = sorted(set(spec) - set(cls.KEYS))
        if unknown:
            raise ValueError(f"data.frame_sampling: unknown keys {unknown}; allowed: {list(cls.KEYS)}")
        missing = [k for k in ("positives", "negatives") if k not in spec]
        if missing:
            raise ValueError(f"data.frame_sampling: {missing} required (e.g. positives: 100, negatives: 200)")
        return cls(**dict(spec))

    def indices(self, labels: np.ndarray, videos: Sequence[Any]) -> np.ndarray:
        return sample_per_video(labels, videos, self.positives, self.negatives, self.seed, self.dedup)


def video_ids(records: pd.DataFrame) -> np.ndarray:
    """One id per row: the ``video`` column, else ``subject/task`` (BP4D: 8 tasks per subject),
    else ``subject`` (DISFA: one video per subject)."""
    if "video" in records.columns:
        return records["video"].astype(str).to_numpy()
    if "task" in records.columns:
        return (records["subject"].astype(str) + "/" + records["task"].astype(str)).to_numpy()
    return records["subject"].astype(str).to_numpy()


def sample_per_video(labels: np.ndarray, videos: Sequence[Any], positives: int, negatives: int,
                     seed: int = 0, dedup: bool = True) -> np.ndarray:
    """Row indices of the per-video, per-AU sample of §4.1.

    Args:
        labels: ``(n, C)`` AU occurrence, 1 = active, 0 = inactive, NaN = not coded.
        videos: ``(n,)`` video id of each row.
        positives, negatives: frames drawn per (video, AU) among its active / inactive frames
            (all of them where a video has fewer).
        seed: ``numpy.random.default_rng`` seed.
        dedup: union of the draws (sorted, each row once) or their concatenation (grouped by video,
            then AU, then positives before negatives; rows drawn for several AUs repeat).

    Returns:
        ``int64`` row indices into ``labels``.
    """
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"labels must be (n, C), got shape {y.shape}")
    vids = np.asarray(videos)
    if len(vids) != len(y):
        raise ValueError(f"{len(vids)} video ids for {len(y)} label rows")
    rng = np.random.default_rng(seed)
    picked: list[np.ndarray] = []
    for v in pd.unique(vids):
        rows = np.flatnonzero(vids == v)
        for j in range(y.shape[1]):
            col = y[rows, j]
            for pool, k in ((rows[col == 1], positives), (rows[col == 0], negatives)):
                if len(pool) and k:
                    picked.append(rng.choice(pool, size=min(k, len(pool)), replace=False))
    if not picked:
        return np.zeros(0, dtype=np.int64)
    out = np.concatenate(picked).astype(np.int64)
    return np.unique(out) if dedup else out
