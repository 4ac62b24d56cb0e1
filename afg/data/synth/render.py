"""Rasteriser of the synthetic faces (PIL ImageDraw with 2x supersampling, numpy nuisances).

:func:`render_face` draws one subject with given AU amplitudes: geometry moves the 68 landmarks
(:mod:`afg.data.synth.face`), shading adds the FACS appearance cues (forehead lines for AU1/AU2,
glabellar lines for AU4, crow's feet, cheek bulge and infraorbital fold for AU6, lid tension for
AU7, nasal wrinkles for AU9, nasolabial folds for AU10/AU12, dimples for AU14, chin wrinkles for
AU17, lip bulges for AU24, teeth when the lips part). Pose (roll, scale, shift) is applied to the
geometry before drawing; illumination gradient, background texture, blur and sensor noise are
applied to the pixels afterwards. Occluders are drawn from the *neutral* geometry, so what they
cover cannot leak the AUs underneath.

Options of :mod:`afg.data.synth.realism` (off by default, and then the code paths below are the
exact ones of generator version 1): head yaw and pitch (``Nuisance.yaw``/``pitch``) project every
drawn vertex through :func:`~afg.data.synth.realism.project_pose` on the subject's depth field
before the in-plane pose; resting offsets (``render_face(rest=(geometry, shading))``) add a
subject's unlabelled resting amplitudes to the AU motion and/or shading.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from .face import (
    AU_INDEX,
    AU_REGIONS,
    SubjectParams,
    au_displacements,
    make_subject,
    neutral_landmarks,
)
from .realism import face_depth, project_pose

__all__ = ["OCCLUDED_AUS", "OCCLUDERS", "Nuisance", "region_mask", "render_face", "sample_nuisance", "subject_geometry"]

#: Occluder types and the AUs whose evidence each one hides.
OCCLUDED_AUS: dict[str, frozenset[int]] = {
    "hand": frozenset({10, 12, 14, 15, 17, 20, 23, 24, 25, 26}),
    "sunglasses": frozenset({5, 6, 7, 43}),
    "mask": frozenset({9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26}),
    "fringe": frozenset({1, 2, 4}),
}
OCCLUDERS: tuple[str, ...] = tuple(OCCLUDED_AUS)

_FACE_SCALE = 0.36  # face units -> fraction of the image size
_ORIGIN = np.array([0.0, -0.05])  # face point drawn at the image centre
_CIRCLE = np.stack([np.cos(np.linspace(0, 2 * np.pi, 20, endpoint=False)),
                    np.sin(np.linspace(0, 2 * np.pi, 20, endpoint=False))], 1)


@dataclass
class Nuisance:
    """Per-image nuisances. ``None`` fields (the default) mean 'off'."""

    roll: float = 0.0  # degrees, in-plane
    yaw: float = 0.0  # degrees, out-of-plane (realism option; positive turns to the viewer's right)
    pitch: float = 0.0  # degrees, out-of-plane (realism option; positive tilts the head down)
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)  # fraction of the image size
    background: int | None = None  # index into a fixed bank of smooth colour fields (+ flips)
    light_dir: float = 0.0
    light: float = 0.0  # gradient strength
    brightness: float = 1.0
    blur: float = 0.0  # weight of the [w, 1-2w, w] separable blur (<= 0.25)
    noise: float = 0.0  # sensor noise std in grey levels
    noise_seed: int = 0


def sample_nuisance(rng: np.random.Generator) -> Nuisance:
    """Random nuisances: roll ~ N(0, 4 deg), scale 0.93-1.07, shift +-4%, textured background,
    lighting gradient up to 35%, brightness 0.85-1.15, blur (half the images), noise up to 6
    grey levels."""
    return Nuisance(
        roll=float(np.clip(rng.normal(0, 4.0), -10, 10)),
        scale=float(rng.uniform(0.93, 1.07)),
        shift=(float(rng.uniform(-0.04, 0.04)), float(rng.uniform(-0.04, 0.04))),
        background=int(rng.integers(1 << 16)),
        light_dir=float(rng.uniform(0, 2 * np.pi)),
        light=float(rng.uniform(0, 0.35)),
        brightness=float(rng.uniform(0.85, 1.15)),
        blur=float(rng.uniform(0.05, 0.25)) if rng.random() < 0.5 else 0.0,
        noise=float(rng.uniform(0, 6)),
        noise_seed=int(rng.integers(2**31)),
    )


@lru_cache(maxsize=4096)
def subject_geometry(subject_id: int) -> tuple[SubjectParams, np.ndarray, np.ndarray]:
    """Cached ``(params, neutral (68,2), displacements (18,68,2))`` of a subject."""
    s = make_subject(subject_id)
    L = neutral_landmarks(s)
    return s, L, au_displacements(s, L)


def _col(c, f=1.0, a=None):
    r, g, b = c
    c = (int(min(255.0, r * f)), int(min(255.0, g * f)), int(min(255.0, b * f)))
    return c if a is None else c + (int(max(0.0, min(255.0, a))),)


@lru_cache(maxsize=16)
def _background_bank(side: int, n: int = 64) -> list[Image.Image]:
    """Fixed bank of ``n`` smooth colour fields ``side x side`` (built once per side)."""
    r = np.random.default_rng(12345)
    out = []
    for _ in range(n):
        base = r.uniform(50, 210) * (1 + r.uniform(-0.25, 0.25, 3))
        field = np.clip(base + r.normal(0, 22, (4, 4, 3)), 0, 255).astype(np.uint8)
        out.append(Image.fromarray(field, "RGB").resize((side, side), Image.BILINEAR))
    return out


@lru_cache(maxsize=16)
def _noise_bank(side: int, n: int = 8) -> np.ndarray:
    """``(n, side, side, 3)`` float32 standard-normal fields for sensor noise."""
    return np.random.default_rng(54321).standard_normal((n, side, side, 3), dtype=np.float32)


def _pose_transform(size: int, nz: Nuisance | None, ss: int, subject: SubjectParams | None = None):
    """``(to_px, unit)``: face units -> supersampled pixels, and pixels per face unit. With a
    yaw/pitch in ``nz`` and the ``subject`` given, points are first projected on its depth field."""
    s = _FACE_SCALE * size * ss * (nz.scale if nz else 1.0)
    ang = np.deg2rad(nz.roll) if nz else 0.0
    R = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    c = np.array([size / 2.0, size / 2.0]) * ss
    if nz:
        c = c + np.array(nz.shift) * size * ss
    A = (R * s).T

    if nz is not None and subject is not None and (nz.yaw != 0.0 or nz.pitch != 0.0):
        yaw, pitch, sp = nz.yaw, nz.pitch, subject

        def to_px(p):
            p = np.asarray(p, np.float64)
            z = face_depth(p, sp.eye_y, sp.nose_y, sp.jaw_w)
            return (project_pose(p, z, yaw, pitch) - _ORIGIN) @ A + c

        return to_px, s

    def to_px(p):
        return (np.asarray(p, np.float64) - _ORIGIN) @ A + c

    return to_px, s


def region_mask(au: int, size: int = 112) -> np.ndarray:
    """``(size, size)`` bool mask of AU ``au``'s facial region in the canonical pose (no nuisances)."""
    x0, y0, x1, y1 = AU_REGIONS[au]
    to_px, _ = _pose_transform(size, None, 1)
    (px0, py0), (px1, py1) = to_px([[x0, y0], [x1, y1]])
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    return (xx >= px0) & (xx <= px1) & (yy >= py0) & (yy <= py1)


