"""Output heads: ME-GraphAU's similarity classifier (Eq. 2) and edge classifier (Eq. 7)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["EdgeClassifier", "SimilarityHead"]


class SimilarityHead(nn.Module):
    r"""Per-node cosine similarity with a trainable vector ``s_i`` (ME-GraphAU Eq. 2).

    .. math:: p_i = \frac{\mathrm{ReLU}(v_i)^T \mathrm{ReLU}(s_i)}
                         {\|\mathrm{ReLU}(v_i)\|_2\, \|\mathrm{ReLU}(s_i)\|_2}

    Parameter ``sc`` ``(N, C)`` (Xavier-uniform). Shapes: ``v`` ``(B, N, C)`` -> ``(B, N)`` in
    [0, 1] (both vectors are non-negative).
    """

    def __init__(self, num_nodes: int, channels: int) -> None:
        super().__init__()
        self.num_nodes, self.channels = num_nodes, channels
        self.sc = nn.Parameter(torch.zeros(num_nodes, channels))
        nn.init.xavier_uniform_(self.sc)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        s = F.normalize(F.relu(self.sc), p=2, dim=-1)  # (N, C)
        v = F.normalize(F.relu(v), p=2, dim=-1)  # (B, N, C)
        return (v * s).sum(-1)


class EdgeClassifier(nn.Module):
    """Shared FC over edge features -> co-occurrence logits (ME-GraphAU Eq. 7 input).

    ``(B, E, C) -> (B, E, num_classes)`` (4 classes: none, only j, only i, both).
    """

    def __init__(self, channels: int, num_classes: int = 4) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, num_classes)
        nn.init.xavier_uniform_(self.fc.weight)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return self.fc(e)
