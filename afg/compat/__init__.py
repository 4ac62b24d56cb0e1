"""Compatibility with the authors' public code: their key names ↔ ours.

``head_from_official(kind, state_dict, num_classes, **options)`` builds our head module in the
mode that reproduces the authors' computation and loads their weights (kinds
``me_graphau_stage1``, ``me_graphau_stage2``, ``mafg_ccfg``, ``opengraphau_stage1``,
``opengraphau_stage2``).

``model_from_official_checkpoint(path)`` turns a released whole-model checkpoint into our model:
ME-GraphAU's ``MEFARG`` (BP4D / DISFA) or OpenGraphAU's 41-AU ``MEFARG``, stage 1 or 2, keys
with or without ``module.``, bare or under ``state_dict`` — read with ``weights_only=True``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from ..runs import load_checkpoint
from . import mafg_ccfg, me_graphau, opengraphau
from .registry import OFFICIAL_HEADS, register_official_head

__all__ = ["head_from_official", "model_from_official_checkpoint", "register_official_head"]


def head_from_official(kind: str, state_dict: dict, num_classes: int, **options: Any) -> nn.Module:
    """Build our head for ``kind`` and load the authors' ``state_dict`` (their key names).

    The returned module takes tokens ``(B, D, C)`` and returns exactly what the authors' head
    returns (a tensor, or a tuple for ME-GraphAU stage 2).
    """
    if kind not in OFFICIAL_HEADS:
        raise KeyError(f"unknown official head kind {kind!r}; available: {sorted(OFFICIAL_HEADS)}")
    return OFFICIAL_HEADS[kind](state_dict, num_classes, **options)


def model_from_official_checkpoint(path_or_state_dict: str | Path | dict, **options: Any) -> nn.Module:
    """Our model (eval mode) holding an authors' released ``MEFARG`` checkpoint.

    OpenGraphAU checkpoints (``head.main_sc``/``head.sub_sc``) go to
    :func:`afg.compat.opengraphau.model_from_official_checkpoint` (``au``: ``(B, 41)``, columns in
    ``model.label_names``), ME-GraphAU ones (``head.sc``) to
    :func:`afg.compat.me_graphau.model_from_official_checkpoint`. Files are read with
    ``torch.load(weights_only=True)``; ``options`` (``backbone``, ``stage``, ``neighbor_num``, …)
    are passed on.
    """
    sd = path_or_state_dict
    if isinstance(sd, (str, Path)):
        sd = load_checkpoint(sd)  # weights_only=True; one-line CheckpointError
    if not isinstance(sd, dict):
        raise TypeError(f"expected a state dict, got {type(sd).__name__}")
    sd = me_graphau._unwrap(sd)
    if opengraphau.is_opengraphau_state_dict(sd):
        return opengraphau.model_from_official_checkpoint(sd, **options)
    if "head.sc" in sd:
        return me_graphau.model_from_official_checkpoint(sd, **options).eval()
    raise ValueError("neither an ME-GraphAU (head.sc) nor an OpenGraphAU (head.main_sc, "
                     "head.sub_sc) MEFARG checkpoint")
