"""Cross-validation of an experiment config: every fold of ``data.folds`` through the run cache."""
from __future__ import annotations

import os
from typing import Any

import pandas as pd

from ..data.build import protocol_fold_count
from .ablation import Ablation

__all__ = ["cross_validation"]


def cross_validation(config: Any, folds: int | None = None, root: str | os.PathLike | None = None,
                     metrics: list[str] | None = None, **run_kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``config`` on folds 1..k (cached); returns (per-fold tidy frame, mean ± std table)."""
    abl = Ablation(config, {"cv": {}}, folds=folds, root=root, metrics=metrics)
    if folds is None:  # the protocol's folds (data.folds, else the release's own)
        abl.folds = list(range(1, protocol_fold_count(abl.base.data) + 1))
    tidy = abl.run(**run_kwargs)
    return tidy, abl.table(metrics)
