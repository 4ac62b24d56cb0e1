"""Miniature BP4D-Spontaneous (Zhang et al., Image Vis. Comput. 2014).

Format, as the release's ``AUCoding`` folder and :class:`afg.data.datasets.BP4D` read it:
``AUCoding/AU_OCC/{subject}_{task}.csv`` (e.g. ``F001_T1.csv``), a header row of integers —
``0`` the frame number, then one column per AU number, including AUs the protocol ignores —
and one row per *coded* frame with 0/1, or 9 where the AU was not coded. Only a segment of each
task is coded, so frame numbers start far from 1 (e.g. 2440), and the sequences hold frames
outside it. Frames are ``Sequences/{subject}/{task}/{frame:04d}.jpg``. Protocol: the 12 AUs 1 2 4
6 7 10 12 14 15 17 23 24, subject-independent 3 folds over ME-GraphAU's parts
(``afg.data.datasets.BP4D_PARTS``, from the authors' ``BP4D_*_fold*.txt`` lists).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..datasets.bp4d import BP4D_AUS
from ..synth import ALL_AUS, sample_au_labels
from ._faces import face, save
from ._labels import vary_within

__all__ = ["make_fake_bp4d_release"]

#: AU columns of the miniature's AU_OCC files (frame column 0 first): every AU number 1..27
OCC_COLUMNS = tuple(range(28))


def make_fake_bp4d_release(root: str | os.PathLike, frames_per_task: int = 3,
                           sessions: Sequence[tuple[str, str]] = (("F001", "T1"), ("M011", "T1"),
                                                                  ("F007", "T1"), ("F007", "T6")),
                           size: int = 128, with_failures: bool = True, seed: int = 0) -> Path:
    """A tiny release in BP4D's layout: ``sessions`` (subject, task) with ``frames_per_task`` coded
    frames each. The default subjects lie in the three parts (F001 part 1, M011 part 2, F007 part 3).

    The 12 protocol AUs are drawn from the synthetic BP4D label model (:mod:`afg.data.synth.labels`:
    ME-GraphAU's rates, AU-GCN's graph), then each is made present and absent in every session
    (:func:`._labels.vary_within`); the other columns are 0, 1 or 9 (not coded). With
    ``with_failures``: one protocol AU of one frame is 9 (not coded), and the first session has one
    more frame on disk than coded (the uncoded part of the sequence).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    n = frames_per_task
    labels = sample_au_labels("bp4d", n * len(sessions), seed=seed)  # (n*S, 12) in BP4D_AUS order
    uncoded = np.zeros(labels.shape, bool)
    if with_failures:
        uncoded[1, BP4D_AUS.index(24)] = True  # AU24 of frame 2 of the first session: 9
    labels = vary_within(labels, [range(s * n, (s + 1) * n) for s in range(len(sessions))], uncoded)
    occ = root / "AUCoding" / "AU_OCC"
    occ.mkdir(parents=True, exist_ok=True)
    for s, (subj, task) in enumerate(sessions):
        start = int(rng.integers(100, 3000))
        rows = [",".join(str(c) for c in OCC_COLUMNS)]
        for t in range(n):
            y = labels[s * n + t]
            vals = []
            for au in OCC_COLUMNS[1:]:
                if au in BP4D_AUS:
                    v = 9 if uncoded[s * n + t, BP4D_AUS.index(au)] else int(y[BP4D_AUS.index(au)])
                else:
                    v = int(rng.choice([0, 1, 9], p=[0.7, 0.1, 0.2]))
                vals.append(v)
            rows.append(",".join(str(v) for v in [start + t, *vals]))
            shown = np.array([3.0 * y[BP4D_AUS.index(a)] if a in BP4D_AUS else 0.0 for a in ALL_AUS])
            save(root / "Sequences" / subj / task / f"{start + t:04d}.jpg", face(s * n + t, size, shown).image,
                 quality=92)
        if with_failures and s == 0:  # a frame of the sequence outside the coded segment
            save(root / "Sequences" / subj / task / f"{start + n:04d}.jpg", face(99, size).image, quality=92)
        (occ / f"{subj}_{task}.csv").write_text("\n".join(rows) + "\n")
    return root
