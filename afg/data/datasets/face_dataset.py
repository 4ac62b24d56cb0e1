"""Torch dataset over prepared (aligned) faces — how every model trains on real data.

``FaceDataset(prepared_dir)`` reads the labels from the manifest that ``prepare_dataset`` wrote;
``FaceDataset(adapter, prepared_dir)`` (or ``adapter.dataset(prepared_dir)``) takes the labels
from the adapter's records instead (so e.g. another DISFA intensity threshold reuses the same
faces) and joins them to the aligned images by source path. Only records with a face are kept.

Items follow the batch convention (DESIGN.md): ``image`` (3, S, S) ImageNet-normalised, ``au``
(N,) 0/1 with NaN + ``au_mask`` (N,) bool, ``expression`` long () (−1 missing), ``va`` (2,)
(NaN missing), ``emotions`` (C,), ``subject`` str, ``index`` (position in this dataset) and
``landmarks`` (68, 2) in output pixels: the release's 68 points where it ships them (AffectNet),
else the 68-point template fitted through the face's five stored points
(:class:`afg.data.rois.FaceLandmarks68`; what AU-GCN's ROIs use on BP4D / DISFA).

A face with no label (every label column missing, or the kinds the adapter's ``required_labels``
names missing — JAFFE: a picture without a row in the rating table) is dropped when a dataset is
built from an adapter (what experiments do), with one warning naming how many
(``FaceDataset.unlabelled``): it is neither trained on nor scored.
"""
from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..manifest import read_manifest, relative_source
from ..rois import FaceLandmarks68
from ..transforms import to_tensor
from .records import protocol_folds, records_labels

__all__ = ["FaceDataset", "labelled_rows"]


def labelled_rows(labels: dict[str, np.ndarray], required: Sequence[str] = ()) -> np.ndarray:
    """``(n,)`` bool: the rows that carry a label — at least one known entry of any label kind of
    ``labels`` (``au``/``va``/``emotions`` NaN = missing, ``expression`` −1), or of every kind in
    ``required`` when given (e.g. JAFFE's ratings: ``("emotions",)``)."""
    def known(k: str, v: np.ndarray) -> np.ndarray:
        return v >= 0 if k == "expression" else np.isfinite(v).any(1)

    kinds = [k for k in (required or labels) if k in labels]
    if not kinds:
        n = len(next(iter(labels.values()))) if labels else 0
        return np.ones(n, dtype=bool)
    rows = [known(k, labels[k]) for k in kinds]
    return np.logical_and.reduce(rows) if required else np.logical_or.reduce(rows)


_FIVE_POINT_COLUMNS = tuple(f"lm{k}_{a}" for k in range(5) for a in "xy")


def _landmarks68(table: pd.DataFrame, size: int | None) -> FaceLandmarks68 | None:
    """The 68 landmarks of every row (crop pixels): the release's where the manifest has them
    (``landmarks68``), else the template fitted to the row's five points; None without either."""
    shipped = None
    if "landmarks68" in table.columns:
        vals = table["landmarks68"].fillna("").astype(str)
        if (vals != "").any():
            shipped = np.stack([np.array(v.split(";"), dtype=np.float32).reshape(68, 2) if v
                                else np.full((68, 2), np.nan, dtype=np.float32) for v in vals])
    if all(c in table.columns for c in _FIVE_POINT_COLUMNS):
        pts5 = table[list(_FIVE_POINT_COLUMNS)].to_numpy(dtype=np.float64).reshape(-1, 5, 2)
    elif shipped is not None:
        pts5 = np.full((len(table), 5, 2), np.nan)
    else:
        return None
    if not len(table) or not size:
        return None
    return FaceLandmarks68(pts5, size, shipped)


