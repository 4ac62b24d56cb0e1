"""Compatibility with the authors' public code: their key names ↔ ours.

``head_from_official(kind, state_dict, num_classes, **options)`` builds our head module in the
mode that reproduces the authors' computation and loads their weights (kinds
``me_graphau_stage1``, ``me_graphau_stage2``, ``mafg_ccfg``).
"""
from __future__ import annotations

from typing import Any, Callable

import torch.nn as nn

__all__ = ["head_from_official", "register_official_head"]

_HEADS: dict[str, Callable[..., nn.Module]] = {}


def register_official_head(kind: str):
    def deco(fn):
        _HEADS[kind] = fn
        return fn

    return deco


def head_from_official(kind: str, state_dict: dict, num_classes: int, **options: Any) -> nn.Module:
    """Build our head for ``kind`` and load the authors' ``state_dict`` (their key names).

    The returned module takes tokens ``(B, D, C)`` and returns exactly what the authors' head
    returns (a tensor, or a tuple for ME-GraphAU stage 2).
    """
    from . import me_graphau, mafg_ccfg  # noqa: F401  (registration)

    if kind not in _HEADS:
        raise KeyError(f"unknown official head kind {kind!r}; available: {sorted(_HEADS)}")
    return _HEADS[kind](state_dict, num_classes, **options)
