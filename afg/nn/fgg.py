"""FGG graph layer — ME-GraphAU's Facial Graph Generator GCN (Sec. 2.1, Eq. 1).

.. math::  X' = \\mathrm{ReLU}\\big(X + \\mathrm{BN}_N(\\hat A\\,V(X) + U(X))\\big),
           \\hat A = D^{-1/2} A D^{-1/2}

with ``A`` the K-NN graph of the detached node features (:func:`afg.graphs.knn_adjacency`),
``D`` its row degrees (:func:`afg.graphs.normalize_digraph`), ``U, V`` linear layers with bias
and ``BN_N`` a BatchNorm1d over the *node* axis (N channels, statistics over batch and feature
channels) exactly as the authors' code does. The same layer serves MAFG+CCFG.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..graphs.knn import knn_adjacency
from ..graphs.normalize import normalize_digraph

__all__ = ["FGGLayer"]


class FGGLayer(nn.Module):
    """One dynamic-graph GCN layer (Eq. 1: ``g = U(v_i)``, ``r = a_ij·V(v_j)``, ``σ = ReLU``).

    Args:
        channels: node feature size C.
        num_nodes: N (channels of the node-axis BatchNorm).
        neighbor_num: K of the K-NN graph.
        metric: ``dots`` (paper), ``cosine`` or ``l1``.

    Shapes: ``x`` ``(B, N, C)`` -> ``(B, N, C)``; an explicit ``adjacency`` ``(B, N, N)`` or
    ``(N, N)`` (unnormalised 0/1) may be passed instead of the K-NN graph.
    """

    def __init__(self, channels: int, num_nodes: int, neighbor_num: int = 4, metric: str = "dots") -> None:
        super().__init__()
        self.channels, self.num_nodes = channels, num_nodes
        self.neighbor_num, self.metric = neighbor_num, metric
        self.U = nn.Linear(channels, channels)
        self.V = nn.Linear(channels, channels)
        self.bnv = nn.BatchNorm1d(num_nodes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.U.weight.data.normal_(0.0, math.sqrt(2.0 / self.channels))
        self.V.weight.data.normal_(0.0, math.sqrt(2.0 / self.channels))
        self.bnv.weight.data.fill_(1.0)
        self.bnv.bias.data.zero_()

    def adjacency(self, x: torch.Tensor) -> torch.Tensor:
        """The unnormalised K-NN graph ``(B, N, N)`` of ``x`` (no gradient)."""
        return knn_adjacency(x, self.neighbor_num, self.metric)

    def forward(
        self, x: torch.Tensor, adjacency: torch.Tensor | None = None, return_adjacency: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        adj = self.adjacency(x) if adjacency is None else adjacency.to(x.dtype)
        a_hat = normalize_digraph(adj)  # (B, N, N) D^-1/2 A D^-1/2, row degrees
        agg = a_hat @ self.V(x)  # (B, N, C)
        out = F.relu(x + self.bnv(agg + self.U(x)))  # BN over the node axis
        return (out, adj) if return_adjacency else out
