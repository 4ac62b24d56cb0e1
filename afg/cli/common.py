"""What the commands share: the errors a user can fix, ``--device``, and how metrics and tables print."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..config import ConfigError
from ..data.datasets import MissingImagesError, ReleaseFormatError
from ..experiments import to_latex, to_markdown
from ..runs import CheckpointError
from ..utils import WriteError, resolve_device
from .errors import UsageError, one_line

__all__ = ["USER_ERRORS", "check_device", "metric_summary", "print_table"]

#: besides UsageError, the errors printed as one line with exit code 2: a config, and what can
#: surface mid-run (a stage's checkpoint, a release read lazily, a full disk)
USER_ERRORS = (ConfigError, CheckpointError, MissingImagesError, ReleaseFormatError, WriteError)

#: summary metrics printed first, when a run has them
_MEANS = ("f1_mean", "auc_mean", "acc_mean", "accuracy", "mean_class_accuracy", "macro_f1",
          "average_precision", "micro_f1", "val_loss")


def check_device(device: str | None) -> None:
    """``--device`` names a device this machine has (``None``: the config's)."""
    if device is None:
        return
    try:
        resolve_device(device)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"--device: {one_line(exc)}") from None


def metric_summary(metrics: dict[str, Any]) -> list[str]:
    """Lines: the summary metrics (``f1_mean=0.4321 ...``), then the per-label F1 in %."""
    means = [k for k in _MEANS if k in metrics]
    lines = ["  " + "  ".join(f"{k}={float(metrics[k]):.4f}" for k in means)] if means else []
    f1 = [(k.split("/", 1)[1], v) for k, v in metrics.items() if k.startswith("f1/")]
    if f1:
        lines.append("  F1 " + " ".join(f"{n}={100 * float(v):.1f}" for n, v in f1))
    return lines


def print_table(df: pd.DataFrame, fmt: str, out: str | None) -> None:
    """Print ``df`` as text, markdown, latex or csv (text: with its ``attrs["note"]``), and write
    the same text to ``out`` when given."""
    if fmt == "markdown":
        text = to_markdown(df)
    elif fmt == "latex":
        text = to_latex(df)
    elif fmt == "csv":
        text = df.to_csv()
    else:
        text = df.to_string()
        if df.attrs.get("note"):  # runs per cell, how the epoch was selected (Ablation.table)
            text += "\n" + str(df.attrs["note"])
    print(text.rstrip())
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text if text.endswith("\n") else text + "\n")
        print(f"written: {out}")
