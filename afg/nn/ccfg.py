"""CCFG: channel-topology convolution feature generation (Li et al. 2025, Sec. 3.2.1, Eq. 10–12).

.. math::
    X_{rel} = \\tanh\\big(\\bar\\alpha_{rel1}(X)_{:,u} - \\bar\\alpha_{rel2}(X)_{:,v}\\big)
    \\quad (B, C/8, w, w) \\qquad \\text{(Eq. 10)}

    E_{c,t,u} = \\sum_v \\lambda\\,\\mathrm{Conv}_f(X_{rel})_{c,u,v}\\;\\beta_{local}(X)_{c,t,v}
    \\quad (B, C, h, w) \\qquad \\text{(Eq. 11)}

    v_i^{CCFG} = \\phi_i(E) = \\mathrm{FC}_i(\\mathrm{AvgPool}(E)) \\qquad \\text{(Eq. 12)}

``α_rel1``, ``α_rel2`` are 1×1 convolutions to ``C/8`` channels averaged over the height, so
``X_rel`` relates every pair of columns ``(u, v)``; ``Conv_f`` (1×1) maps it back to ``C``;
``β_local`` is a 1×1 convolution. The einsum of Eq. 11 is the authors' ``'ncuv,nctv->nctu'``.

**Eq. 11 shortcut.** ``φ_i`` starts with a global average, and
``mean_{t,u} E = Σ_v mean_u(λ Conv_f(X_rel))_{c,v} · mean_t(β_local(X))_{c,v}``; ``Conv_f`` is
linear, so ``mean_u`` moves inside it. :meth:`ChannelTopology.pooled` therefore never builds
the ``(B, C, w, w)`` relation nor ``E`` (tested equal to the full computation).

**Paper vs. the authors' code (``official=True``).** The paper defines ``φ_i`` as N independent
blocks, "an average pooling layer followed by a fully connected layer", "completely independent
AU features", so each AU gets its own vector from its own FC, with no normalisation and no
activation (our default; the Post block of Eq. 13 normalises after the concatenation).
The authors' code instead runs N *identical* ``AdaptiveAvgPool2d(1)`` layers whose outputs all
go through **one shared** LinearBlock (FC → BN → ReLU): every AU receives the *same* vector,
and in training the
shared BatchNorm is updated N times per step with the same batch, so its running statistics
move with an effective momentum ``1 − 0.9^N`` (0.57 for N = 8) and ``num_batches_tracked``
grows by N per step. ``official=True`` reproduces this exactly (N calls of the shared block).
"""
from __future__ import annotations

import torch
from torch import nn

from .blocks import LinearBlock, PerNodeLinear
from .mafg import tokens_to_map

__all__ = ["CCFG", "ChannelTopology"]


class ChannelTopology(nn.Module):
    """Eq. 10–11: the channel-topology map ``E`` (or its spatial mean).

    Args:
        in_channels: ``C`` of ``X``.
        out_channels: channels of ``E`` (``C`` in the paper).
        rel_reduction: ``α_rel`` output channels are ``in_channels // rel_reduction`` (8).
        lam: the fixed scale ``λ`` of Eq. 11 (1 in the authors' code).

    Convolutions use Kaiming-normal (fan-out) weights and zero biases, as in CTR-GC and the
    authors' code.
    """

    def __init__(self, in_channels: int, out_channels: int, rel_reduction: int = 8, lam: float = 1.0) -> None:
        super().__init__()
        rel = max(in_channels // rel_reduction, 1)
        self.lam = lam
        self.alpha_rel1 = nn.Conv2d(in_channels, rel, 1)
        self.alpha_rel2 = nn.Conv2d(in_channels, rel, 1)
        self.beta_local = nn.Conv2d(in_channels, out_channels, 1)
        self.conv_f = nn.Conv2d(rel, out_channels, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                nn.init.zeros_(m.bias)

    def relation(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 10 then ``λ·Conv_f``: ``(B, C, h, w) → (B, C_out, w, w)`` indexed ``[u, v]``."""
        a1 = self.alpha_rel1(x).mean(dim=-2)  # (B, R, w), averaged over height
        a2 = self.alpha_rel2(x).mean(dim=-2)
        rel = torch.tanh(a1.unsqueeze(-1) - a2.unsqueeze(-2))  # (B, R, w_u, w_v)
        return self.conv_f(rel) * self.lam

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Full Eq. 11: ``(B, C, h, w) → E (B, C_out, h, w)``."""
        rel = self.relation(x)  # (B, C, u, v)
        local = self.beta_local(x)  # (B, C, t, v)
        return torch.einsum("bcuv,bctv->bctu", rel, local)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """``mean_{t,u} E`` without building ``E``: ``(B, C, h, w) → (B, C_out)``."""
        a1 = self.alpha_rel1(x).mean(dim=-2)  # (B, R, w)
        a2 = self.alpha_rel2(x).mean(dim=-2)
        rel_mean_u = torch.tanh(a1.unsqueeze(-1) - a2.unsqueeze(-2)).mean(dim=-2)  # (B, R, w_v)
        rel_mean_u = self.conv_f(rel_mean_u.unsqueeze(-2)).squeeze(-2) * self.lam  # (B, C, w_v)
        local_mean_t = self.beta_local(x).mean(dim=-2)  # (B, C, w_v)
        return (rel_mean_u * local_mean_t).sum(dim=-1)


class CCFG(nn.Module):
    """Per-AU joint features ``v_i^CCFG`` (Eq. 12): ``(B, D, C)`` tokens → ``(B, N, C_out)``.

    Args:
        channels: ``C`` of the input tokens.
        num_nodes: ``Num`` AUs.
        out_channels: node feature size (``C`` by default).
        rel_reduction, lam: see :class:`ChannelTopology`.
        official: ``False`` (paper, Eq. 12): ``φ_i`` are N independent FC layers on the pooled
            ``E`` (no BatchNorm, no ReLU), one vector per AU. ``True`` (authors' code): N identical
            poolings through **one shared** LinearBlock (FC → BN → ReLU), called N times —
            identical vectors for all AUs and N BatchNorm updates per training step (effective
            momentum ``1 − 0.9^N``).
        shortcut: use the pooled Eq. 11 shortcut (same result, no ``(B, C, w, w)`` tensor).
    """

    def __init__(
        self,
        channels: int,
        num_nodes: int,
        out_channels: int | None = None,
        rel_reduction: int = 8,
        lam: float = 1.0,
        official: bool = False,
        shortcut: bool = True,
    ) -> None:
        super().__init__()
        out_channels = out_channels or channels
        self.num_nodes, self.official, self.shortcut = num_nodes, official, shortcut
        self.topology = ChannelTopology(channels, out_channels, rel_reduction, lam)
        if official:
            self.shared_linear = LinearBlock(out_channels, out_channels)
        else:
            self.node_linears = PerNodeLinear(num_nodes, out_channels, out_channels, norm=False, relu=False)

    def pooled(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        """AvgPool(E): tokens ``(B, D, C)`` → ``(B, C_out)``."""
        fmap = tokens_to_map(x, grid)
        if self.shortcut:
            return self.topology.pooled(fmap)
        return self.topology(fmap).mean(dim=(-2, -1))

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        e = self.pooled(x, grid).unsqueeze(1)  # (B, 1, C): one "token" per image
        if self.official:
            # N identical poolings, each through the shared block (N BatchNorm updates).
            return torch.cat([self.shared_linear(e) for _ in range(self.num_nodes)], dim=1)
        return self.node_linears(e).squeeze(-2)  # (B, N, 1, C) -> (B, N, C)
