"""EmotioNet: the manually annotated AU set (``.csv``/``.xlsx``) or the automatically annotated
``dataFile_*.txt`` lists.

Manual set: a header with the URL column and columns like ``'AU 1'`` (quotes and a space in the
header are normalised), URLs that may carry stray quotes, ``999`` = unknown (→ NaN), empty rows
skipped. Automatic set: tab-separated ``url, original url, AU1 … AU60`` (999 = unknown).
Images are named by the URL's last path part (``{images}/{name}``). Protocol: 12 AUs 1 2 4 5 6 9
12 17 20 25 26 43; random 3-fold ``KFold(shuffle=True, random_state=42)`` over the annotation rows
(each image is its own subject).
"""
from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .base import ReleaseAdapter, ReleaseFormatError, au_name, find_dir
from .records import kfold_indices

__all__ = ["EMOTIONET_AUS", "EmotioNet"]

EMOTIONET_AUS = (1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26, 43)
_AU_HEADER = re.compile(r"^AU\s*_?(\d+)$", re.IGNORECASE)


def _clean(value: object) -> str:
    return str(value).strip().strip("'\"\u2018\u2019\u201c\u201d").strip()


def image_name_from_url(url: str) -> str:
    """Last path part of a URL, stray quotes and query strings removed."""
    u = _clean(url).split("?")[0].rstrip("/")
    return u.split("/")[-1]


class EmotioNet(ReleaseAdapter):
    """EmotioNet adapter.

    Args:
        root: folder with the annotation file(s) and the images.
        annotations: annotation file (or list of ``dataFile_*.txt``) relative to ``root``;
            default: the first ``*.xlsx``/``*.csv`` found, else every ``dataFile_*.txt``.
        images: image folder relative to ``root`` (default ``images`` if present, else ``root``).
        aus: AU numbers to keep; n_folds, seed: the random K-fold protocol.
    """

    name = "emotionet"

    def __init__(self, root, annotations: str | Sequence[str] | None = None,
                 images: str | None = None, aus: Sequence[int] = EMOTIONET_AUS, n_folds: int = 3,
                 seed: int = 42, **kw):
        self.aus = tuple(int(a) for a in aus)
        self.au_names = [au_name(a) for a in self.aus]
        self._annotations = annotations
        self._images = images
        self.n_folds, self.seed = n_folds, seed
        super().__init__(root, **kw)

    def _files(self) -> list[Path]:
        if self._annotations is not None:
            ann = [self._annotations] if isinstance(self._annotations, str) else list(self._annotations)
            return [self.root / a for a in ann]
        for pattern in ("*.xlsx", "*.csv"):
            found = sorted(self.root.rglob(pattern))
            if found:
                return found[:1]
        found = sorted(self.root.rglob("dataFile_*.txt"))
        if not found:
            raise FileNotFoundError(f"EmotioNet: no .xlsx/.csv or dataFile_*.txt under {self.root}")
        return found

    def _load(self) -> pd.DataFrame:
        img_root = (self.root / self._images) if self._images else (
            find_dir(self.root, ["images", "Images", "imgs"], required=False) or self.root)
        parts = []
        for f in self._files():
            if f.suffix.lower() == ".txt":
                parts.append(self._read_auto(f))
            else:
                parts.append(self._read_manual(f))
        table = pd.concat(parts, ignore_index=True)
        names = [image_name_from_url(u) for u in table["url"]]
        rec = pd.DataFrame({"image": [str(img_root / n) for n in names],
                            "subject": [Path(n).stem for n in names],
                            "url": table["url"].to_numpy()})
        for c in self.au_names:
            rec[c] = table[c].to_numpy()
        rec["fold"] = pd.array(kfold_indices(len(rec), self.n_folds, self.seed), dtype="Int64")
        return rec

    def _au_value(self, raw: object, path: Path, line: int, col: str) -> float:
        s = _clean(raw)
        if s == "" or s.lower() == "nan":
            return np.nan
        try:
            v = float(s)
        except ValueError:
            raise ReleaseFormatError(path, line, f"{col} value {s!r} is not a number") from None
        if v == 999:
            return np.nan
        if v not in (0.0, 1.0):
            raise ReleaseFormatError(path, line, f"{col} value {v:g} is not 0, 1 or 999")
        return v

    def _read_manual(self, path: Path) -> pd.DataFrame:
        if path.suffix.lower() in (".xlsx", ".xls"):
            raw = pd.read_excel(path, dtype=str, header=None).fillna("")
            rows = [(i + 1, list(r)) for i, r in enumerate(raw.itertuples(index=False))]
        else:
            with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
                # QUOTE_NONE: URLs carry stray, unbalanced quotes that would otherwise swallow
                # the following lines; the quotes are stripped from every cell instead
                reader = csv.reader(fh, quoting=csv.QUOTE_NONE)
                rows = []
                for r in reader:
                    rows.append((reader.line_num, r))
        if not rows:
            raise ReleaseFormatError(path, 1, "empty annotation file")
        header = [_clean(h) for h in rows[0][1]]
        url_col = next((j for j, h in enumerate(header) if "url" in h.lower()), None)
        if url_col is None:
            raise ReleaseFormatError(path, rows[0][0], f"no URL column in header {header[:5]}")
        au_col = {}
        for j, h in enumerate(header):
            m = _AU_HEADER.match(h.replace("\xa0", " "))
            if m:
                au_col[int(m.group(1))] = j
        missing = [a for a in self.aus if a not in au_col]
        if missing:
            raise ReleaseFormatError(path, rows[0][0], f"header lacks AU columns {missing}")
        width = len(header)
        data: dict[str, list] = {"url": [], **{c: [] for c in self.au_names}}
        for line, r in rows[1:]:
            cells = [_clean(c) for c in r]
            if not any(cells):
                continue  # empty / NaN row
            while len(cells) > width and cells[-1] == "":
                cells.pop()
            if len(cells) != width:
                raise ReleaseFormatError(path, line, f"expected {width} fields, found {len(cells)}")
            if cells[url_col] == "":
                continue
            data["url"].append(cells[url_col])
            for a, c in zip(self.aus, self.au_names):
                data[c].append(self._au_value(cells[au_col[a]], path, line, c))
        return pd.DataFrame(data)

    def _read_auto(self, path: Path) -> pd.DataFrame:
        data: dict[str, list] = {"url": [], **{c: [] for c in self.au_names}}
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line, text in enumerate(fh, start=1):
                text = text.rstrip("\r\n")
                if not text.strip():
                    continue
                cells = text.split("\t")
                if line == 1 and len(cells) > 2 and not _clean(cells[2]).lstrip("-").isdigit():
                    continue  # a header row
                if len(cells) < 62:
                    raise ReleaseFormatError(path, line, f"expected url, url and 60 AU fields, found {len(cells)} fields")
                data["url"].append(cells[0])
                for a, c in zip(self.aus, self.au_names):
                    data[c].append(self._au_value(cells[1 + a], path, line, c))
        return pd.DataFrame(data)
