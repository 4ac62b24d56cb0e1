"""The faces of the miniature releases: real photographs shipped by installed packages and faces
of the synthetic generator (:mod:`afg.data.synth`), drawn with the AUs of their labels.

Real photographs: the astronaut Eileen Collins (``skimage.data.astronaut``, public domain, NASA)
and Grace Hopper (matplotlib's ``sample_data/grace_hopper.jpg``, public domain, U.S. Navy), each
cropped around the face; their 5 MTCNN points at 128 px were measured once with
:class:`afg.data.faces.FaceAligner` and are written below (scaled to other sizes), so that a
release that ships landmarks (AffectNet) can carry them without running a detector. A cat
(``skimage.data.chelsea``) stands in for an image without a face.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from ..faces import apply_transform, estimate_similarity, landmarks68_to_5
from ..synth import render_face

__all__ = ["Face", "cat", "face", "photos"]

#: 5 MTCNN points (eye centres, nose tip, mouth corners) of each photograph at 128 px
_POINTS_128 = (
    ((49.3, 43.7), (67.1, 44.9), (57.9, 55.0), (48.3, 59.9), (66.2, 60.8)),   # astronaut
    ((52.7, 69.4), (84.0, 67.7), (69.4, 85.9), (56.3, 100.3), (82.9, 98.5)),  # Grace Hopper
)


@dataclass
class Face:
    """One source image: ``image`` (size, size, 3) uint8 and its 68 landmarks (68, 2) px."""

    image: np.ndarray
    landmarks: np.ndarray
    kind: str  # "photo" | "synthetic"


@cache
def _photo_arrays(size: int) -> tuple[np.ndarray, ...]:
    import matplotlib  # local: matplotlib (~0.5 s) only for its sample photograph
    import skimage.data  # local: scikit-image (~0.5 s) only for its sample photographs

    astro = Image.fromarray(skimage.data.astronaut()[0:300, 90:390])
    hopper = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    w, _ = hopper.size
    hopper = hopper.crop((int(0.15 * w), 0, int(0.85 * w), int(0.7 * w)))
    return tuple(np.asarray(im.resize((size, size))) for im in (astro, hopper))


def photos(size: int = 256) -> list[np.ndarray]:
    """The two real photographs, ``size`` px square."""
    return [a.copy() for a in _photo_arrays(int(size))]


def cat(size: int = 128) -> np.ndarray:
    """A photograph without a face (``skimage.data.chelsea``)."""
    import skimage.data  # local: scikit-image (~0.5 s) only for its sample photographs

    return np.asarray(Image.fromarray(skimage.data.chelsea()).resize((size, size)))


@cache
def _template68(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The generator's neutral 68 landmarks at ``size`` px and their 5 points."""
    _, lm = render_face(0, np.zeros(18), size=size)
    return lm.astype(np.float64), landmarks68_to_5(lm)


def _photo_landmarks(which: int, size: int, mirrored: bool, shift: int) -> np.ndarray:
    """68 points for a photograph: the generator's template moved onto its 5 measured points."""
    pts = np.asarray(_POINTS_128[which], dtype=np.float64) * size / 128.0
    if mirrored:  # the subject's left eye / mouth corner is now on the image's right
        pts[:, 0] = size - 1 - pts[:, 0]
        pts = pts[[1, 0, 2, 4, 3]]
    pts[:, 0] += shift
    lm68, lm5 = _template68(size)
    return apply_transform(estimate_similarity(lm5, pts), lm68)


def face(index: int, size: int = 128, intensity: np.ndarray | None = None, gray: bool = False) -> Face:
    """Face ``index`` of a miniature: indices ≡ 0, 1 (mod 3) are the two photographs (mirrored and
    shifted by a few pixels on alternate uses, so frames differ), ≡ 2 a synthetic face of identity
    ``index // 3`` showing ``intensity`` ((18,) AU intensities 0–5 over
    :data:`afg.data.synth.ALL_AUS`; None: neutral)."""
    if index % 3 == 2:
        amp = np.zeros(18) if intensity is None else np.clip(np.asarray(intensity, float) / 5.0, 0, 1)
        im, lm = render_face(index // 3, amp, size=size)
        out = Face(np.asarray(im), np.asarray(lm, dtype=np.float64), "synthetic")
    else:
        which = index % 3
        use = index // 3
        mirrored, shift = bool(use % 2), 2 * ((use % 5) - 2)
        im = _photo_arrays(size)[which]
        if mirrored:
            im = im[:, ::-1]
        im = np.roll(im, shift, axis=1)
        out = Face(np.ascontiguousarray(im), _photo_landmarks(which, size, mirrored, shift), "photo")
    if gray:
        g = (out.image.astype(np.float64) @ [0.299, 0.587, 0.114]).round().astype(np.uint8)
        out.image = np.repeat(g[..., None], 3, axis=2)
    return out


def save(path: Path, image: np.ndarray, mode: str | None = None, **kw) -> None:
    """Write ``image`` to ``path`` (folders created; ``mode="L"`` for grayscale files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(np.ascontiguousarray(image))
    if mode:
        im = im.convert(mode)
    im.save(path, **kw)
