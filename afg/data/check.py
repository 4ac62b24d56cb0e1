"""``afg check DATASET --root RAW``: read a user's copy of an official release the way training will,
before a week of GPU time, and say what is in it.

:func:`check_release` builds the release adapter (:mod:`afg.data.datasets`) and returns a
:class:`CheckReport`: the labelled rows per official split or protocol fold next to the counts
the release's authors published (:data:`PUBLISHED`, sources in ``docs/datasets.md``), the images
listed in the labels but missing on disk, and label anomalies (a label column with no value at
all, a class or AU with no positive, rows outside every fold, tasks whose partitions disagree).

Exit codes (:attr:`CheckReport.exit_code`): **2** — the copy cannot be read (a missing folder or
label file, a row that breaks the format, no image at all): one line naming the file;
**1** — readable, but images are missing or labels look wrong (training would run on less, or
on a class that never occurs); **0** — complete.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .datasets import MissingImagesError, ReleaseFormatError, get_adapter

__all__ = ["PUBLISHED", "CheckReport", "Published", "check_release", "count_groups", "label_anomalies"]


@dataclass(frozen=True)
class Published:
    """The counts a release's authors published: labelled ``unit`` per group (``train`` /
    ``validation`` / ``test`` or ``fold k``, the fold's *test* rows), ``None`` where unpublished."""

    unit: str
    groups: dict[str, int | None]
    total: int | None
    subjects: int | None
    source: str


#: published counts per dataset (the sources, and why some are missing: docs/datasets.md)
PUBLISHED: dict[str, Published] = {
    "bp4d": Published("frames", {"fold 1": None, "fold 2": None, "fold 3": None}, None, 41,
                      "Zhang et al. 2014 (41 subjects); ME-GraphAU parts: 13 / 14 / 14 test subjects"),
    "disfa": Published("frames", {"fold 1": 43605, "fold 2": 43605, "fold 3": 43604}, 130814, 27,
                       "ME-GraphAU / MAFG+CCFG lists fold{k}_test_*.txt"),
    "emotionet": Published("images", {"fold 1": 8199, "fold 2": 8199, "fold 3": 8200}, 24598, None,
                           "MAFG+CCFG lists fold{k}_test_*.txt (manually annotated set)"),
    "affectnet": Published("images", {"train": 283901, "validation": 3500}, 287401, None,
                           "Mollahosseini et al. 2017, Table 4 (7 classes); 500 per class in validation"),
    "affwild2": Published("frames", {"train": None, "validation": None}, None, None,
                          "Kollias & Zafeiriou 2019; per-split frame counts change with the ABAW edition"),
    "rafdb": Published("images", {"train": 12271, "test": 3068}, 15339, None, "Li, Deng & Du 2017"),
    "rafcompound": Published("images", {"train": 3162, "test": 792}, 3954, None, "Li, Deng & Du 2017"),
    "rafml": Published("images", {"train": 3926, "test": 982}, 4908, None, "Li & Deng 2019"),
    "jaffe": Published("images", {f"fold {k}": None for k in range(1, 6)}, 213, 10, "Lyons et al. 1998"),
}


