"""A results table drawn as a figure (e.g. a verdict table for a README or a slide).

:func:`plot_table` draws a DataFrame (its index as the first column) with matplotlib's ``table``,
sizing each column by its longest text, colouring cells whose text is a key of
``colors`` (by default the verdicts of :mod:`afg.experiments.analysis`) and printing ``note``
(e.g. the table's ``attrs["note"]``) wrapped under it.
"""
from __future__ import annotations

import textwrap
from collections.abc import Mapping

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

__all__ = ["VERDICT_COLORS", "plot_table"]

#: background of a verdict cell (colour-blind safe: the verdict is also written in the cell)
VERDICT_COLORS = {
    "reproduced": "#cde8d5",
    "contradicted": "#f6cfc4",
    "unresolved": "#ececec",
    "no claim": "#ffffff",
    "reference": "#dde7f3",
}


def plot_table(
    df: pd.DataFrame,
    title: str | None = None,
    note: str | None = None,
    colors: Mapping[str, str] | None = None,
    fontsize: float = 7.0,
    row_height: float = 0.22,
):
    """``df`` as a figure: header row, then one row per index entry (the index is column 0).

    Args:
        df: the table; cells are shown as ``str(value)`` (NaN as ``–``).
        title: drawn above the table.
        note: wrapped to the figure's width and drawn under the table.
        colors: ``{cell text: background colour}`` (default :data:`VERDICT_COLORS`).
        fontsize: of the cells (the title is 1 pt larger, the note 1 pt smaller).
        row_height: inches per row; each column is as wide as its longest text.

    Returns the Figure; ``fig.cell_text`` holds the drawn text (header first) for checks.
    """
    colors = VERDICT_COLORS if colors is None else colors
    index_name = df.index.name or ""
    header = [str(index_name)] + [str(c) for c in df.columns]
    body = [[str(i)] + ["–" if pd.isna(v) else str(v) for v in row]
            for i, row in zip(df.index, df.itertuples(index=False))]
    rows = [header] + body
    widths = [max(_text_inches(r[j], fontsize, bold=r is header) for r in rows) + 0.16
              for j in range(len(header))]
    width = max(sum(widths) / 0.98, _text_inches(title or "", fontsize + 1, bold=True) + 0.2, 3.0)
    wrapped = ""
    if note:  # characters per line from the note's own mean character width
        per_char = _text_inches(note, fontsize - 1) / len(note)
        wrapped = textwrap.fill(note, width=max(40, int(0.97 * width / per_char)))
    note_lines = wrapped.count("\n") + 1 if wrapped else 0
    height = row_height * len(rows) + (0.35 if title else 0.1) + 0.13 * note_lines + 0.15
    fig = plt.figure(figsize=(width, height))
    left = (1.0 - sum(widths) / width) / 2
    ax = fig.add_axes((left, 0.0, 1.0 - 2 * left, 1.0))
    ax.axis("off")
    table_h = row_height * len(rows) / height
    top = 1.0 - (0.35 if title else 0.1) / height
    tab = ax.table(cellText=body, colLabels=header, colWidths=[w / sum(widths) for w in widths],
                   cellLoc="center", loc="upper center", bbox=[0.0, top - table_h, 1.0, table_h])
    tab.auto_set_font_size(False)
    tab.set_fontsize(fontsize)
    for (r, c), cell in tab.get_celld().items():
        cell.set_edgecolor("0.8")
        cell.set_linewidth(0.4)
        text = cell.get_text().get_text()
        if r == 0:
            cell.set_facecolor("#f2f2f2")
            cell.get_text().set_fontweight("bold")
        elif text in colors:
            cell.set_facecolor(colors[text])
        if c == 0:
            cell.get_text().set_horizontalalignment("left")
            cell.PAD = 0.02
    if title:
        fig.text(0.5, 1.0 - 0.08 / height, title, ha="center", va="top", fontsize=fontsize + 1,
                 fontweight="bold")
    if wrapped:
        fig.text(0.01, (0.13 * note_lines + 0.05) / height, wrapped, ha="left", va="top",
                 fontsize=fontsize - 1, color="0.25")
    fig.cell_text = rows
    return fig


def _text_inches(text: str, fontsize: float, bold: bool = False) -> float:
    """Width of ``text`` in inches at ``fontsize`` (matplotlib's default font)."""
    prop = FontProperties(size=fontsize, weight="bold" if bold else "normal")
    w, _, _ = TextToPath().get_text_width_height_descent(text, prop, ismath=False)
    return w / 72.0
