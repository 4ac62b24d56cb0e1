"""Label model of the synthetic faces: AU occurrence, intensity, expression, valence/arousal.

AU occurrence
-------------
Each profile's AUs follow a *fitted pairwise maximum-entropy (Ising) model* over its ``N`` binary
AUs, enumerated exactly over all ``2^N`` states (N <= 12, so at most 4,096 states):

.. math::  P(y) \\propto \\exp\\big(\\sum_i h_i y_i + \\sum_{i<j} J_{ij} y_i y_j + g\\,[y = 0]\\big)

The parameters are fitted (convex dual, L-BFGS, cached per profile) so that the model's
expectations equal the targets exactly: the occurrence rates ``r_i = P(y_i = 1)``, the pairwise
co-occurrences ``P(y_i = 1, y_j = 1)`` (hence every conditional ``P(y_j | y_i)``) and, where known,
the fraction of frames with no AU. Sampling draws states from the exact distribution with a
seeded ``numpy`` generator, so it is deterministic per seed and needs no rendering.

Targets:

* ``disfa`` and ``emotionet``: computed once, offline, from the real label lists of the three
  test folds in ``../shared/reference/{disfa,emotionet}`` (130,814 DISFA frames, 24,598 EmotioNet
  images) and written below as constants. The files themselves are not part of the repository.
* ``bp4d``: the rates derived from ME-GraphAU's class weights (AU12 = .56) and pair strengths
  designed so that the AU-GCN graph ``[P(j|i) + P(i|j) >= 0.8]`` reproduces AU-GCN Table 1(a).
* ``all`` (18 AUs): EmotioNet's model for its 12 AUs, then AU7/10/14/15/23/24 drawn from the BP4D
  model conditioned on the six AUs both share (1, 2, 4, 6, 12, 17).

Expressions
-----------
Expressions are *derived* from the AU pattern with EMFACS prototypes (happiness 6+12, sadness
1+4+15, surprise 1+2+5+26, fear 1+2+4+5+7+20+26, anger 4+5+7+23, disgust 9+15 (+10 for the
missing AU16)). Prototype score ``s_e = sum_{a in P_e} w_a y_a / sum_{a in P_e} w_a`` over the AUs
the profile labels (key AUs weigh 2); every emotion with ``s_e >= 0.6`` is on in the multi-label
vector, the best one is the 7-class expression (Neutral when none), two active emotions form a
RAF-DB compound class. AUs the profile does not label but a rendered face can show are then
switched on from the chosen prototypes (p = 0.6 each) or a small base rate, so the pictures stay
consistent with the expression. Valence/arousal: the circumplex position of each active emotion,
weighted by its score and scaled by the mean intensity of its AUs, plus Gaussian noise.
"""
from __future__ import annotations

from functools import cache
from itertools import combinations

import numpy as np

from ...reference.au_gcn_graphs import TABLE1_BP4D

__all__ = [
    "ALL_AUS",
    "BP4D_GRAPH",
    "BP4D_RATES",
    "CIRCUMPLEX",
    "COMPOUND_NAMES",
    "DISFA_JOINT",
    "DISFA_NONE_RATE",
    "DISFA_RATES",
    "EMOTIONET_JOINT",
    "EMOTIONET_NONE_RATE",
    "EMOTIONET_RATES",
    "EMOTION_NAMES",
    "EXPRESSION_NAMES",
    "PROFILES",
    "PROTOTYPES",
    "PROTOTYPE_AU_RATE",
    "STRAY_AU_RATE",
    "PairwiseAUModel",
    "au_model",
    "au_name",
    "labels_from_aus",
    "sample_au_labels",
    "sample_balanced_labels",
    "sample_labels",
    "sample_prototype_aus",
    "target_statistics",
]

#: The 18 AUs the generator renders, in this (the ``all`` profile's) order.
ALL_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26, 43)

#: AU lists per profile, in the order of the labels.
PROFILES: dict[str, tuple[int, ...]] = {
    "disfa": (1, 2, 4, 6, 9, 12, 25, 26),
    "bp4d": (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24),
    "emotionet": (1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26, 43),
    "all": ALL_AUS,
}

