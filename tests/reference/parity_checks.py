"""Comparisons shared by the parity tests against the authors' modules (fixtures in
``../shared/reference/parity``)."""
from __future__ import annotations

import torch


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b| in float64."""
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def assert_state_matches(after: dict[str, torch.Tensor], ref: dict[str, torch.Tensor], tol: float) -> None:
    """Same keys; float tensors within ``tol`` relative, integer ones (BN's batch counters) equal."""
    assert set(after) == set(ref)
    for k, r in ref.items():
        if r.is_floating_point():
            assert rel(after[k], r) < tol, k
        else:
            assert int(after[k]) == int(r), k
