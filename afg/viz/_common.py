"""Small helpers shared by the figure modules (not public API)."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def to_numpy(x) -> np.ndarray:
    """Tensor (any device/dtype) or array-like → NumPy array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float().numpy()
    return np.asarray(x)


def square_heatmap_axes(n: int, names: Sequence[str] | None, ax, cell: tuple[float, float], pad: tuple[float, float]):
    """``(fig, ax, labels)`` for an ``n × n`` heatmap: a new figure sized by ``n`` unless ``ax`` is given."""
    labels = list(names) if names is not None else [str(i) for i in range(n)]
    if ax is None:
        fig, ax = plt.subplots(figsize=(cell[0] * n + pad[0], cell[1] * n + pad[1]))
    else:
        fig = ax.figure
    return fig, ax, labels
