"""Pictures of AU predictions: one face with its AU probabilities, and AUs over a video's time.

Both read the table of :meth:`afg.Predictor.predict` (one row per face; ``FaceRect*`` in source
pixels, one probability column per AU, ``time_s`` for videos). Labels are the columns with their
FACS names (``AU12 Lip corner puller``; :mod:`afg.data.au_names`, or the table's
``attrs["label_descriptions"]``, which for OpenGraphAU follow the node each column is scored from).

* :func:`plot_au_overlay` — the face with its detected box, the aligned crop the model saw, and a
  labelled horizontal bar chart of the AU probabilities, bars at or above the decision threshold
  highlighted (what OpenGraphAU's demo writes onto the image with OpenCV text, as a figure for
  :func:`afg.viz.save_figure`), under a footer naming the checkpoint and, for a model trained on
  synthetic faces only, saying so (:data:`SYNTHETIC_CAVEAT`);
* :func:`plot_au_timeline` — probabilities against time, one line per selected AU (by default the
  ``top`` AUs with the highest peak), one panel per video, as used to read expressions over a
  session.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..data.au_names import au_name, parse_au
from ..data.faces import load_input
from ..data.frames import VIDEO_EXTENSIONS
from ..progress import bar
from .export import save_figure

__all__ = ["SYNTHETIC_CAVEAT", "au_columns", "plot_au_overlay", "plot_au_timeline", "save_prediction_figures"]

_ON, _OFF = "#c0392b", "#9aa5b1"  # bars at / below the threshold

#: the footer of an overlay drawn with a model that never saw a real face
SYNTHETIC_CAVEAT = ("trained on synthetic faces only: on a photograph these probabilities are a "
                    "demonstration, not AU estimates")


def au_columns(columns: Sequence[str]) -> list[str]:
    """The AU columns (``AU01``, ``AUL1`` …) among ``columns``, in their order."""
    out = []
    for c in columns:
        try:
            parse_au(str(c))
        except ValueError:
            continue
        out.append(str(c))
    return out


def _label(col: str, names: Mapping[str, str] | None) -> str:
    name = (names or {}).get(col) or au_name(col)
    return col if name == col else f"{col} {name}"


def _names_of(obj: Any, names: Mapping[str, str] | None) -> Mapping[str, str] | None:
    if names is not None:
        return names
    attrs = getattr(obj, "attrs", None) or {}
    return attrs.get("label_descriptions")


def plot_au_overlay(image: Any, row: Mapping[str, Any] | pd.Series, aus: Sequence[str] | None = None,
                    threshold: float = 0.5, names: Mapping[str, str] | None = None,
                    context: float | None = 0.6, title: str | None = None, crop: np.ndarray | None = None,
                    model: str | None = None, caveat: str | None = None) -> Figure:
    """The face of one prediction row with its box (and the crop the model saw), beside a bar chart
    of its AU probabilities.

    Args:
        image: the source image the row was predicted on (path, PIL image or ``(H, W, 3)`` array).
        row: one row of :meth:`afg.Predictor.predict` (a Series or a dict) with ``FaceRectX``,
            ``FaceRectY``, ``FaceRectWidth``, ``FaceRectHeight`` (optional ``FaceScore``) and AU
            probability columns.
        aus: the AU columns to draw, top to bottom (default: every AU column of the row).
        threshold: decision threshold; bars at or above it are highlighted, a dashed line marks it.
        names: column -> readable name (default: the row's ``attrs``, else FACS names).
        context: the image is cropped to the box enlarged by this fraction of its size on every
            side (``None``: the whole image).
        title: figure title (default: the row's ``input`` file name and frame).
        crop: the aligned face the model was fed, ``(S, S, 3)`` uint8
            (:attr:`afg.Predictor.crops`), drawn between the photograph and the bars.
        model: the checkpoint, named in the footer (its last two path parts).
        caveat: a second footer line (e.g. :data:`SYNTHETIC_CAVEAT`).

    ``fig.aus`` lists the drawn columns, ``fig.probabilities`` their values, ``fig.footer`` the
    footer's lines.
    """
    img = load_input(image)  # (H, W, 3) uint8
    h, w = img.shape[:2]
    get = row.get if hasattr(row, "get") else row.__getitem__
    names = _names_of(row, names)
    cols = list(aus) if aus is not None else au_columns(list(row.keys()))
    if not cols:
        raise ValueError("the row has no AU probability column (AU01, AU12, AUL1, …)")
    probs = np.array([float(get(c)) for c in cols], dtype=float)
    box = [get(k) for k in ("FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight")]
    has_box = all(b is not None and np.isfinite(float(b)) for b in box)

    n = len(cols)
    fig_h = max(3.0, 0.17 * n + 0.9)
    ratios = [1.3, 0.8, 1.0] if crop is not None else [1.3, 1.0]
    fig, axes = plt.subplots(1, len(ratios), figsize=(7.16 + 1.8 * (crop is not None), fig_h),
                             gridspec_kw={"width_ratios": ratios})
    ax_im, ax_bar = axes[0], axes[-1]
    ax_im.imshow(img)
    if has_box:
        _draw_face_box(ax_im, [float(b) for b in box], get("FaceScore"), context, (h, w))
    ax_im.set_axis_off()
    ax_im.set_anchor("N")
    if crop is not None:
        axes[1].imshow(crop)
        axes[1].set_title(f"what the model saw ({crop.shape[1]}×{crop.shape[0]} px, aligned)", fontsize=7)
        axes[1].set_axis_off()
        axes[1].set_anchor("N")
    on = _draw_au_bars(ax_bar, probs, [_label(c, names) for c in cols], threshold)
    if title is None:
        src, frame = get("input"), get("frame")
        title = str(src).replace("\\", "/").rsplit("/", 1)[-1] if src is not None else ""
        title = "" if title.startswith("<") else title  # an in-memory image: no name
        if frame is not None and int(frame) > 0:
            title += f", frame {int(frame)}"
        title += f"  ({int(on.sum())} of {n} AUs ≥ {threshold:g})"
    fig.suptitle(title, fontsize=9)
    footer = [f"model: {_short_path(model)}"] if model else []
    footer += [caveat] if caveat else []
    lh = 0.16 / fig_h  # one 7 pt footer line, as a fraction of the height
    for k, text in enumerate(footer):
        fig.text(0.01, 0.01 + lh * (len(footer) - 1 - k), text, fontsize=7, ha="left", va="bottom",
                 color="#c0392b" if text == caveat else "0.25", style="italic" if text == caveat else "normal")
    fig.tight_layout(rect=(0, 0.01 + lh * len(footer), 1, 1))
    fig.aus, fig.probabilities, fig.footer = cols, probs, footer
    return fig


def _short_path(path: str) -> str:
    """The run folder and the file of a checkpoint path (``<run>/<file>`` or ``<run>/<stage
    folder>/<file>``, :class:`afg.runs.RunFolder`), without the folders above the run."""
    parts = str(path).replace("\\", "/").rstrip("/").split("/")
    return "/".join(parts[-3 if len(parts) > 2 and parts[-2].startswith("stage") else -2:])


def _draw_face_box(ax, box: Sequence[float], score: Any, context: float | None, hw: tuple[int, int]) -> None:
    """The face box ``(x, y, width, height)`` with its detector score on ``ax``; with ``context``,
    the view cropped to the box enlarged by that fraction of its size on every side."""
    x, y, bw, bh = box
    h, w = hw
    ax.add_patch(Rectangle((x, y), bw, bh, fill=False, edgecolor="#2ecc71", linewidth=1.8))
    if score is not None and np.isfinite(float(score)):
        ax.text(x, y, f"face {float(score):.2f}", color="white", fontsize=7, va="bottom",
                ha="left", bbox={"facecolor": "#27ae60", "edgecolor": "none", "pad": 1.5})
    if context is not None:
        m = float(context)
        ax.set_xlim(max(0.0, x - m * bw), min(w, x + bw * (1 + m)))
        ax.set_ylim(min(h, y + bh * (1 + m)), max(0.0, y - m * bh))


def _draw_au_bars(ax, probs: np.ndarray, labels: Sequence[str], threshold: float) -> np.ndarray:
    """Horizontal bars of AU probabilities ``(n,)`` (top to bottom, NaN drawn as "n/a"), those at or
    above ``threshold`` highlighted; returns that ``(n,)`` boolean mask."""
    n = len(probs)
    ypos = np.arange(n)
    on = np.nan_to_num(probs, nan=0.0) >= threshold
    ax.barh(ypos, np.nan_to_num(probs, nan=0.0), color=np.where(on, _ON, _OFF), height=0.72)
    for yi, p in zip(ypos, probs):
        ax.text(min(np.nan_to_num(p, nan=0.0) + 0.01, 0.9), yi, "n/a" if np.isnan(p) else f"{p:.2f}",
                va="center", ha="left", fontsize=6)
    ax.axvline(threshold, color="0.3", linestyle="--", linewidth=0.8)
    ax.set_yticks(ypos, list(labels), fontsize=6.5 if n > 20 else 7.5)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    ax.spines[["top", "right"]].set_visible(False)
    return on


def plot_au_timeline(df: pd.DataFrame, aus: Sequence[str] | None = None, top: int = 6,
                     threshold: float | None = 0.5, face: int = 0,
                     names: Mapping[str, str] | None = None) -> Figure:
    """AU probabilities over time: one panel per input (video), one line per AU.

    Args:
        df: :meth:`afg.Predictor.predict` output; rows with ``status == "ok"`` of face ``face``
            are drawn, against ``time_s`` (seconds) when present, else ``frame``.
        aus: AU columns to draw (default: the ``top`` columns with the highest peak probability).
        top: number of AUs chosen when ``aus`` is not given.
        threshold: a dashed line at the decision threshold (``None``: none).
        names: column -> readable name (default: ``df.attrs``, else FACS names).

    ``fig.aus`` lists the drawn columns.
    """
    names = _names_of(df, names)
    ok = df
    if "status" in ok:
        ok = ok[ok["status"] == "ok"]
    if "face" in ok:
        ok = ok[ok["face"].fillna(-1).astype(int) == int(face)]
    if ok.empty:
        raise ValueError(f"no predicted face (status ok, face {face}) in the table")
    cols = list(aus) if aus is not None else au_columns(list(ok.columns))
    if aus is None:
        cols = list(ok[cols].max().sort_values(ascending=False, kind="stable").index[:top])
    if not cols:
        raise ValueError("the table has no AU probability column (AU01, AU12, AUL1, …)")
    use_time = "time_s" in ok and ok["time_s"].notna().all()
    xcol = "time_s" if use_time else "frame"
    inputs = list(dict.fromkeys(ok["input"])) if "input" in ok else [None]
    fig, axes = plt.subplots(len(inputs), 1, figsize=(7.16, 1.9 * len(inputs) + 0.6), squeeze=False,
                             sharey=True)
    colors = plt.get_cmap("tab10" if len(cols) <= 10 else "tab20").colors
    for ax, src in zip(axes[:, 0], inputs):
        part = ok if src is None else ok[ok["input"] == src]
        part = part.sort_values(xcol)
        for k, c in enumerate(cols):
            ax.plot(part[xcol], part[c], marker="o", markersize=2.5, linewidth=1.2,
                    color=colors[k % len(colors)], label=_label(c, names))
        if threshold is not None:
            ax.axhline(threshold, color="0.3", linestyle="--", linewidth=0.8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability")
        if src is not None:
            ax.set_title(str(src).replace("\\", "/").rsplit("/", 1)[-1], fontsize=8, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xlabel("time (s)" if use_time else "frame")
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7)
    fig.tight_layout()
    fig.aus = cols
    return fig


def save_prediction_figures(df: pd.DataFrame, folder: Any, threshold: float = 0.5,
                            formats: Sequence[str] = ("pdf", "png"), dpi: int = 200,
                            progress: bool = False,
                            crops: Mapping[tuple[str, int, int], np.ndarray] | None = None) -> list:
    """``afg predict --plot DIR``: for every face found in an image file, its
    :func:`plot_au_overlay` (``<image stem>_au_overlay[_face<k>]``) with the crop the model saw
    (``crops``: :attr:`afg.Predictor.crops`), the checkpoint (``df.attrs["checkpoint"]``) and, when
    it trained on synthetic faces only (``df.attrs["trained_on"]``), :data:`SYNTHETIC_CAVEAT`; for
    every video file, its :func:`plot_au_timeline` (``<video stem>_au_timeline``); written with
    :func:`afg.viz.save_figure` into ``folder``. In-memory inputs (no file) are skipped.
    Returns the written paths."""
    names = _names_of(df, None)
    ok = df[df["status"] == "ok"] if "status" in df else df
    used: dict[str, int] = {}
    written: list[Path] = []

    def unique(stem: str) -> str:
        used[stem] = used.get(stem, 0) + 1
        return stem if used[stem] == 1 else f"{stem}-{used[stem]}"

    inputs = [s for s in dict.fromkeys(ok["input"]) if Path(str(s)).is_file()]
    model = df.attrs.get("checkpoint")
    caveat = SYNTHETIC_CAVEAT if df.attrs.get("trained_on") == "synthetic" else None
    for src in bar(desc="figures", enabled=progress, iterable=inputs, unit="input", leave=False):
        part = ok[ok["input"] == src]
        stem = Path(str(src)).stem
        if Path(str(src)).suffix.lower() in VIDEO_EXTENSIONS:
            fig = plot_au_timeline(part, names=names, threshold=threshold)
            written += save_figure(fig, unique(f"{stem}_au_timeline"), formats=formats, dpi=dpi,
                                   folder=folder)
            plt.close(fig)
            continue
        for _, row in part.iterrows():
            k = int(row["face"]) if "face" in row and pd.notna(row["face"]) else 0
            crop = (crops or {}).get((str(src), int(row["frame"]), k))
            fig = plot_au_overlay(str(src), row, names=names, threshold=threshold, crop=crop, model=model,
                                  caveat=caveat)
            name = f"{stem}_au_overlay" + (f"_face{k}" if k else "")
            written += save_figure(fig, unique(name), formats=formats, dpi=dpi, folder=folder)
            plt.close(fig)
    return written
