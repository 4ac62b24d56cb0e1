"""Gallery figure of the synthetic faces: neutral identities and every AU at intensity 5."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .face import AU_INDEX, DEFAULT_EVIDENCE
from .labels import ALL_AUS, au_name
from .render import render_face

__all__ = ["au_gallery"]


def au_gallery(
    subjects: Sequence[int] = (0, 1, 2, 3, 4, 5),
    au_subject: int = 0,
    size: int = 112,
    intensity: float = 5.0,
):
    """Matplotlib figure: row 1 the neutral face of each of ``subjects``; below, subject
    ``au_subject`` with each of the 18 AUs alone at ``intensity`` (default evidence strengths),
    its neutral face first for comparison. Returns the figure; save it with
    :func:`afg.viz.save_figure` (the data layer draws, it does not write figure files).
    """
    import matplotlib.pyplot as plt  # local: matplotlib (~0.5 s) only when the gallery is drawn

    ncol = 7
    n_au_rows = int(np.ceil((len(ALL_AUS) + 1) / ncol))
    fig, axes = plt.subplots(1 + n_au_rows, ncol, figsize=(ncol * 1.05, (1 + n_au_rows) * 1.2))
    for ax in axes.ravel():
        ax.axis("off")
    for j, sid in enumerate(list(subjects)[:ncol]):
        axes[0, j].imshow(render_face(sid, np.zeros(len(ALL_AUS)), size)[0])
        axes[0, j].set_title(f"S{sid:03d} neutral", fontsize=6)
    panels = [("neutral", np.zeros(len(ALL_AUS)))]
    for au in ALL_AUS:
        a = np.zeros(len(ALL_AUS))
        a[AU_INDEX[au]] = intensity / 5.0 * DEFAULT_EVIDENCE[au]
        panels.append((au_name(au), a))
    for k, (title, a) in enumerate(panels):
        ax = axes[1 + k // ncol, k % ncol]
        ax.imshow(render_face(au_subject, a, size)[0])
        ax.set_title(f"S{au_subject:03d} {title}", fontsize=6)
    fig.tight_layout(pad=0.2)
    return fig
