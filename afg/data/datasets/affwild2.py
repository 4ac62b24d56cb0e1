"""Aff-Wild2 (ABAW): per-video annotation files for expressions, valence-arousal and AUs.

Annotation folders come in two naming schemes — ``EXPR_Set`` / ``VA_Set`` / ``AU_Set`` and
``EXPR_Classification_Challenge`` / ``VA_Estimation_Challenge`` / ``AU_Detection_Challenge`` —
each with ``Train_Set`` and ``Validation_Set`` holding ``<video>.txt``: one header line (the class,
``valence,arousal`` or AU names) then one row per frame. Invalid values: EXPR −1, VA −5, AU −1
(→ NaN). Row j labels ``cropped_aligned/<video>/{j+1:05d}.jpg``; frames without an image are
reported in ``missing``. ``_left``/``_right`` videos show two people: each is its own subject.
Records hold one row per (video, frame) over the requested tasks, NaN where a task has no label.
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .base import ReleaseAdapter, ReleaseFormatError, au_name, find_dir, read_text_lines

__all__ = ["AFFWILD2_EXPRESSIONS", "AffWild2"]

AFFWILD2_EXPRESSIONS = ("Neutral", "Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise",
                        "Other")
_TASK_DIRS = {
    "EXPR": ("EXPR_Set", "EXPR_Classification_Challenge"),
    "VA": ("VA_Set", "VA_Estimation_Challenge"),
    "AU": ("AU_Set", "AU_Detection_Challenge"),
}
_SPLITS = {"train_set": "train", "validation_set": "validation", "test_set": "test"}


class AffWild2(ReleaseAdapter):
    """Aff-Wild2 adapter.

    Args:
        root: folder holding the annotation task folders (anywhere up to 3 levels down) and
            ``cropped_aligned``.
        tasks: subset of ``("EXPR", "VA", "AU")``.
        images: image folder relative to ``root`` (default ``cropped_aligned``).
    """

    name = "affwild2"

    def __init__(self, root, tasks: Sequence[str] = ("EXPR", "VA", "AU"), images: str | None = None,
                 **kw):
        self.task_names = tuple(t.upper() for t in tasks)
        bad = [t for t in self.task_names if t not in _TASK_DIRS]
        if bad:
            raise ValueError(f"unknown Aff-Wild2 tasks {bad}")
        self._images = images
        self.au_names, self.expression_names = [], []
        self.has_va = "VA" in self.task_names
        super().__init__(root, **kw)

    def _task_dir(self, task: str) -> Path | None:
        names = {n.lower() for n in _TASK_DIRS[task]}
        for dirpath, dirnames, _ in os.walk(self.root):
            depth = len(Path(dirpath).relative_to(self.root).parts)
            for d in dirnames:
                if d.lower() in names:
                    return Path(dirpath) / d
            if depth >= 3:
                dirnames[:] = []
            else:
                dirnames[:] = [d for d in dirnames if d != "cropped_aligned"]
        return None

    def _load(self) -> pd.DataFrame:
        img_root = (self.root / self._images) if self._images else (
            find_dir(self.root, ["cropped_aligned", "cropped-aligned"], required=False)
            or self.root / "cropped_aligned")
        per_video: dict[str, dict[str, tuple[np.ndarray, str]]] = {}
        found_any = False
        for task in self.task_names:
            tdir = self._task_dir(task)
            if tdir is None:
                raise FileNotFoundError(f"Aff-Wild2: no {' or '.join(_TASK_DIRS[task])} folder under {self.root}")
            found_any = True
            for sdir in sorted(p for p in tdir.iterdir() if p.is_dir()):
                split = _SPLITS.get(sdir.name.lower())
                if split is None:
                    continue
                for f in sorted(sdir.glob("*.txt")):
                    values, names = self._read(f, task)
                    self._set_names(task, names, f)
                    per_video.setdefault(f.stem, {})[task] = (values, split)
        if not found_any or not per_video:
            raise FileNotFoundError(f"Aff-Wild2: no annotation files under {self.root}")
        frames = []
        for video in sorted(per_video):
            tasks = per_video[video]
            n = max(len(v) for v, _ in tasks.values())
            df = pd.DataFrame({
                "image": [str(img_root / video / f"{j + 1:05d}.jpg") for j in range(n)],
                "subject": video,
                "video": re.sub(r"_(left|right)$", "", video),
                "frame": np.arange(1, n + 1),
            })
            splits = []
            for task in self.task_names:
                vals, split = tasks.get(task, (np.zeros((0, 0)), None))
                cols = self._columns(task)
                block = np.full((n, len(cols)), np.nan)
                if len(vals):
                    block[: len(vals)] = vals
                for j, c in enumerate(cols):
                    df[c] = block[:, j]
                df[f"split_{task}"] = split
                if split is not None:
                    splits.append(split)
            df["split"] = splits[0] if splits and len(set(splits)) == 1 else (splits[0] if splits else None)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    def _columns(self, task: str) -> list[str]:
        if task == "EXPR":
            return ["expression"]
        if task == "VA":
            return ["valence", "arousal"]
        return list(self.au_names)

    def _set_names(self, task: str, names: list[str], path: Path) -> None:
        if task == "EXPR":
            new = names
            if not self.expression_names:
                self.expression_names = new
            elif new != self.expression_names:
                raise ReleaseFormatError(path, 1, f"expression classes {new} differ from {self.expression_names}")
        elif task == "AU":
            new = [au_name(n) for n in names]
            if not self.au_names:
                self.au_names = new
            elif new != self.au_names:
                raise ReleaseFormatError(path, 1, f"AU columns {new} differ from {self.au_names}")

    @staticmethod
    def _read(path: Path, task: str) -> tuple[np.ndarray, list[str]]:
        lines = read_text_lines(path)
        if not lines:
            raise ReleaseFormatError(path, 1, "empty annotation file")
        header = [h.strip() for h in lines[0][1].split(",") if h.strip()]
        width = 1 if task == "EXPR" else len(header)
        if task == "VA" and [h.lower() for h in header] != ["valence", "arousal"]:
            raise ReleaseFormatError(path, lines[0][0], f"VA header must be 'valence,arousal', got {lines[0][1]!r}")
        invalid = {"EXPR": -1.0, "VA": -5.0, "AU": -1.0}[task]
        vals = np.empty((len(lines) - 1, width))
        for r, (lineno, text) in enumerate(lines[1:]):
            parts = [p.strip() for p in text.split(",")]
            if len(parts) != width:
                raise ReleaseFormatError(path, lineno, f"expected {width} fields, found {len(parts)}")
            try:
                vals[r] = [float(p) for p in parts]
            except ValueError:
                raise ReleaseFormatError(path, lineno, f"non-numeric value in {text[:60]!r}") from None
        vals[vals == invalid] = np.nan
        if task == "VA":
            vals[(vals < -1) | (vals > 1)] = np.nan
        if task == "EXPR":
            ok = ~np.isnan(vals[:, 0])
            if np.any((vals[ok, 0] < 0) | (vals[ok, 0] >= len(header))):
                bad = int(np.flatnonzero(ok & ((vals[:, 0] < 0) | (vals[:, 0] >= len(header))))[0])
                raise ReleaseFormatError(path, lines[bad + 1][0], f"class {vals[bad, 0]:g} outside 0..{len(header) - 1}")
        if task == "AU":
            ok = ~np.isnan(vals)
            if np.any(ok & (vals != 0) & (vals != 1)):
                bad = int(np.flatnonzero((ok & (vals != 0) & (vals != 1)).any(1))[0])
                raise ReleaseFormatError(path, lines[bad + 1][0], "AU values must be 0, 1 or -1")
        return vals, header
