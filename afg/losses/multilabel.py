r"""Multi-label emotion loss: SVML-RGCN's binary cross-entropy (Zhang et al., Eq. 2).

.. math:: \mathcal L = -\sum_{c=1}^{C} \big[ y_c \log \sigma(s_c) + (1 - y_c) \log(1 - \sigma(s_c)) \big]

on the logits ``s`` ``(B, C)`` of ``outputs["emotions"]`` and the 0/1 labels ``y`` (``batch["emotions"]``,
else ``batch["expression_multilabel"]``); NaN labels are ignored.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MultiLabelBCELoss"]


class MultiLabelBCELoss(nn.Module):
    """SVML-RGCN Eq. 2: binary cross-entropy with logits on ``emotions`` (NaN labels ignored);
    ``forward(outputs, batch) -> {"loss", "bce"}``.

    ``reduction="sum"`` (the paper): Eq. 2 sums over the C classes of an image, then the batch
    mean; ``"mean"``: the mean over all (image, class) entries, C times smaller. Adam is nearly
    invariant to that factor, but its L2 weight decay (2e-4) is not: ``"mean"`` weighs the
    decay C = 6 times more against the data term.
    """

    def __init__(self, reduction: str = "sum") -> None:
        super().__init__()
        if reduction not in ("sum", "mean"):
            raise ValueError(f"loss_reduction must be 'sum' (Eq. 2) or 'mean', got {reduction!r}")
        self.reduction = reduction

    def forward(self, outputs: dict[str, torch.Tensor], batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        logits = outputs["emotions"]  # (B, C)
        y = batch["emotions"] if "emotions" in batch else batch["expression_multilabel"]
        y = torch.as_tensor(y, device=logits.device, dtype=logits.dtype)
        mask = ~torch.isnan(y)
        loss = F.binary_cross_entropy_with_logits(logits, torch.nan_to_num(y), reduction="none")
        denom = mask.any(1).sum() if self.reduction == "sum" else mask.sum()  # images | entries
        loss = (loss * mask).sum() / denom.clamp_min(1)
        return {"loss": loss, "bce": loss.detach()}
