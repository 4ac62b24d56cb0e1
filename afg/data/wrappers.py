"""Datasets that wrap datasets, and one way to look through them.

Training data reach a model through layers: a ``DataLoader``, torch ``Subset``\\ s (an
:class:`afg.data.augment.AugmentedSubset` is one), :class:`CachedDataset` — around the *base*
dataset that holds the images and labels (``SynthFaces``, a ``FaceDataset``, …). Code that needs
the base dataset's attributes, labels or rows walks the layers with :func:`dataset_layers`:

* :func:`base_dataset` — the innermost dataset;
* :func:`base_positions` — the base dataset and the positions in it of the wrapper's items
  (nested ``Subset`` indices composed: ``idx = outer[inner]``);
* :func:`find_attribute` — the first layer's own attribute of a name (e.g. ``basic_data``).

The layers are recognised by type (``DataLoader``/``Subset`` → ``.dataset``,
``CachedDataset`` → ``.base``); anything else is a base dataset.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset, Subset

__all__ = ["CachedDataset", "base_dataset", "base_positions", "dataset_layers", "find_attribute"]

_MAX_DEPTH = 64  # no real pipeline nests this deep; a cycle of wrappers stops here


class CachedDataset(Dataset):
    """Keeps items of ``base`` in memory after the first access (decoded-image cache).

    Attributes (``labels()``, ``au_names``, ``folds`` …) are those of ``base``.
    """

    def __init__(self, base: Dataset, max_items: int | None = None):
        self.base = base
        self.max_items = max_items
        self._items: OrderedDict[int, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> Any:
        i = int(i)
        if i in self._items:
            return self._items[i]
        item = self.base[i]
        if self.max_items is None or len(self._items) < self.max_items:
            self._items[i] = item
        return item

    def __getattr__(self, name: str) -> Any:
        if name in ("base", "_items", "max_items"):
            raise AttributeError(name)
        return getattr(self.base, name)


def _inner(data: Any) -> Any | None:
    if isinstance(data, (DataLoader, Subset)):
        return data.dataset
    if isinstance(data, CachedDataset):
        return data.base
    return None


def dataset_layers(data: Any) -> Iterator[Any]:
    """``data``, then every dataset it wraps, outermost first; the last one is the base dataset."""
    for _ in range(_MAX_DEPTH):
        yield data
        data = _inner(data)
        if data is None:
            return
    raise ValueError(f"more than {_MAX_DEPTH} nested dataset wrappers (a wrapper that wraps itself?)")


def base_dataset(data: Any) -> Any:
    """The dataset under every ``DataLoader`` / ``Subset`` / :class:`CachedDataset` layer of ``data``."""
    return list(dataset_layers(data))[-1]


def base_positions(data: Any) -> tuple[Any, np.ndarray | None]:
    """``(base, positions)``: :func:`base_dataset` and the int64 positions in it of ``data``'s
    items, in order (``None`` when no ``Subset`` selects: every item of the base, in order)."""
    layers = list(dataset_layers(data))
    idx: np.ndarray | None = None
    for layer in layers:
        if isinstance(layer, Subset):
            sub = np.asarray(layer.indices, dtype=np.int64)
            idx = sub if idx is None else sub[idx]
    return layers[-1], idx


def find_attribute(data: Any, name: str, default: Any = None) -> Any:
    """The first non-None ``name`` a layer of ``data`` holds *itself* (in its ``__dict__``, not
    forwarded by a :class:`CachedDataset`), outermost first; ``default`` when none does."""
    for layer in dataset_layers(data):
        value = getattr(layer, "__dict__", {}).get(name)
        if value is not None:
            return value
    return default