class FaceDataset(Dataset):
    """Aligned faces + labels.

    Args:
        source: a prepared folder (manifest labels) or a release adapter (its labels).
        prepared: the prepared folder when ``source`` is an adapter.
        indices: positions in ``adapter.records`` (or in the manifest's face rows) to keep.
        transform: applied to the ``(H, W, 3)`` uint8 face; may return an array (normalised here)
            or a finished ``(3, H, W)`` tensor (used as is).
        size: resize faces to ``size × size`` (default: as prepared).
        cache: keep decoded faces in memory — ``True`` (all) or the maximum number of faces.
        normalize: ImageNet normalisation (``afg.data.transforms.to_tensor``).
        drop_unlabelled: drop the faces without a label (one warning; ``unlabelled`` counts
            them). Default: when the labels come from an adapter (the datasets experiments
            build); a prepared folder read alone keeps every aligned face (what packing reads).
    """

    def __init__(self, source: Any, prepared: str | os.PathLike | None = None,
                 indices: Sequence[int] | None = None, transform: Callable | None = None,
                 size: int | None = None, cache: bool | int = False, normalize: bool = True,
                 drop_unlabelled: bool | None = None):
        if isinstance(source, (str, os.PathLike)):
            prepared, adapter = source, None
        else:
            adapter = source
            if prepared is None:
                raise ValueError("FaceDataset(adapter, prepared): the prepared folder is required")
        self.root = Path(prepared)
        manifest, meta = read_manifest(self.root)
        self.meta = meta
        ok = manifest[manifest["status"] == "ok"]
        if adapter is not None:
            self.au_names = list(adapter.au_names)
            self.expression_names = list(adapter.expression_names)
            self.emotion_names = list(adapter.emotion_names)
            self.has_va = bool(adapter.has_va)
            rec = adapter.records
            pos = np.arange(len(rec)) if indices is None else np.asarray(indices, dtype=np.int64)
            rec = rec.iloc[pos]
            aligned_of = dict(zip(ok["source"], ok["aligned"]))
            rel = [relative_source(str(s), adapter.root) for s in rec["image"]]
            has = np.array([r in aligned_of for r in rel], dtype=bool)
            table = rec[has].copy()
            table["aligned"] = [aligned_of[r] for r, h in zip(rel, has) if h]
            table["record"] = pos[has]
            kept = [r for r, h in zip(rel, has) if h]
            by_source = ok.drop_duplicates("source").set_index("source")
            for c in [*_FIVE_POINT_COLUMNS, "landmarks68"]:
                if c in by_source.columns:
                    table[c] = by_source[c].reindex(kept).to_numpy()
        else:
            self.au_names = list(meta.get("au_names", []))
            self.expression_names = list(meta.get("expression_names", []))
            self.emotion_names = list(meta.get("emotion_names", []))
            self.has_va = bool(meta.get("has_va", False))
            table = ok.reset_index(drop=True)
            if indices is not None:
                table = table.iloc[np.asarray(indices, dtype=np.int64)]
        self.table: pd.DataFrame = table.reset_index(drop=True)
        self.transform = transform
        self.size = size
        self.normalize = normalize
        self._cache_limit = (None if cache is True else int(cache)) if cache else 0
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._labels = records_labels(self.table, self.au_names, self.expression_names, self.has_va,
                                      self.emotion_names)
        required = tuple(getattr(adapter, "required_labels", None) or ())
        drop = adapter is not None if drop_unlabelled is None else drop_unlabelled
        keep = labelled_rows(self._labels, required) if drop else np.ones(len(self.table), dtype=bool)
        self.unlabelled = int((~keep).sum())  # faces dropped: neither trained on nor scored
        if self.unlabelled:
            what = "/".join(k for k in (required or tuple(self._labels)) if k in self._labels)
            warnings.warn(f"{self.meta.get('dataset') or self.root.name}: {self.unlabelled} of {len(keep)} "
                          f"faces have no {what} label; dropped (neither trained on nor scored)",
                          UserWarning, stacklevel=2)
            self.table = self.table[keep].reset_index(drop=True)
            self._labels = {k: v[keep] for k, v in self._labels.items()}
        self.prepared_size = int(meta.get("size", 0)) or None
        self._lm68 = _landmarks68(self.table, self.prepared_size)

    # -- dataset protocol --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.table)

    @property
    def num_expressions(self) -> int:
        return len(self.expression_names)

    @property
    def subjects(self) -> np.ndarray:
        return self.table["subject"].astype(str).to_numpy()

    @property
    def landmarks_source(self) -> str | None:
        """Where the items' ``landmarks`` come from: ``"release"`` (68 points shipped), ``"five-point
        fit"`` (the template through each face's five points), ``"mixed"``, or None (no landmarks)."""
        return None if self._lm68 is None else self._lm68.source

    def labels(self) -> dict[str, np.ndarray]:
        """Label arrays for ``afg.data.stats.training_statistics`` (no image is read)."""
        return {k: v.copy() for k, v in self._labels.items()}

    def folds(self, k: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(train_idx, test_idx)`` pairs over this dataset, by the rule of
        :func:`~afg.data.datasets.records.protocol_folds`: the protocol's folds (``fold``
        column) or the official split, else subject-disjoint ``k`` (default 3) folds."""
        return protocol_folds(self.table, k, str(self.meta.get("dataset") or self.root.name))[0]

    def _load(self, i: int) -> np.ndarray:
        if self._cache_limit != 0 and i in self._cache:
            self._cache.move_to_end(i)
            return self._cache[i]
        with Image.open(self.root / self.table["aligned"].iat[i]) as img:
            arr = np.array(img.convert("RGB"), dtype=np.uint8)
        if self.size is not None and arr.shape[0] != self.size:
            arr = np.array(Image.fromarray(arr).resize((self.size, self.size),
                                                         Image.Resampling.BILINEAR))
        if self._cache_limit != 0:
            self._cache[i] = arr
            if self._cache_limit is not None and len(self._cache) > self._cache_limit:
                self._cache.popitem(last=False)
        return arr

    def __getitem__(self, i: int) -> dict[str, Any]:
        i = int(i)
        arr = self._load(i)
        out_size = arr.shape[0]
        img = self.transform(arr) if self.transform is not None else arr
        if not isinstance(img, torch.Tensor):
            img = to_tensor(np.asarray(img), normalize=self.normalize)
        item: dict[str, Any] = {"image": img, "subject": str(self.table["subject"].iat[i]),
                                "index": i}
        lab = self._labels
        if "au" in lab:
            au = torch.from_numpy(lab["au"][i].astype(np.float32))
            item["au"] = au
            item["au_mask"] = ~torch.isnan(au)
        if "expression" in lab:
            item["expression"] = torch.tensor(int(lab["expression"][i]), dtype=torch.long)
        if "va" in lab:
            item["va"] = torch.from_numpy(lab["va"][i].astype(np.float32))
        if "emotions" in lab:
            item["emotions"] = torch.from_numpy(lab["emotions"][i].astype(np.float32))
        if self._lm68 is not None:
            scale = out_size / float(self.prepared_size or out_size)
            item["landmarks"] = torch.from_numpy((self._lm68[i] + 0.5) * scale - 0.5)
        return item
