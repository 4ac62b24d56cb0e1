"""AU regions of interest from 68-point landmarks (AU-GCN, Liu et al. 2020, Sec. 3.2).

Landmarks follow the 68-point iBUG/Multi-PIE layout, 0-indexed, in *pixel-index* coordinates of
the image (pixel ``i`` has its centre at ``x = i``), shape ``(68, 2)`` or ``(B, 68, 2)`` as
``(x, y)``. ``s = |x_39 - x_42|`` is the inner-eye-corner distance; image ``y`` grows downwards,
so "``y - s/2``" is half an eye distance *above* the landmark.

AU centres (EAC-Net / JAA-Net rules; two symmetric points per rule):

==========================  ============  ==========
AU(s)                       points        offset dy
==========================  ============  ==========
AU1                         21, 22        -s/2
AU2                         18, 25        -s/3
AU4                         19, 24        +s/3
AU6                         41, 46        +s
AU7                         38, 43        0
AU9                         32, 34        -s/2
AU10                        61, 63        0  (EAC-Net: 49, 53 — ``au10_points="eac"``)
AU12 / AU14 / AU15          48, 54        0
AU17                        56, 58        +s/2
AU23 / AU24 / AU25 / AU26   51, 57        0
==========================  ============  ==========

ROI sets (the paper's counts, Sec. 3.2 and 4.1):

* **BP4D, 19 ROIs** (AU1 2 4 6 7 10 12 14 15 17 23 24): two ROIs for each of the nine rules
  AU1, AU2, AU4, AU6, AU7, AU10, AU12/14/15 (shared), AU17, AU23/24 (shared, upper and lower
  lip) = 18, plus the whole face.
* **DISFA, 14 ROIs** (AU1 2 4 6 9 12 25 26). Where the paper is open we follow its text: "these
  12 ROIs are shared" (AU1, AU2, AU4, AU6, AU12 and the AU23-26 mouth pair, 2 each), "6 for
  BP4D" (AU7, AU10, AU17) "and an additional one for DISFA": AU9 gets **one** ROI, centred on the
  midpoint of its two rule points (the nose, on the midline, s/2 above the nostrils); AU25 and
  AU26 share the mouth pair at points 51/57 ("AU23, AU24, AU25 and AU26 share a ROI") rather than
  AU26 using the AU17 chin rule. 12 + 1 + whole face = 14.

Every ROI is an ``L x L`` square around its centre with ``L = roi_frac * W`` (paper: n = 25 px on
a 200 px face, ``roi_frac = 0.125``) and is resized to ``n x n``; the whole-face ROI is the full
image resized to ``n x n``. Extraction of all ROIs of a batch is one :func:`torchvision.ops.roi_align`
call.

A :class:`RoiSet` carries the ROI names, centre rules, the ROI→AU membership matrix (the
whole-face ROI belongs to every AU), the symmetric pairs used by the ROI graph (left/right and
upper/lower lip) and the mirror permutation used for horizontal flips (left/right only).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torchvision.ops import roi_align

__all__ = [
    "AU_RULES",
    "DATASET_AUS",
    "MIRROR_68",
    "TEMPLATE_MARGIN",
    "FaceLandmarks68",
    "RoiDef",
    "RoiSet",
    "au_centres",
    "canonical_landmarks",
    "default_roi_sizes",
    "extract_rois",
    "flip_landmarks",
    "hflip",
    "hflip_sample",
    "inner_eye_distance",
    "roi_boxes",
    "roi_centres",
    "roi_set",
    "template_from_five_points",
]

#: AU lists of the two benchmark presets (label order of the data).
DATASET_AUS: dict[str, list[str]] = {
    "bp4d": ["AU01", "AU02", "AU04", "AU06", "AU07", "AU10", "AU12", "AU14", "AU15", "AU17", "AU23", "AU24"],
    "disfa": ["AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26"],
}

#: centre rules: group -> (landmark pair, dy in units of s, single ROI at the midpoint?)
AU_RULES: dict[str, tuple[tuple[int, int], float, bool]] = {
    "AU1": ((21, 22), -1 / 2, False),
    "AU2": ((18, 25), -1 / 3, False),
    "AU4": ((19, 24), 1 / 3, False),
    "AU6": ((41, 46), 1.0, False),
    "AU7": ((38, 43), 0.0, False),
    "AU9": ((32, 34), -1 / 2, True),
    "AU10": ((61, 63), 0.0, False),
    "AU12": ((48, 54), 0.0, False),
    "AU17": ((56, 58), 1 / 2, False),
    "AU23": ((51, 57), 0.0, False),
}
#: AU -> the rule (ROI group) it lives in
_AU_GROUP = {
    1: "AU1", 2: "AU2", 4: "AU4", 6: "AU6", 7: "AU7", 9: "AU9", 10: "AU10",
    12: "AU12", 14: "AU12", 15: "AU12", 17: "AU17", 23: "AU23", 24: "AU23", 25: "AU23", 26: "AU23",
}
_UP_DOWN = {"AU23"}  # pairs that are upper/lower (not left/right): not swapped by a flip


def _mirror_68() -> np.ndarray:
    m = np.arange(68)
    pairs = [(k, 16 - k) for k in range(8)]  # jaw
    pairs += [(17 + k, 26 - k) for k in range(5)]  # brows
    pairs += [(31, 35), (32, 34)]  # nostrils
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lip
    pairs += [(60, 64), (61, 63), (65, 67)]  # inner lip
    for a, b in pairs:
        m[a], m[b] = b, a
    return m


#: ``MIRROR_68[i]`` is the landmark that point ``i`` becomes after a horizontal flip
MIRROR_68: np.ndarray = _mirror_68()


def _au_number(name: str | int) -> int:
    if isinstance(name, (int, np.integer)):
        return int(name)
    digits = "".join(ch for ch in str(name) if ch.isdigit())
    if not digits:
        raise ValueError(f"cannot read an AU number from {name!r}")
    return int(digits)


@dataclass(frozen=True)
class RoiDef:
    """One ROI: ``centre = mean(points) + (0, dy * s)`` (or ``landmark[points[0]] + ...``)."""

    name: str
    points: tuple[int, ...]  # landmarks averaged for the centre; () for the whole face
    dy: float  # vertical offset in units of s
    aus: tuple[str, ...]  # AU names (data order) this ROI belongs to


@dataclass
class RoiSet:
    """ROIs of one AU label set.

    Attributes:
        au_names: the AU label order (``AU01`` ...), ``C`` entries.
        rois: the ROI definitions, ``R`` entries; the whole face, when present, is last.
        symmetric_pairs: ``(r, r')`` index pairs linked in the ROI graph (left/right, up/down).
        mirror: ``(R,)`` ROI index each ROI maps to under a horizontal flip.
    """

    au_names: list[str]
    rois: list[RoiDef]
    symmetric_pairs: list[tuple[int, int]] = field(default_factory=list)
    mirror: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.rois)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rois]

    @property
    def face_index(self) -> int | None:
        for i, r in enumerate(self.rois):
            if not r.points:
                return i
        return None

    @property
    def local_indices(self) -> list[int]:
        return [i for i, r in enumerate(self.rois) if r.points]

    @property
    def membership(self) -> np.ndarray:
        """``(R, C)`` 0/1: ROI r belongs to AU c (the whole face belongs to every AU)."""
        m = np.zeros((len(self.rois), len(self.au_names)), dtype=np.float32)
        col = {a: j for j, a in enumerate(self.au_names)}
        for i, r in enumerate(self.rois):
            for a in r.aus:
                m[i, col[a]] = 1.0
        return m

    def without_face(self) -> RoiSet:
        """The same set without the whole-face ROI (AU-GCN "w/o F")."""
        keep = self.local_indices
        remap = {old: new for new, old in enumerate(keep)}
        return RoiSet(
            au_names=list(self.au_names),
            rois=[self.rois[i] for i in keep],
            symmetric_pairs=[(remap[a], remap[b]) for a, b in self.symmetric_pairs if a in remap and b in remap],
            mirror=np.array([remap[int(self.mirror[i])] for i in keep], dtype=np.int64),
        )


def roi_set(
    dataset_or_aus: str | Sequence[str] = "disfa",
    face: bool = True,
    strict: bool = True,
) -> RoiSet:
    """Build the ROI set for a benchmark (``"bp4d"`` 19 ROIs, ``"disfa"`` 14) or an AU list.

    ROIs are grouped by rule (AU12/14/15 share one pair, AU23/24/25/26 another); each rule gives
    two ROIs (left/right or upper/lower lip) except AU9 (one midline ROI, see the module
    docstring). Groups come in the order of their first AU in ``au_names``; the whole face last.

    Args:
        dataset_or_aus: ``"bp4d"``, ``"disfa"`` or a list of AU names/numbers (data order).
        face: add the whole-face ROI.
        strict: raise for AUs without a region rule (else they are covered only by the face ROI).
    """
    if isinstance(dataset_or_aus, str):
        key = dataset_or_aus.lower()
        if key not in DATASET_AUS:
            raise ValueError(f"unknown dataset {dataset_or_aus!r}; use one of {sorted(DATASET_AUS)} or an AU list")
        au_names = list(DATASET_AUS[key])
    else:
        au_names = [a if isinstance(a, str) else f"AU{int(a):02d}" for a in dataset_or_aus]
    groups: dict[str, list[str]] = {}
    for a in au_names:
        g = _AU_GROUP.get(_au_number(a))
        if g is None:
            if strict:
                raise ValueError(f"no region rule for {a}; pass strict=False to cover it by the face ROI only")
            continue
        groups.setdefault(g, []).append(a)
    rois: list[RoiDef] = []
    pairs: list[tuple[int, int]] = []
    mirror: list[int] = []
    for g, aus in groups.items():
        (p, q), dy, single = AU_RULES[g]
        label = "/".join(aus)
        if single:
            mirror.append(len(rois))
            rois.append(RoiDef(f"{label}", (p, q), dy, tuple(aus)))
            continue
        i = len(rois)
        tags = ("up", "down") if g in _UP_DOWN else ("L", "R")
        rois.append(RoiDef(f"{label} {tags[0]}", (p,), dy, tuple(aus)))
        rois.append(RoiDef(f"{label} {tags[1]}", (q,), dy, tuple(aus)))
        pairs.append((i, i + 1))
        mirror += [i, i + 1] if g in _UP_DOWN else [i + 1, i]
    if face:
        mirror.append(len(rois))
        rois.append(RoiDef("face", (), 0.0, tuple(au_names)))
    return RoiSet(au_names=au_names, rois=rois, symmetric_pairs=pairs, mirror=np.array(mirror, dtype=np.int64))


# --------------------------------------------------------------------------- template
def _template_unit() -> np.ndarray:
    """A mirror-symmetric 68-point mean shape in unit coordinates of an aligned face crop.

    Built for faces aligned by a 5-point similarity transform (eye centres ~(0.34, 0.46) and
    (0.66, 0.46), nose tip ~(0.50, 0.64), mouth corners ~(0.37, 0.82) and (0.63, 0.82)): the
    geometry every aligned face shares. Left half designed, right half mirrored.
    """
    t = np.zeros((68, 2))
    ang = np.pi * np.arange(9) / 16  # jaw, left half 0..8 (8 = chin)
    t[0:9, 0] = 0.5 - 0.40 * np.cos(ang)
    t[0:9, 1] = 0.42 + 0.55 * np.sin(ang)
    t[17:22] = [[0.18, 0.37], [0.24, 0.33], [0.31, 0.32], [0.38, 0.33], [0.44, 0.35]]  # left brow
    t[27:31] = [[0.5, 0.45], [0.5, 0.52], [0.5, 0.58], [0.5, 0.64]]  # nose bridge
    t[31:34] = [[0.43, 0.68], [0.46, 0.69], [0.5, 0.70]]  # nostrils (left half + centre)
    t[36:42] = [[0.272, 0.462], [0.318, 0.442], [0.366, 0.442], [0.412, 0.462], [0.366, 0.482], [0.318, 0.482]]
    t[[48, 49, 50, 51]] = [[0.37, 0.825], [0.41, 0.80], [0.46, 0.79], [0.5, 0.795]]  # upper outer lip
    t[[59, 58, 57]] = [[0.41, 0.855], [0.455, 0.87], [0.5, 0.875]]  # lower outer lip
    t[[60, 61, 62, 67, 66]] = [[0.39, 0.825], [0.45, 0.815], [0.5, 0.817], [0.45, 0.835], [0.5, 0.837]]
    designed = set(range(9)) | set(range(17, 22)) | set(range(27, 34)) | set(range(36, 42))
    designed |= {48, 49, 50, 51, 57, 58, 59, 60, 61, 62, 66, 67}
    for i in range(68):
        if i not in designed:
            j = int(MIRROR_68[i])
            t[i] = [1.0 - t[j, 0], t[j, 1]]
    return t


_TEMPLATE = _template_unit()


#: default crop margin of the template: that of :func:`afg.data.faces.align` (0.1)
TEMPLATE_MARGIN = 0.1


def canonical_landmarks(
    size: int | tuple[int, int] = 224, batch: int | None = None, margin: float = TEMPLATE_MARGIN
) -> torch.Tensor:
    """The canonical 68-point template for an aligned ``H x W`` face, pixel-index coords.

    The template's five points (eye centres, nose tip, mouth corners) sit on the 5-point
    alignment template of :mod:`afg.data.faces` (``TEMPLATE_112``) shrunk towards the centre by
    ``1 / (1 + 2 margin)``, as :func:`afg.data.faces.face_template` does, so it fits faces that
    ``afg.data.faces.align(..., margin=margin)`` produced. ``margin=0`` is the tight crop.

    Returns ``(68, 2)`` (or ``(batch, 68, 2)``) float32 ``(x, y)``; ``x = u * W - 0.5``.
    """
    h, w = (size, size) if isinstance(size, int) else size
    unit = (torch.as_tensor(_TEMPLATE, dtype=torch.float32) - 0.5) / (1.0 + 2.0 * margin) + 0.5
    t = unit * torch.tensor([w, h], dtype=torch.float32) - 0.5
    return t if batch is None else t.unsqueeze(0).expand(batch, 68, 2).clone()


@lru_cache(maxsize=16)
def _centred_template(h: int, w: int) -> tuple[np.ndarray, np.ndarray, float]:
    """For an ``h x w`` crop: the canonical template ``(68,)`` and its five points ``(5,)`` as
    complex numbers ``x + iy`` centred on the five points' mean, and ``Σ |z_k|²`` over the five
    (read-only, cached: :class:`FaceLandmarks68` fits one face per item)."""
    tpl = canonical_landmarks((h, w)).double().numpy()
    five = np.stack([tpl[36:42].mean(0), tpl[42:48].mean(0), tpl[30], tpl[48], tpl[54]])
    mu = five.mean(0)
    zt, zs = (tpl - mu) @ np.array([1.0, 1.0j]), (five - mu) @ np.array([1.0, 1.0j])
    zt.flags.writeable = zs.flags.writeable = False
    return zt, zs, float((zs.real**2 + zs.imag**2).sum())


def template_from_five_points(points5: Any, size: int | tuple[int, int] = 224) -> np.ndarray:
    """Fit the template to 5 landmarks (eyes, nose, mouth corners) by a similarity transform.

    For datasets whose preparation kept MTCNN's five points (``afg.data.faces.align``) but no
    68-point landmarks. ``points5`` ``(5, 2)`` pixel coords in the crop; returns ``(68, 2)``.

    The least-squares similarity without reflection (Umeyama 1991) in the plane, written with
    complex numbers: with the template's five points ``z_k`` and the targets ``w_k``, both
    centred, ``a = Σ conj(z_k) w_k / Σ |z_k|²`` (scale × rotation) minimises ``Σ |a z_k − w_k|²``;
    every template point ``z`` goes to ``a z + mean(w)``.
    """
    h, w = (size, size) if isinstance(size, int) else size
    zt, zs, norm = _centred_template(int(h), int(w))
    dst = np.asarray(points5, dtype=np.float64).reshape(5, 2)
    mu = dst.mean(0)
    zd = (dst[:, 0] - mu[0]) + 1j * (dst[:, 1] - mu[1])  # (5,)
    out = (np.conj(zs) @ zd / norm) * zt  # (68,) complex
    return np.stack([out.real + mu[0], out.imag + mu[1]], -1).astype(np.float32)


class FaceLandmarks68:
    """68 landmarks per face of a prepared dataset, in crop pixels, computed on demand.

    Row ``i`` is the release's own 68 points where it ships them (``shipped[i]`` finite: AffectNet),
    else the 68-point template placed through the face's five stored points (eye centres, nose
    tip, mouth corners: MTCNN's, written by ``afg prepare``) by the least-squares similarity of
    :func:`template_from_five_points`. The fit uses the face's own points, so it follows the crop
    margin it was prepared with and any later resize / crop / flip of the landmarks, where
    ``model.landmarks: template`` assumes the default margin. A row without five points is NaN
    (AU-GCN then falls back to the canonical template).

    Args:
        points5: ``(N, 5, 2)`` five points per face (NaN where unknown).
        size: the side of the prepared crops the points refer to.
        shipped: optional ``(N, 68, 2)`` release landmarks (NaN rows where absent).
    """

    def __init__(self, points5: np.ndarray, size: int, shipped: np.ndarray | None = None) -> None:
        self.points5 = np.asarray(points5, dtype=np.float64).reshape(-1, 5, 2)
        self.size = int(size)
        self.shipped = None if shipped is None else np.asarray(shipped, dtype=np.float32).reshape(-1, 68, 2)
        if self.shipped is not None and len(self.shipped) != len(self.points5):
            raise ValueError(f"{len(self.shipped)} shipped landmark rows for {len(self.points5)} faces")

    def __len__(self) -> int:
        return len(self.points5)

    def is_shipped(self) -> np.ndarray:
        """``(N,)`` bool: the row comes from the release's 68 points."""
        if self.shipped is None:
            return np.zeros(len(self), dtype=bool)
        return np.isfinite(self.shipped).all((1, 2))

    @property
    def source(self) -> str:
        """``"release"`` (every face has shipped points), ``"five-point fit"`` or ``"mixed"``."""
        n = int(self.is_shipped().sum())
        return "release" if n == len(self) else "five-point fit" if n == 0 else "mixed"

    def __getitem__(self, i: int) -> np.ndarray:
        i = int(i)
        if self.shipped is not None and np.isfinite(self.shipped[i]).all():
            return self.shipped[i]
        p = self.points5[i]
        if not np.isfinite(p).all():
            return np.full((68, 2), np.nan, dtype=np.float32)
        return template_from_five_points(p, self.size)  # (68, 2) float32


# --------------------------------------------------------------------------- centres
def inner_eye_distance(landmarks: torch.Tensor) -> torch.Tensor:
    """``s = |x_39 - x_42|``; ``(..., 68, 2) -> (...)``."""
    return (landmarks[..., 39, 0] - landmarks[..., 42, 0]).abs()


def roi_centres(landmarks: torch.Tensor, rois: RoiSet) -> torch.Tensor:
    """Centres of the local ROIs of ``rois`` (whole face excluded): ``(B, 68, 2) -> (B, R_loc, 2)``."""
    lm = torch.as_tensor(landmarks, dtype=torch.float32)
    squeeze = lm.dim() == 2
    if squeeze:
        lm = lm.unsqueeze(0)
    s = inner_eye_distance(lm)  # (B,)
    out = []
    for r in rois.rois:
        if not r.points:
            continue
        c = lm[:, list(r.points)].mean(1)  # (B, 2)
        c = c + torch.stack([torch.zeros_like(s), r.dy * s], -1)
        out.append(c)
    cen = torch.stack(out, 1) if out else lm.new_zeros(lm.shape[0], 0, 2)
    return cen[0] if squeeze else cen


def au_centres(landmarks: Any, aus: Sequence[str | int] | None = None) -> dict[str, torch.Tensor]:
    """AU centres per rule: ``{"AU1": (…, 2, 2) or (…, 1, 2), ...}`` for ``(…, 68, 2)`` landmarks."""
    lm = torch.as_tensor(landmarks, dtype=torch.float32)
    s = inner_eye_distance(lm)
    groups = AU_RULES if aus is None else {_AU_GROUP[_au_number(a)]: None for a in aus}
    out = {}
    for g in groups:
        (p, q), dy, single = AU_RULES[g]
        pts = lm[..., [p, q], :]
        if single:
            pts = pts.mean(-2, keepdim=True)
        off = torch.stack([torch.zeros_like(s), dy * s], -1).unsqueeze(-2)
        out[g] = pts + off
    return out


def default_roi_sizes(image_size: int, roi_frac: float = 0.125) -> tuple[float, int]:
    """``(box side L in px, output size n)``: the paper's 25 px boxes → 25 x 25 on 200 px faces."""
    side = roi_frac * image_size
    return side, max(4, round(side))


def roi_boxes(
    landmarks: torch.Tensor, rois: RoiSet, image_size: tuple[int, int], box_size: float
) -> torch.Tensor:
    """``(B, R, 4)`` boxes ``x1, y1, x2, y2`` in continuous coords (pixel i spans [i, i+1]).

    Local ROIs are ``box_size`` squares centred on their centres; the whole face is the image.
    """
    h, w = image_size
    cen = roi_centres(landmarks, rois) + 0.5  # pixel-index -> continuous
    if cen.dim() == 2:
        cen = cen.unsqueeze(0)
    half = box_size / 2
    local = torch.cat([cen - half, cen + half], -1)  # (B, R_loc, 4)
    boxes = []
    it = iter(range(local.shape[1]))
    for r in rois.rois:
        if r.points:
            boxes.append(local[:, next(it)])
        else:
            boxes.append(local.new_tensor([0.0, 0.0, float(w), float(h)]).expand(local.shape[0], 4))
    return torch.stack(boxes, 1)


def extract_rois(
    images: torch.Tensor, boxes: torch.Tensor, out_size: int, sampling_ratio: int | None = None
) -> torch.Tensor:
    """Crop and resize every box of every image: ``(B,3,H,W), (B,R,4) -> (B,R,3,n,n)``.

    Batched :func:`torchvision.ops.roi_align` (bilinear, each output bin the average of
    ``sampling_ratio²`` samples; areas outside the image read as 0). With ``sampling_ratio=None``
    it is ``ceil(side / n)`` per ROI column (1 for the paper's 1:1 local ROIs, W/n for the face),
    computed with a tolerance so that mirrored boxes sample identically; one call per distinct
    ratio (usually two: local ROIs and the whole face).
    """
    b, r = boxes.shape[:2]
    c = images.shape[1]
    boxes = boxes.to(images.dtype)
    if sampling_ratio is None:
        side = torch.maximum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]).amax(0)  # (R,)
        ratios = torch.ceil(side / out_size - 1e-3).clamp_min(1).long().tolist()
    else:
        ratios = [int(sampling_ratio)] * r
    out = images.new_zeros(b, r, c, out_size, out_size)
    for ratio in sorted(set(ratios)):
        cols = [j for j in range(r) if ratios[j] == ratio]
        sel = boxes[:, cols]  # (B, R', 4)
        idx = torch.arange(b, device=boxes.device, dtype=boxes.dtype).repeat_interleave(len(cols))[:, None]
        flat = torch.cat([idx, sel.reshape(-1, 4)], 1)  # (B*R', 5)
        crops = roi_align(images, flat, output_size=out_size, spatial_scale=1.0,
                          sampling_ratio=ratio, aligned=True)  # (B*R', 3, n, n)
        out[:, cols] = crops.reshape(b, len(cols), c, out_size, out_size)
    return out


