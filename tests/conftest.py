"""Shared fixtures. Reference data (../shared/reference) is found through AFG_REFERENCE_DIR or
next to the repository; tests that need it skip when it is absent, and fail under CI=true.

Every test runs inside :func:`restore_global_state`: what a test (or ``fit``) changes in process-wide
state — deterministic algorithms, cuDNN/TF32 flags, the torch/NumPy/``random`` RNGs, torch's
thread count, Matplotlib's rcParams (styles), the model and dataset registries, the environment
variables afg sets — is put back afterwards, so no test passes or fails because of another."""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
torch.set_num_threads(1)
# results files (afg.measured) that commands under test write go to a temporary folder, never into
# the checkout's docs/results (tests that read those pass the folder explicitly)
os.environ.setdefault("AFG_RESULTS_DIR", tempfile.mkdtemp(prefix="afg-results-"))

#: environment variables that afg code sets (set_deterministic, notebooks' setup)
_ENV_KEYS = ("CUBLAS_WORKSPACE_CONFIG", "AFG_CACHE_DIR", "AFG_RUNS_DIR", "AFG_FIGURES_DIR", "AFG_JOBS",
             "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@pytest.fixture(autouse=True)
def restore_global_state():
    from afg.data.spec import DATASETS
    from afg.models.registry import _REGISTRY

    flags = (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled())
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
             torch.backends.cudnn.enabled, torch.backends.cudnn.allow_tf32,
             torch.backends.cuda.matmul.allow_tf32)
    rng = (torch.get_rng_state(), np.random.get_state(), random.getstate())
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    threads = torch.get_num_threads()
    rc = matplotlib.rcParams.copy()
    registries = [(reg, dict(reg)) for reg in (_REGISTRY, DATASETS)]
    env = {k: os.environ.get(k) for k in _ENV_KEYS}
    yield
    torch.use_deterministic_algorithms(flags[0], warn_only=flags[1])
    (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark, torch.backends.cudnn.enabled,
     torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) = cudnn
    torch.set_rng_state(rng[0])
    np.random.set_state(rng[1])
    random.setstate(rng[2])
    if cuda_rng is not None:
        torch.cuda.set_rng_state_all(cuda_rng)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    import matplotlib.pyplot as plt

    plt.close("all")
    matplotlib.rcParams.update({k: v for k, v in rc.items() if k != "backend"})
    for reg, before in registries:
        for k in [k for k in reg if k not in before]:
            # afg's own modules may register on first import (kept: the module stays imported);
            # what a test registered goes
            if not getattr(reg[k], "__module__", "").startswith("afg."):
                del reg[k]
        reg.update(before)  # entries a test replaced
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v

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
