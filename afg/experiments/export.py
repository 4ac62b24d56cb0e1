"""Export result tables: styled DataFrames (notebooks), LaTeX booktabs and Markdown (papers)."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..utils import atomic_write_text

__all__ = ["leading_number", "styled", "to_latex", "to_markdown"]

_NUM = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)")


def leading_number(cell: Any) -> float:
    """``62.3`` for ``62.3``, ``"62.3 ± 1.2"`` or ``"62.3"``; NaN otherwise."""
    if isinstance(cell, (int, float, np.integer, np.floating)) and not isinstance(cell, bool):
        return float(cell)
    m = _NUM.match(str(cell))
    return float(m.group(1)) if m else float("nan")


def _best_mask(df: pd.DataFrame, lower_better: tuple[str, ...] = ()) -> pd.DataFrame:
    vals = df.apply(lambda c: c.map(leading_number))
    mask = pd.DataFrame(False, index=df.index, columns=df.columns)
    for c in df.columns:
        col = vals[c]
        if col.notna().any():
            name = c if isinstance(c, str) else "/".join(map(str, c))
            best = col.min() if any(k in name for k in lower_better) else col.max()
            mask[c] = col == best
    return mask


LOWER_BETTER = ("hamming_loss", "coverage", "one_error", "ranking_loss", "loss")


def _with_note(df: pd.DataFrame, caption: str | None) -> str | None:
    """``caption`` followed by the table's ``attrs["note"]`` (how many runs, how the epoch was
    selected — :meth:`afg.experiments.Ablation.table`), when it has one."""
    note = df.attrs.get("note")
    if not note:
        return caption
    return f"{caption.rstrip('.')}. {note}" if caption else str(note)


def _scorable(df: pd.DataFrame) -> pd.DataFrame:
    """The columns whose best value is bolded (not the paired-difference columns)."""
    return df[[c for c in df.columns if not str(c).startswith("Δ")]]


def styled(df: pd.DataFrame, lower_better: tuple[str, ...] = LOWER_BETTER, caption: str | None = None):
    """A pandas ``Styler`` with the best value of each column in bold (notebooks); the caption
    ends with the table's ``attrs["note"]``."""
    mask = _best_mask(_scorable(df), lower_better).reindex(columns=df.columns, fill_value=False)
    sty = df.style.apply(lambda _: np.where(mask, "font-weight: bold", ""), axis=None)
    caption = _with_note(df, caption)
    if caption:
        sty = sty.set_caption(caption)
    return sty


def _tex_escape(s: Any) -> str:
    s = str(s)
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"),
                 ("#", r"\#"), ("$", r"\$")):
        s = s.replace(a, b)
    return s.replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("τ", r"$\tau$")


def to_latex(df: pd.DataFrame, path: str | os.PathLike | None = None, caption: str | None = None,
             label: str | None = None, bold_best: bool = True,
             lower_better: tuple[str, ...] = LOWER_BETTER) -> str:
    """A booktabs ``tabular`` (``\\toprule``/``\\midrule``/``\\bottomrule``), best per column bold;
    the table's ``attrs["note"]`` ends the caption (a ``table`` float is made for it)."""
    caption = _with_note(df, caption)
    mask = _best_mask(_scorable(df), lower_better).reindex(columns=df.columns, fill_value=False) \
        if bold_best else None
    cols = [_tex_escape(c if isinstance(c, str) else " ".join(map(str, c))) for c in df.columns]
    idx_name = _tex_escape(df.index.name or "")
    lines = []
    if caption or label:
        lines += [r"\begin{table}[t]", r"\centering"]
        if caption:
            lines.append(rf"\caption{{{_tex_escape(caption)}}}")
        if label:
            lines.append(rf"\label{{{label}}}")
    lines.append(r"\begin{tabular}{l" + "c" * len(cols) + "}")
    lines.append(r"\toprule")
    lines.append(" & ".join([idx_name] + cols) + r" \\")
    lines.append(r"\midrule")
    for r, (idx, row) in enumerate(df.iterrows()):
        cells = []
        for c, v in enumerate(row):
            t = _tex_escape("–" if v is None or (isinstance(v, float) and np.isnan(v)) else
                            (f"{v:.3g}" if isinstance(v, float) else v))
            if mask is not None and mask.iat[r, c]:
                t = rf"\textbf{{{t}}}"
            cells.append(t)
        lines.append(" & ".join([_tex_escape(idx)] + cells) + r" \\")
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    if caption or label:
        lines.append(r"\end{table}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        atomic_write_text(Path(path), text)
    return text


def to_markdown(df: pd.DataFrame, path: str | os.PathLike | None = None, bold_best: bool = True,
                lower_better: tuple[str, ...] = LOWER_BETTER) -> str:
    """A GitHub-flavoured Markdown table, best per column in bold; the table's ``attrs["note"]``
    follows it as an italic line."""
    mask = _best_mask(_scorable(df), lower_better).reindex(columns=df.columns, fill_value=False) \
        if bold_best else None
    head = [str(df.index.name or "")] + [c if isinstance(c, str) else " ".join(map(str, c)) for c in df.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + [":-:"] * len(df.columns)) + "|"]
    for r, (idx, row) in enumerate(df.iterrows()):
        cells = []
        for c, v in enumerate(row):
            t = "–" if v is None or (isinstance(v, float) and np.isnan(v)) else (
                f"{v:.3g}" if isinstance(v, float) else str(v))
            cells.append(f"**{t}**" if mask is not None and mask.iat[r, c] else t)
        lines.append("| " + " | ".join([str(idx)] + cells) + " |")
    if df.attrs.get("note"):
        lines += ["", f"*{df.attrs['note']}*"]
    text = "\n".join(lines) + "\n"
    if path is not None:
        atomic_write_text(Path(path), text)
    return text
