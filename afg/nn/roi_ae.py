"""Per-ROI auto-encoders of AU-GCN (Liu et al. 2020, Sec. 3.3, Fig. 2(b)), batched over ROIs.

Every ROI r has its own encoder/decoder; the R networks run as one grouped convolution
(``groups=R``) and one batched matmul per layer, never as a Python loop over ROIs.

Encoder (per ROI): three 3x3 stride-2 convs + ReLU (3 → c1 → c2 → c3 channels,
n → ⌈n/2⌉ → ⌈n/4⌉ → ⌈n/8⌉), flatten, linear → latent ``z`` (d0 = 150).
Decoder: linear + ReLU back to ``c3 x ⌈n/8⌉²``, then three (nearest upsample, 3x3 conv) stages
to ``3 x n x n`` (ReLU between, none at the end: ROIs are normalised images). The paper does not
give the layer sizes; these are ours (about 0.18 M parameters per ROI at n = 25).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PerRoiLinear", "RoiAutoEncoders"]


class PerRoiLinear(nn.Module):
    """R independent linear maps: ``(B, R, F_in) -> (B, R, F_out)``, weight ``(R, F_in, F_out)``."""

    def __init__(self, num_rois: int, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_rois, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(num_rois, out_features)) if bias else None
        bound = 1.0 / math.sqrt(in_features)  # nn.Linear's default range
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.einsum("bri,rio->bro", x, self.weight)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        r, i, o = self.weight.shape
        return f"rois={r}, in={i}, out={o}"


class RoiAutoEncoders(nn.Module):
    """``R`` auto-encoders for ``3 x n x n`` ROIs.

    ``forward(rois (B, R, 3, n, n), decode=True) -> (latent (B, R, d0), recon (B, R, 3, n, n) | None)``.
    """

    def __init__(
        self,
        num_rois: int,
        roi_size: int = 25,
        latent_dim: int = 150,
        channels: tuple[int, int, int] = (16, 32, 32),
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        r, (c1, c2, c3) = num_rois, channels
        self.num_rois, self.roi_size, self.latent_dim, self.in_channels = r, roi_size, latent_dim, in_channels
        self.sizes = [roi_size]
        for _ in range(3):
            self.sizes.append((self.sizes[-1] + 1) // 2)  # stride-2, pad-1, k-3 conv output size
        m = self.sizes[-1]
        self.c3 = c3
        self.enc = nn.ModuleList(
            [
                nn.Conv2d(r * in_channels, r * c1, 3, 2, 1, groups=r),
                nn.Conv2d(r * c1, r * c2, 3, 2, 1, groups=r),
                nn.Conv2d(r * c2, r * c3, 3, 2, 1, groups=r),
            ]
        )
        self.to_latent = PerRoiLinear(r, c3 * m * m, latent_dim)
        self.from_latent = PerRoiLinear(r, latent_dim, c3 * m * m)
        self.dec = nn.ModuleList(
            [
                nn.Conv2d(r * c3, r * c2, 3, 1, 1, groups=r),
                nn.Conv2d(r * c2, r * c1, 3, 1, 1, groups=r),
                nn.Conv2d(r * c1, r * in_channels, 3, 1, 1, groups=r),
            ]
        )

    def encode(self, rois: torch.Tensor) -> torch.Tensor:
        b, r, c, n, _ = rois.shape
        h = rois.reshape(b, r * c, n, n)
        for conv in self.enc:
            h = F.relu(conv(h))
        return self.to_latent(h.reshape(b, r, -1))  # (B, R, d0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        b, r, _ = z.shape
        m = self.sizes[-1]
        h = F.relu(self.from_latent(z)).reshape(b, r * self.c3, m, m)
        for k, conv in enumerate(self.dec):
            h = F.interpolate(h, size=self.sizes[2 - k], mode="nearest")
            h = conv(h)
            if k < len(self.dec) - 1:
                h = F.relu(h)
        return h.reshape(b, r, self.in_channels, self.roi_size, self.roi_size)

    def forward(self, rois: torch.Tensor, decode: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = self.encode(rois)
        return z, (self.decode(z) if decode else None)
