"""Shared machinery of the release adapters: the records table, label arrays, folds, errors.

Records table (``adapter.records``, a pandas DataFrame, one row per labelled image / frame):

- ``image``: absolute path of the source image (it may be missing on disk: see ``missing``);
- ``subject``: the person (for releases without identities, the image stem);
- label columns (``adapter.label_columns``), missing labels as NaN:
  AU columns ``AU01``, ``AU02``, … (0/1) in the protocol's order (``au_names``);
  single-label expression: ``expression`` (class index into ``expression_names``, float with
  NaN) and ``expression_name``; ``valence``, ``arousal``; multi-label emotions: one column per
  emotion name (``emotion_names``, 0/1 — or a distribution for ``RAFML`` ``dist_*`` columns);
- where the release defines them: ``frame``, ``video``, ``task``, ``split`` (``train`` /
  ``validation`` / ``test``) and ``fold`` (1..K: the fold whose *test* set holds the row).

``adapter.label_mask()`` is the ``(n, L)`` boolean mask of present labels. ``adapter.labels()``
returns the arrays ``afg.data.stats.training_statistics`` consumes. ``adapter.folds()`` returns
a list of ``(train_indices, test_indices)`` positional index pairs (like ``SynthFaces.folds``):
the protocol's folds where it has them, else the single official train/test split.
"""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .face_dataset import FaceDataset
from .records import Protocol, protocol_folds, records_labels

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageFolder",
    "MissingImagesError",
    "ReleaseAdapter",
    "ReleaseFormatError",
    "au_name",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm",
                    ".pgm")


class ReleaseFormatError(ValueError):
    """A label file that does not follow the release's format; the message names file and line."""

    def __init__(self, path: str | os.PathLike, line: int | None, message: str):
        self.path, self.line = str(path), line
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")


class MissingImagesError(FileNotFoundError):
    """None of the labelled images of a release is on disk (e.g. DISFA before its frames were
    extracted); the message names the folder searched and the step that creates the images."""


def au_name(number: int | str) -> str:
    """``1`` → ``"AU01"``; ``"AU 25"`` → ``"AU25"``."""
    m = re.search(r"(\d+)", str(number))
    if not m:
        raise ValueError(f"not an AU: {number!r}")
    return f"AU{int(m.group(1)):02d}"