def _deform(L: np.ndarray, D: np.ndarray, amps: np.ndarray) -> np.ndarray:
    P = L + np.tensordot(amps, D, axes=1)
    # keep lids and lips ordered: upper lid above lower lid, inner upper lip above inner lower lip
    for u_, l_ in ((37, 41), (38, 40), (43, 47), (44, 46), (61, 67), (62, 66), (63, 65)):
        P[u_, 1] = min(P[u_, 1], P[l_, 1])
    for u_, l_ in ((50, 61), (51, 62), (52, 63)):
        P[u_, 1] = min(P[u_, 1], P[l_, 1] - 0.01)
    for l_, i_ in ((58, 67), (57, 66), (56, 65)):
        P[l_, 1] = max(P[l_, 1], P[i_, 1] + 0.01)
    return P


class _Canvas:
    """Collects shapes in face units; :meth:`flush` transforms all vertices at once and draws."""

    __slots__ = ("cmds", "pts")

    def __init__(self) -> None:
        self.cmds: list = []
        self.pts: list = []

    def poly(self, pts, fill) -> None:
        pts = np.asarray(pts, np.float64)
        self.cmds.append((0, len(pts), fill, 0))
        self.pts.append(pts)

    def line(self, pts, fill, width: float) -> None:
        pts = np.asarray(pts, np.float64)
        self.cmds.append((1, len(pts), fill, width))
        self.pts.append(pts)

    def ellipse(self, center, rx: float, ry: float, fill) -> None:
        self.poly(np.asarray(center, np.float64) + _CIRCLE * (rx, ry), fill)

    def wrinkle(self, pts, strength: float, color, width: float = 0.018) -> None:
        if strength > 0.02:
            self.line(pts, color + (int(min(230.0, 230.0 * strength)),), width)

    def flush(self, draws: tuple[ImageDraw.ImageDraw, ImageDraw.ImageDraw], to_px, unit: float) -> None:
        """``draws``: (opaque RGB draw, alpha-blending RGBA draw) on the same image."""
        if not self.cmds:
            return
        px = to_px(np.concatenate(self.pts)).tolist()
        o = 0
        for kind, n, fill, width in self.cmds:
            xy = px[o:o + n]
            o += n
            draw = draws[1] if len(fill) == 4 and fill[3] < 255 else draws[0]
            if len(fill) == 4 and fill[3] == 255:
                fill = fill[:3]
            if kind == 0:
                draw.polygon(xy, fill=fill)
            else:
                draw.line(xy, fill=fill, width=max(1, int(width * unit + 0.5)))
        self.cmds.clear()
        self.pts.clear()


