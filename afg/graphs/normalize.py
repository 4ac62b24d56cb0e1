"""Adjacency normalisations shared by every graph model."""
from __future__ import annotations

import torch

__all__ = ["normalize_digraph", "normalize_rows", "normalize_symmetric"]


def normalize_digraph(adj: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    r"""ME-GraphAU's normalisation :math:`D^{-1/2} A D^{-1/2}` with *row* degrees.

    ``D = diag(Σ_j A_ij)`` (out-degree of each row), applied on both sides even for a
    directed (non-symmetric) ``A``, exactly as the authors' ``normalize_digraph``.

    Args:
        adj: ``(N, N)`` or ``(B, N, N)``.
        eps: added to degrees before the inverse square root (0 reproduces the authors).
    """
    deg = adj.sum(-1) + eps  # (..., N)
    d = deg.pow(-0.5)
    d = torch.where(torch.isfinite(d), d, torch.zeros_like(d))
    return d.unsqueeze(-1) * adj * d.unsqueeze(-2)


def normalize_symmetric(adj: torch.Tensor) -> torch.Tensor:
    r"""Kipf & Welling :math:`\hat D^{-1/2} \hat A \hat D^{-1/2}` with :math:`\hat A = A + I`."""
    n = adj.shape[-1]
    a = adj + torch.eye(n, dtype=adj.dtype, device=adj.device)
    return normalize_digraph(a)


def normalize_rows(adj: torch.Tensor) -> torch.Tensor:
    """Row-stochastic :math:`D^{-1} A` (zero rows stay zero)."""
    deg = adj.sum(-1, keepdim=True)
    return torch.where(deg > 0, adj / deg.clamp_min(1e-12), torch.zeros_like(adj))
