"""BP4D-Spontaneous: AU occurrence from ``AUCoding/AU_OCC/{subject}_{task}.csv``.

Each CSV has a header row of integer strings: column ``"0"`` is the frame number, column ``"k"``
the occurrence of AU k (0/1; 9 = not coded → NaN). Frames are ``{images}/{subject}/{task}/
{frame}.jpg`` with or without 4-digit zero padding (both are found). Protocol: 12 AUs
1 2 4 6 7 10 12 14 15 17 23 24; subject-independent 3 folds over the standard parts (fold 1 tests
part 3 and trains on parts 1 + 2, fold 2 tests part 2, fold 3 tests part 1).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .base import (
    FrameLookup,
    ReleaseAdapter,
    ReleaseFormatError,
    au_name,
    find_dir,
    read_text_lines,
)

__all__ = ["BP4D", "BP4D_AUS", "BP4D_PARTS"]

BP4D_AUS = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
BP4D_PARTS = (
    ("F001", "M007", "F018", "F008", "F002", "M004", "F010", "F009", "M012", "M001", "F016", "M014",
     "F023", "M008"),
    ("M011", "F003", "M010", "M002", "F005", "F022", "M018", "M017", "F013", "M016", "F020", "F011",
     "M013", "M005"),
    ("F007", "F015", "F006", "F019", "M006", "M009", "F012", "M003", "F004", "F021", "F017", "M015",
     "F014"),
)


def fold_of_part(parts: Sequence[Sequence[str]]) -> dict[str, int]:
    """Subject → the fold whose test set holds it (fold 1 tests part 3, 2 → 2, 3 → 1)."""
    n = len(parts)
    return {s: n - p for p, members in enumerate(parts) for s in members}


class BP4D(ReleaseAdapter):
    """BP4D adapter.

    Args:
        root: release folder (holding ``AUCoding/AU_OCC``).
        aus: AU numbers to keep (default the 12 of the protocol).
        images: image folder relative to ``root`` (default: the first of ``Sequences``,
            ``2D+3D``, ``images``, ``img``, ``frames`` that exists, else ``root``).
        image_ext: extension of the frame files when none is found on disk.
    """

    name = "bp4d"
    PARTS = BP4D_PARTS

    def __init__(self, root, aus: Sequence[int] = BP4D_AUS, images: str | None = None,
                 image_ext: str = ".jpg", **kw):
        self.aus = tuple(int(a) for a in aus)
        self.au_names = [au_name(a) for a in self.aus]
        self._images = images
        self._ext = image_ext
        super().__init__(root, **kw)

    def _load(self) -> pd.DataFrame:
        occ = find_dir(self.root, ["AUCoding/AU_OCC", "AU_OCC", "AUCoding"], what="BP4D AU_OCC folder")
        if self._images is not None:
            img_root = self.root / self._images
        else:
            img_root = find_dir(self.root, ["Sequences", "2D+3D", "images", "img", "frames"],
                                required=False) or self.root
        lookup = FrameLookup()
        fold = fold_of_part(self.PARTS)
        frames = []
        files = sorted(occ.glob("*.csv"))
        if not files:
            raise FileNotFoundError(f"BP4D: no *.csv in {occ}")
        for path in files:
            m = re.match(r"^([FM]\d{3})_(T\d+)$", path.stem)
            if not m:
                continue
            subject, task = m.groups()
            frames.append(self._read_csv(path, subject, task, img_root, lookup))
        rec = pd.concat(frames, ignore_index=True)
        rec["fold"] = rec["subject"].map(fold).astype("Int64")
        return rec

    def _read_csv(self, path: Path, subject: str, task: str, img_root: Path,
                  lookup: FrameLookup) -> pd.DataFrame:
        lines = read_text_lines(path)
        if not lines:
            raise ReleaseFormatError(path, 1, "empty AU_OCC file")
        header = [h.strip().strip("'\"") for h in lines[0][1].split(",")]
        try:
            col = {int(float(h)): j for j, h in enumerate(header) if h != ""}
        except ValueError:
            raise ReleaseFormatError(path, lines[0][0], f"header must list integers, got {lines[0][1][:60]!r}") from None
        if 0 not in col:
            raise ReleaseFormatError(path, lines[0][0], "header has no frame column '0'")
        missing = [a for a in self.aus if a not in col]
        if missing:
            raise ReleaseFormatError(path, lines[0][0], f"header lacks AU columns {missing}")
        n = len(header)
        vals = np.full((len(lines) - 1, len(self.aus)), np.nan)
        frame = np.zeros(len(lines) - 1, dtype=np.int64)
        for r, (lineno, text) in enumerate(lines[1:]):
            parts = text.split(",")
            if len(parts) != n:
                raise ReleaseFormatError(path, lineno, f"expected {n} fields, found {len(parts)}")
            try:
                frame[r] = int(float(parts[col[0]]))
                for j, a in enumerate(self.aus):
                    v = float(parts[col[a]])
                    if v in (0.0, 1.0):
                        vals[r, j] = v
                    elif v == 9.0:
                        pass  # not coded
                    else:
                        raise ReleaseFormatError(path, lineno, f"AU{a} value {v:g} is not 0, 1 or 9")
            except ValueError as exc:
                if isinstance(exc, ReleaseFormatError):
                    raise
                raise ReleaseFormatError(path, lineno, f"non-numeric field in {text[:60]!r}") from None
        folder = img_root / subject / task
        df = pd.DataFrame(vals, columns=self.au_names)
        df.insert(0, "image", [lookup.path(folder, f, self._ext) for f in frame])
        df.insert(1, "subject", subject)
        df.insert(2, "task", task)
        df.insert(3, "frame", frame)
        return df
