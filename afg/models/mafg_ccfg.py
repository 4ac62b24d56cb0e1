"""MAFG + GNN + CCFG (Li et al. 2025, Fig. 2): backbone → MAFG nodes → K-NN GNN ∥ CCFG → Post → similarity.

Ablation rows (Tables 4–5) are switch combinations of ``create_model("mafg_ccfg", ...)``:

==============================  =========================================================
row                             options
==============================  =========================================================
ResNet50                        ``use_mafg=False, use_gnn=False, use_ccfg=False``
ResNet50 + Evit (Table 4)       ``use_mafg=True, attention="evit", use_gnn=False, use_ccfg=False``
ResNet50 + MAFG                 ``use_gnn=False, use_ccfg=False``
Baseline (ResNet50 + GNN)       ``use_mafg=False, use_ccfg=False``
Baseline + MAFG                 ``use_ccfg=False``
Baseline + CCFG                 ``use_mafg=False``
Baseline + MAFG + CCFG (ours)   defaults
==============================  =========================================================

Without MAFG the nodes come from plain per-AU linear blocks (ME-GraphAU's AFG); without CCFG there
is nothing to concatenate, so the "Post" block is dropped and the (GNN) nodes go straight to
the similarity head. The paper does not spell out the "ResNet50" row's classifier; we read it as
per-AU linear blocks + similarity head on the backbone map. Loss: ``L = L_WA`` (Eq. 15–17).

**Paper vs. the authors' code.** The paper's CCFG gives every AU its own block ``φ_i`` (Eq. 12;
our default). The authors' code feeds N identical poolings into **one shared** LinearBlock, so
every AU receives the *same* CCFG vector, and that block's BatchNorm is updated N times per
training step (running statistics move with effective momentum ``1 − 0.9^N``, 0.57 for DISFA's
8 AUs; ``num_batches_tracked`` grows by N). ``official=True`` reproduces that exactly (see
:class:`afg.nn.CCFG`); everything else in their head matches the paper. The global LinearBlock
(C → C/4) after the backbone is from their code (the paper does not mention it).

The projection ``ρ`` of Eq. 5 is the identity: the K-NN graph is built from detached features
through a non-differentiable top-K (Eq. 6), so a learnable ``ρ`` would never receive a gradient
(the authors' code also uses the node features directly). ``D`` of Eq. 7–8 holds row degrees.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..backbones import create_backbone
from ..nn.blocks import LinearBlock
from ..nn.ccfg import CCFG
from ..nn.fgg import FGGLayer
from ..nn.heads import SimilarityHead
from ..nn.mafg import MAFG
from .base import AffectModel
from .registry import register_model

__all__ = ["MAFGCCFG", "MAFGCCFGHead"]


class MAFGCCFGHead(nn.Module):
    """The head on backbone tokens ``(B, D, C)`` → per-AU probabilities ``(B, N)``.

    Args:
        channels: ``C`` of the tokens (after the global linear block).
        num_nodes: ``N`` AUs.
        neighbor_num: ``K`` of the K-NN graph (3 DISFA, 4 EmotioNet).
        metric: K-NN similarity (``dots``, Eq. 5).
        use_mafg, use_gnn, use_ccfg, official, attention: see the module docstring.
    """

    def __init__(
        self,
        channels: int,
        num_nodes: int,
        neighbor_num: int = 4,
        metric: str = "dots",
        use_mafg: bool = True,
        use_gnn: bool = True,
        use_ccfg: bool = True,
        official: bool = False,
        attention: str = "mafg",
    ) -> None:
        super().__init__()
        self.mafg = MAFG(channels, num_nodes, attention=attention if use_mafg else "none")  # Eq. 1–4
        self.gnn = FGGLayer(channels, num_nodes, neighbor_num, metric) if use_gnn else None  # Eq. 5–9
        self.ccfg = CCFG(channels, num_nodes, official=official) if use_ccfg else None  # Eq. 10–12
        self.post = LinearBlock(2 * channels, channels) if use_ccfg else None  # Eq. 13
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
    """

    task = "au"

    def __init__(
        self,
        num_classes: int,
        backbone: str = "resnet50",
        pretrained: bool = False,
        weights: str | None = None,
        img_size: int = 224,
        neighbor_num: int = 4,
        metric: str = "dots",
        use_mafg: bool = True,
        use_gnn: bool = True,
        use_ccfg: bool = True,
        official: bool = False,
        attention: str = "mafg",
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.backbone = create_backbone(backbone, pretrained=pretrained, weights=weights, img_size=img_size)
        channels = self.backbone.num_features // 4
        self.global_linear = LinearBlock(self.backbone.num_features, channels)
        self.head = MAFGCCFGHead(
            channels, num_classes, neighbor_num, metric, use_mafg, use_gnn, use_ccfg, official, attention
        )

    @property
    def mafg(self) -> MAFG:
        return self.head.mafg

    def forward(self, images: torch.Tensor, return_intermediates: bool = False) -> dict[str, torch.Tensor]:
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
        from ..losses.au import WeightedAsymmetricLoss, weights_from_stats

        return _AUCriterion(WeightedAsymmetricLoss(weight=weights_from_stats(stats, self.num_classes), **options))


class _AUCriterion(nn.Module):
    def __init__(self, wa: nn.Module) -> None:
        super().__init__()
        self.wa = wa

    def forward(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        loss = self.wa(outputs["au"], batch["au"], batch.get("au_mask"))
        return {"loss": loss, "wa": loss.detach()}


@register_model("mafg_ccfg")
def mafg_ccfg(num_classes: int, **options: Any) -> MAFGCCFG:
    """MAFG + CCFG + GNN (Li et al. 2025); options as :class:`MAFGCCFG`."""
    return MAFGCCFG(num_classes, **options)
