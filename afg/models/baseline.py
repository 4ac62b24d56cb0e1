"""Backbone baseline: backbone → mean-pooled tokens → (dropout) → linear head.

Table 3's first row for AUs (weighted BCE; ME-GraphAU, `arXiv:2205.01782
<https://arxiv.org/abs/2205.01782>`_), and the plain-backbone reference for the expression and
multi-label papers. Its criterion is :class:`afg.losses.baseline.BaselineCriterion`. ``task``:

* ``au`` — ``{"au": sigmoid probabilities (B, N)}``; criterion: masked weighted BCE
  (class weights from ``stats["au_class_weights"]``, uniform without stats).
* ``expression`` — ``{"expression": logits (B, C)}`` (+ ``"va"`` (B, 2) with ``va=True``);
  criterion: cross-entropy ignoring label -1 (+ MSE on observed valence/arousal).
* ``multilabel`` — ``{"emotions": logits (B, C)}``; criterion: BCE-with-logits, NaN = missing.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..backbones import create_backbone
from ..losses.au import weights_from_stats
from ..losses.baseline import BaselineCriterion
from .base import AffectModel
from .registry import register_model

__all__ = ["BaselineCriterion", "BaselineModel"]  # BaselineCriterion: re-exported from afg.losses.baseline

_TASKS = ("au", "expression", "multilabel")


class BaselineModel(AffectModel):
    """Options: ``task`` (au|expression|multilabel), ``dropout`` before the head, ``va`` (expression
    task: also regress valence/arousal, tanh-bounded)."""

    def __init__(self, num_classes: int, backbone: str = "resnet50", pretrained: bool = False,
                 weights: str | None = None, img_size: int = 224, task: str = "au", dropout: float = 0.0,
                 va: bool = False) -> None:
        super().__init__()
        if task not in _TASKS:
            raise ValueError(f"task must be one of {_TASKS}, got {task!r}")
        self.task, self.num_classes = task, num_classes
        self.backbone = create_backbone(backbone, pretrained=pretrained, weights=weights, img_size=img_size)
        c = self.backbone.num_features
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(c, num_classes)
        self.va_head = nn.Linear(c, 2) if (va and task == "expression") else None

    def forward(self, images: torch.Tensor, return_intermediates: bool = False) -> dict[str, torch.Tensor]:
        f = self.backbone(images).mean(dim=1)  # (B, C) mean-pooled tokens
        logits = self.fc(self.drop(f))
        key = {"au": "au", "expression": "expression", "multilabel": "emotions"}[self.task]
        out = {key: torch.sigmoid(logits.float()) if self.task == "au" else logits}  # float32 under autocast
        if self.va_head is not None:
            out["va"] = torch.tanh(self.va_head(self.drop(f)))
        if return_intermediates:
            out["features"] = f
        return out

    def build_criterion(self, stats: dict[str, Any] | None = None, **options: Any) -> nn.Module:
        """Options: ``va_weight`` (expression task)."""
        va_weight = float(options.pop("va_weight", 1.0))
        if options:
            raise TypeError(f"unknown criterion options: {sorted(options)}")
        w = weights_from_stats(stats, self.num_classes) if self.task == "au" else None
        return BaselineCriterion(self.task, w, va_weight)


@register_model("baseline")
def baseline(num_classes: int, backbone: str = "resnet50", pretrained: bool = False, weights: str | None = None,
             img_size: int = 224, task: str = "au", dropout: float = 0.0, va: bool = False) -> BaselineModel:
    """Backbone + mean-pooled tokens + linear head (see module docstring)."""
    return BaselineModel(num_classes, backbone, pretrained, weights, img_size, task, dropout, va)
