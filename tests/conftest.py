"""Shared fixtures. Reference data (../shared/reference) is found through AFG_REFERENCE_DIR or
next to the repository; tests that need it skip when it is absent, and fail under CI=true."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]


def find_reference_dir() -> Path | None:
    env = os.environ.get("AFG_REFERENCE_DIR")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "reference", REPO / "shared" / "reference"]
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    d = find_reference_dir()
    if d is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("reference folder not found (set AFG_REFERENCE_DIR); required when CI=true")
        pytest.skip("reference folder ../shared/reference not found")
    return d


@pytest.fixture
def tmp_figures(tmp_path, monkeypatch):
    """A temporary figures folder (``AFG_FIGURES_DIR``) so tests never write into the repo."""
    d = tmp_path / "figures"
    monkeypatch.setenv("AFG_FIGURES_DIR", str(d))
    return d
