"""The files a training stage writes beside its checkpoints.

``metrics.json`` (every log row), ``metrics.csv`` (their scalar and text columns),
``status.json`` (why training stopped early) and TensorBoard events under ``tb/``. The training record (a complete one lets a resumed run skip
the stage) and the checkpoints: :class:`afg.runs.RunFolder`.
"""
from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..utils import atomic_save_json, atomic_write_text

__all__ = ["epoch_line", "is_scalar", "open_tensorboard", "write_logs"]


def is_scalar(v: Any) -> bool:
    """A real number (not a bool): what goes to the CSV columns and TensorBoard."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def write_logs(stage_dir: Path, history: list[dict[str, Any]]) -> None:
    """``metrics.json`` (all rows) and ``metrics.csv`` (columns in order of first appearance)."""
    atomic_save_json(stage_dir / "metrics.json", history)
    cols: list[str] = []
    for row in history:
        for k, v in row.items():
            if k not in cols and (is_scalar(v) or isinstance(v, str)):
                cols.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for row in history:
        w.writerow({k: row.get(k, "") for k in cols})
    atomic_write_text(stage_dir / "metrics.csv", buf.getvalue())


def epoch_line(stage: str, row: dict[str, Any], epochs: int, monitor: str | None = None) -> str:
    """The one line a finished epoch prints where progress bars do not render (a log file, a pipe;
    :mod:`afg.progress`): ``"main epoch 3/16: train_loss 0.4123, f1_mean 0.5120, 12.4 s"``."""
    parts = [f"{k} {row[k]:.4f}" for k in dict.fromkeys(("train_loss", monitor)) if k and is_scalar(row.get(k))]
    if is_scalar(row.get("time_s")):
        parts.append(f"{row['time_s']:.1f} s")
    return f"{stage} epoch {row.get('epoch', '?')}/{epochs}: " + ", ".join(parts)


def open_tensorboard(stage_dir: Path) -> Any:
    """A ``SummaryWriter`` on ``stage_dir/tb``; ``None`` (with a warning) without tensorboard."""
    try:
        # local: optional dependency (tensorboard), only when a run logs to it
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        warnings.warn("tensorboard is not installed; recipe.tensorboard ignored", stacklevel=4)
        return None
    return SummaryWriter(str(stage_dir / "tb"))
