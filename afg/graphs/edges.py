"""Edge co-occurrence targets (ME-GraphAU Sec. 2.3, Eq. 7).

For every ordered AU pair (i, j), pair index ``p = i·N + j`` (self-pairs included, as the authors
do), the class is ``2·y_i + y_j``: 0 both inactive, 1 only j active, 2 only i active, 3 both.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["EDGE_CLASSES", "IGNORE_INDEX", "cooccurrence_targets"]

EDGE_CLASSES = ("none", "only_j", "only_i", "both")
IGNORE_INDEX = -100


def cooccurrence_targets(labels: Any, mask: Any = None) -> Any:
    """Pair classes ``(…, N²)`` (long) from AU labels ``(…, N)`` of 0/1.

    Entries are ``2·y_i + y_j`` at ``p = i·N + j``. Pairs where ``y_i`` or ``y_j`` is missing (NaN,
    or ``mask`` False) get ``IGNORE_INDEX`` (-100, PyTorch's cross-entropy default).
    Returns a tensor for tensor input and an ``np.ndarray`` for array input.
    """
    is_np = not isinstance(labels, torch.Tensor)
    y = torch.as_tensor(np.asarray(labels) if is_np else labels)
    y = y.float() if not y.is_floating_point() else y
    valid = ~torch.isnan(y)
    if mask is not None:
        valid = valid & torch.as_tensor(np.asarray(mask) if is_np else mask, device=y.device).bool()
    y0 = torch.where(valid, y, torch.zeros_like(y)).round().long()  # (…, N)
    t = 2 * y0.unsqueeze(-1) + y0.unsqueeze(-2)  # (…, N_i, N_j)
    ok = valid.unsqueeze(-1) & valid.unsqueeze(-2)
    t = torch.where(ok, t, torch.full_like(t, IGNORE_INDEX)).flatten(-2)  # (…, N²), p = i*N + j
    return t.numpy() if is_np else t
