"""AU losses (ME-GraphAU Sec. 2.3): class weights, weighted asymmetric loss (Eq. 6), edge
co-occurrence cross-entropy (Eq. 7), their sum (Eq. 8: :class:`MEGraphAUCriterion`) and a masked
weighted BCE (the baseline of Table 3's first two rows); MAFG+CCFG trains with L_WA alone
(Li et al. 2025, Eq. 15–17: :class:`MAFGCCFGCriterion`).

All AU losses take *probabilities* ``(B, N)``, targets ``(B, N)`` of 0/1 (NaN = missing) and an
optional boolean ``mask`` ``(B, N)`` (True = label present). Missing entries contribute nothing;
the mean is over the observed entries (with no missing labels: mean over AUs, then batch).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.stats import au_class_weights
from ..graphs.edges import IGNORE_INDEX, cooccurrence_targets

__all__ = [
    "EdgeCooccurrenceLoss",
    "MAFGCCFGCriterion",
    "MEGraphAUCriterion",
    "WeightedAsymmetricLoss",
    "WeightedBCELoss",
    "au_class_weights",
    "weights_from_stats",
]


def weights_from_stats(stats: dict[str, Any] | None, num_classes: int | None = None) -> torch.Tensor | None:
    """``stats["au_class_weights"]`` (or weights computed from ``au_labels``/``au_rates``) as a
    float tensor, or None (uniform) when the statistics are absent."""
    if not stats:
        return None
    if stats.get("au_class_weights") is not None:
        w = np.asarray(stats["au_class_weights"], dtype=np.float64)
    elif stats.get("au_labels") is not None:
        w = au_class_weights(stats["au_labels"])
    elif stats.get("au_rates") is not None:
        r = np.asarray(stats["au_rates"], dtype=np.float64)
        inv = 1.0 / np.clip(r, 1e-12, None)
        w = len(r) * inv / inv.sum()
    else:
        return None
    if num_classes is not None and len(w) != num_classes:
        raise ValueError(f"class weights have {len(w)} entries, model has {num_classes} AUs")
    return torch.as_tensor(w, dtype=torch.float32)


def _valid(targets: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    valid = ~torch.isnan(targets)
    if mask is not None:
        valid = valid & mask.bool()
    return valid


def _masked_mean(loss: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    v = valid.to(loss.dtype)
    return (loss * v).sum() / v.sum().clamp_min(1.0)


class _WeightedAULoss(nn.Module):
    def __init__(self, weight: Any = None, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps
        w = None if weight is None else torch.as_tensor(np.asarray(weight, dtype=np.float64), dtype=torch.float32)
        self.register_buffer("weight", w, persistent=False)

    def _elementwise(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, probs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        valid = _valid(targets, mask)
        y = torch.where(valid, targets, torch.zeros_like(targets)).to(probs.dtype)
        loss = self._elementwise(probs, y)  # (B, N)
        if self.weight is not None:
            loss = loss * self.weight.to(device=loss.device, dtype=loss.dtype)
        return _masked_mean(loss, valid)


class WeightedAsymmetricLoss(_WeightedAULoss):
    r"""ME-GraphAU Eq. 6:

    .. math:: \mathcal L_{WA} = -\frac1N \sum_i w_i\,[\,y_i \log p_i + (1-y_i)\, \bar p_i \log(1-p_i)\,]

    ``\bar p_i`` is ``p_i`` with the gradient stopped (the authors compute it under ``no_grad``);
    logarithms of ``max(·, eps)`` with ``eps = 1e-8``.
    """

    def _elementwise(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        los_pos = y * torch.log(p.clamp(min=self.eps))
        los_neg = (1 - y) * torch.log((1 - p).clamp(min=self.eps))
        return -(los_pos + p.detach() * los_neg)


class WeightedBCELoss(_WeightedAULoss):
    r"""Weighted binary cross-entropy on probabilities (Table 3, rows 1–2):
    ``-w_i [y log p + (1-y) log(1-p)]`` (``log(max(·, eps))``)."""

    def _elementwise(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -(y * torch.log(p.clamp(min=self.eps)) + (1 - y) * torch.log((1 - p).clamp(min=self.eps)))


class EdgeCooccurrenceLoss(nn.Module):
    r"""ME-GraphAU Eq. 7: cross-entropy over all N² ordered pairs (self-pairs included) between
    edge logits ``(B, N², 4)`` and the classes ``2·y_i + y_j`` (:func:`afg.graphs.cooccurrence_targets`).
    Pairs with a missing label are ignored; mean over the remaining pairs.
    """

    def __init__(self, weight: Any = None) -> None:
        super().__init__()
        w = None if weight is None else torch.as_tensor(np.asarray(weight), dtype=torch.float32)
        self.register_buffer("weight", w, persistent=False)

    def forward(self, edge_logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        t = cooccurrence_targets(targets, mask)  # (B, N²)
        if (t != IGNORE_INDEX).sum() == 0:
            return edge_logits.sum() * 0.0
        w = None if self.weight is None else self.weight.to(device=edge_logits.device, dtype=edge_logits.dtype)
        return F.cross_entropy(edge_logits.reshape(-1, edge_logits.shape[-1]), t.reshape(-1), weight=w,
                               ignore_index=IGNORE_INDEX)


class MEGraphAUCriterion(nn.Module):
    """ME-GraphAU's training loss, Eq. 8: ``L = L_WA + λ·L_E`` (Eq. 6 and 7), masked by ``au_mask``.

    ``forward(outputs, batch) -> {"loss", "wa", "edge"}``: ``wa`` is L_WA (or the weighted BCE of
    Table 3's first rows with ``loss="wbce"``), ``edge`` L_E on ``outputs["edge"]`` (zero when the
    model has no edge classifier); ``loss`` adds ``lam`` × ``edge`` when ``lam`` is not 0.
    """

    def __init__(self, weight: torch.Tensor | None = None, loss: str = "wa", lam: float = 0.0) -> None:
        super().__init__()
        if loss not in ("wa", "wbce"):
            raise ValueError(f"loss must be 'wa' or 'wbce', got {loss!r}")
        self.au_loss = WeightedAsymmetricLoss(weight) if loss == "wa" else WeightedBCELoss(weight)
        self.edge_loss = EdgeCooccurrenceLoss()
        self.lam = float(lam)

    def forward(self, outputs: dict[str, torch.Tensor], batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        y = batch["au"].to(outputs["au"].dtype)  # (B, N)
        mask = batch.get("au_mask")
        wa = self.au_loss(outputs["au"], y, mask)
        edge = self.edge_loss(outputs["edge"], y, mask) if "edge" in outputs else wa.new_zeros(())
        return {"loss": wa + self.lam * edge if self.lam else wa, "wa": wa, "edge": edge}


class MAFGCCFGCriterion(nn.Module):
    """MAFG+CCFG's training loss (Li et al. 2025, Eq. 15–17): ``L = L_WA`` with per-AU weights
    ``w_i`` (Eq. 16), i.e. :class:`WeightedAsymmetricLoss`; ``forward(outputs, batch) -> {"loss", "wa"}``.

    Args:
        wa: the :class:`WeightedAsymmetricLoss` (its weights and ``eps``).
    """

    def __init__(self, wa: nn.Module) -> None:
        super().__init__()
        self.wa = wa

    def forward(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        loss = self.wa(outputs["au"], batch["au"], batch.get("au_mask"))
        return {"loss": loss, "wa": loss.detach()}
