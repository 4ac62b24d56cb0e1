"""Name → builder of our head for an authors' head (``kind``); the modules of :mod:`afg.compat`
register theirs with :func:`register_official_head`, :func:`afg.compat.head_from_official` looks them up."""
from __future__ import annotations

from collections.abc import Callable

from torch import nn

__all__ = ["OFFICIAL_HEADS", "register_official_head"]

#: kind → ``builder(state_dict, num_classes, **options) -> nn.Module``
OFFICIAL_HEADS: dict[str, Callable[..., nn.Module]] = {}


def register_official_head(kind: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: register ``builder`` as the head of ``kind``."""
    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        OFFICIAL_HEADS[kind] = fn
        return fn

    return deco