EXPRESSION_NAMES: tuple[str, ...] = ("Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger")
EMOTION_NAMES: tuple[str, ...] = EXPRESSION_NAMES[1:]

#: The 11 compound classes of RAF-DB, in the dataset's order, as pairs of EMOTION_NAMES indices.
COMPOUND_NAMES: tuple[str, ...] = (
    "Happily Surprised", "Happily Disgusted", "Sadly Fearful", "Sadly Angry", "Sadly Surprised",
    "Sadly Disgusted", "Fearfully Angry", "Fearfully Surprised", "Angrily Surprised",
    "Angrily Disgusted", "Disgustedly Surprised",
)
_E = {n: i for i, n in enumerate(EMOTION_NAMES)}
_COMPOUND_PAIRS = {
    frozenset((_E["Happy"], _E["Surprise"])): 0,
    frozenset((_E["Happy"], _E["Disgust"])): 1,
    frozenset((_E["Sad"], _E["Fear"])): 2,
    frozenset((_E["Sad"], _E["Anger"])): 3,
    frozenset((_E["Sad"], _E["Surprise"])): 4,
    frozenset((_E["Sad"], _E["Disgust"])): 5,
    frozenset((_E["Fear"], _E["Anger"])): 6,
    frozenset((_E["Fear"], _E["Surprise"])): 7,
    frozenset((_E["Anger"], _E["Surprise"])): 8,
    frozenset((_E["Anger"], _E["Disgust"])): 9,
    frozenset((_E["Disgust"], _E["Surprise"])): 10,
}

#: EMFACS prototypes (AU -> weight; key AUs weigh 2), in EMOTION_NAMES order.
PROTOTYPES: tuple[dict[int, float], ...] = (
    {6: 1.0, 12: 2.0},  # Happy
    {1: 1.0, 4: 1.0, 15: 2.0},  # Sad
    {1: 1.0, 2: 1.0, 5: 1.0, 26: 1.0},  # Surprise
    {1: 1.0, 2: 1.0, 4: 1.0, 5: 1.0, 7: 1.0, 20: 2.0, 26: 1.0},  # Fear
    {9: 2.0, 10: 1.0, 15: 1.0},  # Disgust (AU16 is not rendered; AU10 stands in)
    {4: 1.0, 5: 1.0, 7: 1.0, 23: 2.0},  # Anger
)

#: Circumplex (valence, arousal) of each emotion at full intensity.
CIRCUMPLEX: np.ndarray = np.array(
    [[0.80, 0.40], [-0.70, -0.35], [0.25, 0.85], [-0.60, 0.75], [-0.70, 0.30], [-0.65, 0.70]]
)

# --------------------------------------------------------------------------------------------
# Targets computed once from ../shared/reference/disfa/fold{1,2,3}_test_labels.txt (130,814 frames)
DISFA_RATES = np.array([0.04973, 0.04315, 0.15238, 0.07894, 0.04184, 0.12882, 0.27709, 0.08816])
DISFA_JOINT = np.array([
    [0.04973, 0.03004, 0.01774, 0.00340, 0.00485, 0.00513, 0.01662, 0.00848],
    [0.03004, 0.04315, 0.01421, 0.00166, 0.00121, 0.00280, 0.00699, 0.00445],
    [0.01774, 0.01421, 0.15238, 0.01264, 0.03114, 0.00451, 0.04717, 0.01602],
    [0.00340, 0.00166, 0.01264, 0.07894, 0.01357, 0.05574, 0.06557, 0.01047],
    [0.00485, 0.00121, 0.03114, 0.01357, 0.04184, 0.00362, 0.02251, 0.00782],
    [0.00513, 0.00280, 0.00451, 0.05574, 0.00362, 0.12882, 0.10396, 0.01738],
    [0.01662, 0.00699, 0.04717, 0.06557, 0.02251, 0.10396, 0.27709, 0.06353],
    [0.00848, 0.00445, 0.01602, 0.01047, 0.00782, 0.01738, 0.06353, 0.08816],
])  # P(y_i = 1, y_j = 1)
DISFA_NONE_RATE = 0.53662

