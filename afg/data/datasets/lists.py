"""``ListDataset``: the image-path list + label list files AU authors distribute.

One image path per line in the path file; one row of space-separated labels per line in the label
file (same order). Several (paths, labels) pairs can be given, one per fold's *test* set, as in
the ME-GraphAU / MAFG releases (``fold{k}_test_img_paths.txt`` + ``fold{k}_test_labels.txt``):
fold k then tests its own list and trains on the others.
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .base import ReleaseAdapter, ReleaseFormatError, au_name, read_text_lines

__all__ = ["ListDataset"]

_SUBJECT = re.compile(r"(SN\d{3}|[FM]\d{3})")


class ListDataset(ReleaseAdapter):
    """Adapter over path/label list files.

    Args:
        paths: a path-list file, or a sequence of them (one per fold).
        labels: the matching label file(s).
        root: folder the listed image paths are relative to (default: the list's folder; images
            are only looked for when ``check_images=True``).
        au_names: names of the label columns (``AU01`` …) or AU numbers; default ``L1 … Lk``.
        missing_values: label values meaning "not annotated" (→ NaN), e.g. ``(9, 999, -1)``.
        subject_pattern: regex whose first match in the path is the subject (default DISFA/BP4D
            ids, falling back to the first path component).
    """

    name = "list"

    def __init__(self, paths: str | os.PathLike | Sequence[str | os.PathLike],
                 labels: str | os.PathLike | Sequence[str | os.PathLike],
                 root: str | os.PathLike | None = None, au_names: Sequence | None = None,
                 missing_values: Sequence[float] = (), subject_pattern: str | None = None,
                 check_images: bool = False, **kw):
        one = isinstance(paths, (str, os.PathLike))
        self.path_files = [Path(paths)] if one else [Path(p) for p in paths]
        self.label_files = [Path(labels)] if isinstance(labels, (str, os.PathLike)) else [Path(p) for p in labels]
        if len(self.path_files) != len(self.label_files):
            raise ValueError("give as many label files as path files")
        self._multi = not one
        self._names = au_names
        self.missing_values = tuple(float(v) for v in missing_values)
        self._subject = re.compile(subject_pattern) if subject_pattern else _SUBJECT
        super().__init__(root if root is not None else self.path_files[0].parent,
                         check_images=check_images, **kw)

    @classmethod
    def from_folds(cls, folder: str | os.PathLike, n_folds: int = 3,
                   paths: str = "fold{k}_test_img_paths.txt", labels: str = "fold{k}_test_labels.txt",
                   **kw) -> ListDataset:
        """The per-fold test lists ``folder/fold{k}_test_*.txt`` for k = 1..n_folds."""
        folder = Path(folder)
        return cls([folder / paths.format(k=k) for k in range(1, n_folds + 1)],
                   [folder / labels.format(k=k) for k in range(1, n_folds + 1)], **kw)

    def _load(self) -> pd.DataFrame:
        frames = []
        for k, (pf, lf) in enumerate(zip(self.path_files, self.label_files), start=1):
            plines = read_text_lines(pf)
            llines = read_text_lines(lf)
            if len(plines) != len(llines):
                raise ReleaseFormatError(lf, None, f"{len(llines)} label rows but {len(plines)} paths in {pf}")
            try:  # fast path; the line-by-line pass below locates any error
                y = pd.read_csv(lf, sep=r"\s+", header=None, dtype=np.float64,
                                skip_blank_lines=True, engine="c").to_numpy()
            except (ValueError, pd.errors.ParserError):
                y = None
            if y is not None and np.isnan(y).any():
                y = None  # ragged rows are padded with NaN by pandas: check line by line
            if y is None or y.shape[0] != len(llines):
                width = len(llines[0][1].split()) if llines else 0
                rows = []
                for lineno, t in llines:
                    parts = t.split()
                    if len(parts) != width:
                        raise ReleaseFormatError(lf, lineno, f"expected {width} labels, found {len(parts)}")
                    try:
                        rows.append([float(p) for p in parts])
                    except ValueError:
                        raise ReleaseFormatError(lf, lineno, f"non-numeric label in {t[:60]!r}") from None
                y = np.asarray(rows)
            for v in self.missing_values:
                y[y == v] = np.nan
            names = self._label_names(y.shape[1])
            df = pd.DataFrame(y, columns=names)
            rel = [t for _, t in plines]
            df.insert(0, "image", [str(self.root / r) for r in rel])
            df.insert(1, "subject", [self._subject_of(r) for r in rel])
            df.insert(2, "path", rel)
            if self._multi:
                df["fold"] = k
            frames.append(df)
        rec = pd.concat(frames, ignore_index=True)
        if "fold" in rec:
            rec["fold"] = rec["fold"].astype("Int64")
        return rec

    def _label_names(self, width: int) -> list[str]:
        if self._names is None:
            names = [f"L{j + 1}" for j in range(width)]
        else:
            names = [au_name(n) if isinstance(n, (int, np.integer)) or str(n).isdigit() else str(n)
                     for n in self._names]
        if len(names) != width:
            raise ValueError(f"{len(names)} label names for {width} label columns")
        self.au_names = names
        return names

    def _subject_of(self, rel: str) -> str:
        m = self._subject.search(rel)
        if m:
            return m.group(1) if m.groups() else m.group(0)
        return Path(rel).parts[0] if len(Path(rel).parts) > 1 else Path(rel).stem