# --------------------------------------------------------------------------- flips
def flip_landmarks(landmarks: Any, width: int, reindex: bool = True) -> torch.Tensor:
    """Landmarks of the horizontally flipped image: ``x' = W - 1 - x`` (pixel-index coords).

    With ``reindex`` the points are also renumbered (``MIRROR_68``) so the result is again a valid
    68-point layout and the ROI order keeps its meaning. Without it (x mirrored only) ROIs come out
    in mirrored order; ``features[:, roi_set.mirror]`` restores it.
    """
    lm = torch.as_tensor(landmarks, dtype=torch.float32).clone()
    lm[..., 0] = (width - 1) - lm[..., 0]
    if reindex:
        lm = lm[..., torch.as_tensor(MIRROR_68), :]
    return lm


def hflip(images: torch.Tensor, landmarks: torch.Tensor | None = None):
    """Flip ``(…, 3, H, W)`` images (and their ``(…, 68, 2)`` landmarks, reindexed)."""
    out = images.flip(-1)
    if landmarks is None:
        return out, None
    return out, flip_landmarks(landmarks, images.shape[-1])


def hflip_sample(sample: dict[str, Any]) -> dict[str, Any]:
    """A flipped copy of a dataset item (``image`` (3,H,W), optional ``landmarks`` (68,2))."""
    out = dict(sample)
    img, lm = hflip(sample["image"], sample.get("landmarks"))
    out["image"] = img
    if lm is not None:
        out["landmarks"] = lm
    return out
