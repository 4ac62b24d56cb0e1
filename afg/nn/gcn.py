"""Plain graph convolution shared by AU-GCN (Liu et al. Eq. 6) and Emotion-GCN (Eq. 2)."""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["GraphConvolution"]


class GraphConvolution(nn.Module):
    r"""``Z' = A · Z · W (+ b)``, the Kipf & Welling layer with a fixed, pre-normalised ``A``.

    Shapes: ``x`` ``(N, F_in)`` or ``(B, N, F_in)``; ``adj`` ``(N, N)`` or ``(B, N, N)``;
    output ``(…, N, F_out)``. Initialisation ``U(±1/sqrt(F_out))`` as in ML-GCN/Emotion-GCN.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = False) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.out_features)
        nn.init.uniform_(self.weight, -stdv, stdv)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -stdv, stdv)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        support = x @ self.weight  # (…, N, F_out)
        out = adj @ support
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"
