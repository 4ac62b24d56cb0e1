"""Output heads: ME-GraphAU's similarity classifier (Eq. 2) and edge classifier (Eq. 7)."""
from __future__ import annotations

from collections.abc import Sequence

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

    Sub-classes (OpenGraphAU's left/right AUs): with ``sub_nodes = (m_1, …, m_S)`` the head also
    scores S extra classes, class ``k`` from the feature of main node ``m_k`` with its own vector
    ``t_k`` (parameter ``sub_sc`` ``(S, C)``):
    :math:`q_k = \cos(\mathrm{ReLU}(v_{m_k}), \mathrm{ReLU}(t_k))`; the output is
    ``[p_1 … p_N, q_1 … q_S]`` ``(B, N + S)``. OpenGraphAU uses ``sub_nodes = (0, 0, 1, 1, 2, 2,
    4, 4, 7, 7, 8, 8, 11, 11)`` (left, right of AU1, AU2, AU4, AU6, AU10, AU12, AU14).
    """

    def __init__(self, num_nodes: int, channels: int,
                 sub_nodes: Sequence[int] | None = None) -> None:
        super().__init__()
        self.num_nodes, self.channels = num_nodes, channels
        self.sc = nn.Parameter(torch.zeros(num_nodes, channels))
        nn.init.xavier_uniform_(self.sc)
        self.sub_nodes: list[int] = [int(i) for i in sub_nodes or ()]
        if any(not 0 <= i < num_nodes for i in self.sub_nodes):
            raise ValueError(f"sub_nodes must index the {num_nodes} main nodes, "
                             f"got {self.sub_nodes}")
        if self.sub_nodes:
            self.sub_sc = nn.Parameter(torch.zeros(len(self.sub_nodes), channels))
            nn.init.xavier_uniform_(self.sub_sc)
            index = torch.tensor(self.sub_nodes, dtype=torch.long)
            self.register_buffer("sub_index", index, persistent=False)

    @property
    def num_outputs(self) -> int:
        """``N + S``."""
        return self.num_nodes + len(self.sub_nodes)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        s = F.normalize(F.relu(self.sc), p=2, dim=-1)  # (N, C)
        v = F.normalize(F.relu(v.float()), p=2, dim=-1)  # (B, N, C); float32 under autocast too
        p = (v * s).sum(-1)  # (B, N)
        if not self.sub_nodes:
            return p
        t = F.normalize(F.relu(self.sub_sc), p=2, dim=-1)  # (S, C)
        q = (v[:, self.sub_index] * t).sum(-1)  # (B, S): node m_k with vector t_k
        return torch.cat([p, q], dim=-1)  # (B, N + S)

    def extra_repr(self) -> str:
        sub = f", sub_nodes={self.sub_nodes}" if self.sub_nodes else ""
        return f"num_nodes={self.num_nodes}, channels={self.channels}{sub}"


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
