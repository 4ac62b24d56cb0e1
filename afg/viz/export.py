"""Publication export: ``save_figure`` and a consistent style."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

__all__ = ["ONE_COLUMN", "TWO_COLUMN", "figures_dir", "save_figure", "use_style"]

ONE_COLUMN = 3.5  # inches (IEEE/ACM one-column width)
TWO_COLUMN = 7.16

_STYLE = {
    "pdf.fonttype": 42,  # embed TrueType fonts in PDFs
    "ps.fonttype": 42,
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "figure.dpi": 110,
    "savefig.bbox": "tight",
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def use_style() -> None:
    """Apply afg's publication style (embedded fonts, small sizes, colour-blind-safe cycle)."""
    # local: seaborn takes a second to import; only these figures need it
    import seaborn as sns

    plt.rcParams.update(_STYLE)
    plt.rcParams["axes.prop_cycle"] = matplotlib.cycler(color=sns.color_palette("colorblind"))


def figures_dir(folder: str | os.PathLike | None = None) -> Path:
    """``folder``, else ``$AFG_FIGURES_DIR``, else ``./figures`` — or the repository's ``figures/``
    when the working directory is its ``notebooks/`` folder (JupyterLab runs notebooks there)."""
    if folder is not None:
        return Path(folder)
    if os.environ.get("AFG_FIGURES_DIR"):
        return Path(os.environ["AFG_FIGURES_DIR"])
    cwd = Path.cwd()
    if cwd.name == "notebooks" and (cwd.parent / "figures").is_dir() and not (cwd / "figures").is_dir():
        return cwd.parent / "figures"
    return Path("figures")


def save_figure(
    fig,
    name: str,
    formats: Iterable[str] = ("pdf", "png"),
    dpi: int = 300,
    folder: str | os.PathLike | None = None,
) -> list[Path]:
    """Write ``fig`` as ``<folder>/<name>.<fmt>`` for each format (fonts embedded in PDF).

    Files are written to a temporary name and renamed, so an interrupted export never leaves a
    truncated figure. Returns the written paths.
    """
    out = figures_dir(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with matplotlib.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42}):
        for fmt in formats:
            fmt = fmt.lstrip(".")
            path = out / f"{name}.{fmt}"
            tmp = out / f".{name}.tmp.{fmt}"
            fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
            os.replace(tmp, path)
            paths.append(path)
    return paths
