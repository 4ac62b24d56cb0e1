"""Miniatures of the nine official releases afg reads, built from real photographs and synthetic faces.

Each builder writes a few subjects / a handful of images in the exact folder nesting, file names
and label formats of its release — quirks included (headers present or not, codes for "not
coded" and invalid values, frame numbering, video vs frame partitions) — so that the user's path
(``afg check`` → ``afg prepare`` → ``afg train`` → ``afg eval``) runs on it in seconds. Faces: the
photographs and synthetic faces of :mod:`._faces`; labels: the published class counts or the
synthetic generator's label model fitted to the real labels. Each module's docstring says where
its format is specified.

``make_fake_release(name, root)`` builds one by dataset name (the names ``afg prepare`` accepts).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .affectnet import make_fake_affectnet_release
from .affwild2 import make_fake_affwild2_release
from .bp4d import make_fake_bp4d_release
from .disfa import make_fake_disfa_release
from .emotionet import make_fake_emotionet_release
from .jaffe import make_fake_jaffe_release
from .raf import make_fake_raf_compound_release, make_fake_rafdb_release, make_fake_rafml_release

__all__ = [
    "MINIATURES",
    "make_fake_affectnet_release",
    "make_fake_affwild2_release",
    "make_fake_bp4d_release",
    "make_fake_disfa_release",
    "make_fake_emotionet_release",
    "make_fake_jaffe_release",
    "make_fake_raf_compound_release",
    "make_fake_rafdb_release",
    "make_fake_rafml_release",
    "make_fake_release",
]

#: dataset name (as ``afg prepare`` / ``afg check`` take it) → builder
MINIATURES: dict[str, Callable[..., Path]] = {
    "bp4d": make_fake_bp4d_release,
    "disfa": make_fake_disfa_release,
    "emotionet": make_fake_emotionet_release,
    "affectnet": make_fake_affectnet_release,
    "affwild2": make_fake_affwild2_release,
    "rafdb": make_fake_rafdb_release,
    "rafcompound": make_fake_raf_compound_release,
    "rafml": make_fake_rafml_release,
    "jaffe": make_fake_jaffe_release,
}


def make_fake_release(name: str, root: str | os.PathLike, **options: Any) -> Path:
    """Build the miniature of dataset ``name`` (case, ``-`` and ``_`` ignored) under ``root``;
    ``options`` go to its builder (e.g. ``size``, ``seed``, ``with_failures``)."""
    key = name.lower().replace("-", "").replace("_", "")
    if key not in MINIATURES:
        raise KeyError(f"no miniature of {name!r}; choose from {sorted(MINIATURES)}")
    kw = dict(options)
    if key == "disfa":
        kw.setdefault("size", 128)
    return MINIATURES[key](root, **kw)
