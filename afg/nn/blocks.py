"""LinearBlock and PerNodeLinear — the building blocks of ME-GraphAU's AFG (Sec. 2.1).

``LinearBlock``: Dropout → Linear → BatchNorm1d (statistics over batch *and* tokens) → ReLU,
applied token-wise to ``(B, D, C)`` (or ``(B, C)``) inputs. Linear weights ~ N(0, sqrt(2/out)).

``PerNodeLinear``: the AU-specific feature generator (AFG). N independent LinearBlocks that all
read the same tokens X, computed as *one* matmul with a stacked ``(N, C_out, C_in)`` weight and
one BatchNorm over ``N·C_out`` channels (per-channel statistics, so identical to N separate
BatchNorms). Output: AU-specific maps ``U (B, N, D, C_out)``; node features ``v_i = GAP(U_i)``
(:meth:`PerNodeLinear.nodes`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LinearBlock", "PerNodeLinear"]


class LinearBlock(nn.Module):
    r"""``y = ReLU(BN(W · Dropout(x) + b))`` applied to every token.

    Shapes: ``x`` ``(B, D, C_in)`` -> ``(B, D, C_out)`` (BatchNorm statistics over B and D), or
    ``(B, C_in)`` -> ``(B, C_out)``. Submodule names ``fc``/``bn`` follow the authors' code so
    their checkpoints map one-to-one.
    """

    def __init__(self, in_features: int, out_features: int | None = None, drop: float = 0.0) -> None:
        super().__init__()
        out_features = out_features or in_features
        self.in_features, self.out_features = in_features, out_features
        self.drop = nn.Dropout(drop)
        self.fc = nn.Linear(in_features, out_features)
        self.bn = nn.BatchNorm1d(out_features)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.fc.weight.data.normal_(0.0, math.sqrt(2.0 / self.out_features))
        self.bn.weight.data.fill_(1.0)
        self.bn.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(self.drop(x))
        if y.dim() == 2:  # (B, C)
            return F.relu(self.bn(y))
        if y.dim() != 3:
            raise ValueError(f"LinearBlock expects (B, C) or (B, D, C), got {tuple(x.shape)}")
        return F.relu(self.bn(y.transpose(1, 2))).transpose(1, 2)  # BN over (B, D) per channel


class PerNodeLinear(nn.Module):
    r"""N LinearBlocks on shared tokens as one batched operation (ME-GraphAU AFG).

    ``U_i = ReLU(BN_i(W_i · Dropout_i(X) + b_i))``, ``i = 1..N``; ``v_i = (1/D) Σ_d U_i[d]``.

    Parameters: ``weight`` ``(N, C_out, C_in)``, ``bias`` ``(N, C_out)``, ``bn`` a BatchNorm1d over
    ``N·C_out`` channels (channel ``i·C_out + c`` is channel ``c`` of node ``i``).

    Shapes: ``x`` ``(B, D, C_in)`` -> ``U`` ``(B, N, D, C_out)`` (a permuted view of a
    ``(B, D, N, C_out)`` buffer).

    ``norm=False`` drops the BatchNorm and ``relu=False`` the ReLU, for blocks that papers define
    as "FC + normalisation" (Li et al. 2025, Eq. 4: ``norm=True, relu=False``) or as a plain FC
    (their Eq. 12: ``norm=False, relu=False``); the defaults are ME-GraphAU's LinearBlock.
    """

    def __init__(self, num_nodes: int, in_features: int, out_features: int | None = None, drop: float = 0.0,
                 norm: bool = True, relu: bool = True) -> None:
        super().__init__()
        out_features = out_features or in_features
        self.num_nodes, self.in_features, self.out_features = num_nodes, in_features, out_features
        self.drop_p = float(drop)
        self.relu = relu
        self.weight = nn.Parameter(torch.empty(num_nodes, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(num_nodes, out_features))
        self.bn = nn.BatchNorm1d(num_nodes * out_features) if norm else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.weight.data.normal_(0.0, math.sqrt(2.0 / self.out_features))
        bound = 1.0 / math.sqrt(self.in_features)  # nn.Linear's default bias init
        self.bias.data.uniform_(-bound, bound)
        if self.bn is not None:
            self.bn.weight.data.fill_(1.0)
            self.bn.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"PerNodeLinear expects tokens (B, D, C), got {tuple(x.shape)}")
        b, d, _ = x.shape
        n, co = self.num_nodes, self.out_features
        if self.training and self.drop_p > 0:
            # independent dropout masks per node, as N separate LinearBlocks would draw
            xs = F.dropout(x.unsqueeze(1).expand(b, n, d, -1), self.drop_p, True)  # (B, N, D, Ci)
            y = torch.einsum("bndi,noi->bdno", xs, self.weight) + self.bias  # (B, D, N, Co)
            y = y.reshape(b, d, n * co)
        else:
            y = F.linear(x, self.weight.reshape(n * co, -1), self.bias.reshape(-1))  # (B, D, N*Co)
        y = y.reshape(b * d, n * co)  # rows (b, d): BatchNorm1d of a (rows, channels) input
        if self.bn is not None:
            y = self.bn(y)  # per-(node, channel) statistics over B, D
        if self.relu:
            y = F.relu(y, inplace=self.bn is not None)  # in place on the BN output (not saved by BN)
        return y.view(b, d, n, co).transpose(1, 2)  # (B, N, D, Co), a view of the (B, D, N, Co) buffer

    @staticmethod
    def nodes(maps: torch.Tensor) -> torch.Tensor:
        """Node features ``v_i = GAP(U_i)``: ``(B, N, D, C)`` -> ``(B, N, C)``."""
        return maps.mean(dim=-2)

    # --- conversion to/from a list of LinearBlocks (the authors' ``class_linears``) -------------
    @torch.no_grad()
    def load_from_blocks(self, blocks: list[LinearBlock] | nn.ModuleList) -> None:
        """Copy the weights and BN buffers of N separate LinearBlocks into this module."""
        co = self.out_features
        for i, blk in enumerate(blocks):
            self.weight[i].copy_(blk.fc.weight)
            self.bias[i].copy_(blk.fc.bias)
            if self.bn is None:
                continue
            sl = slice(i * co, (i + 1) * co)
            self.bn.weight[sl].copy_(blk.bn.weight)
            self.bn.bias[sl].copy_(blk.bn.bias)
            self.bn.running_mean[sl].copy_(blk.bn.running_mean)
            self.bn.running_var[sl].copy_(blk.bn.running_var)
        if self.bn is not None:
            self.bn.num_batches_tracked.copy_(blocks[0].bn.num_batches_tracked)

    def extra_repr(self) -> str:
        return (f"num_nodes={self.num_nodes}, {self.in_features}, {self.out_features}, drop={self.drop_p}, "
                f"norm={self.bn is not None}, relu={self.relu}")
