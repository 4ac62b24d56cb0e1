"""RAF-DB (basic), RAF-DB compound and RAF-ML.

- ``RAFDB``: ``EmoLabel/list_patition_label.txt`` (the misspelling is the release's file name;
  ``list_partition_label.txt`` is accepted too), lines ``train_00001.jpg 5`` with labels 1
  Surprise, 2 Fear, 3 Disgust, 4 Happiness, 5 Sadness, 6 Anger, 7 Neutral; split by the
  ``train_``/``test_`` prefix; images ``Image/aligned/{stem}_aligned.jpg`` (or ``Image/original``).
- ``RAFCompound``: same layout, labels 1..11 are compound classes, each mapped to the 6-dim
  multi-label vector of its two basic emotions (``emotions``), the class kept as ``expression``.
- ``RAFML``: label-distribution and/or binary multi-label files (``name v1 … v6``) for the 6
  emotions; file names and column order are parameters because copies differ; a partition file
  (``name 0|1`` or ``train_``/``test_`` names) when present, else a seeded split.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .base import ReleaseAdapter, ReleaseFormatError, find_dir, read_text_lines

__all__ = ["RAFDB", "RAFML", "RAF_BASIC", "RAF_COMPOUND", "RAF_EMOTIONS", "RAFCompound"]

RAF_BASIC = ("Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral")
RAF_EMOTIONS = RAF_BASIC[:6]
RAF_COMPOUND = (
    ("Happily Surprised", ("Happiness", "Surprise")),
    ("Happily Disgusted", ("Happiness", "Disgust")),
    ("Sadly Fearful", ("Sadness", "Fear")),
    ("Sadly Angry", ("Sadness", "Anger")),
    ("Sadly Surprised", ("Sadness", "Surprise")),
    ("Sadly Disgusted", ("Sadness", "Disgust")),
    ("Fearfully Angry", ("Fear", "Anger")),
    ("Fearfully Surprised", ("Fear", "Surprise")),
    ("Angrily Surprised", ("Anger", "Surprise")),
    ("Angrily Disgusted", ("Anger", "Disgust")),
    ("Disgustedly Surprised", ("Disgust", "Surprise")),
)
_PARTITION = ("EmoLabel/list_patition_label.txt", "EmoLabel/list_partition_label.txt",
              "list_patition_label.txt", "list_partition_label.txt")


def _image_path(root: Path, name: str, aligned: bool) -> str:
    stem = Path(name).stem
    if aligned:
        return str(root / "Image" / "aligned" / f"{stem}_aligned.jpg")
    return str(root / "Image" / "original" / name)


def _split_of(name: str) -> str | None:
    low = name.lower()
    if low.startswith("train"):
        return "train"
    if low.startswith("test"):
        return "test"
    return None


def _read_name_values(path: Path, width: int | None = None) -> list[tuple[int, str, list[float]]]:
    out = []
    for lineno, text in read_text_lines(path):
        parts = text.split()
        if len(parts) < 2 or (width is not None and len(parts) != width + 1):
            raise ReleaseFormatError(path, lineno, f"expected an image name and {width or 'some'} values, got {text[:60]!r}")
        try:
            vals = [float(p) for p in parts[1:]]
        except ValueError:
            raise ReleaseFormatError(path, lineno, f"non-numeric value in {text[:60]!r}") from None
        out.append((lineno, parts[0], vals))
    return out


class _RAFPartition(ReleaseAdapter):
    num_labels = 7

    def __init__(self, root, aligned: bool = True, label_file: str | None = None, **kw):
        self.aligned = aligned
        self._label_file = label_file
        super().__init__(root, **kw)

    def _read_partition(self) -> pd.DataFrame:
        path = (self.root / self._label_file) if self._label_file else find_dir(
            self.root, _PARTITION, what=f"{self.name} partition label file")
        names, labels, splits = [], [], []
        for lineno, name, vals in _read_name_values(path, 1):
            code = int(vals[0])
            if vals[0] != code or not 1 <= code <= self.num_labels:
                raise ReleaseFormatError(path, lineno, f"label {vals[0]:g} outside 1..{self.num_labels}")
            split = _split_of(name)
            if split is None:
                raise ReleaseFormatError(path, lineno, f"image name {name!r} has no train_/test_ prefix")
            names.append(name)
            labels.append(code - 1)
            splits.append(split)
        return pd.DataFrame({
            "image": [_image_path(self.root, n, self.aligned) for n in names],
            "subject": [Path(n).stem for n in names],
            "split": splits,
            "expression": np.asarray(labels, dtype=float),
        })


class RAFDB(_RAFPartition):
    """RAF-DB basic emotions (7 classes, RAF order)."""

    name = "rafdb"
    expression_names = RAF_BASIC

    def _load(self) -> pd.DataFrame:
        rec = self._read_partition()
        rec["expression_name"] = [RAF_BASIC[int(e)] for e in rec["expression"]]
        return rec


class RAFCompound(_RAFPartition):
    """RAF-DB compound emotions: 11 classes → 6 basic emotions as multi-label ``emotions``."""

    name = "rafcompound"
    num_labels = 11
    expression_names = tuple(c for c, _ in RAF_COMPOUND)
    emotion_names = RAF_EMOTIONS

    def _load(self) -> pd.DataFrame:
        rec = self._read_partition()
        rec["expression_name"] = [self.expression_names[int(e)] for e in rec["expression"]]
        for emo in self.emotion_names:
            rec[emo] = [float(emo in RAF_COMPOUND[int(e)][1]) for e in rec["expression"]]
        return rec


class RAFML(ReleaseAdapter):
    """RAF-ML multi-label emotions.

    Args:
        distribution, multilabel: file names (searched in ``root``, ``root/EmoLabel``,
            ``root/multilabel``, or paths relative to ``root``); either may be absent.
        emotion_order: the order of the 6 value columns in those files (default RAF order).
        threshold: binarise the distribution (value ≥ threshold) when no binary file exists.
        partition: optional split file (``name 0|1``, 1 = test; or train_/test_ names).
        test_fraction, seed: the seeded split used when there is no partition file.
    """

    name = "rafml"
    emotion_names = RAF_EMOTIONS

    def __init__(self, root, distribution: str | None = "distribution.txt",
                 multilabel: str | None = "multilabel.txt", emotion_order: Sequence[str] = RAF_EMOTIONS,
                 threshold: float = 1 / 6, partition: str | None = "partition_label.txt",
                 test_fraction: float = 0.2, seed: int = 0, aligned: bool = True, **kw):
        if sorted(emotion_order) != sorted(RAF_EMOTIONS):
            raise ValueError(f"emotion_order must be a permutation of {RAF_EMOTIONS}")
        self.emotion_order = tuple(emotion_order)
        self._dist, self._ml, self._part = distribution, multilabel, partition
        self.threshold, self.test_fraction, self.seed, self.aligned = threshold, test_fraction, seed, aligned
        super().__init__(root, **kw)

    def _find(self, name: str | None) -> Path | None:
        if not name:
            return None
        return find_dir(self.root, [name, f"EmoLabel/{name}", f"multilabel/{name}"], required=False)

    def _load(self) -> pd.DataFrame:
        dist_file, ml_file = self._find(self._dist), self._find(self._ml)
        if dist_file is None and ml_file is None:
            raise FileNotFoundError(f"RAF-ML: neither {self._dist!r} nor {self._ml!r} found under {self.root}")
        order = [self.emotion_order.index(e) for e in RAF_EMOTIONS]  # file column of each emotion
        tables = {}
        for kind, f in (("dist", dist_file), ("ml", ml_file)):
            if f is not None:
                rows = _read_name_values(f, 6)
                tables[kind] = {n: np.asarray(v)[order] for _, n, v in rows}
                if kind == "ml":
                    for lineno, _n, v in rows:
                        if any(x not in (0.0, 1.0) for x in v):
                            raise ReleaseFormatError(f, lineno, "multi-label values must be 0 or 1")
        names = list(tables.get("ml", tables.get("dist")).keys())
        if "ml" in tables and "dist" in tables:
            names += [n for n in tables["dist"] if n not in tables["ml"]]
        rec = pd.DataFrame({"image": [_image_path(self.root, n, self.aligned) for n in names],
                            "subject": [Path(n).stem for n in names]})
        for j, emo in enumerate(RAF_EMOTIONS):
            if "ml" in tables:
                rec[emo] = [tables["ml"][n][j] if n in tables["ml"] else np.nan for n in names]
            else:
                rec[emo] = [float(tables["dist"][n][j] >= self.threshold) for n in names]
            if "dist" in tables:
                rec[f"dist_{emo}"] = [tables["dist"][n][j] if n in tables["dist"] else np.nan for n in names]
        rec["split"] = self._splits(names)
        return rec

    def _splits(self, names: list[str]) -> list[str]:
        part = self._find(self._part)
        if part is not None:
            table = {}
            for lineno, text in read_text_lines(part):
                bits = text.split()
                if len(bits) == 2 and bits[1] in ("0", "1"):
                    table[bits[0]] = "test" if bits[1] == "1" else "train"
                elif len(bits) >= 1 and _split_of(bits[0]):
                    table[bits[0]] = _split_of(bits[0])
                else:
                    raise ReleaseFormatError(part, lineno, f"expected 'name 0|1', got {text[:60]!r}")
            unlisted = [n for n in names if n not in table]
            if unlisted:  # never silently trained on: in no split, so neither trained nor scored
                warnings.warn(f"RAF-ML: {len(unlisted)} labelled images are not in {part} (e.g. "
                              f"{unlisted[0]}); they are left out of training and scoring", stacklevel=4)
            return [table.get(n) for n in names]
        prefixed = [_split_of(n) for n in names]
        if all(prefixed):
            return prefixed  # type: ignore[return-value]
        self.split_note = (f"no partition file ({self._part}) under {self.root}: a seeded "
                           f"{1 - self.test_fraction:.0%}/{self.test_fraction:.0%} split (seed {self.seed}) "
                           "stands in for the release's partition")
        warnings.warn(f"RAF-ML: {self.split_note}; scores are not comparable with the paper's", stacklevel=4)
        rng = np.random.default_rng(self.seed)
        test = set(rng.permutation(len(names))[: round(self.test_fraction * len(names))].tolist())
        return ["test" if i in test else "train" for i in range(len(names))]

