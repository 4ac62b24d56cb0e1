"""Cross-validation: run a recipe over the folds of a dataset protocol; mean ± std per metric.

Folds come from ``dataset.folds(k)`` (the protocol's subject-independent split; any of: a list
of ``(train_indices, test_indices)`` pairs, a list of test-index arrays, or one fold id per
sample), or from ``folds=`` given explicitly in any of these forms.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn
from torch.utils.data import Dataset, Subset

from .loop import FitResult, fit
from .recipe import Recipe

__all__ = ["cross_validate", "fold_indices", "split_fold", "summarize"]


def fold_indices(dataset: Any, k: int | None = None, folds: Any = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(train_idx, test_idx), ...]`` for each fold."""
    if folds is None:
        if not hasattr(dataset, "folds"):
            raise TypeError(f"{type(dataset).__name__} has no folds(); pass folds= explicitly")
        folds = dataset.folds(k) if k is not None else dataset.folds()
    n = len(dataset)
    arr = None
    if not isinstance(folds, (list, tuple)):
        arr = np.asarray(folds)
    if arr is not None and arr.ndim == 1 and arr.shape[0] == n:  # fold id per sample
        return [(np.flatnonzero(arr != f), np.flatnonzero(arr == f)) for f in np.unique(arr)]
    out = []
    for f in folds:
        if isinstance(f, dict):
            tr, te = f.get("train"), f.get("test", f.get("val"))
        elif isinstance(f, (tuple, list)) and len(f) == 2 and np.ndim(f[0]) == 1 and np.ndim(f[1]) == 1 \
                and not np.isscalar(f[0]):
            tr, te = f
        else:
            te, tr = f, None
        te = np.asarray(te, dtype=np.int64)
        if tr is None:
            tr = np.setdiff1d(np.arange(n), te)
        out.append((np.asarray(tr, dtype=np.int64), te))
    return out


def split_fold(dataset: Dataset, fold: int, k: int | None = None, folds: Any = None) -> tuple[Subset, Subset]:
    """``(train, test)`` subsets of ``dataset`` for fold ``fold`` (0-based)."""
    tr, te = fold_indices(dataset, k, folds)[fold]
    return Subset(dataset, tr.tolist()), Subset(dataset, te.tolist())


def summarize(per_fold: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns of a per-fold frame → rows ``mean`` and ``std`` (sample std, ddof=1)."""
    num = per_fold.select_dtypes("number").drop(columns=["fold"], errors="ignore")
    return pd.DataFrame({"mean": num.mean(), "std": num.std(ddof=1)}).T


def cross_validate(
    build_model: Callable[[int], nn.Module],
    dataset: Dataset,
    recipe: Recipe | dict | str | Path,
    k: int | None = 3,
    folds: Any = None,
    run_dir: str | Path | None = None,
    select: Sequence[int] | None = None,
    **fit_kwargs: Any,
) -> tuple[pd.DataFrame, list[FitResult]]:
    """Fit a fresh ``build_model(fold)`` on each fold; returns (per-fold scalar metrics, results).

    ``summarize(frame)`` gives mean ± std. Each fold runs in ``run_dir/fold{f}`` (resumable).
    """
    splits = fold_indices(dataset, k, folds)
    rows, results = [], []
    for f, (tr, te) in enumerate(splits):
        if select is not None and f not in select:
            continue
        model = build_model(f)
        rd = Path(run_dir) / f"fold{f}" if run_dir is not None else None
        res = fit(model, Subset(dataset, tr.tolist()), Subset(dataset, te.tolist()), recipe,
                  run_dir=rd, **fit_kwargs)
        rows.append({"fold": f, **{k_: v for k_, v in res.metrics.items()
                                   if isinstance(v, (int, float)) and not isinstance(v, bool)}})
        results.append(res)
    return pd.DataFrame(rows), results
