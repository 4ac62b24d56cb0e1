"""The model a stage trains: optional model switch, initialisation, freezing (in that order).

A :class:`afg.train.recipe.Stage` may

* ``model``: rebuild the model with its ``model_config`` updated by these keys, carrying over the
  current weights whose names and shapes match (pretrained backbone, earlier stages);
* ``init_from``: load ``"previous"`` (the previous stage's ``init_checkpoint``, ``best`` or
  ``last``) or a checkpoint file, strictly or — ``strict: false`` — only the tensors whose names
  and shapes match (the rest stay fresh, with a warning);
* ``freeze``: ``requires_grad=False`` on parameters under the given name prefixes.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from ..models.registry import model_from_config
from ..runs import RunFolder, load_checkpoint
from .evaluate import _unwrap
from .recipe import Stage

__all__ = ["freeze_modules", "load_weights", "stage_model"]


def freeze_modules(model: nn.Module, prefixes: list[str]) -> int:
    """``requires_grad=False`` for parameters whose name starts with any prefix; returns count."""
    n = 0
    for name, p in model.named_parameters():
        if any(name == pre or name.startswith(pre + ".") for pre in prefixes):
            p.requires_grad_(False)
            n += 1
    if prefixes and n == 0:
        raise ValueError(f"freeze {prefixes}: no parameter matches")
    return n


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], strict: bool) -> dict[str, list[str]]:
    """Load ``state`` into ``model``; non-strict: only the tensors whose names and shapes match.
    Returns the ``missing``, ``unexpected`` and ``skipped`` (shape mismatch) tensor names."""
    own = model.state_dict()
    if strict:
        model.load_state_dict(state, strict=True)
        return {"missing": [], "unexpected": [], "skipped": []}
    keep = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    skipped = [k for k in state if k in own and own[k].shape != state[k].shape]
    res = model.load_state_dict(keep, strict=False)
    if not keep:
        raise ValueError("init_from: no parameter of the checkpoint matches the model")
    return {"missing": list(res.missing_keys), "unexpected": [k for k in state if k not in own],
            "skipped": skipped}


def _switch_model(model: nn.Module, overrides: dict, name: str) -> nn.Module:
    cfg = dict(getattr(_unwrap(model), "model_config", None) or {})
    if not cfg:
        raise ValueError(f"stage {name!r} switches the model but the model has no model_config "
                         "(build it with afg.models.create_model)")
    cfg.update(overrides)
    old = _unwrap(model)
    model = model_from_config(cfg)
    try:
        load_weights(model, old.state_dict(), strict=False)
    except ValueError:  # nothing in common: the new model starts fresh
        pass
    if getattr(old, "label_names", None) is not None:
        model.label_names = old.label_names
    return model


def _initial_weights(spec: Stage, index: int, previous_dir: Path | None,
                     previous_weights: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor] | None:
    """The weights ``spec.init_from`` names (``None``: the first stage's ``"previous"``)."""
    if spec.init_from != "previous":
        ck = load_checkpoint(spec.init_from)
        return ck.get("model", ck) if isinstance(ck, dict) else ck
    if index == 0:
        return None
    if previous_dir is None:  # an in-memory run: the previous stage's best weights
        return previous_weights
    last = RunFolder.last(previous_dir)
    f = RunFolder.best(previous_dir) if spec.init_checkpoint == "best" else last
    return load_checkpoint(f if f.exists() else last)["model"]


def stage_model(model: nn.Module, spec: Stage, index: int, name: str, previous_dir: Path | None = None,
                previous_weights: dict[str, torch.Tensor] | None = None, warn: bool = True) -> nn.Module:
    """The model stage ``index`` (named ``name``) trains, after ``spec``'s switch, ``init_from``
    and ``freeze``. ``previous_dir``: the previous stage's folder (``None`` in memory, where
    ``previous_weights`` are its best weights); ``warn``: warn about fresh/skipped tensors."""
    if spec.model:
        model = _switch_model(model, spec.model, name)
    if spec.init_from:
        weights = _initial_weights(spec, index, previous_dir, previous_weights)
        if weights is not None:
            info = load_weights(model, weights, spec.strict)
            if warn and (info["missing"] or info["skipped"]):
                warnings.warn(f"stage {name!r}: initialised from previous stage; "
                              f"{len(info['missing'])} fresh tensors, {len(info['skipped'])} "
                              "skipped for shape", stacklevel=3)
    if spec.freeze:
        freeze_modules(model, spec.freeze)
    return model
