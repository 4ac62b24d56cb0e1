"""JAFFE: 213 grayscale TIFFs ``KA.AN1.39.tiff`` (poser, expression code + repeat, image number)
and the semantic rating table (6 adjectives rated 1–5 by 60 raters).

The rating table is a text file whose header row names the adjectives (``HAP SAD SUR ANG DIS FEA``)
and a ``PIC`` column (``KA-AN1``, joined to ``KA.AN1.*.tiff``); the release continues with a second
table computed with fear excluded — parsing stops at its "Fear Excluded" title. Labels: the posed
expression from the file name (``expression``) and multi-label ``emotions`` = rating ≥
``threshold`` (default 3, the SVML-RGCN protocol); raw means in ``rating_*`` columns.
Protocol: 5-fold cross-validation (``KFold(shuffle=True, random_state=seed)``).

A picture without a row in the rating table keeps its record (and its fold: the folds are drawn
over every picture, as the authors' ``KFold``) with NaN ``emotions``; with ``require_ratings``
(default) ``FaceDataset`` drops it with a warning (``required_labels``), so it is neither trained
on nor scored — its posed expression alone is not the rating annotation the protocol scores.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .base import ReleaseAdapter, ReleaseFormatError, read_text_lines
from .records import kfold_indices

__all__ = ["JAFFE", "JAFFE_EMOTIONS", "JAFFE_EXPRESSIONS"]

JAFFE_CODES = {"NE": "Neutral", "HA": "Happiness", "SA": "Sadness", "SU": "Surprise", "AN": "Anger",
               "DI": "Disgust", "FE": "Fear"}
JAFFE_EXPRESSIONS = tuple(JAFFE_CODES.values())
_ADJ = {"HAP": "Happiness", "SAD": "Sadness", "SUR": "Surprise", "ANG": "Anger", "DIS": "Disgust",
        "FEA": "Fear"}
JAFFE_EMOTIONS = tuple(_ADJ.values())
_NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})(\d+)\.(\d+)\.tiff?$", re.IGNORECASE)


class JAFFE(ReleaseAdapter):
    """JAFFE adapter.

    Args:
        root: folder with the TIFFs (searched recursively) and the rating table.
        ratings: rating table file relative to ``root`` (default: the first text file whose
            lines contain ``HAP`` … ``PIC``).
        threshold: rating at or above which an emotion is present (default 3).
        n_folds, seed: the cross-validation protocol.
        require_ratings: faces without ratings are unlabelled (dropped by ``FaceDataset``);
            ``False`` keeps them for the posed ``expression`` alone.
    """

    name = "jaffe"
    expression_names = JAFFE_EXPRESSIONS
    emotion_names = JAFFE_EMOTIONS

    def __init__(self, root, ratings: str | None = None, threshold: float = 3.0, n_folds: int = 5,
                 seed: int = 42, require_ratings: bool = True, **kw):
        self._ratings, self.threshold, self.n_folds, self.seed = ratings, threshold, n_folds, seed
        #: label kinds a face must have to be kept (``FaceDataset``)
        self.required_labels: tuple[str, ...] = ("emotions",) if require_ratings else ()
        super().__init__(root, **kw)

    def _rating_file(self) -> Path | None:
        if self._ratings:
            return self.root / self._ratings
        for f in sorted(self.root.rglob("*")):
            if f.is_file() and f.suffix.lower() in (".txt", ".dat", "") and f.stat().st_size < 1_000_000:
                try:
                    head = f.read_text(errors="replace")
                except OSError:
                    continue
                if re.search(r"\bHAP\b.*\bSAD\b.*\bPIC\b", head):
                    return f
        return None

    def read_ratings(self, path: Path) -> pd.DataFrame:
        """The first (6-adjective) rating table: ``PIC`` + one column per adjective."""
        header: list[str] | None = None
        rows = []
        for lineno, text in read_text_lines(path):
            if header is not None and re.search(r"fear\s*excluded", text, re.IGNORECASE):
                break
            tokens = text.split()
            upper = [t.upper() for t in tokens]
            if header is None:
                if "PIC" in upper and all(a in upper for a in _ADJ):
                    header = upper
                continue
            if "PIC" in upper and "HAP" in upper:
                break  # a second table header
            if not any(re.fullmatch(r"[A-Z]{2}-[A-Z]{2}\d+", t) for t in tokens):
                continue  # separator / comment line
            if len(tokens) != len(header):
                raise ReleaseFormatError(path, lineno, f"expected {len(header)} fields, found {len(tokens)}")
            row = {"PIC": tokens[header.index("PIC")].upper()}
            for a in _ADJ:
                v = tokens[header.index(a)]
                try:
                    row[a] = float(v)
                except ValueError:
                    raise ReleaseFormatError(path, lineno, f"{a} rating {v!r} is not a number") from None
            rows.append(row)
        if header is None:
            raise ReleaseFormatError(path, None, "no rating table header with HAP SAD SUR ANG DIS FEA PIC")
        return pd.DataFrame(rows, columns=["PIC", *_ADJ])

    def _load(self) -> pd.DataFrame:
        images = sorted(p for p in self.root.rglob("*") if _NAME.match(p.name))
        if not images:
            raise FileNotFoundError(f"JAFFE: no KA.AN1.39.tiff-style images under {self.root}")
        rf = self._rating_file()
        ratings = self.read_ratings(rf).set_index("PIC") if rf is not None else None
        recs = []
        for p in images:
            subj, code, rep, _num = _NAME.match(p.name).groups()  # type: ignore[union-attr]
            subj, code = subj.upper(), code.upper()
            if code not in JAFFE_CODES:
                raise ValueError(f"JAFFE: unknown expression code {code!r} in {p.name}")
            pic = f"{subj}-{code}{int(rep)}"
            row = {"image": str(p), "subject": subj, "pic": pic,
                   "expression": float(list(JAFFE_CODES).index(code)),
                   "expression_name": JAFFE_CODES[code]}
            have = ratings is not None and pic in ratings.index
            for adj, emo in _ADJ.items():
                r = float(ratings.loc[pic, adj]) if have else np.nan
                row[f"rating_{adj}"] = r
                row[emo] = float(r >= self.threshold) if have else np.nan
            recs.append(row)
        rec = pd.DataFrame(recs)
        rec["fold"] = pd.array(kfold_indices(len(rec), self.n_folds, self.seed), dtype="Int64")
        return rec
