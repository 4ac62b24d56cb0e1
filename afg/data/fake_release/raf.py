"""Miniature RAF-DB basic, RAF-DB compound (Li, Deng & Du, CVPR 2017) and RAF-ML (Li & Deng,
IJCV 2019).

Formats, as the releases' ``README`` files and :mod:`afg.data.datasets.raf` read them:

- RAF-DB ``basic/``: ``EmoLabel/list_patition_label.txt`` (the release's spelling), lines
  ``train_00001.jpg 5`` — the split is the name's prefix, labels 1 Surprise, 2 Fear, 3 Disgust,
  4 Happiness, 5 Sadness, 6 Anger, 7 Neutral; faces ``Image/aligned/train_00001_aligned.jpg``
  (100 px, aligned by the authors) and ``Image/original/train_00001.jpg``.
- RAF-DB ``compound/``: the same layout with 4-digit names (``train_0001.jpg``) and labels 1..11,
  the compound classes in the order of ``afg.data.datasets.raf.RAF_COMPOUND``.
- RAF-ML: ``EmoLabel/distribution.txt`` (``0001.jpg`` then 6 crowd-sourced scores summing to 1),
  ``EmoLabel/multilabel.txt`` (the same names, 6 binary labels) and ``EmoLabel/partition_label.txt``
  (``0001.jpg 0|1``, 1 = test); columns in the order Surprise, Fear, Disgust, Happiness, Sadness,
  Anger; faces ``Image/aligned/0001_aligned.jpg``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._faces import face, save

__all__ = ["RAF_BASIC_COUNTS", "RAF_COMPOUND_COUNTS", "make_fake_raf_compound_release",
           "make_fake_rafdb_release", "make_fake_rafml_release"]

#: images per class (train, test) of RAF-DB basic, RAF order (Li et al. 2017; 12,271 / 3,068)
RAF_BASIC_COUNTS = ((1290, 281, 717, 4772, 1982, 705, 2524), (329, 74, 160, 1185, 478, 162, 680))
#: images per compound class (Li et al. 2017, 3,954 in all; 3,162 train / 792 test)
RAF_COMPOUND_COUNTS = (697, 266, 129, 163, 86, 738, 150, 560, 176, 841, 148)


def _write_faces(root: Path, names: list[str], size: int, start: int, original: bool = True) -> None:
    for k, n in enumerate(names):
        im = face(start + k, size).image
        stem = n.rsplit(".", 1)[0]
        save(root / "Image" / "aligned" / f"{stem}_aligned.jpg", im, quality=92)
        if original:
            save(root / "Image" / "original" / n, im, quality=92)


def _partition(root: Path, codes: dict[str, list[int]], digits: int, size: int) -> Path:
    lines, names = [], []
    for split, cs in codes.items():
        for i, c in enumerate(cs, start=1):
            n = f"{split}_{i:0{digits}d}.jpg"
            names.append(n)
            lines.append(f"{n} {c}")
    (root / "EmoLabel").mkdir(parents=True, exist_ok=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    _write_faces(root, names, size, start=digits)
    return root


def make_fake_rafdb_release(root: str | os.PathLike, extra_training: int = 2, size: int = 100,
                            seed: int = 0) -> Path:
    """A tiny RAF-DB ``basic/``: training holds each class once plus ``extra_training`` images drawn
    from the published training counts, the test split each class once."""
    rng = np.random.default_rng(seed)
    p = np.asarray(RAF_BASIC_COUNTS[0], float) / sum(RAF_BASIC_COUNTS[0])
    codes = {"train": [*range(1, 8), *(1 + rng.choice(7, extra_training, p=p)).tolist()],
             "test": list(range(1, 8))}
    return _partition(Path(root), codes, 5, size)


def make_fake_raf_compound_release(root: str | os.PathLike, size: int = 100, seed: int = 0) -> Path:
    """A tiny RAF-DB ``compound/``: training holds each of the 11 classes once (ordered by the
    published counts, most frequent first), the test split 4 classes that together show each basic
    emotion (Happily Surprised, Sadly Angry, Fearfully Angry, Disgustedly Surprised)."""
    order = np.argsort(RAF_COMPOUND_COUNTS)[::-1]
    codes = {"train": [int(c) + 1 for c in order], "test": [1, 4, 7, 11]}
    return _partition(Path(root), codes, 4, size)


def make_fake_rafml_release(root: str | os.PathLike, n_train: int = 6, n_test: int = 6, size: int = 100,
                            seed: int = 0) -> Path:
    """A tiny RAF-ML: image i's strongest emotion is emotion ``i mod 6`` (so each split shows all
    six), a second one with probability 0.4; the distribution is a Dirichlet draw concentrated on
    them, the binary labels those with a score ≥ 1/6 (the release's own threshold is not
    published; the adapter's default)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    names, dist, multi, part = [], [], [], []
    for i in range(n_train + n_test):
        n = f"{i + 1:04d}.jpg"
        alpha = np.full(6, 0.3)
        alpha[i % 6] = 6.0
        if rng.random() < 0.4:
            alpha[(i + 1 + rng.integers(5)) % 6] = 3.0
        d = rng.dirichlet(alpha)
        names.append(n)
        dist.append(f"{n} " + " ".join(f"{v:.4f}" for v in d))
        multi.append(f"{n} " + " ".join(str(int(v >= 1 / 6)) for v in d))
        part.append(f"{n} {int(i >= n_train)}")
    lab = root / "EmoLabel"
    lab.mkdir(parents=True, exist_ok=True)
    (lab / "distribution.txt").write_text("\n".join(dist) + "\n")
    (lab / "multilabel.txt").write_text("\n".join(multi) + "\n")
    (lab / "partition_label.txt").write_text("\n".join(part) + "\n")
    _write_faces(root, names, size, start=7, original=False)
    return root
