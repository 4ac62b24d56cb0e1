"""AU-GCN losses (Liu et al. 2020): ROI reconstruction (Eq. 1), ROI-level multi-label CE (Eq. 2),
their sum (Eq. 3), weighted multi-label CE (Eq. 7), weighted Dice (Eq. 8) and L_au (Eq. 9).

Label tensors are ``(B, C)`` 0/1 with NaN for missing labels; missing entries contribute nothing
(their terms are zeroed, the normalisation keeps the paper's ``1/C``).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "AUGCNLoss",
    "au_gcn_class_weights",
    "roi_classification_loss",
    "roi_reconstruction_loss",
    "weighted_dice_loss",
    "weighted_multilabel_ce",
]


def au_gcn_class_weights(rates: Any) -> np.ndarray:
    r"""Paper's :math:`w_i = C (1/r_i) / \sum_j (1/r_j)` from occurrence rates ``(C,)``.

    AUs that never occur get the largest finite weight (uniform weights if none occurs).
    """
    r = np.asarray(rates, dtype=np.float64)
    inv = np.where(r > 0, 1.0 / np.where(r > 0, r, 1.0), np.nan)
    if np.all(np.isnan(inv)):
        return np.ones_like(r)
    inv = np.where(np.isnan(inv), np.nanmax(inv), inv)
    return len(r) * inv / inv.sum()


def _split(labels: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    m = ~torch.isnan(labels) if mask is None else (mask.bool() & ~torch.isnan(labels))
    return torch.nan_to_num(labels, nan=0.0), m.to(labels.dtype if labels.is_floating_point() else torch.float32)


def roi_reconstruction_loss(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Eq. 1, :math:`L_R = \frac{1}{n^2}\sum_{ij} |I^{GT}_{ij} - I^R_{ij}|`, averaged over
    channels, ROIs and the batch. ``recon``, ``target``: ``(B, R, 3, n, n)``."""
    return (recon - target).abs().mean()


