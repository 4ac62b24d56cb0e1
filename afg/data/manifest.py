"""The prepared folder's manifest: what :func:`afg.data.prepare.prepare_dataset` writes and
:class:`afg.data.datasets.FaceDataset` reads back.

``manifest.csv`` has one row per record, keyed by ``source``: the record's image path relative to
the release root (:func:`relative_source`); ``prepare.json`` holds the label names and sizes.
Both sides import this module, so neither imports the other.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["read_manifest", "relative_source"]


def relative_source(path: str, root: str | os.PathLike) -> str:
    """``path`` relative to the release ``root`` (POSIX separators); a file outside ``root``
    becomes ``_external/<sha1(path)[:12]>_<file name>``."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
        return f"_external/{digest}_{Path(path).name}"


def read_manifest(prepared: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``(manifest DataFrame, prepare.json dict)`` of a prepared folder."""
    p = Path(prepared)
    if not (p / "manifest.csv").is_file():
        raise FileNotFoundError(f"{p} holds no manifest.csv: run `afg prepare` first")
    manifest = pd.read_csv(p / "manifest.csv", dtype={"source": str, "aligned": str, "subject": str,
                                                       "mask": str, "landmarks68": str})
    meta = json.loads((p / "prepare.json").read_text()) if (p / "prepare.json").is_file() else {}
    return manifest, meta
