"""The per-run values of an ablation in the two shapes they travel in.

A *tidy* frame has one row per (variant, fold, seed, metric) run value — columns ``variant``,
``fold``, ``seed`` (None without seeds), ``metric``, ``value``; :func:`runs_by_metric` folds it into
plain nested dicts ``{metric: {variant: {"fold/seed": value}}}`` that ride in a DataFrame's
``attrs``, and :func:`tidy_from_runs` unfolds them again. :mod:`afg.experiments.ablation` writes
them, :mod:`afg.experiments.analysis` reads them; both import this module, not each other.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["runs_by_metric", "tidy_from_runs"]


def runs_by_metric(tidy: pd.DataFrame, metrics: Sequence[str]) -> dict[str, dict[str, dict[str, float]]]:
    """``{metric: {variant: {"fold/seed": value}}}`` of a tidy frame (plain dicts: they ride in a
    DataFrame's ``attrs``); :func:`tidy_from_runs` reverses it."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    seeds = tidy["seed"] if "seed" in tidy.columns else pd.Series(None, index=tidy.index)
    for (m, v, f, s), val in zip(zip(tidy["metric"], tidy["variant"], tidy["fold"], seeds), tidy["value"]):
        if m in metrics:
            key = f"{f}/{'' if s is None or (isinstance(s, float) and np.isnan(s)) else int(s)}"
            out.setdefault(m, {}).setdefault(v, {})[key] = float(val)
    return out


def tidy_from_runs(runs: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    """The tidy frame (variant, fold, seed, metric, value) of :func:`runs_by_metric`'s dict."""
    rows = []
    for m, by_variant in runs.items():
        for v, vals in by_variant.items():
            for key, val in vals.items():
                f, _, s = key.partition("/")
                rows.append({"variant": v, "fold": int(f), "seed": int(s) if s else None, "metric": m,
                             "value": val})
    return pd.DataFrame(rows, columns=["variant", "fold", "seed", "metric", "value"])
