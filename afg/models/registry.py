"""Model registry: ``create_model(name, num_classes, backbone=..., **options)``.

Every paper file registers its factory with ``@register_model("name")``. ``create_model``
records the resolved arguments on ``model.model_config`` so that a checkpoint can rebuild the
same architecture (``afg.train`` stores it; ``afg.Predictor`` reads it).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

__all__ = ["create_model", "list_models", "model_factory", "model_from_config", "register_model"]

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn

    return deco


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_factory(name: str) -> Callable[..., nn.Module]:
    """The registered factory of ``name`` (its signature lists the model's options); KeyError if none."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _REGISTRY[name]


def create_model(
    name: str,
    num_classes: int,
    backbone: str = "resnet50",
    pretrained: bool = False,
    weights: str | None = None,
    img_size: int = 224,
    **options: Any,
) -> nn.Module:
    """Build a registered model.

    Args:
        name: one of :func:`list_models` (``me_graphau_stage1``, ``me_graphau``, ``mafg_ccfg``,
            ``au_gcn``, ``emotion_gcn``, ``svml_rgcn``, ``baseline``, …).
        num_classes: number of AUs / expression classes / labels.
        backbone: a name accepted by :func:`afg.backbones.create_backbone`.
        pretrained, weights, img_size: passed to the backbone.
        **options: model-specific switches (see each model's docstring); unknown ones raise.

    Returns:
        an ``nn.Module`` whose ``forward(images)`` returns a dict of named tensors.
    """
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    fn = _REGISTRY[name]
    sig = inspect.signature(fn)
    accepts_kwargs = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    if not accepts_kwargs:
        unknown = [k for k in options if k not in sig.parameters]
        if unknown:
            raise TypeError(
                f"model {name!r} has no option {unknown[0]!r}; options: "
                + ", ".join(p for p in sig.parameters if p not in ("num_classes",))
            )
    model = fn(
        num_classes=num_classes,
        backbone=backbone,
        pretrained=pretrained,
        weights=weights,
        img_size=img_size,
        **options,
    )
    model.model_config = {
        "name": name,
        "num_classes": num_classes,
        "backbone": backbone,
        "img_size": img_size,
        **options,
    }
    return model


def model_from_config(config: dict[str, Any]) -> nn.Module:
    """Rebuild an (untrained) model from ``model.model_config`` (no pretrained download)."""
    cfg = dict(config)
    name = cfg.pop("name")
    num_classes = cfg.pop("num_classes")
    cfg.pop("pretrained", None)
    cfg.pop("weights", None)
    return create_model(name, num_classes, pretrained=False, weights=None, **cfg)