@lru_cache(maxsize=4096)
def _subject_colors(subject_id: int) -> dict[str, tuple]:
    s = make_subject(subject_id)
    sk = s.skin
    return {
        "hair_back": _col(s.hair, 0.85), "neck": _col(sk, 0.82), "clothes": _col(s.clothes), "ear": _col(sk, 0.9),
        "skin": _col(sk), "cheek": _col(sk, 1.12), "iris": _col(s.iris), "lash": (30, 20, 20, 255),
        "lowlid": _col(sk, 0.6), "crease": _col(sk, 0.75), "wrinkle": _col(sk, 0.5), "glabella": _col(sk, 0.7),
        "brow": _col(s.hair, 0.75), "bridge": _col(sk, 0.7, 45), "nose": _col(sk, 0.6, 140),
        "wing": _col(sk, 0.88, 200), "tip": _col(sk, 1.1, 90), "chin": _col(sk, 0.55), "lips": _col(s.lips),
        "lipline": _col(s.lips, 0.45, 200), "margin": _col(s.lips, 0.55), "hair": _col(s.hair),
        "hand": _col(sk, 0.95), "knuckle": _col(sk, 0.7, 200), "strand": _col(s.hair, 0.7, 200),
    }


_PHI = np.linspace(0, np.pi, 12)
_CHIN_DOTS = np.array([(-0.06, 0.0), (0.05, 0.02), (0.0, 0.06), (-0.04, 0.1), (0.06, 0.09), (0.0, 0.14)]) + (0, -0.2)