def roi_classification_loss(
    roi_logits: torch.Tensor,
    labels: torch.Tensor,
    membership: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Eq. 2, ROI-level multi-label CE, averaged over ROIs and the batch.

    .. math:: L = -\frac{1}{C}\sum_c \big[Y^{ROI}_{rc}\log \hat Y^{ROI}_{rc}
              + (1 - Y^{ROI}_{rc})\log(1 - \hat Y^{ROI}_{rc})\big]

    with :math:`Y^{ROI}_{rc} = y_c` when AU c belongs to ROI r and 0 otherwise (the paper's
    constraint: a ROI only predicts its own AUs as present).

    Args:
        roi_logits: ``(B, R, C)``; labels ``(B, C)`` (NaN missing); membership ``(R, C)`` 0/1.
    """
    y, m = _split(labels.float(), mask)
    memb = membership.to(roi_logits.dtype)
    target = memb.unsqueeze(0) * y.unsqueeze(1)  # (B, R, C)
    # a missing label is unknown only inside the ROIs it belongs to; elsewhere the target is 0
    valid = 1.0 - memb.unsqueeze(0) * (1.0 - m.unsqueeze(1))
    ce = F.binary_cross_entropy_with_logits(roi_logits, target, reduction="none")
    return (ce * valid).sum(-1).div(roi_logits.shape[-1]).mean()


def weighted_multilabel_ce(
    pred: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    from_logits: bool = True,
    eps: float = 1e-7,
) -> torch.Tensor:
    r"""Eq. 7, :math:`-\frac{1}{C}\sum_i w_i [y_i \log \hat y_i + (1-y_i)\log(1-\hat y_i)]`,
    averaged over the batch. ``pred`` ``(B, C)`` logits (or probabilities with
    ``from_logits=False``, clamped to ``[eps, 1-eps]``); ``weight`` ``(C,)`` (None = 1)."""
    y, m = _split(labels.float(), mask)
    if from_logits:
        ce = F.binary_cross_entropy_with_logits(pred, y, reduction="none")
    else:
        p = pred.clamp(eps, 1 - eps)
        ce = -(y * p.log() + (1 - y) * (1 - p).log())
    if weight is not None:
        ce = ce * weight.to(ce)
    return (ce * m).sum(-1).div(pred.shape[-1]).mean()


def weighted_dice_loss(
    prob: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    smooth: float = 1.0,
    per_sample: bool = True,
) -> torch.Tensor:
    r"""Eq. 8, weighted multi-label Dice loss on probabilities ``prob`` ``(B, C)``.

    .. math:: L_{dice} = \frac{1}{C}\sum_i w_i\Big(1 - \frac{2 y_i \hat y_i + \epsilon}
              {y_i^2 + \hat y_i^2 + \epsilon}\Big)

    ``per_sample=True`` is the equation as printed (per image, then the batch mean);
    ``per_sample=False`` sums numerator and denominator over the batch first (the usual
    soft-F1 form). ``smooth`` is :math:`\epsilon` (not given in the paper; 1 by default).
    """
    y, m = _split(labels.float(), mask)
    p = prob * m
    y = y * m
    if per_sample:
        dice = 1 - (2 * y * p + smooth) / (y * y + p * p + smooth)  # (B, C)
        dice = dice * m  # missing entries: no term
        if weight is not None:
            dice = dice * weight.to(dice)
        return dice.sum(-1).div(prob.shape[-1]).mean()
    num = 2 * (y * p).sum(0) + smooth
    den = (y * y).sum(0) + (p * p).sum(0) + smooth
    dice = 1 - num / den  # (C,)
    if weight is not None:
        dice = dice * weight.to(dice)
    return dice.mean()


class AUGCNLoss(nn.Module):
    """Criterion of the ``au_gcn`` model; reads the model's ``stage`` at call time.

    * stage ``"autoencoder"``: ``L_ROI = L_ROI-softmax + λ1 L_R`` (Eq. 3).
    * stage ``"full"``: ``L_au = L_softmax + λ2 L_dice`` (Eq. 9; ``use_dice=False`` drops the
      Dice term) plus ``roi_weight · L_ROI`` (0 by default, as in the paper).

    ``forward(outputs, batch)`` uses ``outputs`` keys ``au``, ``au_logits``, ``roi_logits``,
    ``roi_recon``, ``roi_target`` and ``batch`` keys ``au`` (B, C) (NaN missing), ``au_mask``.
    Returns ``{"loss", and each term}``.
    """

    def __init__(
        self,
        membership: torch.Tensor,
        class_weights: Any = None,
        lambda_rec: float = 3.0,
        lambda_dice: float = 4.0,
        use_dice: bool = True,
        roi_weight: float = 0.0,
        dice_smooth: float = 1.0,
        dice_per_sample: bool = True,
        stage: str | Any = "full",
    ) -> None:
        super().__init__()
        self.register_buffer("membership", torch.as_tensor(membership, dtype=torch.float32))
        w = None if class_weights is None else torch.as_tensor(np.asarray(class_weights), dtype=torch.float32)
        self.register_buffer("class_weights", w)
        self.lambda_rec, self.lambda_dice, self.use_dice = lambda_rec, lambda_dice, use_dice
        self.roi_weight, self.dice_smooth, self.dice_per_sample = roi_weight, dice_smooth, dice_per_sample
        # ``stage`` is a string or an object with a ``stage`` attribute (the model), read per call
        self._stage_source = [stage]

    @property
    def stage(self) -> str:
        s = self._stage_source[0]
        return s if isinstance(s, str) else s.stage

    def roi_terms(self, outputs: dict[str, torch.Tensor], labels, mask) -> dict[str, torch.Tensor]:
        roi_ce = roi_classification_loss(outputs["roi_logits"], labels, self.membership, mask)  # Eq. 2
        rec = roi_reconstruction_loss(outputs["roi_recon"], outputs["roi_target"])  # Eq. 1
        return {"roi_ce": roi_ce, "recon": rec, "roi_loss": roi_ce + self.lambda_rec * rec}  # Eq. 3

    def forward(self, outputs: dict[str, torch.Tensor], batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        labels = batch["au"].float()
        mask = batch.get("au_mask")
        if self.stage == "autoencoder":
            terms = self.roi_terms(outputs, labels, mask)
            return {"loss": terms["roi_loss"], **terms}
        w = self.class_weights
        if "au_logits" in outputs:
            ce = weighted_multilabel_ce(outputs["au_logits"], labels, w, mask)  # Eq. 7
        else:
            ce = weighted_multilabel_ce(outputs["au"], labels, w, mask, from_logits=False)
        out = {"ce": ce}
        loss = ce
        if self.use_dice:
            dice = weighted_dice_loss(outputs["au"], labels, w, mask, self.dice_smooth, self.dice_per_sample)
            out["dice"] = dice
            loss = loss + self.lambda_dice * dice  # Eq. 9
        if self.roi_weight > 0:
            terms = self.roi_terms(outputs, labels, mask)
            out.update(terms)
            loss = loss + self.roi_weight * terms["roi_loss"]
        return {"loss": loss, **out}
