"""What notebooks 00, 01, 02 and 07 import besides :mod:`afg.experiments.notebooks`, in one place,
and :func:`environment_report` (the install check of notebook 00).

The other names live in the module that owns their job: ME-GraphAU's recipe and Table 3
(:mod:`afg.experiments.me_graphau_table3`), runs' models and displayable faces
(:mod:`afg.experiments.results`), the K-NN in-degree probe (:mod:`afg.experiments.probes`), the
fake DISFA release (:mod:`afg.data.fake_release`) and the figures (:mod:`afg.viz`).
"""
from __future__ import annotations

import platform

import pandas as pd

from ..data.fake_release import make_fake_disfa_release
from ..viz.faces import plot_alignment
from ..viz.plots import plot_label_rates
from .me_graphau_table3 import StageAblation, me_graphau_config, table3_report, table3_variants
from .notebook_setup import CONFIGS_DIR as _CONFIGS_DIR
from .probes import knn_degrees
from .results import label_names, model_for, to_uint8

__all__ = [
    "REPO_ROOT",
    "StageAblation",
    "environment_report",
    "knn_degrees",
    "label_names",
    "make_fake_disfa_release",
    "me_graphau_config",
    "model_for",
    "plot_alignment",
    "plot_label_rates",
    "table3_report",
    "table3_variants",
    "to_uint8",
]

#: the repository's root folder
REPO_ROOT = _CONFIGS_DIR.parent


def environment_report(device: str = "auto") -> pd.DataFrame:
    """Versions of the stack and the device ``device`` resolves to (one row per item)."""
    from importlib import metadata

    import torch

    from .. import __version__
    from ..utils import resolve_device

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
