"""The criterion of the backbone baseline (:mod:`afg.models.baseline`), one per task.

* ``au``: masked weighted BCE on probabilities (:class:`~afg.losses.au.WeightedBCELoss`; the
  baseline rows of ME-GraphAU's Table 3), ``{"loss", "bce"}``;
* ``multilabel``: BCE with logits over the observed (image, emotion) entries
  (:class:`~afg.losses.multilabel.MultiLabelBCELoss` with ``reduction="mean"``), ``{"loss", "bce"}``;
* ``expression``: cross-entropy ignoring label −1, plus ``va_weight`` × the MSE over observed
  valence/arousal values when the model regresses them, ``{"loss", "ce"[, "va"]}``.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .au import WeightedBCELoss
from .multilabel import MultiLabelBCELoss

__all__ = ["BaselineCriterion"]


class BaselineCriterion(nn.Module):
    """``forward(outputs, batch) -> dict`` of the baseline's ``task`` (see the module docstring).

    Args:
        task: ``au`` | ``expression`` | ``multilabel``.
        au_weight: per-AU weights ``(N,)`` of the ``au`` task (None: uniform).
        va_weight: weight of the valence/arousal MSE (``expression`` task).
    """

    def __init__(self, task: str, au_weight: torch.Tensor | None = None, va_weight: float = 1.0) -> None:
        super().__init__()
        self.task, self.va_weight = task, va_weight
        self.bce = WeightedBCELoss(au_weight) if task == "au" else None
        self.multilabel = MultiLabelBCELoss("mean") if task == "multilabel" else None

    def forward(self, outputs: dict[str, torch.Tensor], batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        if self.task == "au":
            loss = self.bce(outputs["au"], batch["au"].to(outputs["au"].dtype), batch.get("au_mask"))
            return {"loss": loss, "bce": loss}
        if self.task == "multilabel":
            return self.multilabel(outputs, {"emotions": batch["emotions"]})
        logits, y = outputs["expression"], batch["expression"].long()  # (B, C), (B,)
        ce = F.cross_entropy(logits, y, ignore_index=-1) if (y >= 0).any() else logits.sum() * 0.0
        out = {"ce": ce}
        total = ce
        if "va" in outputs and "va" in batch:
            t = batch["va"].to(outputs["va"].dtype)  # (B, 2), NaN = missing
            valid = ~torch.isnan(t)
            va = ((outputs["va"] - torch.nan_to_num(t)) ** 2 * valid).sum() / valid.sum().clamp_min(1)
            out["va"] = va
            total = total + self.va_weight * va
        out["loss"] = total
        return out