def read_text_lines(path: str | os.PathLike) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based line numbers (BOM, CR and trailing blanks removed)."""
    text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    return [(i + 1, ln.strip()) for i, ln in enumerate(text.splitlines()) if ln.strip()]


def parse_number(value: str, path: str | os.PathLike, line: int, what: str = "value") -> float:
    try:
        return float(value.strip().strip("'\""))
    except ValueError:
        raise ReleaseFormatError(path, line, f"{what} {value!r} is not a number") from None


def numeric_rows(path: str | os.PathLike, ncols: int | None = None, sep: str | None = ",",
                 skip_header: bool = False) -> tuple[np.ndarray, list[str] | None]:
    """Parse a numeric table; returns ``(values (n, ncols), header)``.

    A row with the wrong number of fields or a non-number raises :class:`ReleaseFormatError`
    naming the file and the (1-based) line.
    """
    lines = read_text_lines(path)
    header = None
    if skip_header and lines:
        header = [h.strip() for h in (lines[0][1].split(sep) if sep else lines[0][1].split())]
        lines = lines[1:]
    rows = []
    for lineno, text in lines:
        parts = text.split(sep) if sep else text.split()
        if sep and len(parts) > 1 and parts[-1].strip() == "":
            parts = parts[:-1]  # tolerate a trailing separator
        if ncols is None:
            ncols = len(parts)
        if len(parts) != ncols:
            raise ReleaseFormatError(path, lineno, f"expected {ncols} fields, found {len(parts)}: {text[:80]!r}")
        rows.append([parse_number(p, path, lineno) for p in parts])
    return np.asarray(rows, dtype=np.float64).reshape(-1, ncols or 0), header


class ReleaseAdapter:
    """Base class: subclasses fill ``self.records`` in ``_load()``.

    Args:
        root: the release folder as distributed.
        check_images: look for every image on disk; rows whose image is missing are listed in
            ``self.missing`` (and a warning says how many). When *none* is on disk the adapter
            raises :class:`MissingImagesError` naming the folder and ``missing_images_hint``.
        drop_missing: remove those rows from ``records`` (default); otherwise keep them (they
            are reported as unreadable by ``prepare_dataset``).
    """

    name: str = "release"
    au_names: Sequence[str] = ()
    expression_names: Sequence[str] = ()
    emotion_names: Sequence[str] = ()
    has_va: bool = False
    provides_landmarks: bool = False  # True when source_landmarks() returns the release's points
    #: what creates the images when none is found (subclasses whose images need a step say which)
    missing_images_hint: str = "check the release folder and its layout (the adapter's docstring)"

    def __init__(self, root: str | os.PathLike, check_images: bool = True,
                 drop_missing: bool = True, **_: Any):
        self.root = Path(root).expanduser()
        if not self.root.exists():
            raise FileNotFoundError(f"{self.name}: release folder {self.root} does not exist")
        self.check_images = check_images
        self.drop_missing = drop_missing
        records = self._load()
        records = records.reset_index(drop=True)
        # label names travel as lists on the instance
        self.au_names = list(self.au_names)
        self.expression_names = list(self.expression_names)
        self.emotion_names = list(self.emotion_names)
        self.missing = records.iloc[0:0].copy()
        if check_images and len(records):
            exists = files_exist(records["image"].astype(str).tolist())
            if not exists.any():
                raise MissingImagesError(self._no_images_message(records))
            if not exists.all():
                self.missing = records[~exists].copy()
                warnings.warn(
                    f"{self.name}: {int((~exists).sum())} of {len(records)} labelled images are "
                    f"missing under {self.root} (see .missing)", stacklevel=2)
                if drop_missing:
                    records = records[exists].reset_index(drop=True)
        self.records: pd.DataFrame = records

    def _no_images_message(self, records: pd.DataFrame) -> str:
        first = str(records["image"].iloc[0])
        folder = getattr(self, "image_root", None)
        if folder is None:
            parents = {os.path.dirname(str(p)) for p in records["image"].iloc[:2000]}
            folder = os.path.commonpath(sorted(parents)) if parents else self.root
        return (f"{self.name}: none of the {len(records)} labelled images exists under {folder} "
                f"(e.g. {first}); {self.missing_images_hint}")

    # -- to implement ------------------------------------------------------------------------
    def _load(self) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- labels ------------------------------------------------------------------------------
    @property
    def tasks(self) -> list[str]:
        t = []
        if self.au_names:
            t.append("au")
        if self.expression_names:
            t.append("expression")
        if self.has_va:
            t.append("va")
        if self.emotion_names:
            t.append("emotions")
        return t

    @property
    def label_columns(self) -> list[str]:
        cols = list(self.au_names)
        if self.expression_names:
            cols.append("expression")
        if self.has_va:
            cols += ["valence", "arousal"]
        cols += list(self.emotion_names)
        return cols

    @property
    def num_expressions(self) -> int:
        return len(self.expression_names)

    def label_mask(self) -> np.ndarray:
        """``(n, L)`` bool, True where the label in ``label_columns`` is present."""
        return self.records[self.label_columns].notna().to_numpy()

    def labels(self) -> dict[str, np.ndarray]:
        """``au`` (n, N) float NaN-missing; ``expression`` (n,) int64 −1 missing; ``va`` (n, 2);
        ``emotions`` (n, C) float NaN-missing — those that the release has."""
        return records_labels(self.records, self.au_names, self.expression_names, self.has_va,
                              self.emotion_names)

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, n={len(self.records)}, tasks={self.tasks})"

    # -- protocol ----------------------------------------------------------------------------
    def folds(self, k: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(train_idx, test_idx), ...]`` positional indices into ``records``: the protocol of
        :func:`~afg.data.datasets.records.protocol_folds` (``k`` None: the release's folds or its
        official split; ``k`` ≥ 2 on data with an official split: off-protocol CV, warned)."""
        return self.protocol(k)[0]

    def protocol(self, k: int | None = None, scored: str | None = None
                 ) -> tuple[list[tuple[np.ndarray, np.ndarray]], Protocol]:
        """``(folds, Protocol)``: :meth:`folds` and what they are (see ``protocol_folds``). An
        adapter whose ``split`` column is not the release's own (``split_note``, e.g. RAF-ML
        without its partition file) gives an ``official`` False protocol that says so."""
        pairs, proto = protocol_folds(self.records, k, self.name, scored)
        note = getattr(self, "split_note", None)
        if note and proto.kind == "official":
            proto = Protocol(proto.kind, proto.k, False, f"{proto.text} — NOT the official split: {note}")
        return pairs, proto

    def split_indices(self, split: str) -> np.ndarray:
        """Positional indices of the rows of ``split`` (``train``/``validation``/``test``)."""
        if "split" not in self.records.columns:
            raise ValueError(f"{self.name} has no official split; use folds()")
        return np.flatnonzero(self.records["split"].astype(str).to_numpy() == split)

    def dataset(self, prepared: str | os.PathLike, indices: Sequence[int] | None = None,
                split: str | None = None, **options: Any):
        """A torch ``FaceDataset`` over the faces ``prepare_dataset`` wrote to ``prepared``."""
        if split is not None:
            indices = self.split_indices(split)
        return FaceDataset(self, prepared, indices=indices, **options)

    def source_landmarks(self, rows: pd.DataFrame) -> list[np.ndarray | None]:
        """Landmarks shipped with the release ((68, 2) source pixels) for ``rows``, or None."""
        return [None] * len(rows)