# ... and from ../shared/reference/emotionet/fold{1,2,3}_test_labels.txt (24,598 images)
EMOTIONET_RATES = np.array([0.05899, 0.02801, 0.11594, 0.03537, 0.18562, 0.02049, 0.30641, 0.02000,
                            0.00545, 0.47016, 0.08350, 0.02712])
EMOTIONET_JOINT = np.array([
    [0.05899, 0.01146, 0.02305, 0.00870, 0.00305, 0.00126, 0.00646, 0.00362, 0.00098, 0.02980, 0.01716, 0.00228],
    [0.01146, 0.02801, 0.00350, 0.00716, 0.00276, 0.00171, 0.00512, 0.00122, 0.00130, 0.01683, 0.00549, 0.00049],
    [0.02305, 0.00350, 0.11594, 0.00634, 0.00443, 0.01732, 0.00988, 0.01049, 0.00346, 0.05456, 0.01443, 0.00923],
    [0.00870, 0.00716, 0.00634, 0.03537, 0.00122, 0.00211, 0.00472, 0.00207, 0.00122, 0.01980, 0.00679, 0.00008],
    [0.00305, 0.00276, 0.00443, 0.00122, 0.18562, 0.00106, 0.16261, 0.00061, 0.00004, 0.15774, 0.01728, 0.00224],
    [0.00126, 0.00171, 0.01732, 0.00211, 0.00106, 0.02049, 0.00154, 0.00455, 0.00224, 0.01581, 0.00118, 0.00370],
    [0.00646, 0.00512, 0.00988, 0.00472, 0.16261, 0.00154, 0.30641, 0.00130, 0.00004, 0.23299, 0.02443, 0.00394],
    [0.00362, 0.00122, 0.01049, 0.00207, 0.00061, 0.00455, 0.00130, 0.02000, 0.00106, 0.00650, 0.00134, 0.00191],
    [0.00098, 0.00130, 0.00346, 0.00122, 0.00004, 0.00224, 0.00004, 0.00106, 0.00545, 0.00516, 0.00081, 0.00033],
    [0.02980, 0.01683, 0.05456, 0.01980, 0.15774, 0.01581, 0.23299, 0.00650, 0.00516, 0.47016, 0.07793, 0.01342],
    [0.01716, 0.00549, 0.01443, 0.00679, 0.01728, 0.00118, 0.02443, 0.00134, 0.00081, 0.07793, 0.08350, 0.00276],
    [0.00228, 0.00049, 0.00923, 0.00008, 0.00224, 0.00370, 0.00394, 0.00191, 0.00033, 0.01342, 0.00276, 0.02712],
])
EMOTIONET_NONE_RATE = 0.34397

# BP4D: rates from ME-GraphAU's class weights with AU12 = .56 (issue 3) and AU-GCN Table 1(a).
BP4D_RATES = np.array([0.209, 0.169, 0.202, 0.459, 0.545, 0.592, 0.560, 0.463, 0.168, 0.342, 0.165, 0.151])
BP4D_GRAPH = TABLE1_BP4D  # AU-GCN Table 1(a): [P(j|i) + P(i|j) >= h], rows/cols = PROFILES["bp4d"]
BP4D_GRAPH_THRESHOLD = 0.8


def au_name(au: int) -> str:
    """``1 -> "AU01"``."""
    return f"AU{au:02d}"


def _bp4d_joint() -> np.ndarray:
    """Designed co-occurrences ``P(i, j)`` for BP4D.

    Connected pairs of Table 1(a) get ``P(j|i) + P(i|j) = max(r_i + r_j, 0.8) + 0.2`` (capped at
    90% of the smaller rate); unconnected pairs keep independence, damped to stay below 0.8 - 0.08
    (``r_i + r_j`` is the sum under independence).
    """
    r = BP4D_RATES
    n = len(r)
    joint = np.diag(r).astype(np.float64)
    for i, j in combinations(range(n), 2):
        inv = 1.0 / r[i] + 1.0 / r[j]
        if BP4D_GRAPH[i, j]:
            s = max(r[i] + r[j], BP4D_GRAPH_THRESHOLD) + 0.2
            p = min(s / inv, 0.9 * min(r[i], r[j]))
        else:
            s = min(r[i] + r[j], BP4D_GRAPH_THRESHOLD - 0.08)
            p = s / inv
        joint[i, j] = joint[j, i] = p
    return joint


