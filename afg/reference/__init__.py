"""The papers' published numbers, machine-readable, and ``compare(ours, table)``.

One YAML file per paper in this package (``me_graphau``, ``mafg_ccfg``, ``au_gcn``,
``emotion_gcn``, ``svml_rgcn``), transcribed from the papers' tables. Schema::

    paper: <citation>
    key: <paper key>
    tables:
      <table id>:                 # table1, table2, table3_rafml, ...
        caption: <what the table shows>
        dataset: <dataset>
        unit: percent | fraction  # percent: ours (fractions) are multiplied by 100 to compare
        columns: [...]            # the paper's column names (AU columns as AU01 ... and "mean")
        metrics: [...]            # our metric key for each column (f1/AU01, f1_mean, accuracy, ...)
        rows:
          - name: <row name = our ablation variant name where we have one>
            label: <the paper's wording, when different>
            overrides: {model.use_gnn: false, ...}   # ablation rows: dotted config overrides
            values: [...]         # null where the paper gives no number

Table ids are ``"<paper>/<table>"`` (``"mafg_ccfg/table4"``). Ablation rows carry the config
``overrides`` that make our variant, so :func:`variants` builds an
:class:`afg.experiments.Ablation` straight from a table. AU-GCN's Table 1 (graph matrices) is
in :mod:`afg.reference.au_gcn_graphs`; Li et al.'s Table 1 has no numbers.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd
import yaml

__all__ = ["PAPERS", "compare", "list_tables", "load_paper", "load_table", "table_info", "variants"]

PAPERS = ("me_graphau", "mafg_ccfg", "au_gcn", "emotion_gcn", "svml_rgcn")


@cache
def load_paper(key: str) -> dict[str, Any]:
    """The parsed YAML of one paper (``PAPERS``)."""
    if key not in PAPERS:
        raise KeyError(f"unknown paper {key!r}; choose from {PAPERS}")
    text = resources.files(__name__).joinpath(f"{key}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def list_tables(paper: str | None = None) -> list[str]:
    """Table ids, ``"paper/table"``."""
    keys = [paper] if paper else PAPERS
    return [f"{k}/{t}" for k in keys for t in load_paper(k)["tables"]]


def table_info(table: str) -> dict[str, Any]:
    """The raw entry of ``"paper/table"`` (caption, dataset, unit, columns, metrics, rows)."""
    paper, _, tid = table.partition("/")
    tables = load_paper(paper)["tables"]
    if tid not in tables:
        raise KeyError(f"{paper} has no table {tid!r}; tables: {sorted(tables)}")
    return tables[tid]


def load_table(table: str) -> pd.DataFrame:
    """``"paper/table"`` as a DataFrame: rows = row names, columns = the paper's columns.

    ``df.attrs`` holds ``caption``, ``dataset``, ``unit`` and ``metrics`` (our metric key per column).
    """
    info = table_info(table)
    df = pd.DataFrame([r["values"] for r in info["rows"]], index=[r["name"] for r in info["rows"]],
                      columns=info["columns"], dtype=float)
    df.index.name = table
    df.attrs.update({k: info.get(k) for k in ("caption", "dataset", "unit", "metrics")})
    return df


def variants(table: str) -> dict[str, dict[str, Any]]:
    """``{row name: overrides}`` of a table's ablation rows (for :class:`afg.experiments.Ablation`)."""
    return {r["name"]: dict(r["overrides"]) for r in table_info(table)["rows"] if "overrides" in r}


def _ours_frame(ours: Any) -> pd.DataFrame:
    """Accept a DataFrame (rows = variants; columns = metrics, or ``(metric, mean|std)``), a
    ``{variant: {metric: value}}`` mapping, a ``{metric: value}`` dict or a RunResult."""
    if hasattr(ours, "metrics") and hasattr(ours, "run_dir"):
        ours = {"ours": ours.scalars()}
    if isinstance(ours, Mapping):
        first = next(iter(ours.values()), None)
        ours = pd.DataFrame(ours).T if isinstance(first, Mapping) else pd.DataFrame([ours], index=["ours"])
    df = ours.copy()
    if isinstance(df.columns, pd.MultiIndex):
        df = df.xs("mean", axis=1, level=1) if "mean" in df.columns.get_level_values(1) else df
    return df


def compare(ours: Any, table: str, columns: Sequence[str] | None = None, digits: int = 1) -> pd.DataFrame:
    """Our numbers next to the paper's, row by row (matched by name) and column by column.

    Args:
        ours: per-variant metrics (``Ablation.summary()``, a ``{variant: {metric: v}}`` dict, a
            single run's metrics or :class:`afg.experiments.RunResult`), as fractions.
        table: ``"paper/table"``.
        columns: the paper's columns to include (default: all whose metric we have).

    Returns:
        DataFrame, rows = the paper's rows then our rows that the paper lacks; columns
        ``(paper column, "paper" | "ours" | "diff")`` in the paper's unit.
    """
    info = table_info(table)
    paper = load_table(table)
    mine = _ours_frame(ours)
    scale = 100.0 if info.get("unit") == "percent" else 1.0
    cols = list(columns) if columns is not None else [
        c for c, m in zip(info["columns"], info["metrics"]) if m in mine.columns]
    if not cols:
        raise ValueError(f"none of our metrics {list(mine.columns)[:8]} appear in {table} "
                         f"(metrics {info['metrics']})")
    metric_of = dict(zip(info["columns"], info["metrics"]))
    index = list(paper.index) + [r for r in mine.index if r not in paper.index]
    out = {}
    for c in cols:
        m = metric_of[c]
        p = paper[c].reindex(index)
        o = (mine[m] * scale).reindex(index) if m in mine.columns else pd.Series(float("nan"), index=index)
        out[(c, "paper")] = p
        out[(c, "ours")] = o
        out[(c, "diff")] = o - p
    res = pd.DataFrame(out, index=index)
    res.columns = pd.MultiIndex.from_tuples(res.columns)
    res.index.name = table
    return res