def files_exist(paths: Sequence[str]) -> np.ndarray:
    """``os.path.isfile`` for many paths, listing each folder once (fast for video frames)."""
    listing: dict[str, set[str] | None] = {}
    out = np.zeros(len(paths), dtype=bool)
    for i, p in enumerate(paths):
        d, n = os.path.split(p)
        if d not in listing:
            try:
                listing[d] = {e.name for e in os.scandir(d or ".") if e.is_file()}
            except OSError:
                listing[d] = None
        names = listing[d]
        out[i] = names is not None and n in names
    return out


def one_hot_columns(frame: pd.DataFrame, names: Sequence[str], index_col: str = "expression") -> None:
    """Add ``expression_name`` from the index column (in place)."""
    idx = frame[index_col]
    frame["expression_name"] = [names[int(i)] if pd.notna(i) else None for i in idx]


class FrameLookup:
    """Find ``{folder}/{frame}.{ext}`` whether frame numbers are zero-padded or not.

    Each folder is listed once; numeric stems are indexed by their integer value.
    """

    def __init__(self, extensions: Iterable[str] = IMAGE_EXTENSIONS):
        self.extensions = tuple(e.lower() for e in extensions)
        self._dirs: dict[str, dict[int, str]] = {}

    def index(self, folder: str | os.PathLike) -> dict[int, str]:
        key = str(folder)
        if key not in self._dirs:
            table: dict[int, str] = {}
            try:
                names = os.listdir(key)
            except OSError:
                names = []
            for nm in names:
                stem, ext = os.path.splitext(nm)
                if ext.lower() in self.extensions and stem.isdigit():
                    table.setdefault(int(stem), nm)
            self._dirs[key] = table
        return self._dirs[key]

    def path(self, folder: str | os.PathLike, frame: int, default_ext: str = ".jpg",
             pad: int = 0) -> str:
        """The existing file for ``frame``, else the expected (padded) name."""
        nm = self.index(folder).get(int(frame))
        if nm is None:
            nm = f"{int(frame):0{pad}d}{default_ext}"
        return os.path.join(str(folder), nm)


def find_dir(root: Path, candidates: Sequence[str], required: bool = True, what: str = "") -> Path | None:
    """First existing ``root/candidate`` (case-insensitive on the last component)."""
    for c in candidates:
        p = root / c
        if p.exists():
            return p
        parent = p.parent
        if parent.is_dir():
            for nm in os.listdir(parent):
                if nm.lower() == p.name.lower():
                    return parent / nm
    if required:
        raise FileNotFoundError(f"{what or 'folder'} not found under {root}: tried {list(candidates)}")
    return None


class ImageFolder(ReleaseAdapter):
    """Every image under ``root`` (recursive), no labels; subject = parent folder name.

    For preparing an arbitrary folder of photos (``afg prepare folder --root DIR``).
    """

    name = "folder"

    def _load(self) -> pd.DataFrame:
        paths = sorted(
            str(p) for p in self.root.rglob("*")
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
        )
        return pd.DataFrame({"image": paths,
                             "subject": [Path(p).parent.name for p in paths]})
