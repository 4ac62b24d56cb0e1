"""Data building: the synthetic and release builders of a :class:`~afg.data.spec.DataSpec` (the
``data`` section of an experiment config), SVML-RGCN's basic-expression set (``data.basic``), fresh
synthetic identities and the model-selection split (``recipe.selection: val``).
:func:`build_data` returns ``(train, held_out)``: a builder registered with
:func:`~afg.data.spec.register_dataset` first, else the release adapter.
"""
from __future__ import annotations

import copy
import dataclasses
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset, Subset

from ..config import ConfigError
from .augment import AugmentedSubset, FaceAugment
from .datasets import get_adapter
from .device_augment import EncodedFaceDataset
from .packed import packed_dataset
from .sampling import FrameSampling, video_ids
from .spec import DATASETS, DataSpec, register_dataset
from .synth import SynthFaces
from .wrappers import CachedDataset, base_positions

__all__ = ["SYNTHETIC_BASIC_SUBJECT_OFFSET", "build_basic_data", "build_data", "data_protocol", "fresh_identities",
           "item_subjects", "protocol_fold_count", "release_protocol", "selection_split"]


_SYNTH_CACHE: OrderedDict[tuple, Dataset] = OrderedDict()


def _synthetic(spec: DataSpec, **kw: Any) -> Dataset:
    key = (spec.profile, spec.n_subjects, spec.images_per_subject, spec.size, spec.occlusion_rate,
           spec.seed, tuple(sorted(kw.items())), tuple(sorted((k, str(v)) for k, v in spec.options.items())))
    if key in _SYNTH_CACHE:
        _SYNTH_CACHE.move_to_end(key)
        return _SYNTH_CACHE[key]
    ds = SynthFaces(profile=spec.profile, n_subjects=kw.pop("n_subjects", spec.n_subjects),
                    images_per_subject=spec.images_per_subject, size=kw.pop("size", spec.size),
                    occlusion_rate=spec.occlusion_rate, seed=kw.pop("seed", spec.seed), **kw,
                    **spec.options)
    ds = CachedDataset(ds) if spec.cache else ds
    _SYNTH_CACHE[key] = ds
    while len(_SYNTH_CACHE) > 4:
        _SYNTH_CACHE.popitem(last=False)
    return ds


def _split(spec: DataSpec, train: Dataset, train_idx: Any, val: Dataset | None, val_idx: Any,
           crop: int | None) -> tuple[Dataset, Dataset | None]:
    """``(train, val)`` subsets; with augmentation (``hflip``/``rotation``/``color_jitter``) or a
    crop, :class:`afg.data.augment.AugmentedSubset` (random in training, centre crop in validation)."""
    tr = _view(spec, train, train_idx, True, crop)
    va = None if val is None else _view(spec, val, val_idx, False, crop)
    return tr, va


def _view(spec: DataSpec, ds: Dataset, idx: Any, is_train: bool, crop: int | None) -> Dataset:
    """Items ``idx`` of ``ds`` (all when None) as training (random) or validation (centre crop) show them."""
    aug = FaceAugment.from_spec(spec, train=is_train, crop=crop)
    if aug.is_identity and idx is None:
        return ds
    idx = list(range(len(ds))) if idx is None else [int(i) for i in idx]
    return Subset(ds, idx) if aug.is_identity else AugmentedSubset(ds, idx, aug)


def _crop_side(out: int | None, loaded: int | None) -> int | None:
    """The crop to ``out`` px (``data.img_size``) of faces loaded at ``loaded`` px (``None``: none)."""
    if out is None or loaded is None or int(out) == int(loaded):
        return None
    if int(out) > int(loaded):
        raise ConfigError(f"data.img_size {out} is larger than the faces it crops "
                          f"(data.resize/size {loaded})")
    return int(out)


