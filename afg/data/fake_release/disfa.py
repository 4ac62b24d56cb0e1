"""Miniature DISFA (Mavadati et al., IEEE TAC 2013).

Format, as the release's ``README`` and :class:`afg.data.datasets.DISFA` read it:
``ActionUnit_Labels/SN###/SN###_au{N}.txt``, one file per coded AU (1 2 4 5 6 9 12 15 17 20 25
26), lines ``frame,intensity`` (frame from 1, intensity 0–5, no header); the left-camera frames
``Images_LeftCamera/SN###/{frame-1}.png`` (0-based, the naming of the frames the ME-GraphAU lists
``SN003/0.png`` use — the release itself ships ``Videos_LeftCamera/*.avi``). Protocol AUs: 1 2 4 6
9 12 25 26, present when intensity ≥ 2; subject-independent 3 folds over ME-GraphAU's parts
(``afg.data.datasets.DISFA_PARTS``).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..datasets.disfa import DISFA_AUS, DISFA_CODED_AUS
from ..synth import ALL_AUS, sample_au_labels
from ._faces import cat, face, photos, save
from ._labels import vary_within

__all__ = ["make_fake_disfa_release"]

_photos = photos  # the name notebook 01 and older code import


def make_fake_disfa_release(root: str | os.PathLike, frames_per_subject: int = 3,
                            subjects: Sequence[str] = ("SN001", "SN013", "SN003"), size: int = 256,
                            with_failures: bool = True, seed: int = 0) -> Path:
    """A tiny release in DISFA's official layout, for demonstrations and tests.

    The 8 protocol AUs are drawn from the synthetic DISFA label model (fitted to the real DISFA
    labels, :mod:`afg.data.synth.labels`), then each is made present and absent in every subject's
    frames (:func:`._labels.vary_within`); present ones at intensity 2–5, the 4 other coded AUs
    at 0–1. Frames are the real photographs (mirrored and shifted) and, every third frame, a
    synthetic face showing the frame's AUs. With ``with_failures``, the last frame of the first
    subject is a cat photograph (no face) and one labelled frame of the second subject has no
    image (listed as missing). The default subjects fall in the three standard parts, so the
    3-fold protocol applies.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    n = frames_per_subject
    labels = sample_au_labels("disfa", n * len(subjects), seed=seed)  # (n*S, 8) in DISFA_AUS order
    gone = np.zeros(labels.shape, bool)  # frames without a face image: the cat, the missing frame
    if with_failures:
        gone[[s * n + n - 1 for s in range(min(2, len(subjects)))]] = True
    labels = vary_within(labels, [range(s * n, (s + 1) * n) for s in range(len(subjects))], gone)
    for s, subj in enumerate(subjects):
        lab_dir = root / "ActionUnit_Labels" / subj
        img_dir = root / "Images_LeftCamera" / subj
        lab_dir.mkdir(parents=True, exist_ok=True)
        img_dir.mkdir(parents=True, exist_ok=True)
        y = labels[s * n:(s + 1) * n]
        inten = {}
        for au in DISFA_CODED_AUS:
            if au in DISFA_AUS:
                inten[au] = y[:, DISFA_AUS.index(au)] * rng.integers(2, 6, n)
            else:
                inten[au] = rng.integers(0, 2, n)
            (lab_dir / f"{subj}_au{au}.txt").write_text("".join(f"{t + 1},{int(v)}\n" for t, v in enumerate(inten[au])))
        for t in range(n):
            if with_failures and s == 1 and t == n - 1:
                continue  # labelled, but the frame was never extracted
            shown = np.array([inten[a][t] if a in inten else 0 for a in ALL_AUS], dtype=float)
            im = face(s * n + t, size, shown).image
            if with_failures and s == 0 and t == n - 1:
                im = cat(size)
            save(img_dir / f"{t}.png", im)
    return root
