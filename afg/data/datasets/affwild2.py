"""Aff-Wild2 (ABAW): per-video annotation files for expressions, valence-arousal and AUs.

Annotation folders come in two naming schemes — ``EXPR_Set`` / ``VA_Set`` / ``AU_Set`` and
``EXPR_Classification_Challenge`` / ``VA_Estimation_Challenge`` / ``AU_Detection_Challenge`` —
each with ``Train_Set`` and ``Validation_Set`` holding ``<video>.txt``: one header line (the class,
``valence,arousal`` or AU names) then one row per frame. Invalid values: EXPR −1, VA −5, AU −1
(→ NaN). Row j labels ``cropped_aligned/<video>/{j+1:05d}.jpg``; frames without an image are
reported in ``missing``. ``_left``/``_right`` videos show two people: each is its own subject.
Records hold one row per (video, frame) over the requested tasks, NaN where a task has no label;
``joint=True`` keeps only the frames labelled in *every* requested task (Emotion-GCN's subset:
an expression and both valence and arousal).

Partitions: the challenges split videos per task, and a video can sit in ``Train_Set`` of one task
and ``Validation_Set`` of another. Its frames then have no single official partition; the policy
(``partition_conflict``): ``"exclude"`` (default) leaves the video out of both the training and the
scored faces (``split`` = ``"conflict"``) — training on it would leak one task's validation video,
scoring it would test on another's training video; a task name (``"EXPR"``) uses that task's
partition; ``"error"`` refuses. Either way one warning names every such video and its partitions.
"""
from __future__ import annotations

import os
import re
import warnings
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
        tasks: subset of ``("EXPR", "VA", "AU")``; a named task's folder must exist. Default:
            those of the three whose annotation folder exists (at least one).
        images: image folder relative to ``root`` (default ``cropped_aligned``).
        joint: keep only the frames labelled in every task (expression, valence and arousal, AUs).
        num_classes: 7 leaves out the ABAW3+ class ``Other`` (its frames lose their expression
            label; with ``joint`` they are dropped), 8 keeps it; default: the files' classes.
        partition_conflict: ``exclude`` | ``error`` | a task name (module docstring).
    """

    name = "affwild2"

    def __init__(self, root, tasks: Sequence[str] | None = None, images: str | None = None,
                 joint: bool = False, num_classes: int | None = None, partition_conflict: str = "exclude",
                 **kw):
        self._tasks_given = tasks is not None
        self.task_names = tuple(t.upper() for t in (tasks if tasks is not None else _TASK_DIRS))
        bad = [t for t in self.task_names if t not in _TASK_DIRS]
        if bad:
            raise ValueError(f"unknown Aff-Wild2 tasks {bad}")
        if num_classes not in (None, 7, 8):
            raise ValueError("Aff-Wild2 num_classes must be 7 (Other left out) or 8")
        policy = partition_conflict.upper() if partition_conflict.upper() in _TASK_DIRS else partition_conflict.lower()
        if policy not in ("exclude", "error", *_TASK_DIRS):
            raise ValueError(f"partition_conflict {partition_conflict!r}: exclude, error or a task name")
        self.joint, self.num_classes, self.partition_conflict = bool(joint), num_classes, policy
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
        dirs = {t: self._task_dir(t) for t in self.task_names}
        missing = [t for t, d in dirs.items() if d is None]
        if (self._tasks_given and missing) or len(missing) == len(dirs):
            task = missing[0]
            raise FileNotFoundError(f"Aff-Wild2: no {' or '.join(_TASK_DIRS[task])} folder under {self.root}")
        self.task_names = tuple(t for t in self.task_names if dirs[t] is not None)
        self.has_va = "VA" in self.task_names
        for task in self.task_names:
            tdir = dirs[task]
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
            df["split"] = self._partition(video, tasks)
            frames.append(df)
        rec = pd.concat(frames, ignore_index=True)
        self._warn_conflicts(per_video)
        if self.num_classes == 7 and len(self.expression_names) == 8:
            rec.loc[rec["expression"] == 7, "expression"] = np.nan  # "Other" is not one of the 7
            self.expression_names = self.expression_names[:7]
        if self.joint:  # frames labelled in every task: an expression, V and A, at least one AU
            keep = np.ones(len(rec), dtype=bool)
            for task in self.task_names:
                present = rec[self._columns(task)].notna()
                keep &= (present.any(axis=1) if task == "AU" else present.all(axis=1)).to_numpy()
            rec = rec[keep]
        return rec.reset_index(drop=True)

    def _partition(self, video: str, tasks: dict[str, tuple[np.ndarray, str]]) -> str | None:
        """The partition of ``video``'s frames under ``partition_conflict`` (module docstring)."""
        found = {t: split for t, (_, split) in tasks.items() if t in self.task_names}
        if len(set(found.values())) <= 1:
            return next(iter(found.values()), None)
        if self.partition_conflict == "error":
            raise ReleaseFormatError(self.root, None, f"video {video} is in different partitions per task "
                                     f"{found}; partition_conflict: exclude or a task name decides")
        if self.partition_conflict in found:
            return found[self.partition_conflict]
        return "conflict"

    def _warn_conflicts(self, per_video: dict[str, dict[str, tuple[np.ndarray, str]]]) -> None:
        clash = {v: {t: sp for t, (_, sp) in tasks.items() if t in self.task_names}
                 for v, tasks in per_video.items()}
        clash = {v: d for v, d in clash.items() if len(set(d.values())) > 1}
        if not clash:
            return
        what = ("left out of training and scoring" if self.partition_conflict == "exclude"
                else f"given the {self.partition_conflict} partition")
        listed = "; ".join(f"{v}: " + ", ".join(f"{t} {sp}" for t, sp in d.items()) for v, d in sorted(clash.items()))
        warnings.warn(f"Aff-Wild2: {len(clash)} video(s) sit in different partitions per task, {what} "
                      f"(partition_conflict): {listed}", stacklevel=3)

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
