"""Saliency maps scored against where the synthetic generator draws each AU.

On synthetic faces the truth is known: the generator moves and shades each AU inside a box of
face units (:data:`afg.data.synth.face.AU_REGIONS`, canonical pose). :func:`au_region_masks`
carries that box into each image through the least-squares affine map from the subject's neutral
landmarks (face units) to the image's 68 landmarks (pixels: pose, scale, roll and shift; yaw and
pitch to first order), so a map can be scored per image and AU:

* **pointing game** (Zhang et al., ECCV 2016): a hit when the map's maximum lies inside the
  region. Ties (a flat map) count the share of the tied maxima inside, so an uninformative map
  scores the region's area share, which is the game's **chance level**.
* **energy share**: ``Σ_{p∈R} m_p / Σ_p m_p`` (maps are non-negative), against the region's
  **area share** ``|R| / HW`` (the share of a uniform map).

An emotion's region is the union of the regions of its EMFACS prototype AUs
(:data:`afg.data.synth.labels.PROTOTYPES`), which is where the generator draws it.
:func:`localisation_table` averages both scores per AU over the images where the AU is active.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.path import Path as MplPath

from ..data.synth.face import AU_REGIONS
from ..data.synth.labels import EMOTION_NAMES, PROTOTYPES
from ..data.synth.render import subject_geometry

__all__ = ["au_region_masks", "class_aus", "energy_share", "localisation_table", "pointing_game"]


def _au_number(name: str | int) -> int:
    """``"AU01"`` / ``"AU1"`` / ``1`` → ``1``."""
    return int(str(name).upper().removeprefix("AU"))


def class_aus(name: str | int) -> tuple[int, ...]:
    """The generator's AUs of a label: ``("AU12",) → (12,)``; an emotion name (``"Happy"``) → its
    EMFACS prototype AUs rendered by the generator (``(6, 12)``); ``Neutral`` → ``()``."""
    s = str(name)
    if s.upper().startswith("AU") or s.isdigit() or isinstance(name, int):
        return (_au_number(name),)
    names = [n.lower() for n in EMOTION_NAMES]
    if s.lower() in names:
        return tuple(a for a in PROTOTYPES[names.index(s.lower())] if a in AU_REGIONS)
    if s.lower() == "neutral":
        return ()
    raise KeyError(f"{name!r} is neither an AU nor one of the generator's emotions {EMOTION_NAMES}")


def _affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``(3, 2)`` least-squares affine map ``[x, y, 1] @ A`` taking ``src`` (K, 2) to ``dst``."""
    x = np.c_[src, np.ones(len(src))]
    return np.linalg.lstsq(x, dst, rcond=None)[0]


def au_region_masks(landmarks: np.ndarray, subjects: Sequence[int | str], labels: Sequence[str | int],
                    size: int | tuple[int, int], landmark_size: int | None = None) -> np.ndarray:
    """``(B, L, H, W)`` bool: the generator's region of each label in each image.

    Args:
        landmarks: ``(B, 68, 2)`` the images' landmarks in pixels (as ``SynthFaces`` items give them,
            pixel ``i`` spanning ``[i, i+1)``).
        subjects: the images' subject ids (``7`` or ``"S007"``), whose neutral face the landmarks
            are fitted to.
        labels: AU names (``"AU01"``) or emotion names (the union of their prototype AUs' regions).
        size: the map size ``H`` (or ``(H, W)``).
        landmark_size: the image side the landmarks refer to (default ``W``); landmarks are scaled
            by ``W / landmark_size`` when the maps are smaller or larger.
    """
    h, w = (size, size) if isinstance(size, int) else size
    lms = np.asarray(landmarks, np.float64)
    scale = np.array([w / (landmark_size or w), h / (landmark_size or h)])
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    centres = np.c_[xx.ravel(), yy.ravel()]
    aus = [class_aus(lab) for lab in labels]
    out = np.zeros((len(lms), len(labels), h, w), dtype=bool)
    for b, (lm, subj) in enumerate(zip(lms, subjects)):
        sid = int(str(subj).upper().removeprefix("S"))
        neutral = subject_geometry(sid)[1]  # (68, 2) face units
        A = _affine(neutral, lm * scale)
        for k, group in enumerate(aus):
            for au in group:
                x0, y0, x1, y1 = AU_REGIONS[au]
                corners = np.c_[[x0, x1, x1, x0], [y0, y0, y1, y1], np.ones(4)] @ A
                inside = MplPath(corners).contains_points(centres).reshape(h, w)
                out[b, k] |= inside
    return out


def pointing_game(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per map: 1 when its maximum lies inside the mask (the share of tied maxima inside when
    several pixels share the maximum); ``maps``/``masks`` ``(..., H, W)``."""
    m = np.asarray(maps, np.float64)
    r = np.asarray(masks, bool)
    flat = m.reshape(*m.shape[:-2], -1)
    top = flat >= flat.max(axis=-1, keepdims=True) - 1e-12 * np.maximum(1.0, np.abs(flat).max(axis=-1, keepdims=True))
    inside = top & r.reshape(*r.shape[:-2], -1)
    return inside.sum(-1) / top.sum(-1)


def energy_share(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per map: ``Σ_{p∈R} m_p / Σ_p m_p`` (negative values clipped to 0; NaN for an all-zero map)."""
    m = np.clip(np.asarray(maps, np.float64), 0.0, None)
    r = np.asarray(masks, bool)
    total = m.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (m * r).sum(axis=(-2, -1)) / total, np.nan)


def localisation_table(maps: np.ndarray, masks: np.ndarray, labels: Sequence[str],
                       active: np.ndarray | None = None) -> pd.DataFrame:
    """Per label: the pointing-game hit rate and the energy share inside the generator's region,
    each next to its chance level (the region's mean area share), over the images where the label
    is active (all images when ``active`` is None or the label is never active).

    Args:
        maps: ``(B, L, H, W)`` saliency maps (one per image and label).
        masks: ``(B, L, H, W)`` regions (:func:`au_region_masks`).
        labels: the ``L`` label names.
        active: ``(B, L)`` 0/1 ground truth.

    Returns:
        rows = labels plus ``"mean"``, columns ``pointing``, ``energy``, ``chance`` (area share),
        ``n`` (images scored) and ``on active`` (whether only active images were scored).
    """
    maps, masks = np.asarray(maps), np.asarray(masks, bool)
    hits, energy = pointing_game(maps, masks), energy_share(maps, masks)  # (B, L)
    area = masks.mean(axis=(-2, -1))
    rows = {}
    warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)  # all-zero maps: NaN energy
    for k, name in enumerate(labels):
        sel = np.ones(len(maps), bool)
        if active is not None and np.nansum(np.asarray(active)[:, k]) > 0:
            sel = np.nan_to_num(np.asarray(active, np.float64)[:, k]) > 0.5
        rows[name] = {"pointing": float(np.nanmean(hits[sel, k])), "energy": float(np.nanmean(energy[sel, k])),
                      "chance": float(area[sel, k].mean()), "n": int(sel.sum()),
                      "on active": bool(active is not None and sel.sum() < len(sel))}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.loc["mean"] = [out["pointing"].mean(), out["energy"].mean(), out["chance"].mean(),
                       int(out["n"].sum()), bool(out["on active"].any())]
    out.index.name = "label"
    return out
