"""MAFG + GNN + CCFG (Li et al. 2025, Fig. 2): backbone → MAFG nodes → K-NN GNN ∥ CCFG → Post → similarity.

Paper: K. Li, Y. Wan, G. Zou, W. Li, J. Yang, C. Xie, "Enhancing facial action unit recognition
through topological feature integration and relational learning", Springer Nature, 2025 (the copy
in ``papers/mafg_ccfg_li2025.md`` prints no DOI; the authors' code:
https://github.com/lkq52110/au-recognition). Equations used: Eq. 1–4 (MAFG, :mod:`afg.nn.mafg`),
Eq. 5–9 (K-NN graph and GNN layer, :mod:`afg.nn.fgg`), Eq. 10–12 (CCFG, :mod:`afg.nn.ccfg`),
Eq. 13 (Post), Eq. 14 (similarity head), Eq. 15–17 (L_WA, :class:`afg.losses.au.MAFGCCFGCriterion`).

Ablation rows (Tables 4–5) are switch combinations of ``create_model("mafg_ccfg", ...)``:

==============================  =========================================================
row                             options
==============================  =========================================================
ResNet50                        ``head="linear", use_mafg=False, use_gnn=False, use_ccfg=False``
ResNet50 + Evit (Table 4)       ``attention="evit", evit_scales=(3, 5), use_gnn=False, use_ccfg=False``
ResNet50 + MAFG                 ``use_gnn=False, use_ccfg=False``
Baseline (ResNet50 + GNN)       ``use_mafg=False, use_ccfg=False``
Baseline + MAFG                 ``use_ccfg=False``
Baseline + CCFG                 ``use_mafg=False``
Baseline + MAFG + CCFG (ours)   defaults
==============================  =========================================================

Without MAFG the nodes come from the same per-AU blocks ``φ_i`` on ``X`` itself (no attention);
without CCFG there is nothing to concatenate, so the "Post" block is dropped and the (GNN) nodes
go straight to the similarity head. The "ResNet50" row is a plain ResNet-50 classifier
(``head="linear"``): global average pooling of the backbone map and one FC layer to N sigmoid
outputs, no global LinearBlock, no per-AU blocks, no cosine head (the ResNet-50 row of Table 3
is the same plain classifier, quoted from other work). Loss: ``L = L_WA`` (Eq. 15–17) for
every row.

**Paper-literal blocks.** ``φ_i`` of Eq. 4 = FC → BN (no activation); ``φ_i`` of Eq. 12 =
average pooling → FC; Post (Eq. 13) = FC → BN → ReLU. ``official=True`` switches both ``φ``
to the authors' FC → BN → ReLU (and CCFG's to their single shared block).

**Paper vs. the authors' code.** The paper's CCFG gives every AU its own block ``φ_i`` (Eq. 12;
our default). The authors' code feeds N identical poolings into **one shared** LinearBlock, so
every AU receives the *same* CCFG vector, and that block's BatchNorm is updated N times per
training step (running statistics move with effective momentum ``1 − 0.9^N``, 0.57 for DISFA's
8 AUs; ``num_batches_tracked`` grows by N). ``official=True`` reproduces that exactly (see
:class:`afg.nn.CCFG`) together with their ReLU after both ``φ``; the rest of their head matches
the paper. The global LinearBlock (C → C/4) after the backbone is from their code (the paper
does not mention it).

The projection ``ρ`` of Eq. 5 is the identity: the K-NN graph is built from detached features
through a non-differentiable top-K (Eq. 6), so a learnable ``ρ`` would never receive a gradient
(the authors' code also uses the node features directly). ``D`` of Eq. 7–8 holds row degrees.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..backbones import create_backbone
from ..losses.au import MAFGCCFGCriterion, WeightedAsymmetricLoss, weights_from_stats
from ..nn.blocks import LinearBlock
from ..nn.ccfg import CCFG
from ..nn.fgg import FGGLayer
from ..nn.heads import SimilarityHead
from ..nn.mafg import MAFG
from .base import AffectModel, build_head_config
from .registry import register_model

__all__ = ["MAFGCCFG", "MAFGCCFGHead", "MAFGCCFGHeadConfig"]


@dataclass(frozen=True)
class MAFGCCFGHeadConfig:
    """Options of :class:`MAFGCCFGHead` (the model takes them flat too, e.g. from the YAML).

    Attributes:
        neighbor_num: ``K`` of the K-NN graph (3 DISFA, 4 EmotioNet).
        metric: K-NN similarity (``dots``, Eq. 5).
        use_mafg, use_gnn, use_ccfg, official, attention: see the module docstring.
        evit_scales: EVit's aggregation scales (``attention="evit"``; §4.4.1: 3×3 and 5×5).
    """

    neighbor_num: int = 4
    metric: str = "dots"
    use_mafg: bool = True
    use_gnn: bool = True
    use_ccfg: bool = True
    official: bool = False
    attention: str = "mafg"
    evit_scales: tuple[int, ...] | list[int] = (3, 5)


class MAFGCCFGHead(nn.Module):
    """The head on backbone tokens ``(B, D, C)`` → per-AU probabilities ``(B, N)``.

    Args:
        channels: ``C`` of the tokens (after the global linear block).
        num_nodes: ``N`` AUs.
        config: the head's options (:class:`MAFGCCFGHeadConfig`; its defaults when None).
    """

    def __init__(self, channels: int, num_nodes: int, config: MAFGCCFGHeadConfig | None = None) -> None:
        super().__init__()
        c = config or MAFGCCFGHeadConfig()
        self.mafg = MAFG(channels, num_nodes, attention=c.attention if c.use_mafg else "none",
                         evit_scales=tuple(int(s) for s in c.evit_scales), official=c.official)  # Eq. 1–4
        self.gnn = FGGLayer(channels, num_nodes, c.neighbor_num, c.metric) if c.use_gnn else None  # Eq. 5–9
        self.ccfg = CCFG(channels, num_nodes, official=c.official) if c.use_ccfg else None  # Eq. 10–12
        self.post = LinearBlock(2 * channels, channels) if c.use_ccfg else None  # Eq. 13
        self.classifier = SimilarityHead(num_nodes, channels)  # Eq. 14

    def forward(
        self, x: torch.Tensor, grid: tuple[int, int] | None = None, return_intermediates: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        inter: dict[str, torch.Tensor] = {}
        v = self.mafg(x, grid)  # (B, N, C) node features V
        inter["nodes_mafg"] = v
        if self.gnn is not None:
            v, adj = self.gnn(v, return_adjacency=True)  # v_i^GNN
            inter["adjacency"] = adj
        inter["nodes_gnn"] = v
        if self.ccfg is not None:
            v_ccfg = self.ccfg(x, grid)  # (B, N, C) v_i^CCFG
            inter["nodes_ccfg"] = v_ccfg
            v = self.post(torch.cat([v, v_ccfg], dim=-1))  # f_i = Post(Concat(.)) (Eq. 13)
        inter["nodes"] = v
        p = self.classifier(v)  # (B, N) cosine similarity (Eq. 14)
        return (p, inter) if return_intermediates else p


class MAFGCCFG(AffectModel):
    """Backbone → global LinearBlock (C → C/4, as in the authors' code) → :class:`MAFGCCFGHead`.

    ``forward(images, return_intermediates=False)`` → ``{"au": (B, N) probabilities}`` plus
    ``nodes`` (B, N, C) (the fused features f), ``nodes_mafg``, ``nodes_gnn``, ``nodes_ccfg``
    and ``adjacency`` (B, N, N) when asked. Grad-CAM target of Fig. 3: ``model.mafg.attention``.

    ``head="linear"`` (Table 4/5's "Resnet50" row) replaces all of that with
    ``sigmoid(FC(GAP(X)))`` ``(B, N)``; it requires ``use_mafg = use_gnn = use_ccfg = False``
    (``features`` (B, C) is the intermediate then).
    """

    task = "au"

    def __init__(
        self,
        num_classes: int,
        backbone: str = "resnet50",
        pretrained: bool = False,
        weights: str | None = None,
        img_size: int = 224,
        head: str = "similarity",
        head_config: MAFGCCFGHeadConfig | None = None,
        **head_options: Any,
    ) -> None:
        """``head_config`` (or its fields given flat as ``head_options``, as the YAML configs do:
        ``neighbor_num``, ``metric``, ``use_mafg``, ``use_gnn``, ``use_ccfg``, ``official``,
        ``attention``, ``evit_scales``) configures :class:`MAFGCCFGHead`."""
        super().__init__()
        cfg = build_head_config(MAFGCCFGHeadConfig, head_config, head_options, "MAFGCCFG")
        if head not in ("similarity", "linear"):
            raise ValueError(f"model.head must be 'similarity' or 'linear', got {head!r}")
        if head == "linear" and (cfg.use_mafg or cfg.use_gnn or cfg.use_ccfg):
            raise ValueError("model.head: linear is the plain ResNet-50 classifier; set model.use_mafg, "
                             "model.use_gnn and model.use_ccfg to false")
        self.num_classes, self.head_kind = num_classes, head
        self.backbone = create_backbone(backbone, pretrained=pretrained, weights=weights, img_size=img_size)
        if head == "linear":
            self.fc = nn.Linear(self.backbone.num_features, num_classes)
            return
        channels = self.backbone.num_features // 4
        self.global_linear = LinearBlock(self.backbone.num_features, channels)
        self.head = MAFGCCFGHead(channels, num_classes, cfg)

    @property
    def mafg(self) -> MAFG:
        if self.head_kind == "linear":
            raise AttributeError("the plain classifier (head='linear') has no MAFG")
        return self.head.mafg

    def forward(self, images: torch.Tensor, return_intermediates: bool = False) -> dict[str, torch.Tensor]:
        if self.head_kind == "linear":
            f = self.backbone(images).mean(dim=1)  # (B, C) global average pooling of the map
            out = {"au": torch.sigmoid(self.fc(f).float())}  # (B, N), float32 under autocast too
            return {**out, "features": f} if return_intermediates else out
        tokens = self.global_linear(self.backbone(images))  # (B, D, C/4)
        grid = self._grid(images, tokens.shape[1])
        if not return_intermediates:
            return {"au": self.head(tokens, grid)}
        p, inter = self.head(tokens, grid, return_intermediates=True)
        return {"au": p, **inter}

    def _grid(self, images: torch.Tensor, d: int) -> tuple[int, int] | None:
        h, w = self.backbone.grid
        if h * w == d:
            return (h, w)
        # another input size than the backbone was built for: scale the grid with the image
        sh, sw = images.shape[-2] / self.backbone.img_size, images.shape[-1] / self.backbone.img_size
        gh, gw = max(round(h * sh), 1), max(round(w * sw), 1)
        return (gh, gw) if gh * gw == d else None

    def build_criterion(self, stats: dict[str, Any] | None = None, **options: Any) -> nn.Module:
        """``L = L_WA`` (Eq. 15–17); ``w_i`` (Eq. 16) from ``stats`` (uniform when ``stats`` is None)."""
        return MAFGCCFGCriterion(WeightedAsymmetricLoss(weight=weights_from_stats(stats, self.num_classes), **options))


@register_model("mafg_ccfg")
def mafg_ccfg(num_classes: int, **options: Any) -> MAFGCCFG:
    """MAFG + CCFG + GNN (Li et al. 2025); options as :class:`MAFGCCFG`."""
    return MAFGCCFG(num_classes, **options)
