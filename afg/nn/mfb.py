"""Multi-modal factorized bilinear pooling (Yu et al. 2017; SVML-RGCN Eq. 6)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MFB", "signed_sqrt"]


def signed_sqrt(z: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Power normalisation ``sign(z)·sqrt(|z|)`` with a finite gradient at 0."""
    return torch.sign(z) * torch.sqrt(z.abs() + eps)


class MFB(nn.Module):
    r"""Fuse two vectors into one (SVML-RGCN Eq. 6, Yu et al. 2017 Sec. 3):

    .. math:: \alpha = \mathrm{L2}\Big(\mathrm{sign}(z)\sqrt{|z|}\Big),\quad
              z = \mathrm{SumPooling}\big(\mathrm{Drop}(U^\top f \circ V^\top e),\ k\big)

    ``U ∈ R^{d1×ko}``, ``V ∈ R^{d2×ko}``; sum pooling adds ``k`` consecutive entries (windows
    ``[0:k], [k:2k], …``) giving ``o`` outputs.

    Args:
        in1, in2: ``d1`` (visual ``f_c``) and ``d2`` (semantic ``e_c``) sizes.
        out_dim: ``o`` (RAF-ML 1024, RAF-Compound 2000, JAFFE 1000).
        k: factor / window size (RAF-ML 4, RAF-Compound and JAFFE 5).
        dropout: on the ``ko``-dim product before pooling (MFB's default 0.1).
        bias: biases on the two projections (Eq. 6 has none).
        power_norm, l2_norm: the two normalisation steps (on by default, as in MFB).

    Shapes: ``f`` ``(…, d1)``, ``e`` ``(…, d2)`` → ``(…, o)``.
    """

    def __init__(
        self,
        in1: int,
        in2: int,
        out_dim: int,
        k: int = 4,
        dropout: float = 0.1,
        bias: bool = False,
        power_norm: bool = True,
        l2_norm: bool = True,
    ) -> None:
        super().__init__()
        self.out_dim, self.k = out_dim, k
        self.proj1 = nn.Linear(in1, k * out_dim, bias=bias)  # U^T
        self.proj2 = nn.Linear(in2, k * out_dim, bias=bias)  # V^T
        self.dropout = nn.Dropout(dropout)
        self.power_norm, self.l2_norm = power_norm, l2_norm

    def forward(self, f: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        z = self.dropout(self.proj1(f) * self.proj2(e))  # (…, k·o)
        z = z.unflatten(-1, (self.out_dim, self.k)).sum(-1)  # sum pooling, window k -> (…, o)
        if self.power_norm:
            z = signed_sqrt(z)
        if self.l2_norm:
            z = F.normalize(z, dim=-1)
        return z

    def extra_repr(self) -> str:
        return f"k={self.k}, out_dim={self.out_dim}"