def target_statistics(profile: str) -> dict[str, np.ndarray | float | None]:
    """``{"rates": (N,), "joint": (N,N) P(i,j), "none": P(no AU) or None}`` the model is fitted to."""
    if profile == "disfa":
        return {"rates": DISFA_RATES, "joint": DISFA_JOINT, "none": DISFA_NONE_RATE}
    if profile == "emotionet":
        return {"rates": EMOTIONET_RATES, "joint": EMOTIONET_JOINT, "none": EMOTIONET_NONE_RATE}
    if profile == "bp4d":
        return {"rates": BP4D_RATES, "joint": _bp4d_joint(), "none": None}
    raise ValueError(f"no fitted targets for profile {profile!r} ('all' composes emotionet and bp4d)")


class PairwiseAUModel:
    """Exact pairwise max-entropy model over ``N <= 14`` binary AUs (see the module docstring).

    Args:
        rates: ``(N,)`` target ``P(y_i = 1)``.
        joint: ``(N, N)`` target ``P(y_i = 1, y_j = 1)`` (diagonal ignored).
        none_rate: target ``P(y = 0)`` or None to leave it free.
    """

    def __init__(self, rates: np.ndarray, joint: np.ndarray, none_rate: float | None = None) -> None:
        from scipy.optimize import (
            minimize,  # local: SciPy (~0.5 s) only when the label model is fitted
        )
        from scipy.special import (
            logsumexp,  # local: SciPy (~0.5 s) only when the label model is fitted
        )

        rates = np.asarray(rates, np.float64)
        joint = np.asarray(joint, np.float64)
        n = rates.shape[0]
        self.n = n
        states = ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.float64)  # (S, N)
        self.states = states.astype(np.uint8)
        pairs = list(combinations(range(n), 2))
        feats = [states] + [states[:, [i]] * states[:, [j]] for i, j in pairs]
        target = list(rates) + [joint[i, j] for i, j in pairs]
        if none_rate is not None:
            feats.append((states.sum(1, keepdims=True) == 0).astype(np.float64))
            target.append(none_rate)
        F = np.concatenate(feats, axis=1)  # (S, K)
        mu = np.asarray(target)

        def objective(theta):  # convex dual: log Z(theta) - theta . mu
            logits = F @ theta
            lz = logsumexp(logits)
            p = np.exp(logits - lz)
            return lz - theta @ mu, F.T @ p - mu

        res = minimize(objective, np.zeros(F.shape[1]), jac=True, method="L-BFGS-B",
                       options={"maxiter": 5000, "gtol": 1e-10, "ftol": 1e-14})
        self.theta = res.x
        logits = F @ res.x
        p = np.exp(logits - logsumexp(logits))
        self.probs = p / p.sum()  # (S,)
        self.max_error = float(np.abs(F.T @ self.probs - mu).max())

    def rates(self) -> np.ndarray:
        """Exact model marginals ``(N,)``."""
        return self.probs @ self.states

    def joint(self) -> np.ndarray:
        """Exact model co-occurrences ``(N, N)``."""
        s = self.states.astype(np.float64)
        return (s * self.probs[:, None]).T @ s

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, N)`` uint8 draws.

        Stratified inverse-CDF sampling (one uniform per ``1/n`` slice, then shuffled): every
        state appears ``n P(state)`` times up to rounding, so sample statistics sit much closer to
        the model's than with i.i.d. draws, and the draw is still deterministic per generator.
        """
        cdf = np.cumsum(self.probs)
        u = (np.arange(n) + rng.random(n)) / max(n, 1)
        idx = np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)
        return self.states[rng.permutation(idx)]

    def sample_conditional(self, observed: np.ndarray, cols: list[int], rng: np.random.Generator) -> np.ndarray:
        """Draw full states given the values ``observed (n, len(cols))`` of AUs ``cols``."""
        observed = np.asarray(observed, np.uint8)
        out = np.zeros((observed.shape[0], self.n), np.uint8)
        codes = observed.astype(np.int64) @ (1 << np.arange(len(cols)))
        state_codes = self.states[:, cols].astype(np.int64) @ (1 << np.arange(len(cols)))
        u = rng.random(observed.shape[0])
        for code in np.unique(codes):
            rows = np.nonzero(codes == code)[0]
            p = np.where(state_codes == code, self.probs, 0.0)
            cdf = np.cumsum(p / p.sum())
            out[rows] = self.states[np.minimum(np.searchsorted(cdf, u[rows], side="right"), len(cdf) - 1)]
        return out


@cache
def au_model(profile: str) -> PairwiseAUModel:
    """The fitted (cached) :class:`PairwiseAUModel` of ``disfa``, ``emotionet`` or ``bp4d``."""
    t = target_statistics(profile)
    return PairwiseAUModel(t["rates"], t["joint"], t["none"])


def _check_profile(profile: str) -> tuple[int, ...]:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {sorted(PROFILES)}")
    return PROFILES[profile]


def _sample_profile_aus(profile: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, N_profile)`` uint8 occurrence in the profile's order."""
    if profile != "all":
        return au_model(profile).sample(n, rng)
    emo = au_model("emotionet").sample(n, rng)
    bp = au_model("bp4d")
    shared = [1, 2, 4, 6, 12, 17]
    e_aus, b_aus = PROFILES["emotionet"], PROFILES["bp4d"]
    obs = emo[:, [e_aus.index(a) for a in shared]]
    full_bp = bp.sample_conditional(obs, [b_aus.index(a) for a in shared], rng)
    out = np.zeros((n, len(ALL_AUS)), np.uint8)
    for k, a in enumerate(e_aus):
        out[:, ALL_AUS.index(a)] = emo[:, k]
    for k, a in enumerate(b_aus):
        if a not in e_aus:
            out[:, ALL_AUS.index(a)] = full_bp[:, k]
    return out