@dataclass
class CheckReport:
    """What :func:`check_release` found (``format()`` prints it; ``exit_code`` 0/1/2)."""

    dataset: str
    root: Path
    layout_error: str | None = None
    adapter: Any = None
    groups: pd.DataFrame | None = None
    missing: list[str] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.layout_error is not None:
            return 2
        return 1 if (self.missing or self.anomalies) else 0

    def format(self, max_missing: int = 10) -> str:
        """The report as the CLI prints it."""
        if self.layout_error is not None:
            return f"afg check {self.dataset}: layout error: {self.layout_error}"
        a = self.adapter
        rec = a.records
        pub = PUBLISHED.get(_key(self.dataset))
        unit = pub.unit if pub else "images"
        lines = [f"afg check {self.dataset}: {self.root} ({type(a).__name__}, tasks: {', '.join(a.tasks)})",
                 f"  {len(rec)} labelled {unit} of {rec['subject'].nunique()} subjects; "
                 f"{len(rec) - len(self.missing)} on disk, {len(self.missing)} missing"]
        if self.groups is not None and len(self.groups):
            lines.append("  " + self.groups.to_string(index=False).replace("\n", "\n  "))
        if pub:
            lines.append(f"  published: {pub.source}"
                         + (f"; {pub.total} {unit} in all" if pub.total else "")
                         + (f", {pub.subjects} subjects" if pub.subjects else ""))
        if a.label_columns:
            lines.append(f"  labels ({len(a.label_columns)}): {', '.join(a.label_columns)}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        if self.missing:
            lines.append(f"  missing images ({len(self.missing)}, listed in the labels, not on disk):")
            lines += [f"    {m}" for m in self.missing[:max_missing]]
            if len(self.missing) > max_missing:
                lines.append(f"    ... and {len(self.missing) - max_missing} more")
        if self.anomalies:
            lines.append(f"  label anomalies ({len(self.anomalies)}):")
            lines += [f"    {x}" for x in self.anomalies]
        if self.plan:
            lines.append("  paper configs (train / test):")
            lines += [f"    {p}" for p in self.plan]
        verdict = {0: "complete", 1: "readable, with the problems above"}[self.exit_code]
        lines.append(f"  verdict: {verdict} (exit {self.exit_code})")
        return "\n".join(lines)


def _key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def check_release(dataset: str, root: str | os.PathLike, **options: Any) -> CheckReport:
    """Read ``root`` as release ``dataset`` (adapter ``options`` as ``afg prepare --option``)."""
    report = CheckReport(dataset, Path(root))
    if not Path(root).is_dir():
        report.layout_error = f"{root}: release folder not found"
        return report
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the missing images are reported below
            adapter = get_adapter(dataset, root, drop_missing=False, **options)
    except (ReleaseFormatError, MissingImagesError, FileNotFoundError, ValueError) as exc:
        report.layout_error = " ".join(str(exc).split())
        return report
    report.adapter = adapter
    rec = adapter.records
    report.missing = sorted(_relative(p, adapter.root) for p in adapter.missing["image"].astype(str))
    report.groups = count_groups(rec, set(adapter.missing.index), PUBLISHED.get(_key(dataset)))
    report.anomalies, report.notes = label_anomalies(adapter)
    return report


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


def count_groups(rec: pd.DataFrame, missing_rows: set[int], published: Published | None) -> pd.DataFrame:
    """Rows per official split or protocol fold (the fold's test rows): labelled, on disk,
    subjects, and the published count."""
    on_disk = ~rec.index.isin(sorted(missing_rows))
    if "fold" in rec.columns and rec["fold"].notna().any():
        keys = rec["fold"].map(lambda f: f"fold {int(f)}" if pd.notna(f) else "no fold")
    elif "split" in rec.columns:
        keys = rec["split"].fillna("no split").astype(str)
    else:
        keys = pd.Series(["all"] * len(rec), index=rec.index)
    order = list(published.groups) if published else []
    names = order + sorted(set(keys) - set(order))
    rows = []
    for g in names:
        m = (keys == g).to_numpy()
        pub = published.groups.get(g) if published else None
        rows.append({"split/fold": g, "labelled": int(m.sum()), "on disk": int((m & on_disk).sum()),
                     "subjects": int(rec.loc[m, "subject"].nunique()),
                     "published": "-" if pub is None else str(pub)})
    return pd.DataFrame(rows)


def label_anomalies(adapter: Any) -> tuple[list[str], list[str]]:
    """``(anomalies, notes)`` of an adapter's records. Anomalies: a label column with no value, a
    binary label never present, a class with no training example, rows in no protocol fold, tasks
    whose partitions disagree. Notes: how many values the release marks not coded / invalid (they
    are masked, not errors) and classes absent from a validation / test split."""
    rec = adapter.records
    anomalies: list[str] = []
    notes: list[str] = []
    split = rec["split"].astype(str) if "split" in rec.columns else None
    unlabelled: dict[int, list[str]] = {}
    for col in adapter.label_columns:
        vals = rec[col].to_numpy(dtype=float)
        n_nan = int(np.isnan(vals).sum())
        if len(vals) and n_nan == len(vals):
            anomalies.append(f"{col}: no row has a value (every entry not coded / invalid)")
            continue
        if n_nan:
            unlabelled.setdefault(n_nan, []).append(col)
        if col in (*adapter.au_names, *adapter.emotion_names) and np.nanmax(vals) <= 0:
            anomalies.append(f"{col}: never present (0 positives in {len(vals) - n_nan} labelled rows)")
    for n_nan, cols in unlabelled.items():
        notes.append(f"{', '.join(cols)}: {n_nan} of {len(rec)} rows without a value (not coded, "
                     "invalid or not annotated; masked in training)")
    if adapter.expression_names and "expression" in rec.columns:
        groups = {"all rows": np.ones(len(rec), bool)} if split is None else {
            s: (split == s).to_numpy() for s in sorted(split.unique())}
        for g, m in groups.items():
            present = set(rec.loc[m, "expression"].dropna().astype(int))
            absent = [n for k, n in enumerate(adapter.expression_names) if k not in present]
            if absent and m.any():  # a class never trained on is an error; never scored, a note
                (anomalies if g in ("train", "all rows") else notes).append(
                    f"expression: no {g} example of {', '.join(absent)}")
    if "fold" in rec.columns and rec["fold"].notna().any() and rec["fold"].isna().any():
        subj = sorted(rec.loc[rec["fold"].isna(), "subject"].astype(str).unique())
        anomalies.append(f"{int(rec['fold'].isna().sum())} rows of subjects in no protocol fold "
                         f"(never trained or tested): {', '.join(subj[:10])}")
    per_task = [c for c in rec.columns if c.startswith("split_")]
    if len(per_task) > 1:
        s = rec[per_task].astype(object)
        known = s.notna()
        clash = (s.where(known).nunique(axis=1) > 1).to_numpy()
        if clash.any():
            vids = sorted(rec.loc[clash, "subject"].astype(str).unique())
            anomalies.append(f"{int(clash.sum())} rows whose tasks put them in different splits: "
                             f"{', '.join(vids[:10])}")
    return anomalies, notes
