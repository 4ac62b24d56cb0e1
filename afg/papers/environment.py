"""The install check of notebook 00: :func:`environment_report` (versions of the stack and the
device in use)."""
from __future__ import annotations

import platform
from importlib import metadata

import pandas as pd
import torch

from .. import __version__
from ..utils import resolve_device

__all__ = ["environment_report"]


def environment_report(device: str = "auto") -> pd.DataFrame:
    """Versions of the stack and the device ``device`` resolves to (one row per item)."""
    rows = {"afg": __version__, "python": platform.python_version(), "platform": platform.platform(terse=True)}
    for pkg in ("torch", "timm", "numpy", "pandas", "scikit-learn", "matplotlib", "facenet-pytorch",
                "grad-cam", "papermill", "jupytext"):
        try:
            rows[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            rows[pkg] = "not installed"
    dev = resolve_device(device)
    rows["device"] = str(dev) + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else "")
    rows["torch threads"] = str(torch.get_num_threads())
    return pd.DataFrame({"value": rows}).rename_axis("item")
