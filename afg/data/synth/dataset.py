"""``SynthFaces``: the embedded default dataset, and its export to the AU papers' list format."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..stats import au_class_weights
from ..transforms import to_tensor
from .face import AU_INDEX, DEFAULT_EVIDENCE
from .labels import (
    ALL_AUS,
    COMPOUND_NAMES,
    EMOTION_NAMES,
    EXPRESSION_NAMES,
    PROFILES,
    au_name,
    sample_balanced_labels,
    sample_labels,
)
from .realism import Realism
from .render import OCCLUDED_AUS, OCCLUDERS, render_face, sample_nuisance

__all__ = ["SynthFaces", "export_list_format"]


class SynthFaces(Dataset):
    """Procedural 68-landmark faces with 18 AUs whose labels follow real dataset statistics.

    Args:
        profile: ``disfa`` (8 AUs), ``bp4d`` (12), ``emotionet`` (12) or ``all`` (18): the labelled
            AUs (``au_names``) and the statistics their occurrence follows
            (:mod:`afg.data.synth.labels`).
        n_subjects: number of identities; subject ``k`` is ``S{subject_offset + k:03d}`` and its
            face (shape, skin, hair, ...) depends on its id only, not on ``seed``.
        images_per_subject: samples per subject; sample ``i`` belongs to subject ``i // images_per_subject``.
        size: image side in pixels (64-256).
        occlusion_rate: probability that an image carries an occluder (hand over the mouth,
            sunglasses, surgical mask, fringe over the brows); the AUs it hides are flagged in
            ``occluded`` / ``visible``.
        seed: labels, nuisances and occluders; the same ``(seed, index)`` always gives the same sample.
        transform: optional callable on the uint8 ``(H, W, 3)`` image returning the ``image`` tensor
            (default: :func:`afg.data.transforms.to_tensor`, ImageNet normalisation).
        evidence: per-AU evidence strength overrides (AU number -> factor), merged into
            :data:`afg.data.synth.face.DEFAULT_EVIDENCE`.
        nuisances: False renders every sample in the canonical pose on a plain background.
        subject_offset: id of the first subject (use disjoint ranges for disjoint datasets).
        balance: ``"expression"`` draws the labels so that the 7 expressions are equally frequent
            (:func:`afg.data.synth.labels.sample_balanced_labels`; like AffectNet's validation
            set); ``"emotions"``: no Neutral face and the 6 emotions equally often the strongest
            (multi-label, like RAF-ML); ``None`` keeps the profile's natural rates (~70 % Neutral
            in ``disfa``).
        realism: the realism model (:mod:`afg.data.synth.realism`): None (default: the faces of
            generator version 1, bit for bit), a preset name (``"real"``; ``"none"`` = None), a
            mapping of :class:`~afg.data.synth.realism.Realism` fields (optionally with
            ``preset``; what ``data.options: {realism: {...}}`` passes) or a ``Realism``. It
            changes the rendering only (amplitude curve, unlabelled resting faces, head yaw and
            pitch when ``nuisances``), never the labels.
        expression_draw: with ``balance``, where a face's AUs come from: ``"cooccurrence"``
            (default; the profile's co-occurrence model, then the classes are balanced) or
            ``"prototype"`` (the drawn class's EMFACS prototype plus a few stray AUs, as posed and
            annotated expression datasets show them; ``data.options: {expression_draw:
            prototype}``; :func:`afg.data.synth.labels.sample_balanced_labels`).

    Items are dicts: ``image`` (3, H, W) float; ``aus`` and ``au`` (N,) float 0/1 in the
    profile's AU order, ``au_mask`` (N,) bool (all True), ``au_intensity`` (N,) float in [0, 5];
    ``landmarks`` (68, 2) float pixel coordinates; ``subject`` str, ``subject_id`` int;
    ``expression`` long () in ``expression_names``; ``valence``, ``arousal`` float and
    ``va`` (2,); ``expression_multilabel`` and ``emotions`` (6,) float; ``compound`` long ()
    (index into ``compound_names``, -1 none); ``occluder`` str ('' none), ``occluded`` and
    ``visible`` (N,) bool; ``index`` int.

    Folds: :meth:`folds` splits the *subjects* into ``k`` disjoint groups (subject ``j`` of the
    sorted subject list goes to fold ``j % k``), so train and test never share an identity.
    """

    expression_names: tuple[str, ...] = EXPRESSION_NAMES
    emotion_names: tuple[str, ...] = EMOTION_NAMES
    compound_names: tuple[str, ...] = COMPOUND_NAMES
    num_expressions: int = len(EXPRESSION_NAMES)
    task = "au"

    def __init__(
        self,
        profile: str = "disfa",
        n_subjects: int = 24,
        images_per_subject: int = 50,
        size: int = 112,
        occlusion_rate: float = 0.0,
        seed: int = 0,
        transform: Callable[[np.ndarray], torch.Tensor] | None = None,
        evidence: Mapping[int, float] | None = None,
        nuisances: bool = True,
        subject_offset: int = 0,
        balance: str | None = None,
        realism: Realism | Mapping[str, Any] | str | None = None,
        expression_draw: str = "cooccurrence",
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose from {sorted(PROFILES)}")
        if not 0.0 <= occlusion_rate <= 1.0:
            raise ValueError("occlusion_rate must be in [0, 1]")
        self.profile = profile
        self.aus: tuple[int, ...] = PROFILES[profile]
        self.au_names: list[str] = [au_name(a) for a in self.aus]
        self.n_subjects = int(n_subjects)
        self.images_per_subject = int(images_per_subject)
        self.size = int(size)
        self.occlusion_rate = float(occlusion_rate)
        self.seed = int(seed)
        self.transform = transform
        self.nuisances = bool(nuisances)
        self.subject_offset = int(subject_offset)
        self.realism: Realism | None = Realism.coerce(realism)
        ev = dict(DEFAULT_EVIDENCE)
        ev.update({int(k): float(v) for k, v in (evidence or {}).items()})
        self.evidence = ev
        self._strength = np.array([ev[a] for a in ALL_AUS])
        n = self.n_subjects * self.images_per_subject
        self._n = n
        if balance not in (None, "expression", "emotions"):
            raise ValueError(f"balance: {balance!r} is not None, 'expression' or 'emotions'")
        if expression_draw not in ("cooccurrence", "prototype"):
            raise ValueError(f"expression_draw: {expression_draw!r} is not 'cooccurrence' or 'prototype'")
        if expression_draw != "cooccurrence" and not balance:
            raise ValueError("expression_draw='prototype' needs balance='expression' or 'emotions'")
        self.balance = balance
        self.expression_draw = expression_draw
        rng = np.random.default_rng([self.seed, 0])
        self._labels = (sample_balanced_labels(profile, n, rng, by=balance, draw=expression_draw) if balance
                        else sample_labels(profile, n, rng))
        r = np.random.default_rng([self.seed, 1])
        occ_on = r.random(n) < self.occlusion_rate
        kinds = r.integers(len(OCCLUDERS), size=n)
        self._occluder = np.where(occ_on, kinds, -1)
        self.subject_ids = self.subject_offset + np.arange(n) // max(self.images_per_subject, 1)
        self.subjects: list[str] = [f"S{self.subject_offset + k:03d}" for k in range(self.n_subjects)]
        self.sample_subjects = np.array([f"S{s:03d}" for s in self.subject_ids])
        cols = [AU_INDEX[a] for a in self.aus]
        self._profile_cols = cols
        visible = np.ones((n, len(self.aus)), bool)
        for k, kind in enumerate(OCCLUDERS):
            hidden = np.array([a in OCCLUDED_AUS[kind] for a in self.aus])
            visible[self._occluder == k] &= ~hidden
        self._visible = visible

    # ------------------------------------------------------------------ labels (no rendering)
    def __len__(self) -> int:
        return self._n

    @property
    def num_classes(self) -> int:
        return len(self.aus)

    def labels(self) -> dict[str, np.ndarray]:
        """All labels without rendering: ``au`` (n,N) float, ``expression`` (n,), ``va`` (n,2),
        ``emotions`` (n,6); also ``au_intensity``, ``compound``, ``visible``, ``subject``."""
        L = self._labels
        return {
            "au": L["aus"].astype(np.float64),
            "expression": L["expression"].copy(),
            "va": L["va"].copy(),
            "emotions": L["emotions"].copy(),
            "au_intensity": L["intensity"][:, self._profile_cols].copy(),
            "compound": L["compound"].copy(),
            "visible": self._visible.copy(),
            "subject": self.sample_subjects.copy(),
        }

    def folds(self, k: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
        """``k`` subject-independent folds: list of ``(train_indices, test_indices)``.

        Subject ``j`` (in the order of :attr:`subjects`) is tested in fold ``j % k``; every
        subject is tested exactly once and never appears in its fold's training set.
        """
        if not 2 <= k <= self.n_subjects:
            raise ValueError(f"k must be in [2, n_subjects={self.n_subjects}]")
        fold_of = (self.subject_ids - self.subject_offset) % k
        idx = np.arange(self._n)
        return [(idx[fold_of != f], idx[fold_of == f]) for f in range(k)]

    # ------------------------------------------------------------------ rendering
    def amplitudes(self, index: int) -> np.ndarray:
        """``(18,)`` expression amplitudes of sample ``index``: evidence times ``g(intensity)``,
        ``g(I) = I / 5`` without realism, ``(I / 5) ** gamma`` with it (resting offsets excluded:
        :meth:`resting`)."""
        return self._gain(self._labels["intensity"][index])

    def _gain(self, intensity: np.ndarray) -> np.ndarray:
        if self.realism is None:
            return intensity / 5.0 * self._strength
        return self.realism.gain(intensity) * self._strength

    def resting(self, subject: int | str) -> tuple[np.ndarray, np.ndarray]:
        """``(geometry, shading)`` unlabelled resting amplitudes ``(18,)`` of ``subject`` (id or
        ``"S007"``) under this dataset's realism (zeros without resting faces)."""
        sid = int(subject[1:]) if isinstance(subject, str) else int(subject)
        if self.realism is None:
            return np.zeros(len(ALL_AUS)), np.zeros(len(ALL_AUS))
        return self.realism.resting_offsets(sid)

    def pose(self, index: int) -> tuple[float, float]:
        """``(yaw, pitch)`` in degrees of sample ``index`` (0, 0 without pose realism or nuisances)."""
        if self.realism is None or not self.realism.has_pose or not self.nuisances:
            return 0.0, 0.0
        return self.realism.pose(self.seed, int(index))

    def _rest(self, sid: int) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self.realism is None or self.realism.resting == 0.0 else self.realism.resting_offsets(sid)

    def occluder(self, index: int) -> str | None:
        k = int(self._occluder[index])
        return None if k < 0 else OCCLUDERS[k]

    def _render(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < self._n:
            raise IndexError(index)
        nz = sample_nuisance(np.random.default_rng([self.seed, 2, index])) if self.nuisances else None
        if nz is not None and self.realism is not None and self.realism.has_pose:
            yaw, pitch = self.pose(index)
            nz = dataclasses.replace(nz, yaw=yaw, pitch=pitch)
        sid = int(self.subject_ids[index])
        return render_face(sid, self.amplitudes(index), self.size, nz, self.occluder(index), rest=self._rest(sid))

    def render(self, index: int) -> np.ndarray:
        """The uint8 ``(H, W, 3)`` image of sample ``index`` (for display)."""
        return self._render(int(index))[0]

    def sample(self, index: int, normalize: bool = True) -> dict[str, Any]:
        """Item ``index``; ``normalize=False`` gives the image as uint8 ``(H, W, 3)`` numpy."""
        index = int(index)
        img, lm = self._render(index)
        L = self._labels
        aus = torch.as_tensor(L["aus"][index], dtype=torch.float32)
        va = torch.as_tensor(L["va"][index], dtype=torch.float32)
        emo = torch.as_tensor(L["emotions"][index], dtype=torch.float32)
        visible = torch.as_tensor(self._visible[index])
        if normalize:
            image = self.transform(img) if self.transform is not None else to_tensor(img)
        else:
            image = img
        return {
            "image": image,
            "aus": aus,
            "au": aus.clone(),
            "au_mask": torch.ones(len(self.aus), dtype=torch.bool),
            "au_intensity": torch.as_tensor(L["intensity"][index, self._profile_cols], dtype=torch.float32),
            "landmarks": torch.as_tensor(lm, dtype=torch.float32),
            "subject": str(self.sample_subjects[index]),
            "subject_id": int(self.subject_ids[index]),
            "expression": torch.tensor(int(L["expression"][index]), dtype=torch.long),
            "valence": float(va[0]),
            "arousal": float(va[1]),
            "va": va,
            "expression_multilabel": emo,
            "emotions": emo.clone(),
            "compound": torch.tensor(int(L["compound"][index]), dtype=torch.long),
            "occluder": self.occluder(index) or "",
            "occluded": ~visible,
            "visible": visible,
            "index": index,
        }

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.sample(index)

    def render_subject(
        self,
        subject: int | str,
        intensities: Mapping[int, float] | Sequence[float] | np.ndarray | None = None,
        occluder: str | None = None,
        size: int | None = None,
    ) -> np.ndarray:
        """Uint8 image of ``subject`` (id or ``"S007"``) in the canonical pose with the given AU
        intensities (0-5): a mapping AU number -> intensity, or a vector over :data:`ALL_AUS`
        (18) or over this profile's AUs. Evidence strengths, amplitude curve and resting face of
        this dataset's realism apply (no head pose)."""
        sid = int(subject[1:]) if isinstance(subject, str) else int(subject)
        inten = np.zeros(len(ALL_AUS))
        if isinstance(intensities, Mapping):
            for au, v in intensities.items():
                inten[AU_INDEX[int(au)]] = float(v)
        elif intensities is not None:
            v = np.asarray(intensities, np.float64)
            if v.shape == (len(ALL_AUS),):
                inten = v.copy()
            elif v.shape == (len(self.aus),):
                inten[self._profile_cols] = v
            else:
                raise ValueError(f"intensities must have 18 or {len(self.aus)} entries, got {v.shape}")
        return render_face(sid, self._gain(inten), size or self.size, None, occluder, rest=self._rest(sid))[0]

    def __repr__(self) -> str:
        return (f"SynthFaces(profile={self.profile!r}, n_subjects={self.n_subjects}, images_per_subject="
                f"{self.images_per_subject}, size={self.size}, occlusion_rate={self.occlusion_rate}, seed={self.seed}"
                + (f", realism={self.realism!r}" if self.realism is not None else "")
                + (f", expression_draw={self.expression_draw!r})" if self.expression_draw != "cooccurrence" else ")"))


def export_list_format(dataset: SynthFaces, out_dir: str | os.PathLike, k: int = 3,
                       image_format: str = "png") -> dict[str, Path]:
    """Write ``dataset`` as images plus the AU papers' list files.

    Layout (``out_dir``): ``S000/000000.png`` ...; for each subject-independent fold ``f`` in 1..k
    ``fold{f}_{train,test}_img_paths.txt`` (one image path per line, relative to ``out_dir``),
    ``fold{f}_{train,test}_labels.txt`` (one space-separated 0/1 row per line, the profile's
    AU order) and ``official_train_weight_fold{f}.txt`` (tab-separated class weights of the
    training set, as ME-GraphAU's code writes them); ``all_img_paths.txt`` / ``all_labels.txt``
    with every sample, and ``au_names.txt``. Returns ``{name: path}`` of the list files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = dataset.labels()["au"].astype(int)
    paths = []
    for i in range(len(dataset)):
        rel = f"{dataset.sample_subjects[i]}/{i:06d}.{image_format}"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(dataset.render(i)).save(out / rel)
        paths.append(rel)
    written: dict[str, Path] = {}

    def write(name: str, idx: np.ndarray) -> None:
        p = out / f"{name}_img_paths.txt"
        p.write_text("".join(paths[j] + "\n" for j in idx))
        q = out / f"{name}_labels.txt"
        q.write_text("".join(" ".join(str(v) for v in labels[j]) + "\n" for j in idx))
        written[f"{name}_img_paths"] = p
        written[f"{name}_labels"] = q

    write("all", np.arange(len(dataset)))
    for f, (tr, te) in enumerate(dataset.folds(k), start=1):
        write(f"fold{f}_train", tr)
        write(f"fold{f}_test", te)
        w = out / f"official_train_weight_fold{f}.txt"
        w.write_text("\t".join(f"{v:.6f}" for v in au_class_weights(labels[tr])) + "\n")
        written[f"fold{f}_weights"] = w
    (out / "au_names.txt").write_text(" ".join(dataset.au_names) + "\n")
    written["au_names"] = out / "au_names.txt"
    return written
