"""Realism model of the synthetic faces: intensity-dependent amplitude, resting faces, head pose.

On real faces an AU detector has headroom because the evidence is *weak where it matters*: low
intensities are barely visible, resting faces look like actions, the head turns and nods, and
things cover the face. The default generator (``realism=None``) has the occluders
(:mod:`afg.data.synth.render`) but none of the rest. :class:`Realism` adds them as options of the
one generator; every field's default switches its property off, so ``Realism()`` renders exactly
what ``realism=None`` renders (and the run-cache key of older runs stays valid).

Intensity-dependent amplitude
-----------------------------
The rendering amplitude of an AU at FACS intensity ``I`` in [0, 5] with evidence strength ``e``:

.. math::  a(I) = e \\cdot g(I), \\qquad g(I) = (I / 5)^{\\gamma}

``gamma = 1`` is the linear default. FACS scores intensity A (trace) to E (maximum), and by its
own definitions the A and B levels are the ones whose appearance changes are *barely* or
*slightly* visible, C is "marked", D and E are severe and extreme: evidence grows faster than
linearly with the intensity code. ``gamma = 2`` (the ``real`` preset) makes a B (``I = 2``) action
16 % of the full motion (40 % when linear): an inner-brow raise of about 0.8 px instead of 2 px
at 112 px (5 px at full intensity); a C (``I = 3``) 36 %; E unchanged. The sub-threshold
"trace" intensities of inactive AUs (``I < 0.8``) shrink to at most 2.6 %.

Identity-specific resting faces
-------------------------------
Each subject has, independently of the dataset seed, a few *resting traits*: offsets of the
amplitude along an AU's motion and/or shading that belong to the face, not to the expression,
and are therefore never labelled. :data:`RESTING_TRAITS` lists them (a permanent frown, forehead
lines, crow's feet, deep nasolabial folds, droopy lids, down-turned mouth corners). A subject
has trait ``t`` with probability ``resting_rate``; its size is ``resting * u`` with
``u ~ U(0.25, 1)``. With the ``real`` preset (``resting = 0.3``) the largest trait looks like the
same AU at intensity 5 * 0.3^(1/2) = 2.7 (a B-C action under ``gamma = 2``): a resting frown is
as strong as a slight AU4. That is the identity confound of real data: held-out subjects' resting
faces are the false positives, their low-intensity actions the false negatives.

Head pose
---------
Yaw and pitch (out-of-plane rotation) are approximated in 2D by an orthographic projection of
the face drawn on a depth field ``z(x, y)`` (face units): a half-ellipsoid of depth
:data:`HEAD_DEPTH` over the face outline plus a nose ridge rising to :data:`NOSE_DEPTH` at the tip.

.. math::  x' = x \\cos\\psi + (z - z_0) \\sin\\psi, \\quad
           z' = (z - z_0) \\cos\\psi - x \\sin\\psi, \\quad
           y' = y \\cos\\theta + z' \\sin\\theta

(``psi`` yaw, positive: the face turns towards the viewer's right; ``theta`` pitch, positive:
head down, the nose tip moves down; the axis lies at depth ``z_0 = HEAD_DEPTH / 2``, which keeps
the face near the image centre, as a face crop would). Points of equal depth are foreshortened
by ``cos psi`` (mirrored landmark pairs exactly so), and the nose and midline shift by
``z sin psi`` relative to the outline: the near half widens, the far half narrows. Both angles
are drawn per image (``N(0, sd)``, clipped to ``max``) from their own random stream, so turning
pose on changes no other draw. The ``real`` preset's spread (yaw sd 10 degrees, pitch sd 6,
clipped at 30 / 20) is a design choice of the order of the spontaneous head motion of
lab-recorded, near-frontal data (DISFA, BP4D), not a fitted statistic; in-the-wild images
(EmotioNet) turn further. Only the face and what is drawn on it rotate (hair, ears and
occluders follow the depth field; the shoulders have depth 0 and only foreshorten); there is no
self-occlusion beyond the painter's order (the nose is drawn over the far cheek).

No parameter here was chosen by looking at any paper's ablation result: the values come from
the FACS intensity definitions and from head-pose ranges of the recording set-ups, and the
measured headroom they produce (``benchmarks/synth_headroom.py``, ``docs/synthetic.md``) is
reported, not tuned for.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache
from typing import Any

import numpy as np

from .labels import ALL_AUS

__all__ = [
    "HEAD_DEPTH",
    "NOSE_DEPTH",
    "REALISM_PRESETS",
    "RESTING_TRAITS",
    "Realism",
    "face_depth",
    "project_pose",
    "resting_offsets",
]

#: Depth (face units) of the face surface at its centre, relative to the outline plane.
HEAD_DEPTH: float = 0.55
#: Extra depth (face units) of the nose tip over the face surface.
NOSE_DEPTH: float = 0.30

#: Resting traits: ``name -> (AUs, channel)``; channel ``"geometry"`` moves the landmarks along
#: the AU's motion, ``"shading"`` draws its wrinkles/folds only, ``"both"`` does both.
RESTING_TRAITS: dict[str, tuple[tuple[int, ...], str]] = {
    "frown": ((4,), "both"),  # corrugator tone: lowered inner brows, glabellar lines
    "forehead_lines": ((1, 2), "shading"),  # permanent horizontal lines, brows not raised
    "crows_feet": ((6,), "shading"),  # lateral eye wrinkles and infraorbital fold
    "nasolabial": ((12,), "shading"),  # deep nasolabial folds, lip corners not pulled
    "droopy_lids": ((43,), "geometry"),  # upper lids lower over the eyes (hooded, ptosis)
    "mouth_down": ((15,), "both"),  # down-turned mouth corners at rest
}


@dataclass(frozen=True)
class Realism:
    """Realism options of :class:`~afg.data.synth.SynthFaces` (see the module docstring).

    Every default is "off": ``Realism()`` renders the same images as ``realism=None``.
    """

    gamma: float = 1.0  #: amplitude exponent, a = e * (I/5)**gamma; 1 = linear (today's faces)
    resting: float = 0.0  #: largest resting-trait amplitude; 0 = no resting faces
    resting_rate: float = 0.4  #: probability that a subject has each trait of RESTING_TRAITS
    yaw: float = 0.0  #: standard deviation of the head yaw in degrees; 0 = frontal
    pitch: float = 0.0  #: standard deviation of the head pitch in degrees; 0 = level
    max_yaw: float = 30.0  #: yaw is clipped to +-max_yaw degrees
    max_pitch: float = 20.0  #: pitch is clipped to +-max_pitch degrees

    def __post_init__(self) -> None:
        if not self.gamma > 0:
            raise ValueError(f"Realism.gamma must be > 0, got {self.gamma}")
        if not 0.0 <= self.resting <= 1.0:
            raise ValueError(f"Realism.resting must be in [0, 1], got {self.resting}")
        if not 0.0 <= self.resting_rate <= 1.0:
            raise ValueError(f"Realism.resting_rate must be in [0, 1], got {self.resting_rate}")
        for name in ("yaw", "pitch", "max_yaw", "max_pitch"):
            if getattr(self, name) < 0:
                raise ValueError(f"Realism.{name} must be >= 0")
        if self.max_yaw >= 90 or self.max_pitch >= 90:
            raise ValueError("Realism.max_yaw and max_pitch must be below 90 degrees")

    # ------------------------------------------------------------------ construction
    @classmethod
    def preset(cls, name: str) -> Realism:
        """A named preset of :data:`REALISM_PRESETS` (``"none"``, ``"real"``)."""
        if name not in REALISM_PRESETS:
            raise ValueError(f"unknown realism preset {name!r}; choose from {sorted(REALISM_PRESETS)}")
        return REALISM_PRESETS[name]

    @classmethod
    def coerce(cls, value: Realism | Mapping[str, Any] | str | None) -> Realism | None:
        """``None`` -> None; a preset name; a mapping of fields (``{"preset": "real", "gamma": 1.5}``
        starts from the preset); or a :class:`Realism`. An all-off result gives None."""
        if value is None:
            return None
        if isinstance(value, str):
            r = cls.preset(value)
        elif isinstance(value, Realism):
            r = value
        elif isinstance(value, Mapping):
            opts = dict(value)
            base = cls.preset(str(opts.pop("preset", "none")))
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(opts) - known)
            if unknown:
                raise ValueError(f"unknown realism fields {unknown}; known: {sorted(known)} and 'preset'")
            r = replace(base, **{k: float(v) for k, v in opts.items()})
        else:
            raise TypeError(f"realism must be None, a preset name, a mapping or Realism, not {type(value).__name__}")
        return None if r.is_off else r

    # ------------------------------------------------------------------ properties
    @property
    def is_off(self) -> bool:
        """True when no property is on (renders exactly as ``realism=None``)."""
        return self.gamma == 1.0 and self.resting == 0.0 and self.yaw == 0.0 and self.pitch == 0.0

    @property
    def has_pose(self) -> bool:
        return self.yaw > 0.0 or self.pitch > 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def resting_offsets(self, subject_id: int) -> tuple[np.ndarray, np.ndarray]:
        """This realism's :func:`resting_offsets` of ``subject_id``."""
        return resting_offsets(subject_id, self.resting, self.resting_rate)

    # ------------------------------------------------------------------ the model
    def gain(self, intensity: np.ndarray | float) -> np.ndarray:
        """``g(I) = (I / 5) ** gamma`` (intensity clipped to [0, 5])."""
        x = np.clip(np.asarray(intensity, np.float64), 0.0, 5.0) / 5.0
        return x if self.gamma == 1.0 else x**self.gamma

    def pose(self, seed: int, index: int) -> tuple[float, float]:
        """``(yaw, pitch)`` in degrees of sample ``index`` of a dataset with ``seed``.

        Drawn from the stream ``[seed, 3, index]``, which no other draw of the dataset uses.
        """
        z = np.random.default_rng([int(seed), 3, int(index)]).standard_normal(2)
        return (float(np.clip(z[0] * self.yaw, -self.max_yaw, self.max_yaw)),
                float(np.clip(z[1] * self.pitch, -self.max_pitch, self.max_pitch)))


