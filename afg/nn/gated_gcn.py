"""Residual gated graph convolution on a dense graph with multi-dimensional edge features
(Bresson & Laurent 2017, in the form of ME-GraphAU's code; Sec. 2.2).

Pair index ``p = i·N + j``: node i is the edge's *end* (receiver), node j its *start* (source).
Per layer (no biases in the linear maps):

.. math::
    e_{ij} &\\leftarrow e_{ij} + \\mathrm{ReLU}\\big(\\mathrm{BN}_{N^2}(A h_i + B h_j + E e_{ij})\\big) \\\\
    g_{ij} &= \\mathrm{softmax}_j\\big(\\sigma(e_{ij})\\big) \\quad\\text{(per channel, over sources j)} \\\\
    h_i &\\leftarrow \\mathrm{ReLU}\\big(h_i + \\mathrm{BN}_N(U h_i + \\tfrac1N \\textstyle\\sum_j g_{ij} \\odot V h_j)\\big)

``BN_{N²}`` / ``BN_N`` are BatchNorm1d over the pair / node axis. The authors gather node terms
with one-hot incidence matrices ``(N², N)``; here ``h_i`` and ``h_j`` broadcast over a
``(B, N, N, C)`` grid (added in place into ``E e``), which is the same arithmetic without the
O(N³) matmuls.

``residual="outer"`` puts the node ReLU inside the residual,
:math:`h_i \\leftarrow h_i + \\mathrm{ReLU}(\\mathrm{BN}_N(\\dots))`, as the authors' OpenGraphAU
code does (``model/MEFL.py``); ME-GraphAU's code is ``"inner"``, the equation above.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GatedGCN", "GatedGCNLayer"]


class GatedGCNLayer(nn.Module):
    """One layer. Shapes: ``h`` ``(B, N, C)``, ``e`` ``(B, N², C)`` -> same shapes.
    ``residual``: ``"inner"`` (ReLU(h + BN(·)), ME-GraphAU) or ``"outer"`` (h + ReLU(BN(·)),
    OpenGraphAU)."""

    def __init__(self, channels: int, num_nodes: int, residual: str = "inner") -> None:
        super().__init__()
        if residual not in ("inner", "outer"):
            raise ValueError(f"residual must be 'inner' or 'outer', got {residual!r}")
        self.channels, self.num_nodes, self.residual = channels, num_nodes, residual
        for name in ("U", "V", "A", "B", "E"):
            setattr(self, name, nn.Linear(channels, channels, bias=False))
        self.bnv = nn.BatchNorm1d(num_nodes)
        self.bne = nn.BatchNorm1d(num_nodes * num_nodes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        std = math.sqrt(2.0 / self.channels)
        for name in ("U", "V", "A", "B", "E"):
            getattr(self, name).weight.data.normal_(0.0, std)
        for bn in (self.bnv, self.bne):
            bn.weight.data.fill_(1.0)
            bn.bias.data.zero_()

    def gate(self, e: torch.Tensor) -> torch.Tensor:
        """``softmax_j(sigmoid(e_ij))`` per channel: ``(B, N², C)`` -> ``(B, N, N, C)``."""
        b, _, c = e.shape
        n = self.num_nodes
        return torch.softmax(torch.sigmoid(e).view(b, n, n, c), dim=2)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, c = h.shape
        # E e_ij + A h_i + B h_j: the node terms broadcast into E's output, in place (one (B, N², C) tensor)
        pre = self.E(e)  # (B, N², C)
        pre.view(b, n, n, c).add_(self.A(h).unsqueeze(2)).add_(self.B(h).unsqueeze(1))
        e = e + F.relu(self.bne(pre), inplace=True)  # (B, N², C); BN keeps its input, not its output
        g = self.gate(e)  # (B, N_i, N_j, C)
        msg = (g * self.V(h).unsqueeze(1)).sum(dim=2) / n  # (1/N) Σ_j g_ij ⊙ V h_j, no permuted copy of g
        upd = self.bnv(self.U(h) + msg)
        h = F.relu(h + upd) if self.residual == "inner" else h + F.relu(upd)
        return h, e


class GatedGCN(nn.Module):
    """A stack of :class:`GatedGCNLayer` (L = 2 in ME-GraphAU); ``residual`` as in the layer."""

    def __init__(self, channels: int, num_nodes: int, num_layers: int = 2,
                 residual: str = "inner") -> None:
        super().__init__()
        self.layers = nn.ModuleList(GatedGCNLayer(channels, num_nodes, residual)
                                    for _ in range(num_layers))

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for layer in self.layers:
            h, e = layer(h, e)
        return h, e
