"""Adapters for the official dataset releases, and the torch dataset over prepared faces.

Every adapter reads a release folder as distributed and exposes the same ``records`` table
(see :mod:`afg.data.datasets.base`), ``labels()``, ``label_mask()``, ``folds()`` and
``dataset(prepared_dir)``. ``get_adapter(name, root, **options)`` builds one by name (the names
``afg prepare DATASET`` accepts are ``ADAPTERS``' keys).
"""
from __future__ import annotations

import os
from typing import Any

from .affectnet import AffectNet
from .affwild2 import AffWild2
from .base import ImageFolder, MissingImagesError, ReleaseAdapter, ReleaseFormatError
from .bp4d import BP4D, BP4D_AUS, BP4D_PARTS
from .disfa import DISFA, DISFA_AUS, DISFA_CODED_AUS, DISFA_PARTS
from .emotionet import EmotioNet
from .face_dataset import FaceDataset
from .jaffe import JAFFE
from .lists import ListDataset
from .raf import RAFDB, RAFML, RAFCompound

__all__ = [
    "ADAPTERS",
    "BP4D",
    "BP4D_AUS",
    "BP4D_PARTS",
    "DISFA",
    "DISFA_AUS",
    "DISFA_CODED_AUS",
    "DISFA_PARTS",
    "JAFFE",
    "RAFDB",
    "RAFML",
    "AffWild2",
    "AffectNet",
    "EmotioNet",
    "FaceDataset",
    "ImageFolder",
    "ListDataset",
    "MissingImagesError",
    "RAFCompound",
    "ReleaseAdapter",
    "ReleaseFormatError",
    "get_adapter",
]

#: name → adapter class, as accepted by ``afg prepare DATASET``.
ADAPTERS: dict[str, type[ReleaseAdapter]] = {
    "bp4d": BP4D,
    "disfa": DISFA,
    "emotionet": EmotioNet,
    "affectnet": AffectNet,
    "affwild2": AffWild2,
    "aff-wild2": AffWild2,
    "rafdb": RAFDB,
    "raf-db": RAFDB,
    "rafcompound": RAFCompound,
    "raf-compound": RAFCompound,
    "rafml": RAFML,
    "raf-ml": RAFML,
    "jaffe": JAFFE,
    "folder": ImageFolder,
}


def get_adapter(name: str, root: str | os.PathLike, **options: Any) -> ReleaseAdapter:
    """Build the adapter registered as ``name`` (case-insensitive; ``-``/``_`` ignored)."""
    key = name.lower().replace("_", "").replace("-", "")
    table = {k.replace("-", ""): v for k, v in ADAPTERS.items()}
    if key not in table:
        raise KeyError(f"unknown dataset {name!r}; choose from {sorted({k.replace('-', '') for k in ADAPTERS})}")
    return table[key](root, **options)