def sample_au_labels(profile: str, n: int, seed: int = 0) -> np.ndarray:
    """``(n, N)`` 0/1 AU occurrence in the profile's AU order, drawn without rendering.

    Deterministic for a given ``(profile, n, seed)``; 50,000 rows take well under a second.
    """
    _check_profile(profile)
    return _sample_profile_aus(profile, int(n), np.random.default_rng(seed)).astype(np.int64)


def sample_labels(profile: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every label of ``n`` samples (no rendering).

    Returns:
        ``aus`` (n, N) profile order; ``occurrence`` (n, 18) and ``intensity`` (n, 18) float in
        [0, 5] over :data:`ALL_AUS` (what is rendered); ``expression`` (n,) in EXPRESSION_NAMES;
        ``emotions`` (n, 6) multi-label; ``compound`` (n,) (-1 none); ``va`` (n, 2) in [-1, 1].
    """
    return labels_from_aus(profile, _sample_profile_aus(profile, n, rng), rng)


def labels_from_aus(profile: str, prof: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every label of the faces whose labelled AUs are ``prof`` ``(n, N)`` (profile order): the
    expression, emotions and compound class derived from them, the unlabelled AUs the faces show,
    the intensities and valence/arousal, as :func:`sample_labels` returns them."""
    aus_p = _check_profile(profile)
    n = len(prof)
    occ = np.zeros((n, len(ALL_AUS)), np.float64)
    col = {a: ALL_AUS.index(a) for a in ALL_AUS}
    for k, a in enumerate(aus_p):
        occ[:, col[a]] = prof[:, k]

    # prototype scores over the AUs this profile labels
    scores = np.zeros((n, len(EMOTION_NAMES)))
    for e, proto in enumerate(PROTOTYPES):
        avail = {a: w for a, w in proto.items() if a in aus_p}
        if not avail:
            continue
        w = np.array(list(avail.values()))
        scores[:, e] = occ[:, [col[a] for a in avail]] @ w / w.sum()
    active = scores >= 0.6
    # ties (e.g. Surprise vs Fear on 1+2) are broken by a fixed tiny preference
    best = np.argmax(scores + 1e-6 * np.arange(len(EMOTION_NAMES))[::-1], axis=1)
    expression = np.where(active.any(1), best + 1, 0)

    # unlabelled AUs the face shows: the active prototypes' AUs (p=.6) or a base rate (.03)
    missing = [a for a in ALL_AUS if a not in aus_p]
    if missing:
        u = rng.random((n, len(missing)))
        proto_on = np.zeros((n, len(missing)), bool)
        for e, proto in enumerate(PROTOTYPES):
            in_proto = np.array([a in proto for a in missing])
            proto_on |= active[:, [e]] & in_proto[None, :]
        on = np.where(proto_on, u < 0.6, u < 0.03)
        # 25 (lips apart) always accompanies 26 (jaw drop) when 25 is not labelled
        for k, a in enumerate(missing):
            occ[:, col[a]] = on[:, k]
        if 25 in missing and 26 in aus_p:
            occ[:, col[25]] = np.maximum(occ[:, col[25]], occ[:, col[26]])

    # intensities: active in [1.5, 5] (Beta(2,2)), inactive 0 or a sub-threshold trace in [0, .8]
    act = 1.5 + 3.5 * rng.beta(2.0, 2.0, size=occ.shape)
    trace = np.where(rng.random(occ.shape) < 0.3, 0.8 * rng.random(occ.shape), 0.0)
    intensity = np.where(occ > 0, act, trace)

    # valence / arousal: score-weighted circumplex, scaled by mean prototype intensity, + noise
    va = np.zeros((n, 2))
    wsum = np.zeros(n)
    for e, proto in enumerate(PROTOTYPES):
        cols = [col[a] for a in proto]
        on = occ[:, cols] > 0
        mean_int = np.where(on.any(1), (intensity[:, cols] * on).sum(1) / np.maximum(on.sum(1), 1), 0.0)
        w = np.where(active[:, e], scores[:, e], 0.0)
        va += w[:, None] * CIRCUMPLEX[e][None, :] * np.clip(mean_int / 5.0 + 0.2, 0.3, 1.0)[:, None]
        wsum += w
    va = va / np.maximum(wsum, 1e-9)[:, None]
    va = np.clip(va + rng.normal(0.0, 0.08, size=(n, 2)), -1.0, 1.0)

    # compound: the two best active emotions, when they form one of RAF-DB's 11 classes
    compound = np.full(n, -1, np.int64)
    two = active.sum(1) >= 2
    if two.any():
        order = np.argsort(-(scores + 1e-6 * np.arange(6)[::-1]), axis=1)[:, :2]
        for r in np.nonzero(two)[0]:
            compound[r] = _COMPOUND_PAIRS.get(frozenset(order[r].tolist()), -1)

    return {
        "aus": prof.astype(np.int64),
        "occurrence": occ,
        "intensity": intensity,
        "expression": expression.astype(np.int64),
        "emotions": active.astype(np.float64),
        "compound": compound,
        "va": va,
    }


#: ``draw="prototype"`` (:func:`sample_balanced_labels`): the chance that a face of an expression
#: shows each non-key AU of its prototype (key AUs, weight 2, always show), and of every other
#: labelled AU (a stray AU; Neutral faces show only these). Set a priori, not fitted to any result.
PROTOTYPE_AU_RATE = 0.8
STRAY_AU_RATE = 0.05


def sample_prototype_aus(profile: str, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(n, N)`` labelled AUs (profile order) of faces posed as ``classes`` ``(n,)`` (indices of
    EXPRESSION_NAMES): the class's EMFACS prototype (key AUs always, the others with probability
    :data:`PROTOTYPE_AU_RATE`) plus stray AUs (:data:`STRAY_AU_RATE` each). The expression derived
    from them (:func:`labels_from_aus`) can differ from ``classes``; callers keep the rows that agree.
    """
    aus_p = _check_profile(profile)
    classes = np.asarray(classes)
    out = rng.random((len(classes), len(aus_p))) < STRAY_AU_RATE
    draw = rng.random(out.shape)
    for e, proto in enumerate(PROTOTYPES):
        rows = classes == e + 1
        for a, w in proto.items():
            if a in aus_p:
                k = aus_p.index(a)
                out[rows, k] |= draw[rows, k] < (1.0 if w >= 2 else PROTOTYPE_AU_RATE)
    return out.astype(np.uint8)


def sample_balanced_labels(profile: str, n: int, rng: np.random.Generator, by: str = "expression",
                           max_pool: int = 1_000_000, draw: str = "cooccurrence") -> dict[str, np.ndarray]:
    """:func:`sample_labels` of ``n`` samples whose expressions are equally frequent.

    ``by="expression"``: the 7 expressions (Neutral included) each make up 1/7 of the samples;
    ``by="emotions"``: no Neutral face (every sample shows at least one of the 6 emotions, as in
    RAF-ML) and each emotion is the strongest one of 1/6 of the samples; blends keep the label
    model's co-occurrences.

    Rows are drawn from the profile's label model as usual, then ``n // k`` of each class are kept
    (the remainder goes to randomly chosen classes) and shuffled, so every label stays consistent
    with its AUs; only the class frequencies change. This mirrors AffectNet's balanced validation
    set, on which Emotion-GCN reports accuracy, and keeps a model that predicts the majority class
    (Neutral in the label model) at chance. Expressions that a profile cannot produce (Fear in
    ``disfa``: its AUs cannot separate Fear from Surprise) raise a ``ValueError``.

    ``draw="prototype"`` draws each face's labelled AUs from its class's EMFACS prototype plus a
    few stray AUs (:func:`sample_prototype_aus`) instead of the profile's co-occurrence model:
    faces that show one expression, as annotators label them in posed and in-the-wild expression
    datasets, rather than the busy AU patterns of a profile's spontaneous frames (a BP4D-profile
    "Neutral" face often shows four AUs at high intensity). The expression is still derived from
    the AUs by the same rule and only faces whose derived class is the drawn one are kept, so every
    label stays consistent with the picture.
    """
    if by not in ("expression", "emotions"):
        raise ValueError(f"by: {by!r} is not 'expression' or 'emotions'")
    if draw not in ("cooccurrence", "prototype"):
        raise ValueError(f"draw: {draw!r} is not 'cooccurrence' or 'prototype'")
    classes = np.arange(len(EXPRESSION_NAMES)) if by == "expression" else np.arange(1, len(EXPRESSION_NAMES))
    k = len(classes)
    want = np.full(k, n // k)
    want[rng.permutation(k)[: n % k]] += 1
    pool = max(20 * n, 20_000)
    while True:
        if draw == "prototype":
            drawn = rng.choice(classes, pool)
            labels = labels_from_aus(profile, sample_prototype_aus(profile, drawn, rng), rng)
            labels = {key: v[labels["expression"] == drawn] for key, v in labels.items()}
        else:
            labels = sample_labels(profile, pool, rng)
        y = labels["expression"]
        counts = np.bincount(y, minlength=len(EXPRESSION_NAMES))[classes]
        if np.all(counts >= want):
            break
        if pool >= max_pool:
            short = [f"{EXPRESSION_NAMES[c]} ({counts[i]} of {want[i]})" for i, c in enumerate(classes)
                     if counts[i] < want[i]]
            raise ValueError(f"profile {profile!r}: {max_pool} draws give too few faces of "
                             f"{', '.join(short)} for {n} balanced faces; use profile 'bp4d' or 'all'")
        pool = min(max_pool, 4 * pool)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), want[i], replace=False) for i, c in enumerate(classes)])
    idx = rng.permutation(idx)
    return {key: v[idx] for key, v in labels.items()}
