"""AffectNet: ``Manually_Annotated_file_lists/{training,validation}.csv``.

Columns ``subDirectory_filePath, face_x, face_y, face_width, face_height, facial_landmarks (136
';'-separated numbers: x1;y1;x2;y2;…), expression, valence, arousal``; the header row may be absent
(detected). Expression codes 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger,
7 Contempt; 8 None, 9 Uncertain, 10 No-Face are excluded (and 7 with ``num_classes=7``).
Valence/arousal −2 means invalid (→ NaN). The shipped landmarks can replace MTCNN in
``prepare_dataset`` (``source_landmarks``). Protocol: train on ``training``, test on
``validation`` (the test set is not public).
"""
from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .base import ReleaseAdapter, ReleaseFormatError, find_dir

__all__ = ["AFFECTNET_EXPRESSIONS", "AffectNet"]

AFFECTNET_EXPRESSIONS = ("Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger", "Contempt")
_COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
            "facial_landmarks", "expression", "valence", "arousal")


class AffectNet(ReleaseAdapter):
    """AffectNet adapter (``num_classes`` 7 or 8; ``splits`` among training/validation)."""

    name = "affectnet"
    has_va = True
    provides_landmarks = True

    def __init__(self, root, num_classes: int = 8, splits: Sequence[str] = ("training", "validation"),
                 images: str | None = None, **kw):
        if num_classes not in (7, 8):
            raise ValueError("AffectNet num_classes must be 7 or 8")
        self.num_classes = num_classes
        self.expression_names = list(AFFECTNET_EXPRESSIONS[:num_classes])
        self.splits = tuple(splits)
        self._images = images
        super().__init__(root, **kw)

    def _load(self) -> pd.DataFrame:
        lists = find_dir(self.root, ["Manually_Annotated_file_lists",
                                     "Manually_Annotated/Manually_Annotated_file_lists"],
                         what="AffectNet Manually_Annotated_file_lists")
        img_root = (self.root / self._images) if self._images else (find_dir(
            self.root, ["Manually_Annotated_Images", "Manually_Annotated/Manually_Annotated_Images",
                        "Manually_Annotated_compressed/Manually_Annotated_Images"],
            required=False) or self.root / "Manually_Annotated_Images")
        frames = []
        for split in self.splits:
            f = lists / f"{split}.csv"
            if not f.is_file():
                raise FileNotFoundError(f"AffectNet: {f} is missing")
            df = self._read(f)
            df["split"] = "train" if split.startswith("train") else "validation"
            frames.append(df)
        rec = pd.concat(frames, ignore_index=True)
        rec.insert(0, "image", [str(img_root / p) for p in rec.pop("subDirectory_filePath")])
        rec.insert(1, "subject", [Path(p).stem for p in rec["image"]])
        rec["expression_name"] = [self.expression_names[int(e)] for e in rec["expression"]]
        return rec

    def _read(self, path: Path) -> pd.DataFrame:
        rows: dict[str, list] = {c: [] for c in _COLUMNS}
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.reader(fh)
            col = {c: j for j, c in enumerate(_COLUMNS)}
            first = True
            for r in reader:
                line = reader.line_num
                if not r or not any(x.strip() for x in r):
                    continue
                if first:
                    first = False
                    if r[0].strip().lower() == "subdirectory_filepath":
                        names = [x.strip() for x in r]
                        lower = {n.lower(): j for j, n in enumerate(names)}
                        miss = [c for c in _COLUMNS if c.lower() not in lower]
                        if miss:
                            raise ReleaseFormatError(path, line, f"header lacks columns {miss}")
                        col = {c: lower[c.lower()] for c in _COLUMNS}
                        width = len(names)
                        continue
                    width = len(_COLUMNS)
                if len(r) != width:
                    raise ReleaseFormatError(path, line, f"expected {width} fields, found {len(r)}")
                try:
                    expr = int(float(r[col["expression"]]))
                    box = [float(r[col[c]]) for c in ("face_x", "face_y", "face_width", "face_height")]
                    val, aro = float(r[col["valence"]]), float(r[col["arousal"]])
                except ValueError:
                    raise ReleaseFormatError(path, line, "non-numeric box, expression or valence/arousal") from None
                if not 0 <= expr <= 10:
                    raise ReleaseFormatError(path, line, f"expression code {expr} outside 0..10")
                lm = r[col["facial_landmarks"]].strip()
                if lm and len(lm.split(";")) != 136:
                    raise ReleaseFormatError(path, line, f"facial_landmarks has {len(lm.split(';'))} values, expected 136")
                if expr >= self.num_classes:
                    continue  # 8 None, 9 Uncertain, 10 No-Face (and 7 Contempt for 7 classes)
                rows["subDirectory_filePath"].append(r[col["subDirectory_filePath"]].strip())
                for c, v in zip(("face_x", "face_y", "face_width", "face_height"), box):
                    rows[c].append(v)
                rows["facial_landmarks"].append(lm)
                rows["expression"].append(float(expr))
                rows["valence"].append(np.nan if val == -2 else val)
                rows["arousal"].append(np.nan if aro == -2 else aro)
        return pd.DataFrame(rows)

    def source_landmarks(self, rows: pd.DataFrame) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = []
        for s in rows["facial_landmarks"].fillna(""):
            out.append(np.array(s.split(";"), dtype=np.float64).reshape(68, 2) if s else None)
        return out
