"""Miniature AffectNet (Mollahosseini et al., IEEE TAC 2017), manually annotated part.

Format, as the release's ``README`` and :class:`afg.data.datasets.AffectNet` read it:
``Manually_Annotated_file_lists/training.csv`` with the header ``subDirectory_filePath, face_x,
face_y, face_width, face_height, facial_landmarks, expression, valence, arousal`` and
``validation.csv`` *without* a header; ``facial_landmarks`` = the 68 points as ``x1;y1;x2;…``;
expression codes 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger, 7 Contempt,
8 None, 9 Uncertain, 10 Non-Face; valence/arousal in [−1, 1], ``-2`` where invalid (Non-Face).
Images ``Manually_Annotated_Images/{folder}/{hash}.jpg``. Protocol: train on ``training``, test on
``validation`` (500 images per category; the test set is not public); the papers' 7 classes drop
Contempt.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..synth.labels import CIRCUMPLEX, EMOTION_NAMES
from ._faces import face, save

__all__ = ["AFFECTNET_COUNTS", "make_fake_affectnet_release"]

#: manually annotated images per category (Mollahosseini et al. 2017, Table 4), codes 0..10
AFFECTNET_COUNTS = (74874, 134415, 25459, 14090, 6378, 3803, 24882, 3750, 33088, 11645, 82414)
HEADER = ("subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,"
          "valence,arousal")


def make_fake_affectnet_release(root: str | os.PathLike, extra_training: int = 3, size: int = 128,
                                seed: int = 0) -> Path:
    """A tiny AffectNet: ``training.csv`` holds every code 0..10 once plus ``extra_training`` rows
    drawn from the published category counts; ``validation.csv`` (header-less) every code once,
    balanced like the real one. Landmarks are exact (synthetic faces) or the generator's template
    fitted to the photographs' measured points; valence/arousal are drawn around each category's
    circumplex position (``afg.data.synth.labels.CIRCUMPLEX``), ``-2,-2`` for Non-Face."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True, exist_ok=True)
    p = np.asarray(AFFECTNET_COUNTS, float) / sum(AFFECTNET_COUNTS)
    codes = {"training": [*range(11), *rng.choice(11, extra_training, p=p).tolist()],
             "validation": list(range(11))}
    k = 0
    for split, cs in codes.items():
        rows = [HEADER] if split == "training" else []
        for c in cs:
            f = face(k, size)
            k += 1
            rel = f"{rng.integers(1, 1300)}/{rng.bytes(28).hex()}.jpg"
            save(root / "Manually_Annotated_Images" / rel, f.image, quality=90)
            lm = f.landmarks
            x0, y0 = np.floor(lm.min(0)).astype(int)
            x1, y1 = np.ceil(lm.max(0)).astype(int)
            if c == 10:
                va = (-2.0, -2.0)
            elif 1 <= c <= 6:  # AffectNet codes 1..6 → the generator's emotion names
                name = ("Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger")[c - 1]
                centre = np.asarray(CIRCUMPLEX[EMOTION_NAMES.index(name)], float)
                va = tuple(np.clip(centre * 0.7 + rng.normal(0, 0.1, 2), -1, 1))
            else:
                va = tuple(np.clip(rng.normal(0, 0.15, 2), -1, 1))
            pts = ";".join(f"{v:.2f}" for v in lm.reshape(-1))
            rows.append(f"{rel},{x0},{y0},{x1 - x0},{y1 - y0},{pts},{c},{va[0]:.6f},{va[1]:.6f}")
        (lists / f"{split}.csv").write_text("\n".join(rows) + "\n")
    return root