def render_face(
    subject: int | SubjectParams,
    amplitudes: np.ndarray,
    size: int = 112,
    nuisance: Nuisance | None = None,
    occluder: str | None = None,
    supersample: int = 2,
    rest: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one face.

    Args:
        subject: subject id (or its params).
        amplitudes: ``(18,)`` AU amplitudes in [0, 1] over :data:`ALL_AUS` (intensity / 5 times the
            evidence strength).
        size: output side in pixels.
        nuisance: pose/lighting/noise, or None for the canonical clean rendering.
        occluder: one of :data:`OCCLUDERS` or None.
        supersample: drawing resolution factor (box-filtered down: anti-aliasing).
        rest: ``(geometry, shading)`` resting amplitudes ``(18,)`` of the subject
            (:func:`afg.data.synth.realism.resting_offsets`), added to ``amplitudes`` for the
            landmark motion and for the wrinkles/folds respectively (sums clipped to 1); None: none.

    Returns:
        ``image`` (size, size, 3) uint8 and ``landmarks`` (68, 2) float32 pixel coordinates.
    """
    sid = subject.subject_id if isinstance(subject, SubjectParams) else int(subject)
    ss = supersample
    to_px, unit = _pose_transform(size, nuisance, ss, subject_geometry(sid)[0])
    face = _face_state(sid, amplitudes, rest, unit)
    img = _backdrop(size * ss, nuisance)
    cv = _Canvas()
    for part in _PARTS:  # back to front
        part(cv, face)
    if occluder:  # from the neutral geometry, so it cannot move with the AUs
        _draw_occluder(occluder, face.s, face.L0, face.C, cv)
    cv.flush((ImageDraw.Draw(img), ImageDraw.Draw(img, "RGBA")), to_px, unit)

    out = img.reduce(ss) if ss > 1 else img
    landmarks = (to_px(face.P) / ss).astype(np.float32)
    if nuisance is not None:
        return _apply_pixel_nuisance(out, nuisance), landmarks
    return np.asarray(out).copy(), landmarks


@dataclass(frozen=True)
class _Face:
    """What the drawing parts read: the subject, its neutral ``L0`` (68,2) and deformed ``P`` (68,2)
    landmarks, colours ``C``, shading strengths ``A`` (AU -> amplitude x wrinkle depth), the raw
    shading/geometry amplitudes ``a_sh``/``a_geo`` (18,) and the pixels per face unit."""

    s: SubjectParams
    L0: np.ndarray
    P: np.ndarray
    C: dict[str, tuple]
    A: dict[int, float]
    a_sh: np.ndarray
    a_geo: np.ndarray
    unit: float

    @property
    def wr(self) -> tuple:
        return self.C["wrinkle"]


def _face_state(sid: int, amplitudes: np.ndarray, rest: tuple[np.ndarray, np.ndarray] | None, unit: float) -> _Face:
    """Geometry and shading of one face: amplitudes clipped to [0, 1], resting offsets added
    (geometry and shading separately), landmarks deformed by ``amplitudes x expressiveness``."""
    s, L0, D = subject_geometry(sid)
    a = np.clip(np.asarray(amplitudes, np.float64), 0.0, 1.0)
    a_geo = a_sh = a
    if rest is not None:
        a_geo = np.clip(a + np.asarray(rest[0], np.float64), 0.0, 1.0)
        a_sh = np.clip(a + np.asarray(rest[1], np.float64), 0.0, 1.0)
    A = {au: float(a_sh[k]) * s.wrinkle_depth for au, k in AU_INDEX.items()}  # shading strengths
    P = _deform(L0, D, a_geo * s.expressiveness)
    return _Face(s, L0, P, _subject_colors(sid), A, a_sh, a_geo, unit)


def _backdrop(side: int, nuisance: Nuisance | None) -> Image.Image:
    """The ``side x side`` RGB image drawn on: a bank background, or flat grey."""
    if nuisance is not None and nuisance.background is not None:
        bank = _background_bank(side)
        return bank[nuisance.background % len(bank)].copy()
    return Image.new("RGB", (side, side), (150, 160, 170))


def _draw_head(cv: _Canvas, f: _Face) -> None:
    """Hair behind, neck, shoulders, ears, face; cheeks (AU6 lifts and brightens them), soft blush."""
    s, C, jw = f.s, f.C, f.s.jaw_w
    amp6 = float(f.a_sh[AU_INDEX[6]])
    if s.hair_style == 1:
        cv.poly([[-jw - 0.2, -0.4], [-jw - 0.05, -1.2], [jw + 0.05, -1.2], [jw + 0.2, -0.4], [jw + 0.25, 1.35],
                 [-jw - 0.25, 1.35]], C["hair_back"])
    cv.poly([[-0.42, 0.55], [0.42, 0.55], [0.48, 1.7], [-0.48, 1.7]], C["neck"])
    cv.poly([[-1.8, 2.2], [-1.65, 1.5], [-0.55, 1.28], [0.0, 1.45], [0.55, 1.28], [1.65, 1.5], [1.8, 2.2]],
            C["clothes"])
    cv.ellipse([-(jw - 0.01), -0.04], 0.09, 0.17, C["ear"])
    cv.ellipse([jw - 0.01, -0.04], 0.09, 0.17, C["ear"])
    forehead = np.stack([jw * np.cos(_PHI[1:-1]), -0.15 - 1.1 * np.sin(_PHI[1:-1]) ** 0.8], 1)
    cv.poly(np.concatenate([f.P[0:17], forehead]), C["skin"])
    cy = s.eye_y + 0.13 - 0.04 * amp6
    for sx in (-1.0, 1.0):
        cv.ellipse([sx * s.eye_x, cy], 0.17, 0.055, C["cheek"] + (int(25 + 70 * amp6),))
        cv.ellipse([sx * (s.eye_x + 0.05), s.eye_y + 0.3], 0.15, 0.09, (200, 90, 90, 18))


def _draw_eyes(cv: _Canvas, f: _Face) -> None:
    """Sclera, iris, pupil, then skin lids over the overflow, lash line; AU7 lid tension, AU43 lid
    crease, AU6 crow's feet and infraorbital fold."""
    s, P, C, A, wr = f.s, f.P, f.C, f.A, f.wr
    amp7, amp43 = float(f.a_sh[AU_INDEX[7]]), float(f.a_geo[AU_INDEX[43]])
    for idx, sx in (((36, 37, 38, 39, 40, 41), -1.0), ((42, 43, 44, 45, 46, 47), 1.0)):
        E = P[list(idx)]
        cv.poly(E, (238, 236, 230, 255))
        ctr = (f.L0[idx[0]] + f.L0[idx[3]]) / 2
        cv.ellipse(ctr, 0.052, 0.052, C["iris"])
        cv.ellipse(ctr, 0.022, 0.022, (15, 12, 12, 255))
        cv.ellipse(ctr + (0.015, -0.015), 0.008, 0.008, (255, 255, 255, 200))
        up, lo = E[[0, 1, 2, 3]], E[[3, 4, 5, 0]]
        cv.poly(np.concatenate([up, up[::-1] + (0, -0.13)]), C["skin"])
        cv.poly(np.concatenate([lo, lo[::-1] + (0, 0.11)]), C["skin"])
        cv.line(up, C["lash"], 0.022)
        cv.line(lo, C["lowlid"] + (int(120 + 110 * amp7),), 0.01 + 0.012 * amp7)
        if amp43 < 0.98:
            cv.line(up[1:3] + (0, -0.035), C["crease"] + (int(90 * (1 - amp43)),), 0.01)
        out = sx * (s.eye_x + s.eye_hw + 0.035)
        if A[6] > 0.02:
            for ca, sa in ((0.9, -0.43), (1.0, 0.0), (0.9, 0.43)):
                cv.wrinkle([[out, s.eye_y], [out + sx * 0.12 * ca, s.eye_y + 0.12 * sa]], A[6], wr)
            cv.wrinkle(lo[[1, 2]] + (0, 0.055), A[6], wr, 0.016)
        cv.wrinkle(lo + (0, 0.028), 0.6 * A[7], wr, 0.012)


def _draw_forehead_lines(cv: _Canvas, f: _Face) -> None:
    """Forehead lines (AU1 centre, AU2 sides) and glabellar lines (AU4)."""
    s, A, wr = f.s, f.A, f.wr
    by = s.brow_y - s.brow_arch
    if A[1] > 0.02 or A[2] > 0.02:
        xs = np.linspace(-0.32, 0.32, 7)
        xo = np.linspace(0.36, 0.74, 5)
        for k, dy in enumerate((0.13, 0.21, 0.29)):
            cv.wrinkle(np.stack([xs, by - dy - 0.025 * (1 - (xs / 0.32) ** 2)], 1), A[1] * (1 - 0.15 * k), wr)
            yo = by - dy + 0.02 * ((xo - 0.36) / 0.38)
            cv.wrinkle(np.stack([-xo, yo], 1), A[2] * (1 - 0.15 * k), wr)
            cv.wrinkle(np.stack([xo, yo], 1), A[2] * (1 - 0.15 * k), wr)
    if A[4] > 0.02:
        cv.wrinkle([[-0.045, s.brow_y - 0.07], [-0.06, s.brow_y + 0.07]], A[4], wr, 0.02)
        cv.wrinkle([[0.045, s.brow_y - 0.07], [0.06, s.brow_y + 0.07]], A[4], wr, 0.02)
        cv.ellipse([0, s.brow_y + 0.02], 0.06, 0.07, f.C["glabella"] + (int(60 * A[4]),))


def _draw_brows(cv: _Canvas, f: _Face) -> None:
    """Brows, thicker at the inner end."""
    half = f.s.brow_thick * (0.3 + 0.7 * np.linspace(0, 1, 5))
    for B, h in ((f.P[17:22], half), (f.P[22:27], half[::-1])):
        cv.poly(np.concatenate([B - np.stack([0 * h, h], 1), (B + np.stack([0 * h, h], 1))[::-1]]), f.C["brow"])


def _draw_nose(cv: _Canvas, f: _Face) -> None:
    """Bridge side, AU9 nasal wrinkles, wings, nostrils, tip highlight."""
    P, C, A = f.P, f.C, f.A
    cv.line(P[27:31] - (0.07, 0), C["bridge"], 0.014)
    if A[9] > 0.02:
        for yy in np.linspace(P[28, 1] + 0.03, P[29, 1] + 0.04, 3):
            cv.wrinkle([[-0.085, yy], [-0.02, yy - 0.012], [0.02, yy - 0.012], [0.085, yy]], A[9], f.wr, 0.014)
    cv.line(P[31:36], C["nose"], 0.016)
    cv.ellipse(P[31] + (0.015, -0.03), 0.045, 0.05, C["wing"])
    cv.ellipse(P[35] + (-0.015, -0.03), 0.045, 0.05, C["wing"])
    cv.ellipse(P[32] + (0, -0.008), 0.03, 0.016, (40, 20, 20, 220))
    cv.ellipse(P[34] + (0, -0.008), 0.03, 0.016, (40, 20, 20, 220))
    cv.ellipse(P[30] + (0, 0.01), 0.05, 0.035, C["tip"])


def _draw_mouth_corners(cv: _Canvas, f: _Face) -> None:
    """Nasolabial folds (faint at rest, deepened by AU12 and AU10), AU14 dimples, AU15/AU20 lines."""
    P, A, wr = f.P, f.A, f.wr
    for wing, corner, sx in ((31, 48, -1.0), (35, 54, 1.0)):
        top = P[wing] + (sx * 0.05, -0.02)
        end = P[corner] + (sx * 0.07, 0.06)
        mid = (top + end) / 2 + (sx * (0.04 + 0.04 * A[12]), 0)
        cv.wrinkle([top, mid], 0.15 + 0.9 * A[12] + 0.7 * A[10], wr, 0.02)
        cv.wrinkle([mid, end], 0.12 + 0.9 * A[12], wr, 0.02)
        c = P[corner]
        cv.wrinkle([c + (sx * 0.035, -0.035), c + (sx * 0.05, 0.0), c + (sx * 0.035, 0.035)], A[14], wr, 0.018)
        cv.wrinkle([c + (sx * 0.02, 0.03), c + (sx * 0.05, 0.13)], A[15], wr, 0.016)
        cv.wrinkle([c + (sx * 0.05, -0.01), c + (sx * 0.13, 0.0)], 0.8 * A[20], wr, 0.012)


def _draw_chin(cv: _Canvas, f: _Face) -> None:
    """Mentolabial sulcus, AU17 chin wrinkles; AU24 lip bulges."""
    P, A, wr = f.P, f.A, f.wr
    cv.wrinkle(P[[58, 57, 56]] + ((0, 0.05), (0, 0.06), (0, 0.05)), 0.25 + 0.8 * A[17], wr, 0.018)
    if A[17] > 0.02:
        col = f.C["chin"] + (int(min(255, 200 * A[17])),)
        for d in _CHIN_DOTS:
            cv.ellipse(P[8] + d, 0.018, 0.012, col)
    if A[24] > 0.02:
        cv.wrinkle(P[[50, 51, 52]] + ((0, -0.045), (0, -0.05), (0, -0.045)), 0.9 * A[24], wr, 0.016)
        cv.wrinkle(P[[58, 56]] + (0, 0.035), 0.8 * A[24], wr, 0.016)


def _draw_mouth(cv: _Canvas, f: _Face) -> None:
    """Lips; cavity and teeth when they part by more than half a pixel; lip line; AU23 red-margin
    tension."""
    P, C, A = f.P, f.C, f.A
    cv.poly(P[48:60], C["lips"])
    gap = P[[67, 66, 65], 1] - P[[61, 62, 63], 1]
    if gap.max() * f.unit > 0.5:
        cv.poly(P[60:68], (70, 20, 25, 255))
        th = 0.05
        up_b = P[[61, 62, 63]].copy()
        up_b[:, 1] = np.minimum(up_b[:, 1] + th, P[[67, 66, 65], 1])
        cv.poly(np.concatenate([P[60:65], up_b[::-1]]), (236, 232, 220, 255))
        lo_t = P[[65, 66, 67]].copy()
        lo_t[:, 1] = np.maximum(lo_t[:, 1] - 0.7 * th, up_b[::-1, 1])
        cv.poly(np.concatenate([P[[64, 65, 66, 67, 60]], lo_t[::-1]]), (225, 220, 205, 255))
    cv.line(P[60:65], C["lipline"], 0.012)
    if A[23] > 0.02:
        cv.line(P[[48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 48]], C["margin"] + (int(min(255, 150 * A[23])),), 0.01)


def _draw_hair_cap(cv: _Canvas, f: _Face) -> None:
    """Hair cap down to the subject's hairline (thinner for hair style 2)."""
    s, jw = f.s, f.s.jaw_w
    thick = 0.12 if s.hair_style == 2 else 0.22
    outer = np.stack([(jw + 0.06) * np.cos(_PHI), -0.15 - (1.1 + thick) * np.sin(_PHI) ** 0.8], 1)
    inner = np.stack([0.97 * jw * np.cos(_PHI[::-1]), -0.15 + (s.hairline + 0.15) * np.sin(_PHI[::-1]) ** 0.6], 1)
    cv.poly(np.concatenate([outer, inner]), f.C["hair"])


#: The drawing parts of a face, back to front (the order is part of the pinned images).
_PARTS = (_draw_head, _draw_eyes, _draw_forehead_lines, _draw_brows, _draw_nose, _draw_mouth_corners, _draw_chin,
          _draw_mouth, _draw_hair_cap)


def _draw_occluder(kind: str, s: SubjectParams, L0: np.ndarray, C: dict, cv: _Canvas) -> None:
    jw = s.jaw_w
    if kind == "sunglasses":
        frame = (20, 22, 28, 255)
        for sx in (-1, 1):
            cv.ellipse([sx * s.eye_x, s.eye_y + 0.01], s.eye_hw + 0.21, 0.21, frame)
            cv.line([[sx * (s.eye_x + s.eye_hw + 0.2), s.eye_y - 0.05], [sx * (jw + 0.02), s.eye_y - 0.08]], frame, 0.035)
        cv.line([[-s.eye_x + s.eye_hw, s.eye_y - 0.08], [s.eye_x - s.eye_hw, s.eye_y - 0.08]], frame, 0.04)
    elif kind == "mask":
        top = L0[28, 1] - 0.03
        pts = [[-jw - 0.06, top + 0.12], [-0.25, top], [0.0, top - 0.03], [0.25, top], [jw + 0.06, top + 0.12],
               [jw + 0.06, 0.8], [0.6, 1.2], [0.0, 1.32], [-0.6, 1.2], [-jw - 0.06, 0.8]]
        cv.poly(pts, (215, 230, 240, 255))
        for dy in (0.25, 0.45, 0.65):
            cv.line([[-0.7, top + dy], [0.7, top + dy]], (170, 185, 200, 255), 0.015)
    elif kind == "hand":
        cv.poly([[-jw - 0.12, 0.2], [jw + 0.12, 0.12], [jw + 0.16, 1.0], [0.6, 1.5], [-0.6, 1.55], [-jw - 0.1, 1.05]],
                C["hand"])
        for k in range(4):
            y = 0.32 + 0.24 * k
            cv.line([[-jw - 0.05, y], [jw + 0.05, y - 0.04]], C["knuckle"], 0.015)
    elif kind == "fringe":
        bottom = s.eye_y - 0.16
        xs = np.linspace(-jw - 0.08, jw + 0.08, 11)
        ys = bottom + 0.01 * np.cos(xs * 9.0)
        pts = np.concatenate([[[-jw - 0.1, -1.45], [jw + 0.1, -1.45]], np.stack([xs, ys], 1)[::-1]])
        cv.poly(pts, C["hair"])
        for x in np.linspace(-jw, jw, 9):
            cv.line([[x, -1.0], [x + 0.05, bottom - 0.02]], C["strand"], 0.012)
    else:
        raise ValueError(f"unknown occluder {kind!r}; choose from {OCCLUDERS}")


def _apply_pixel_nuisance(img: Image.Image, nz: Nuisance) -> np.ndarray:
    x = np.asarray(img, np.float32)
    if nz.blur > 0:  # separable 3-tap blur [w, 1 - 2w, w], edges replicated
        w = nz.blur
        y = x * (1 - 2 * w)
        y[1:] += w * x[:-1]
        y[:-1] += w * x[1:]
        y[0] += w * x[0]
        y[-1] += w * x[-1]
        x = y * (1 - 2 * w)
        x[:, 1:] += w * y[:, :-1]
        x[:, :-1] += w * y[:, 1:]
        x[:, 0] += w * y[:, 0]
        x[:, -1] += w * y[:, -1]
    n = x.shape[0]
    g = (np.arange(n, dtype=np.float32) / n) - 0.5
    grad = (1.0 + nz.light * (np.cos(nz.light_dir) * g[None, :] + np.sin(nz.light_dir) * g[:, None])) * nz.brightness
    x *= grad[:, :, None]
    if nz.noise > 0:
        bank = _noise_bank(n)
        k = nz.noise_seed
        field = bank[k % len(bank)]
        if (k >> 3) & 1:
            field = field[::-1]
        if (k >> 4) & 1:
            field = field[:, ::-1]
        x += field * nz.noise
    x += 0.5
    np.clip(x, 0, 255, out=x)
    return x.astype(np.uint8)
