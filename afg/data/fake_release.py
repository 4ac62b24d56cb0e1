"""A tiny release in DISFA's official layout built from real photographs, for the data-preparation
walk-through (notebook 01) and the tests of :mod:`afg.data.prepare`."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["make_fake_disfa_release"]


def _photos(size: int = 256) -> list[np.ndarray]:
    """Two real photographs cropped around the face: astronaut (scikit-image) and Grace Hopper (matplotlib)."""
    import matplotlib
    import skimage.data
    from PIL import Image

    astro = Image.fromarray(skimage.data.astronaut()[0:300, 90:390])
    hopper = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    w, _ = hopper.size
    hopper = hopper.crop((int(0.15 * w), 0, int(0.85 * w), int(0.7 * w)))
    return [np.asarray(im.resize((size, size))) for im in (astro, hopper)]


def make_fake_disfa_release(root: str | os.PathLike, frames_per_subject: int = 3,
                            subjects: Sequence[str] = ("SN001", "SN013", "SN003"), size: int = 256,
                            with_failures: bool = True, seed: int = 0) -> Path:
    """A tiny release in DISFA's official layout, for demonstrations and tests.

    ``ActionUnit_Labels/SN###/SN###_au{N}.txt`` (lines ``frame,intensity`` for the 12 coded AUs;
    the 8 protocol AUs drawn from the synthetic DISFA label model, present ones at intensity 2–5)
    and ``Images_LeftCamera/SN###/{frame-1}.png`` frames made from real photographs (mirrored and
    shifted). With ``with_failures``, the last frame of the first subject is a cat photograph
    (no face) and one labelled frame of the second subject has no image (listed as missing).
    The default subjects fall in the three standard parts, so the 3-fold protocol applies.
    """
    import skimage.data
    from PIL import Image

    from .datasets.disfa import DISFA_AUS, DISFA_CODED_AUS
    from .synth import sample_au_labels

    root = Path(root)
    rng = np.random.default_rng(seed)
    photos = _photos(size)
    cat = np.asarray(Image.fromarray(skimage.data.chelsea()).resize((size, size)))
    n = frames_per_subject
    labels = sample_au_labels("disfa", n * len(subjects), seed=seed)  # (n*S, 8) in DISFA_AUS order
    for s, subj in enumerate(subjects):
        lab_dir = root / "ActionUnit_Labels" / subj
        img_dir = root / "Images_LeftCamera" / subj
        lab_dir.mkdir(parents=True, exist_ok=True)
        img_dir.mkdir(parents=True, exist_ok=True)
        y = labels[s * n:(s + 1) * n]
        for au in DISFA_CODED_AUS:
            if au in DISFA_AUS:
                inten = y[:, DISFA_AUS.index(au)] * rng.integers(2, 6, n)
            else:
                inten = rng.integers(0, 2, n)
            (lab_dir / f"{subj}_au{au}.txt").write_text("".join(f"{t + 1},{int(v)}\n" for t, v in enumerate(inten)))
        for t in range(n):
            if with_failures and s == 1 and t == n - 1:
                continue  # labelled, but the frame was never extracted
            im = photos[(s + t) % len(photos)]
            if t % 2:
                im = im[:, ::-1]
            im = np.roll(im, 6 * (t - n // 2), axis=1)
            if with_failures and s == 0 and t == n - 1:
                im = cat
            Image.fromarray(np.ascontiguousarray(im)).save(img_dir / f"{t}.png")
    return root
