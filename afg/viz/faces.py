"""Face detection and alignment figure: MTCNN box and landmarks on each photograph, and the
aligned crop (:func:`afg.data.faces.align`)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = ["plot_alignment"]


def plot_alignment(images: Sequence[np.ndarray], results: Sequence[dict[str, Any]],
                   titles: Sequence[str] | None = None, ax_size: float = 2.0) -> Figure:
    """Each photograph with the MTCNN box and 5 landmarks (top) and its aligned crop (bottom).

    ``results``: one :func:`afg.data.faces.align` record per image (``status``, ``box``,
    ``source_landmarks`` (5, 2), ``image``, ``landmarks`` (5, 2), ``score``).
    """
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(ax_size * n, ax_size * 2), squeeze=False)
    for i, (im, r) in enumerate(zip(images, results)):
        ax = axes[0, i]
        ax.imshow(im)
        if r["status"] == "ok":
            x1, y1, x2, y2 = np.asarray(r["box"], float)
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec="#d55e00", lw=1.5))
            lm = np.asarray(r["source_landmarks"], float)
            ax.scatter(lm[:, 0], lm[:, 1], s=8, c="#56b4e9")
            axes[1, i].imshow(r["image"])
            axes[1, i].scatter(r["landmarks"][:, 0], r["landmarks"][:, 1], s=6, c="#56b4e9")
            axes[1, i].set_title(f"aligned, p={r['score']:.3f}", fontsize=7)
        else:
            axes[1, i].text(0.5, 0.5, r["status"], ha="center", va="center", fontsize=9)
        ax.set_title(titles[i] if titles else f"input {i}", fontsize=7)
        for a in axes[:, i]:
            a.set_xticks([])
            a.set_yticks([])
    fig.tight_layout()
    return fig
