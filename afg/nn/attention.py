"""Single-head cross attention of ME-GraphAU's MEFL (Eq. 4).

.. math:: \\mathrm{CA}(A, B) = \\mathrm{softmax}\\big(A W_q (B W_k)^T / \\sqrt{d_k}\\big)\\, B W_v

``W_q, W_k: C -> C/2``, ``W_v: C -> C`` (all with bias), ``d_k = C/2``; one head, no output
projection. Inputs broadcast over leading dimensions, so per-node projections can be computed
once and reused for every pair.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["CrossAttention"]


class CrossAttention(nn.Module):
    """``forward(query_input (…, Dq, C), context (…, Dk, C)) -> (…, Dq, C)``.

    Submodules ``linear_q``, ``linear_k``, ``linear_v`` (the authors' names); init N(0, sqrt(2/out)).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.key_channels = channels // 2
        self.linear_q = nn.Linear(channels, self.key_channels)
        self.linear_k = nn.Linear(channels, self.key_channels)
        self.linear_v = nn.Linear(channels, channels)
        self.scale = self.key_channels ** -0.5
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.linear_k.weight.data.normal_(0.0, math.sqrt(2.0 / self.key_channels))
        self.linear_q.weight.data.normal_(0.0, math.sqrt(2.0 / self.key_channels))
        self.linear_v.weight.data.normal_(0.0, math.sqrt(2.0 / self.channels))

    def attention(self, query_input: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Attention weights ``(…, Dq, Dk)`` (softmax over the context tokens)."""
        q = self.linear_q(query_input)
        k = self.linear_k(context)
        return torch.softmax((q @ k.transpose(-1, -2)) * self.scale, dim=-1)

    def forward(self, query_input: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.attention(query_input, context) @ self.linear_v(context)
