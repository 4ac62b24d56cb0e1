"""Miniature EmotioNet, manually annotated AU set (Benitez-Quiroz et al., CVPR 2016; the
EmotioNet Challenge's ``.csv``).

Format, as :class:`afg.data.datasets.EmotioNet` reads it: one CSV, a header ``URL,'AU 1','AU 2',…``
(column names in single quotes, a space before the number, AUs the protocol ignores included),
one row per image: its Flickr URL — some with stray quotes — and 0/1, or ``999`` where the AU
could not be judged; empty rows between blocks. The images are downloaded by the user from the
URLs into ``images/{last part of the URL}``, and dead links leave some missing. Protocol: 12 AUs
1 2 4 5 6 9 12 17 20 25 26 43, random 3-fold split over the rows (``KFold(shuffle=True,
random_state=42)``, the MAFG+CCFG authors' lists).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..datasets.emotionet import EMOTIONET_AUS
from ..datasets.records import kfold_indices
from ..synth import ALL_AUS, sample_au_labels
from ._faces import face, save
from ._labels import vary_within

__all__ = ["make_fake_emotionet_release"]

CSV_NAME = "EmotioNet_manually_annotated.csv"


def make_fake_emotionet_release(root: str | os.PathLike, n_images: int = 9, size: int = 128,
                                with_failures: bool = True, seed: int = 0) -> Path:
    """A tiny manually annotated EmotioNet: ``n_images`` rows, AUs drawn from the synthetic EmotioNet
    label model (fitted to the 24,598 real labels, :mod:`afg.data.synth.labels`) and then made
    present and absent in each protocol fold (:func:`._labels.vary_within`), an extra
    ``'AU 10'`` column the protocol ignores. With ``with_failures``: AU43 is ``999`` on one row,
    one URL carries stray quotes, an empty row follows the third, and the last image is missing
    (a dead link)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = sample_au_labels("emotionet", n_images, seed=seed)  # (n, 12) in EMOTIONET_AUS order
    gone = np.zeros(labels.shape, bool)
    if with_failures:
        gone[2, EMOTIONET_AUS.index(43)] = True  # 999
        gone[n_images - 1] = True  # dead link
    folds = kfold_indices(n_images, 3, 42)  # the adapter's folds over the annotation rows
    labels = vary_within(labels, [np.flatnonzero(folds == k) for k in (1, 2, 3)], gone)
    header = ["URL", *[f"'AU {a}'" for a in EMOTIONET_AUS], "'AU 10'"]
    lines = [",".join(header)]
    for i in range(n_images):
        name = f"{rng.integers(10**9, 10**10)}_{rng.integers(16**9, 16**10):x}.jpg"
        url = f"http://farm{1 + i % 8}.staticflickr.com/{rng.integers(1000, 9999)}/{name}"
        if with_failures and i == 1:
            url = f"'{url}'"
        vals = [str(int(v)) for v in labels[i]]
        if gone[i, EMOTIONET_AUS.index(43)] and i != n_images - 1:
            vals[EMOTIONET_AUS.index(43)] = "999"
        lines.append(",".join([url, *vals, str(int(rng.integers(0, 2)))]))
        if with_failures and i == 2:
            lines.append("," * len(EMOTIONET_AUS) + ",")
        if with_failures and i == n_images - 1:
            continue  # the link is dead: no image
        shown = np.array([3.0 * labels[i][EMOTIONET_AUS.index(a)] if a in EMOTIONET_AUS else 0.0 for a in ALL_AUS])
        save(root / "images" / name, face(i, size, shown).image, quality=90)
    (root / CSV_NAME).write_text("\n".join(lines) + "\n")
    return root