#: Named presets: ``none`` (all off, today's faces) and ``real`` (every property on).
REALISM_PRESETS: dict[str, Realism] = {
    "none": Realism(),
    "real": Realism(gamma=2.0, resting=0.3, resting_rate=0.4, yaw=10.0, pitch=6.0),
}


@lru_cache(maxsize=8192)
def _trait_draws(subject_id: int) -> tuple[np.ndarray, np.ndarray]:
    """``(has (T,), u (T,))`` uniforms of a subject's resting traits: stream ``[0xFACE, 1, id]``."""
    r = np.random.default_rng([0xFACE, 1, int(subject_id)])
    return r.random(len(RESTING_TRAITS)), r.uniform(0.25, 1.0, len(RESTING_TRAITS))


def resting_offsets(subject_id: int, resting: float, resting_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """``(geometry, shading)`` resting amplitudes ``(18,)`` over :data:`ALL_AUS` of a subject.

    Trait ``t`` of :data:`RESTING_TRAITS` is present when the subject's uniform ``h_t < resting_rate``
    and has size ``resting * u_t``; ``h`` and ``u`` depend on the subject id only (not on any
    dataset seed), so a subject keeps its resting face in every dataset, and a larger ``resting``
    or ``resting_rate`` only grows the same traits.
    """
    geo = np.zeros(len(ALL_AUS))
    shade = np.zeros(len(ALL_AUS))
    if resting <= 0.0 or resting_rate <= 0.0:
        return geo, shade
    has, u = _trait_draws(int(subject_id))
    for k, (aus, channel) in enumerate(RESTING_TRAITS.values()):
        if has[k] >= resting_rate:
            continue
        size = resting * u[k]
        for a in aus:
            j = ALL_AUS.index(a)
            if channel in ("geometry", "both"):
                geo[j] = max(geo[j], size)
            if channel in ("shading", "both"):
                shade[j] = max(shade[j], size)
    return geo, shade


def face_depth(points: np.ndarray, eye_y: float, nose_y: float, jaw_w: float) -> np.ndarray:
    """Depth ``z (n,)`` in face units of ``points (n, 2)`` on a subject's face (module docstring).

    ``z = HEAD_DEPTH * sqrt(1 - (x / (jaw_w + 0.1))^2 - ((y + 0.15) / 1.25)^2)`` (0 outside the
    outline) plus the nose: a ridge along the midline (Gaussian across, width 0.08 at the bridge
    to 0.18 at the wings) rising linearly from the bridge (``eye_y - 0.02``) to ``NOSE_DEPTH`` at
    the tip (``nose_y``) and falling off below it (Gaussian, 0.06). Symmetric in ``x``.
    """
    p = np.asarray(points, np.float64)
    x, y = p[..., 0], p[..., 1]
    r2 = (x / (jaw_w + 0.1)) ** 2 + ((y + 0.15) / 1.25) ** 2
    z = HEAD_DEPTH * np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
    top = eye_y - 0.02
    t = np.clip((y - top) / (nose_y - top), 0.0, 1.0)
    along = np.where(y <= nose_y, t, np.exp(-(((y - nose_y) / 0.06) ** 2)))
    across = np.exp(-((x / (0.08 + 0.1 * t)) ** 2))
    return z + NOSE_DEPTH * along * across


def project_pose(points: np.ndarray, depth: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """Orthographic view ``(n, 2)`` of ``points`` at ``depth`` after yaw then pitch (degrees).

    ``x' = x cos(yaw) + (z - z0) sin(yaw)``, ``z' = (z - z0) cos(yaw) - x sin(yaw)``,
    ``y' = y cos(pitch) + z' sin(pitch)``, ``z0 = HEAD_DEPTH / 2``.
    """
    p = np.asarray(points, np.float64)
    ps, th = np.deg2rad(yaw), np.deg2rad(pitch)
    x, y, z = p[..., 0], p[..., 1], np.asarray(depth, np.float64) - 0.5 * HEAD_DEPTH
    x2 = x * np.cos(ps) + z * np.sin(ps)
    z2 = z * np.cos(ps) - x * np.sin(ps)
    y2 = y * np.cos(th) + z2 * np.sin(th)
    return np.stack([x2, y2], -1)
