"""MAFG: multi-scale attention feature generation (Li et al. 2025, Sec. 3.1.1, Eq. 1–4).

The backbone map ``X`` (B, C, h, w) goes through a depthwise 5×5 convolution, three axial
depthwise branches (1×k then k×1 for k = 7, 11, 21) on that output, their sum with the 5×5
output, a 1×1 channel-mixing convolution (the attention ``Attn``), an element-wise product with
``X`` and finally one linear block ``φ_i`` per AU averaged over positions, giving node features
``V`` (B, N, C). Eq. 4 defines ``φ_i`` as "a fully connected layer (FC) and a normalization
layer": FC → BatchNorm, no activation (paper mode). The authors' code uses ME-GraphAU's
LinearBlock, FC → BN → ReLU (``official=True``). It works on any token grid (7×7 at 224 px,
4×4 at 112 px): the axial kernels are zero padded, so on small grids only their central taps
see data.

Grad-CAM (the paper's Fig. 3): ``MAFG.attention`` is a module whose output is the attention map
``Attn`` (B, C, h, w); ``MAFG.modulated`` (an ``nn.Identity``) outputs ``Attn ⊙ X``. Either can be
given to ``pytorch_grad_cam`` as a target layer.

``MultiScaleLinearAttention`` is the EfficientViT (Cai et al., ref. [48]) ReLU linear attention
with multi-scale token aggregation, used for the "ResNet50 + EVit" comparison row of Table 4
(``MAFG(..., attention="evit", evit_scales=(3, 5))``: §4.4.1 names EVit's 3×3 and 5×5 scales;
EfficientViT's released models aggregate at 5×5 only, ``evit_scales=(5,)``).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .blocks import PerNodeLinear

__all__ = [
    "MAFG",
    "MultiScaleAxialAttention",
    "MultiScaleLinearAttention",
    "relu_linear_attention",
    "tokens_to_map",
]


def tokens_to_map(x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
    """``(B, D, C)`` tokens → ``(B, C, h, w)``; ``grid`` defaults to a square ``h = w = √D``."""
    b, d, c = x.shape
    if grid is None:
        h = round(math.sqrt(d))
        if h * h != d:
            raise ValueError(f"{d} tokens are not a square grid; pass grid=(h, w)")
        grid = (h, h)
    h, w = grid
    if h * w != d:
        raise ValueError(f"grid {grid} does not hold {d} tokens")
    return x.transpose(1, 2).reshape(b, c, h, w)


class MultiScaleAxialAttention(nn.Module):
    r"""The attention of Eq. 1–3 (SegNext/MCANet style), all convolutions depthwise but the last.

    .. math::
        L = \mathrm{DW}_{5\times5}(X),\quad M_{x_n} = \mathrm{DW}_{k_n\times1}(\mathrm{DW}_{1\times k_n}(L)),
        \quad \mathrm{Attn} = \mathrm{Conv}_{1\times1}\big(L + \textstyle\sum_{n} M_{x_n}\big)

    ``k_n ∈ (7, 11, 21)``. The axial order 1×k → k×1 follows the authors' code (both are linear
    depthwise maps, so the order only matters through the first conv's bias at the borders).

    Shapes: ``(B, C, h, w) → (B, C, h, w)``.
    """

    def __init__(self, channels: int, kernel_sizes: tuple[int, ...] = (7, 11, 21), local_kernel: int = 5) -> None:
        super().__init__()
        c = channels
        self.local = nn.Conv2d(c, c, local_kernel, padding=local_kernel // 2, groups=c)
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(c, c, (1, k), padding=(0, k // 2), groups=c),  # Conv1D_n (1×k)
                nn.Conv2d(c, c, (k, 1), padding=(k // 2, 0), groups=c),  # Conv1D_n (k×1)
            )
            for k in kernel_sizes
        )
        self.mix = nn.Conv2d(c, c, 1)  # Eq. 3 channel mixing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        local = self.local(x)  # Conv2D_5x5(X)
        attn = local
        for branch in self.branches:  # Eq. 1–2
            attn = attn + branch(local)
        return self.mix(attn)  # Eq. 3


def relu_linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, eps: float = 1e-15) -> torch.Tensor:
    r"""``o_i = ReLU(q_i)·Σ_j ReLU(k_j)^T v_j / (ReLU(q_i)·Σ_j ReLU(k_j) + eps)`` in O(n d²).

    Shapes: ``q, k`` ``(…, n, d)``, ``v`` ``(…, n, d_v)`` → ``(…, n, d_v)``.
    """
    q, k = torch.relu(q), torch.relu(k)
    num = q @ (k.transpose(-1, -2) @ v)  # (…, n, d_v)
    den = q @ k.sum(dim=-2).unsqueeze(-1)  # (…, n, 1)
    return num / (den + eps)


class MultiScaleLinearAttention(nn.Module):
    r"""EfficientViT multi-scale ReLU linear attention (Cai et al. 2022, ref. [48] of the paper).

    ``q, k, v`` come from a 1×1 convolution; a second set is aggregated from neighbouring tokens
    by a depthwise ``s×s`` plus grouped 1×1 convolution per scale (``scales=(5,)`` as in
    EfficientViT's released models; Li et al. §4.4.1 use 3×3 and 5×5, ``scales=(3, 5)``).
    Each head computes ReLU linear attention
    :math:`o_i = \frac{\mathrm{ReLU}(q_i)\sum_j \mathrm{ReLU}(k_j)^T v_j}{\mathrm{ReLU}(q_i)\sum_j \mathrm{ReLU}(k_j)^T}`
    and a 1×1 projection + BatchNorm maps the concatenated heads back to ``C``. Used as a
    *residual* context module, ``X + MSLA(X)``, in place of ``Attn ⊙ X`` (Table 4, "ResNet50+Evit").

    Shapes: ``(B, C, h, w) → (B, C, h, w)``.
    """

    def __init__(self, channels: int, head_dim: int = 8, scales: tuple[int, ...] = (5,), eps: float = 1e-15) -> None:
        super().__init__()
        if channels % head_dim:
            raise ValueError(f"channels {channels} not divisible by head_dim {head_dim}")
        heads = channels // head_dim
        self.head_dim, self.eps = head_dim, eps
        inner = heads * head_dim
        self.qkv = nn.Conv2d(channels, 3 * inner, 1, bias=False)
        self.aggreg = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(3 * inner, 3 * inner, s, padding=s // 2, groups=3 * inner, bias=False),
                nn.Conv2d(3 * inner, 3 * inner, 1, groups=3 * heads, bias=False),
            )
            for s in scales
        )
        self.proj = nn.Sequential(nn.Conv2d(inner * (1 + len(scales)), channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        qkv = self.qkv(x)
        multi = torch.cat([qkv] + [op(qkv) for op in self.aggreg], dim=1)  # (B, 3·inner·S, h, w)
        multi = multi.reshape(b, -1, 3 * self.head_dim, h * w).transpose(-1, -2)  # (B, heads·S, hw, 3d)
        q, k, v = multi.split(self.head_dim, dim=-1)
        out = relu_linear_attention(q, k, v, self.eps)  # (B, H, hw, d)
        out = out.transpose(-1, -2).reshape(b, -1, h, w)
        return self.proj(out)


class MAFG(nn.Module):
    r"""Node features from multi-scale attention (Eq. 4): :math:`v_i = \mathrm{mean}_{pos}\,\varphi_i(\mathrm{Attn} \odot X)`.

    Args:
        channels: ``C`` of the input tokens (and of the node features).
        num_nodes: ``Num``, the number of AUs.
        kernel_sizes: axial kernel sizes of Eq. 1–2.
        attention: ``"mafg"`` (the paper), ``"evit"`` (EfficientViT linear attention, residual)
            or ``"none"`` (``X`` passed through: the rows without MAFG keep the same ``φ_i``).
        evit_scales: aggregation kernel sizes of ``attention="evit"``.
        official: ``False`` (paper, Eq. 4): ``φ_i`` = FC → BN. ``True`` (authors' code): FC → BN →
            ReLU (ME-GraphAU's AFG block).

    Shapes: tokens ``(B, D, C)`` (``grid=(h, w)``, square by default) → nodes ``(B, N, C)``.
    ``φ_i`` are N independent blocks (BN statistics over batch and positions), run as one
    batched :class:`afg.nn.PerNodeLinear`.
    """

    def __init__(
        self,
        channels: int,
        num_nodes: int,
        kernel_sizes: tuple[int, ...] = (7, 11, 21),
        attention: str = "mafg",
        evit_scales: tuple[int, ...] = (3, 5),
        official: bool = False,
    ) -> None:
        super().__init__()
        self.mode = attention
        if attention == "mafg":
            self.attention: nn.Module = MultiScaleAxialAttention(channels, kernel_sizes)
        elif attention == "evit":
            self.attention = MultiScaleLinearAttention(channels, scales=tuple(int(s) for s in evit_scales))
        elif attention == "none":
            self.attention = nn.Identity()
        else:
            raise ValueError(f"attention must be 'mafg', 'evit' or 'none', got {attention!r}")
        self.modulated = nn.Identity()  # Grad-CAM hook on Attn ⊙ X
        self.node_linears = PerNodeLinear(num_nodes, channels, channels, relu=official)  # φ_i, Eq. 4

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        fmap = tokens_to_map(x, grid)  # (B, C, h, w)
        if self.mode == "mafg":
            fmap = self.attention(fmap) * fmap  # Attn ⊙ X (Eq. 4)
        elif self.mode == "evit":
            fmap = fmap + self.attention(fmap)
        fmap = self.modulated(fmap)
        tokens = fmap.flatten(2).transpose(1, 2)  # (B, hw, C)
        return self.node_linears(tokens).mean(dim=-2)  # (B, N, hw, C) -> (B, N, C)
