"""The small protocol every afg model follows, so one trainer serves all five papers.

A model is an ``nn.Module`` with:

* ``task``: ``"au"`` (multi-label AU detection, output ``au`` probabilities (B, N)),
  ``"expression"`` (``expression`` logits (B, C) and optionally ``va`` (B, 2)) or
  ``"multilabel"`` (``emotions`` logits (B, C)).
* ``forward(images, return_intermediates=False) -> dict[str, Tensor]``.
* ``build_criterion(stats=None, **options) -> nn.Module`` whose ``forward(outputs, batch)``
  returns a dict with the total under ``"loss"`` and each named term (for logging).
  ``stats`` are training-set label statistics (see :func:`afg.data.stats.training_statistics`):
  ``au_rates``/``au_class_weights`` (N,), ``expression_counts`` (C,), ``emotion_rates`` (C,),
  ``label_matrix`` (n, N) when available.
* ``param_groups() -> dict[str, list[Parameter]]``: named groups (``"backbone"``, ``"head"``)
  that a recipe can give different learning-rate multipliers.
* ``forward_keys`` (class attribute, default ``()``): names of extra batch keys the trainer
  passes to ``forward`` as keyword arguments, e.g. AU-GCN's ``forward_keys = ("landmarks",)``
  makes ``afg.train`` call ``model(batch["image"], landmarks=batch["landmarks"])``.
* ``prepare(train_data, stats)`` (optional): data-dependent set-up before training (e.g.
  co-occurrence graphs or class-mean visual features); a no-op by default.
"""
from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import torch
from torch import nn

__all__ = ["AffectModel", "build_head_config"]

C = TypeVar("C")


def build_head_config(config_cls: type[C], config: C | None, options: dict[str, Any], model: str) -> C:
    """A head's config: ``config`` itself, or ``config_cls`` built from the flat ``options`` that
    name its fields (removed from ``options``), so ``create_model(name, **flat)`` and the YAML
    configs keep working. Options left over are not the model's: ``TypeError``, as a misspelt
    keyword argument would be. Passing both a config and some of its flat options is one too."""
    names = {f.name for f in dataclasses.fields(config_cls)}  # type: ignore[arg-type]
    flat = {k: options.pop(k) for k in list(options) if k in names}
    if options:
        raise TypeError(f"{model}() got unexpected keyword argument(s) {', '.join(map(repr, sorted(options)))}")
    if config is not None and flat:
        raise TypeError(f"{model}(): give the head's options either as its config or flat, not both "
                        f"({', '.join(sorted(flat))})")
    return config if config is not None else config_cls(**flat)


class AffectModel(nn.Module):
    task: str = "au"
    #: extra batch keys passed to ``forward`` as keyword arguments by the trainer
    forward_keys: tuple[str, ...] = ()
    #: names of the outputs, in order (AU names, class names); filled by the data when known
    label_names: list[str] | None = None

    def build_criterion(self, stats: dict[str, Any] | None = None, **options: Any) -> nn.Module:
        raise NotImplementedError

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        backbone = getattr(self, "backbone", None)
        bb = {id(p) for p in backbone.parameters()} if isinstance(backbone, nn.Module) else set()
        groups: dict[str, list[nn.Parameter]] = {"backbone": [], "head": []}
        for p in self.parameters():
            groups["backbone" if id(p) in bb else "head"].append(p)
        return {k: v for k, v in groups.items() if v}

    def prepare(self, train_data: Any = None, stats: dict[str, Any] | None = None) -> None:
        return None

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
