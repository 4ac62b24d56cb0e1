"""Face geometry of the synthetic generator: identities, the 68-landmark template, AU motions.

Coordinates are *face units*: x to the viewer's right, y down, origin between the eyes and the
nose, the face half-width about 0.9. The 68 points follow the iBUG 300-W topology: jaw 0-16,
right brow 17-21 (viewer's left, 17 outer), left brow 22-26 (26 outer), nose bridge 27-30,
nostrils 31-35, right eye 36-41 (36 outer corner), left eye 42-47 (45 outer corner), outer lips
48-59 (48 and 54 the corners), inner lips 60-67.

An AU at amplitude ``a`` in [0, 1] (intensity / 5 times its evidence strength) moves the
landmarks by ``a * D_au`` with ``D_au`` the ``(68, 2)`` displacement of a full (intensity 5)
action, built per subject by :func:`au_displacements` (AU43 depends on the subject's eye height).
Shading cues (wrinkles, folds, teeth) are drawn by :mod:`afg.data.synth.render`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .labels import ALL_AUS

__all__ = [
    "AU_INDEX",
    "AU_REGIONS",
    "DEFAULT_EVIDENCE",
    "HAIR_COLORS",
    "SKIN_TONES",
    "SubjectParams",
    "au_displacements",
    "make_subject",
    "neutral_landmarks",
]

AU_INDEX = {a: k for k, a in enumerate(ALL_AUS)}

#: Default evidence strength per AU (1 = full motion/shading at intensity 5). AU6 vs AU7 and
#: AU23 vs AU24 are subtle in real data; here too.
DEFAULT_EVIDENCE: dict[int, float] = dict.fromkeys(ALL_AUS, 1.0) | {6: 0.8, 7: 0.75, 14: 0.85, 23: 0.75, 24: 0.75}

#: Facial region of each AU: a box ``(x0, y0, x1, y1)`` in face units (canonical pose). The
#: localisation test asserts that most of the change an AU causes lies inside its box.
AU_REGIONS: dict[int, tuple[float, float, float, float]] = {
    1: (-0.75, -1.0, 0.75, -0.22),
    2: (-1.0, -1.0, 1.0, -0.22),
    4: (-0.8, -0.9, 0.8, -0.05),
    5: (-0.8, -0.4, 0.8, 0.05),
    6: (-1.05, -0.4, 1.05, 0.4),
    7: (-0.8, -0.4, 0.8, 0.1),
    9: (-0.5, -0.55, 0.5, 0.72),
    10: (-0.7, 0.05, 0.7, 0.85),
    12: (-0.85, 0.05, 0.85, 0.9),
    14: (-0.75, 0.2, 0.75, 0.9),
    15: (-0.7, 0.25, 0.7, 1.0),
    17: (-0.7, 0.3, 0.7, 1.1),
    20: (-0.85, 0.25, 0.85, 0.95),
    23: (-0.7, 0.25, 0.7, 0.9),
    24: (-0.7, 0.25, 0.7, 0.95),
    25: (-0.6, 0.3, 0.6, 0.95),
    26: (-1.15, 0.2, 1.15, 1.45),
    43: (-0.8, -0.4, 0.8, 0.1),
}

SKIN_TONES = np.array([[248, 220, 200], [232, 190, 160], [205, 155, 120], [165, 115, 85], [110, 75, 55]], float)
HAIR_COLORS = np.array([[25, 20, 18], [70, 45, 30], [120, 80, 45], [190, 150, 90], [150, 60, 30],
                        [160, 160, 160]], float)


@dataclass(frozen=True)
class SubjectParams:
    """Identity of one synthetic subject (fixed by its id)."""

    subject_id: int
    jaw_w: float
    jaw_h: float
    jaw_p: float
    brow_y: float
    brow_arch: float
    brow_thick: float
    eye_x: float
    eye_y: float
    eye_hw: float
    eye_h: float
    nose_y: float
    nose_w: float
    mouth_y: float
    mouth_hw: float
    lip_up: float
    lip_lo: float
    mouth_curve: float
    hairline: float
    hair_style: int  # 0 short, 1 long, 2 very short
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    iris: tuple[float, float, float]
    lips: tuple[float, float, float]
    clothes: tuple[float, float, float]
    expressiveness: float
    wrinkle_depth: float


def make_subject(subject_id: int) -> SubjectParams:
    """Deterministic identity for ``subject_id`` (any non-negative int; independent of dataset seeds)."""
    r = np.random.default_rng([0xFACE, int(subject_id)])
    u = r.uniform
    t = u(0, len(SKIN_TONES) - 1)
    lo = int(np.floor(t))
    skin = SKIN_TONES[lo] + (SKIN_TONES[min(lo + 1, len(SKIN_TONES) - 1)] - SKIN_TONES[lo]) * (t - lo)
    skin = np.clip(skin * u(0.95, 1.05, 3), 0, 255)
    hair = HAIR_COLORS[r.integers(len(HAIR_COLORS))] * u(0.8, 1.15)
    iris = np.array([[70, 45, 25], [40, 90, 140], [60, 110, 60], [110, 80, 40]])[r.integers(4)] * u(0.8, 1.2)
    lips = skin * np.array([0.85, 0.6, 0.6]) * u(0.85, 1.0) + np.array([20, 0, 0])
    clothes = u(30, 220, 3)
    eye_y = u(-0.16, -0.09)
    return SubjectParams(
        subject_id=int(subject_id),
        jaw_w=u(0.84, 0.98), jaw_h=u(1.08, 1.24), jaw_p=u(0.75, 1.3),
        brow_y=eye_y - u(0.29, 0.34), brow_arch=u(0.03, 0.08), brow_thick=u(0.045, 0.075),
        eye_x=u(0.36, 0.44), eye_y=eye_y, eye_hw=u(0.13, 0.165), eye_h=u(0.05, 0.075),
        nose_y=u(0.22, 0.30), nose_w=u(0.15, 0.22),
        mouth_y=u(0.55, 0.63), mouth_hw=u(0.24, 0.32), lip_up=u(0.035, 0.065), lip_lo=u(0.045, 0.085),
        mouth_curve=u(-0.015, 0.015),
        hairline=u(-0.95, -0.78), hair_style=int(r.integers(3)),
        skin=tuple(skin), hair=tuple(np.clip(hair, 0, 255)), iris=tuple(np.clip(iris, 0, 255)),
        lips=tuple(np.clip(lips, 0, 255)), clothes=tuple(clothes),
        expressiveness=u(0.85, 1.15), wrinkle_depth=u(0.8, 1.2),
    )


def _mirror(p: np.ndarray) -> np.ndarray:
    return p * np.array([-1.0, 1.0])


def neutral_landmarks(s: SubjectParams) -> np.ndarray:
    """``(68, 2)`` neutral landmarks in face units."""
    L = np.zeros((68, 2))
    th = np.pi * np.arange(17) / 16
    L[0:17, 0] = -s.jaw_w * np.cos(th)
    L[0:17, 1] = -0.15 + s.jaw_h * np.sin(th) ** s.jaw_p
    # brows (17 outer -> 21 inner); the arch peaks in the outer third
    t = np.arange(5) / 4
    outer, inner = 0.8 * s.jaw_w, 0.13
    bx = -(outer + (inner - outer) * t)
    by = s.brow_y - s.brow_arch * np.sin(np.pi * (0.15 + 0.75 * t)) + 0.02 * t
    L[17:22] = np.stack([bx, by], 1)
    L[22:27] = _mirror(L[17:22][::-1])
    # nose
    L[27:31, 0] = 0.0
    L[27:31, 1] = np.linspace(s.eye_y - 0.02, s.nose_y, 4)
    L[31:36, 0] = s.nose_w * np.array([-1, -0.5, 0, 0.5, 1])
    L[31:36, 1] = s.nose_y + np.array([0.02, 0.05, 0.06, 0.05, 0.02])
    # eyes
    cx, cy, hw, h = -s.eye_x, s.eye_y, s.eye_hw, s.eye_h
    right = np.array([[cx - hw, cy], [cx - hw / 3, cy - h], [cx + hw / 3, cy - 1.05 * h], [cx + hw, cy + 0.005],
                      [cx + hw / 3, cy + 0.75 * h], [cx - hw / 3, cy + 0.75 * h]])
    L[36:42] = right
    L[42:48] = _mirror(right[[3, 2, 1, 0, 5, 4]])
    # mouth
    my, mw, ut, lt, c = s.mouth_y, s.mouth_hw, s.lip_up, s.lip_lo, s.mouth_curve
    L[48] = [-mw, my - c]
    L[49] = [-0.6 * mw, my - 0.8 * ut]
    L[50] = [-0.25 * mw, my - 1.05 * ut]
    L[51] = [0.0, my - 0.85 * ut]
    L[52:55] = _mirror(L[[50, 49, 48]])
    L[55] = [0.6 * mw, my + 0.8 * lt]
    L[56] = [0.25 * mw, my + lt]
    L[57] = [0.0, my + 1.02 * lt]
    L[58:60] = _mirror(L[[56, 55]])
    L[60] = [-0.85 * mw, my - 0.8 * c]
    L[61] = [-0.35 * mw, my]
    L[62] = [0.0, my]
    L[63] = [0.35 * mw, my]
    L[64] = [0.85 * mw, my - 0.8 * c]
    L[65:68] = L[[63, 62, 61]]
    return L


def au_displacements(s: SubjectParams, neutral: np.ndarray | None = None) -> np.ndarray:
    """``(18, 68, 2)`` landmark displacement of each AU in :data:`ALL_AUS` at full amplitude."""
    L = neutral_landmarks(s) if neutral is None else neutral
    D = np.zeros((len(ALL_AUS), 68, 2))
    side = np.sign(L[:, 0])  # -1 viewer's left half, +1 right; "outward" = side
    w_in = np.zeros(68)
    w_in[17:22] = np.arange(5) / 4
    w_in[22:27] = np.arange(5)[::-1] / 4
    brows = np.arange(17, 27)

    def d(au, idx, dx=0.0, dy=0.0, outward=False):
        idx = np.asarray(idx)
        D[AU_INDEX[au], idx, 0] += dx * (side[idx] if outward else 1.0)
        D[AU_INDEX[au], idx, 1] += dy

    # brows
    d(1, brows, dy=-(0.11 * w_in[brows] + 0.015))
    d(2, brows, dy=-(0.11 * (1 - w_in[brows]) + 0.015))
    d(4, brows, dy=0.045 * (0.4 + 0.6 * w_in[brows]))
    d(4, brows, dx=-0.05 * w_in[brows], outward=True)
    # eyes
    upper, lower = [37, 38, 43, 44], [40, 41, 46, 47]
    d(5, upper, dy=-0.04)
    d(6, lower, dy=-0.025)
    d(6, [36, 45], dy=-0.008)
    d(7, lower, dy=-0.04)
    d(7, upper, dy=0.015)
    # AU43: upper lids onto the lower lids (37->41, 38->40, 43->47, 44->46)
    for u_, l_ in ((37, 41), (38, 40), (43, 47), (44, 46)):
        D[AU_INDEX[43], u_, 1] = L[l_, 1] - L[u_, 1] - 0.004
    # nose (AU9: nostril wings and tip up, inner brows slightly down, upper lip slightly up)
    d(9, [31, 35], dy=-0.045)
    d(9, [31, 35], dx=0.01, outward=True)
    d(9, [32, 33, 34], dy=-0.035)
    d(9, [30], dy=-0.015)
    d(9, [50, 51, 52], dy=-0.02)
    d(9, [61, 62, 63], dy=-0.01)
    # AU10 upper lip raiser
    d(10, [50, 51, 52], dy=-0.05)
    d(10, [49, 53], dy=-0.03)
    d(10, [61, 62, 63], dy=-0.035)
    d(10, [48, 54], dy=-0.01)
    d(10, [31, 32, 33, 34, 35], dy=-0.012)
    # AU12 lip corner puller: corners up and back (outward)
    d(12, [48, 54, 60, 64], dx=0.06, dy=-0.075, outward=True)
    d(12, [49, 53, 55, 59], dx=0.03, dy=-0.045, outward=True)
    d(12, [50, 52, 56, 58], dy=-0.02)
    d(12, [61, 63, 65, 67], dx=0.02, dy=-0.03, outward=True)
    d(12, [57, 66], dy=-0.012)
    # AU14 dimpler: corners tightened inward
    d(14, [48, 54, 60, 64], dx=-0.035, dy=-0.01, outward=True)
    d(14, [49, 53, 55, 59], dx=-0.015, outward=True)
    # AU15 lip corner depressor
    d(15, [48, 54, 60, 64], dy=0.07)
    d(15, [49, 53, 55, 59], dy=0.03)
    d(15, [61, 63, 65, 67], dy=0.02)
    # AU17 chin raiser: lower lip and chin pushed up
    d(17, [55, 56, 57, 58, 59, 65, 66, 67], dy=-0.035)
    d(17, [7, 8, 9], dy=-0.03)
    d(17, [6, 10], dy=-0.015)
    d(17, [50, 51, 52], dy=-0.01)
    # AU20 lip stretcher
    d(20, [48, 54, 60, 64], dx=0.08, dy=0.02, outward=True)
    d(20, [49, 53, 55, 59], dx=0.04, dy=0.01, outward=True)
    d(20, [50, 51, 52], dy=0.01)
    d(20, [56, 57, 58], dy=-0.01)
    # AU23 lip tightener: narrower, thinner lips
    d(23, [49, 50, 51, 52, 53], dy=0.02)
    d(23, [55, 56, 57, 58, 59], dy=-0.025)
    d(23, [48, 54, 60, 64], dx=-0.03, outward=True)
    d(23, [49, 53, 55, 59], dx=-0.015, outward=True)
    # AU24 lip presser: lips pressed thin (bulges drawn by the renderer)
    d(24, [49, 50, 51, 52, 53], dy=0.025)
    d(24, [55, 56, 57, 58, 59], dy=-0.03)
    d(24, [48, 54], dx=0.01, outward=True)
    # AU25 lips part
    d(25, [61, 62, 63], dy=-0.02)
    d(25, [65, 66, 67], dy=0.06)
    d(25, [56, 57, 58], dy=0.045)
    d(25, [55, 59], dy=0.027)
    d(25, [50, 51, 52], dy=-0.01)
    # AU26 jaw drop
    th = np.pi * np.arange(17) / 16
    D[AU_INDEX[26], 0:17, 1] = 0.15 * np.sin(th) ** 2
    d(26, [56, 57, 58], dy=0.12)
    d(26, [55, 59], dy=0.095)
    d(26, [65, 66, 67], dy=0.13)
    d(26, [48, 54, 60, 64], dy=0.04)
    return D
