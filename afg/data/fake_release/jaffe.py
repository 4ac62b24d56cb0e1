"""Miniature JAFFE (Lyons, Akamatsu, Kamachi & Gyoba, FG 1998; Lyons et al. 2020 for the ratings).

Format, as the release's ``README_FIRST.txt`` and :class:`afg.data.datasets.JAFFE` read it:
grayscale TIFFs ``jaffe/KA.AN1.39.tiff`` — poser initials, expression code (NE HA SA SU AN DI FE)
with the repeat number, a running image number — and a text table of semantic ratings (60 raters,
5-level scale) with a header ``#  HAP SAD SUR ANG DIS FEA PIC``, one row per picture
``1 2.87 … KA-AN1``, followed by a second table computed with fear excluded, which the adapter
does not read. Protocol (SVML-RGCN): multi-labels = rating ≥ 3, 5-fold cross-validation over the
images.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._faces import face, save

__all__ = ["make_fake_jaffe_release"]

CODES = ("NE", "HA", "SA", "SU", "AN", "DI", "FE")
ADJECTIVES = ("HAP", "SAD", "SUR", "ANG", "DIS", "FEA")
_ADJ_OF = {"HA": "HAP", "SA": "SAD", "SU": "SUR", "AN": "ANG", "DI": "DIS", "FE": "FEA"}


def make_fake_jaffe_release(root: str | os.PathLike, posers: Sequence[str] = ("KA", "KL"), size: int = 128,
                            with_failures: bool = False, seed: int = 0) -> Path:
    """A tiny JAFFE: each poser shows the 7 expressions once (the release: 3–4 repeats each, 256 px).

    Ratings: the posed expression's adjective is rated 3.5–4.8 and the others 1.3–2.6 (Neutral:
    all low), so thresholding at 3 gives back the posed class (the real ratings also blend).
    With ``with_failures`` (off by default: the real table rates every picture), the last picture
    has no row in the rating table.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    rows, k = [], 0
    for p in posers:
        for code in CODES:
            k += 1
            save(root / "jaffe" / f"{p}.{code}1.{k}.tiff", face(k - 1, size, gray=True).image, mode="L")
            r = rng.uniform(1.3, 2.6, 6)
            if code in _ADJ_OF:
                r[ADJECTIVES.index(_ADJ_OF[code])] = rng.uniform(3.5, 4.8)
            rows.append((f"{p}-{code}1", r))
    if with_failures:
        rows = rows[:-1]
    lines = ["Semantic ratings of the JAFFE pictures (averages over 60 raters, 5-level scale)", "",
             "#   " + "  ".join(ADJECTIVES) + "  PIC"]
    lines += [f"{i:<3} " + " ".join(f"{v:.2f}" for v in r) + f" {pic}" for i, (pic, r) in enumerate(rows, 1)]
    lines += ["", "Fear excluded", "#   " + "  ".join(ADJECTIVES[:5]) + "  PIC"]
    lines += [f"{i:<3} " + " ".join(f"{v:.2f}" for v in r[:5]) + f" {pic}" for i, (pic, r) in enumerate(rows, 1)]
    (root / "README_FIRST.txt").write_text("\n".join(lines) + "\n")
    return root