@register_dataset("synthetic")
def _build_synthetic(spec: DataSpec) -> tuple[Dataset, Dataset | None]:
    """Synthetic faces rendered at ``resize`` (default ``size``) px, cropped to ``img_size`` when it
    is smaller (random crop in training, centre crop in validation)."""
    render = int(spec.resize or spec.size)
    crop = _crop_side(spec.img_size or spec.size, render)
    ds = _synthetic(spec, size=render)
    if spec.folds and spec.folds >= 2:
        tr, te = ds.folds(spec.folds)[spec.fold - 1]
        if spec.frame_sampling:  # one "video" per synthetic identity
            lab = ds.labels()
            tr = tr[_frame_sample(spec, lab["au"][tr], lab["subject"][tr])]
        return _split(spec, ds, tr.tolist(), ds, te.tolist(), crop)
    held_out = _synthetic(spec, n_subjects=max(2, spec.n_subjects // 3), seed=spec.seed + 1,
                          subject_offset=spec.n_subjects, size=render)
    return _split(spec, ds, None, held_out, None, crop)


def fresh_identities(spec: DataSpec, n_subjects: int, seed_offset: int = 1000) -> Dataset:
    """``n_subjects`` synthetic identities that no fold of ``spec`` holds, shown as its held-out
    fold is (rendered at ``resize``/``size``, centre-cropped to ``img_size``, no augmentation).

    The generator of ``spec`` (profile, faces per identity, options) at seed ``spec.seed +
    seed_offset``, subjects numbered from ``spec.n_subjects`` on (disjoint from every fold's ids): a
    larger test set from the same population, to tell a model's error from the noise of a 10-identity
    held-out fold (``benchmarks/synth_stability.py --fresh``). Synthetic data only.
    """
    if spec.dataset.lower() != "synthetic":
        raise ConfigError(f"fresh identities need the synthetic generator; data.dataset is {spec.dataset!r}")
    if n_subjects < 1 or seed_offset == 0:
        raise ConfigError(f"fresh identities: n_subjects {n_subjects} must be >= 1 and seed_offset non-zero")
    render = int(spec.resize or spec.size)
    crop = _crop_side(spec.img_size or spec.size, render)
    ds = _synthetic(spec, n_subjects=int(n_subjects), seed=spec.seed + int(seed_offset),
                    subject_offset=spec.n_subjects, size=render)
    return _view(spec, ds, None, False, crop)


def _frame_sample(spec: DataSpec, labels: np.ndarray, videos: np.ndarray) -> np.ndarray:
    """Positions (into the fold's training rows) of ``data.frame_sampling``'s per-video sample."""
    if labels.ndim != 2 or labels.shape[1] == 0:
        raise ConfigError(f"data.frame_sampling needs AU labels; {spec.dataset!r} has none")
    return FrameSampling.from_spec(spec.frame_sampling).indices(labels, videos)


def release_protocol(spec: DataSpec, adapter: Any = None) -> tuple[np.ndarray, np.ndarray, Any]:
    """``(train_idx, test_idx, Protocol)`` of a release ``data`` spec: the pair of the adapter's
    :meth:`~afg.data.datasets.ReleaseAdapter.protocol` that ``data.fold`` names.

    ``data.folds`` unset is the dataset's own protocol — its folds (BP4D, DISFA, EmotioNet, JAFFE,
    fold lists) or its official split (AffectNet, Aff-Wild2, RAF-DB, RAF-Compound, RAF-ML: train
    on the training set, score the official validation / test set); ``0`` asks for the official
    split; ``k`` ≥ 2 on data with an official split is off-protocol cross-validation (warned, and
    the protocol's ``official`` is False in every export). ``data.split`` names the scored split
    where a release has several."""
    if adapter is None:
        if not spec.root:
            raise ConfigError(f"data.root is required for dataset {spec.dataset!r}")
        adapter = get_adapter(spec.dataset, spec.root, **spec.options)
    try:
        pairs, proto = adapter.protocol(spec.folds, spec.split)
    except ValueError as e:
        raise ConfigError(f"data.folds: {e}") from None
    if not 1 <= spec.fold <= len(pairs):
        raise ConfigError(f"data.fold: {spec.fold} is not in 1..{len(pairs)} ({proto.text})")
    tr, te = pairs[spec.fold - 1]
    return tr, te, proto


def _build_release(spec: DataSpec) -> tuple[Dataset, Dataset | None]:
    """Real datasets: the release adapter's protocol (:func:`release_protocol`) over faces
    prepared by ``afg prepare``; both datasets carry ``protocol`` (its :meth:`Protocol.as_dict`)."""
    if not spec.root:
        raise ConfigError(f"data.root is required for dataset {spec.dataset!r}")
    adapter = get_adapter(spec.dataset, spec.root, **spec.options)
    prepared = spec.prepared or str(Path(spec.root) / "prepared")
    tr, te, proto = release_protocol(spec, adapter)
    if spec.frame_sampling:
        rows = adapter.records.iloc[tr]
        tr = tr[_frame_sample(spec, rows[list(adapter.au_names)].to_numpy(dtype=float), video_ids(rows))]
    kw = {"size": spec.resize or spec.img_size, "cache": spec.cache}
    crop = _crop_side(spec.img_size, spec.resize) if spec.resize else None
    if spec.packed:  # one shared memory-mapped array instead of a JPEG decode per item
        train, val = (packed_dataset(adapter, prepared, spec.packed, indices=ix, size=kw["size"])
                      for ix in (tr, te))
    elif spec.decode_on == "device":  # the training JPEGs are decoded on the GPU (nvJPEG)
        train = EncodedFaceDataset(adapter, prepared, indices=tr, size=kw["size"])
        val = adapter.dataset(prepared, indices=te, **kw)
    else:
        train, val = adapter.dataset(prepared, indices=tr, **kw), adapter.dataset(prepared, indices=te, **kw)
    train, val = _split(spec, train, None, val, None, crop)
    for ds in (train, val):
        ds.protocol = proto.as_dict(spec.fold)
    return train, val


def protocol_fold_count(spec: DataSpec) -> int:
    """How many (train, test) pairs ``spec``'s protocol has: ``data.folds`` where it is given
    (``0`` = one official split), else the release's own (its folds, or 1 for an official split;
    the adapter is read)."""
    if spec.folds is not None:
        return max(1, int(spec.folds))
    if not spec.root:
        raise ConfigError(f"data.root is required for dataset {spec.dataset!r}")
    return len(get_adapter(spec.dataset, spec.root, **spec.options).folds(None))


def data_protocol(data: Dataset | None, spec: DataSpec) -> dict[str, Any]:
    """What a run's held-out faces are (the evaluation record's ``protocol``): the release protocol a
    builder attached to ``data``, else the synthetic folds / held-out identities of ``spec`` (a
    release run from before protocols were recorded: ``kind`` ``"unrecorded"``)."""
    found = getattr(data, "protocol", None)
    if isinstance(found, dict):
        return dict(found)
    if spec.dataset.lower() not in DATASETS:
        return {"kind": "unrecorded", "k": spec.folds, "fold": spec.fold, "official": None,
                "text": f"{spec.dataset}: not recorded (a run made before afg recorded protocols)"}
    if spec.folds and spec.folds >= 2:
        return {"kind": "subject-cv", "k": spec.folds, "fold": spec.fold, "official": True,
                "text": f"fold {spec.fold} of {spec.folds} subject-disjoint folds of {spec.dataset}"}
    return {"kind": "held-out", "k": 1, "fold": None, "official": True,
            "text": f"held-out identities of {spec.dataset}"}


def build_basic_data(spec: DataSpec) -> Dataset:
    """The basic-expression faces named by ``data.basic`` (SVML-RGCN's RAF-DB basic, Eq. 5):
    ``{dataset, root, prepared, split, options}``, the rows of ``split`` (default ``train``;
    ``all`` = every row), loaded like validation faces (``resize``, centre crop, no augmentation).
    """

    b = dict(spec.basic)
    if str(b.get("dataset", "")).lower() == "synthetic":
        return _synthetic_basic(spec, b)
    unknown = sorted(set(b) - {"dataset", "root", "prepared", "split", "options"})
    if unknown or not b.get("dataset") or not b.get("root"):
        raise ConfigError(f"data.basic needs dataset and root (and may give prepared, split, options), "
                          f"got {sorted(b)}; e.g. {{dataset: rafdb, root: data/RAF-DB/basic, split: train}}")
    adapter = get_adapter(b["dataset"], b["root"], **dict(b.get("options") or {}))
    split = b.get("split", "train")
    idx = None if split in (None, "all") else adapter.split_indices(str(split))
    prepared = b.get("prepared") or str(Path(b["root"]) / "prepared")
    ds = adapter.dataset(prepared, indices=idx, size=spec.resize or spec.img_size, cache=False)
    crop = _crop_side(spec.img_size, spec.resize) if spec.resize else None
    aug = FaceAugment.from_spec(spec, train=False, crop=crop)
    return ds if aug.is_identity else AugmentedSubset(ds, list(range(len(ds))), aug)


#: first subject id of the synthetic basic-expression faces (disjoint from every fold's identities)
SYNTHETIC_BASIC_SUBJECT_OFFSET = 50_000


def _synthetic_basic(spec: DataSpec, b: dict[str, Any]) -> Dataset:
    """``data.basic: {dataset: synthetic}``: the synthetic stand-in for RAF-DB basic — faces whose
    7 basic expressions are equally frequent (``SynthFaces(balance="expression")``), of identities
    no fold contains, rendered like the training faces and seen like validation faces. Keys:
    ``profile`` (default ``data.profile``), ``n_subjects`` (6), ``images_per_subject`` (14),
    ``seed`` (``data.seed``)."""

    unknown = sorted(set(b) - {"dataset", "profile", "n_subjects", "images_per_subject", "seed"})
    if unknown:
        raise ConfigError(f"data.basic (synthetic): unknown keys {unknown}; it takes profile, "
                          "n_subjects, images_per_subject and seed")
    render = int(spec.resize or spec.size)
    ds = SynthFaces(profile=b.get("profile", spec.profile), n_subjects=int(b.get("n_subjects", 6)),
                    images_per_subject=int(b.get("images_per_subject", 14)), size=render,
                    seed=int(b.get("seed", spec.seed)), subject_offset=SYNTHETIC_BASIC_SUBJECT_OFFSET,
                    balance="expression")
    aug = FaceAugment.from_spec(spec, train=False, crop=_crop_side(spec.img_size or spec.size, render))
    return ds if aug.is_identity else AugmentedSubset(ds, list(range(len(ds))), aug)


def build_data(spec: DataSpec) -> tuple[Dataset, Dataset | None]:
    """``(train, val)`` for a data spec (registered builders first, then release adapters).

    With ``data.basic``, :func:`build_basic_data`'s dataset is attached to ``train`` as
    ``train.basic_data`` (SVML-RGCN's ``prepare()`` averages its class means over it, Eq. 5).
    """
    fn = DATASETS.get(spec.dataset.lower())
    train, val = fn(spec) if fn is not None else _build_release(spec)
    if spec.basic:
        if any(train is d for d in _SYNTH_CACHE.values()):
            train = Subset(train, list(range(len(train))))  # never tag a shared cached dataset
        train.basic_data = build_basic_data(spec)
    return train, val


def item_subjects(data: Dataset) -> np.ndarray | None:
    """The subject id of every item of ``data`` (``(len(data),)`` strings) without loading an
    image, looking through ``Subset``/``CachedDataset`` wrappers; ``None`` when the data has none.

    Sources, in order: ``labels()["subject"]`` (synthetic faces), ``sample_subjects``, and a
    per-item ``subjects`` array (release datasets, :class:`afg.data.datasets.FaceDataset`).
    """
    ds, idx = base_positions(data)
    subj = None
    labels = getattr(ds, "labels", None)
    if callable(labels):
        subj = labels().get("subject")
    if subj is None:
        subj = getattr(ds, "sample_subjects", None)
    if subj is None:
        cand = getattr(ds, "subjects", None)
        if cand is not None and not callable(cand) and len(cand) == len(ds):
            subj = cand
    if subj is None:
        return None
    subj = np.asarray(subj).astype(str)
    return subj if idx is None else subj[idx]


def selection_split(train: Dataset, fraction: float = 0.125, seed: int = 0) -> tuple[Dataset, Dataset]:
    """``(fit_train, select)``: the model-selection split of ``recipe.selection: val``.

    ``round(fraction × S)`` of the ``S`` training subjects (at least one, at most ``S − 1``) drawn
    with ``numpy.random.default_rng(seed)`` form ``select``; the remaining subjects train. Data
    without subject ids (:func:`item_subjects` is ``None``) are split by item instead. Only the
    training part of a fold is read, so the held-out fold stays unseen until the final evaluation.

    The selection items are shown as at validation time: a training :class:`AugmentedSubset` gives
    ``select`` the same transform with ``train=False`` (the centre crop only).
    """
    n = len(train)
    subj = item_subjects(train)
    rng = np.random.default_rng(seed)
    if subj is not None and len(np.unique(subj)) >= 2:
        uniq = np.unique(subj)
        k = min(len(uniq) - 1, max(1, round(fraction * len(uniq))))
        chosen = rng.choice(uniq, size=k, replace=False)
        pick = np.isin(subj, chosen)
    else:
        if n < 2:
            raise ConfigError(f"recipe.selection: val needs at least 2 training items to carve a "
                              f"selection split from, the fold has {n}; use recipe.selection=last")
        k = min(n - 1, max(1, round(fraction * n)))
        pick = np.zeros(n, dtype=bool)
        pick[rng.choice(n, size=k, replace=False)] = True
    keep, sel = np.flatnonzero(~pick).tolist(), np.flatnonzero(pick).tolist()
    if isinstance(train, Subset) and not isinstance(train.dataset, Subset):
        base, idx = train.dataset, [int(train.indices[i]) for i in range(n)]
        if isinstance(train, AugmentedSubset):
            aug = train.transform
            view = dataclasses.replace(aug, train=False) if dataclasses.is_dataclass(aug) else aug
            fit_train: Dataset = AugmentedSubset(base, [idx[i] for i in keep], aug)
            select: Dataset = AugmentedSubset(_decoded(base), [idx[i] for i in sel], view)
        else:
            fit_train = Subset(base, [idx[i] for i in keep])
            select = Subset(_decoded(base), [idx[i] for i in sel])
    else:
        fit_train, select = Subset(train, keep), Subset(_decoded(train), sel)
    # attributes a builder attached to the training set (e.g. SVML-RGCN's ``basic_data``) stay with it
    for key, value in (vars(train) if isinstance(train, Subset) else {}).items():
        if key not in vars(fit_train):
            setattr(fit_train, key, value)
    return fit_train, select


def _decoded(ds: Dataset) -> Dataset:
    """``ds`` as validation code reads it: a ``data.decode_on: device`` training set
    (:class:`afg.data.device_augment.EncodedFaceDataset`, items carrying JPEG bytes for the trainer
    to decode) viewed as the plain :class:`~afg.data.datasets.FaceDataset` it extends (decoded
    images, same rows); anything else as is."""
    if not isinstance(ds, EncodedFaceDataset):
        return ds
    view = copy.copy(ds)
    view.__class__ = next(c for c in type(ds).__mro__[1:] if not issubclass(c, EncodedFaceDataset))
    view._cache = OrderedDict()  # its own decoded-image cache
    return view
