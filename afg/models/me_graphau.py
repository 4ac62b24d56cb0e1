"""ME-GraphAU (Luo et al., IJCAI 2022): backbone → global LinearBlock → AFG node features →
FGG (stage 1) or MEFL + GatedGCN (stage 2) → similarity head (Eq. 2) (+ edge classifier).

Paper: C. Luo, S. Song, W. Xie, L. Shen, H. Gunes, `"Learning Multi-dimensional Edge Feature-based
AU Relation Graph for Facial Action Unit Recognition" <https://arxiv.org/abs/2205.01782>`_, IJCAI
2022. Equations used: Eq. 1 (FGG graph layer, :mod:`afg.nn.fgg`), Eq. 2 (similarity head),
Eq. 3–5 (MEFL, :mod:`afg.nn.mefl`; the GatedGCN of Sec. 2.3, :mod:`afg.nn.gated_gcn`, follows
Bresson and Laurent 2017), Eq. 6–8 (losses, :class:`afg.losses.au.MEGraphAUCriterion`).

Registered names:

* ``me_graphau_stage1`` — ANFL: AFG + FGG + similarity head, trained with L_WA (Eq. 6).
* ``me_graphau`` — stage 2: AFG + MEFL + 2 GatedGCN layers + similarity head + edge classifier,
  trained with L = L_WA + λ·L_E (Eq. 8); initialise it from stage 1 with :meth:`MEGraphAU.init_from_stage1`.

Table 3 ablations are options: ``use_afg=False`` (backbone + linear head), ``use_fgg=False``
(AFG only), ``loss="wbce"`` (weighted BCE instead of L_WA), ``lam=0`` (no L_E); see
:data:`TABLE3_ROWS`. The global block maps C → C/4 (ResNet/CNN) or C/2 (Swin).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..backbones import create_backbone
from ..graphs.knn import knn_adjacency
from ..losses.au import MEGraphAUCriterion, weights_from_stats
from ..nn import (
    MEFL,
    EdgeClassifier,
    FGGLayer,
    GatedGCN,
    LinearBlock,
    PerNodeLinear,
    SimilarityHead,
)
from ..reference import table_info
from ..runs import load_checkpoint  # weights_only=True, one-line errors
from .base import AffectModel
from .registry import register_model

__all__ = ["TABLE3_ROWS", "ANFLHead", "LinearAUHead", "MEFLHead", "MEGraphAU", "MEGraphAUCriterion"]  # the criterion: re-exported from afg.losses.au


def _table3_rows() -> list[dict[str, Any]]:
    """Table 3 of the paper as option sets, read from the one place its rows are written: the
    ``overrides`` of ``me_graphau/table3`` in :mod:`afg.reference`.

    Rows that set ``recipe.stages: []`` train stage 1 alone (``me_graphau_stage1``); the others are
    stage-2 models (``me_graphau``) whose ``init_from`` is the stage-1 row with the most options
    among those they extend (row 5 from row 3, rows 6 and 7 from row 4).
    """
    rows = []
    for i, r in enumerate(table_info("me_graphau/table3")["rows"], start=1):
        ov = r["overrides"]
        opts = {k[len("model."):]: v for k, v in ov.items() if k.startswith("model.") and k != "model.name"}
        rows.append({"row": i, "label": r["name"], "options": opts,
                     "model": "me_graphau_stage1" if ov.get("recipe.stages") == [] else "me_graphau"})
    for row in rows:
        if row["model"] == "me_graphau":
            fits = [s for s in rows if s["model"] == "me_graphau_stage1" and s["options"].items() <= row["options"].items()]
            row["init_from"] = max(fits, key=lambda s: len(s["options"]))["row"]
    return rows


#: Table 3 of the paper as option sets (``row``, ``label``, ``model``, ``options``; ``init_from``
#: names the row whose stage-1 model initialises a stage-2 row), derived by :func:`_table3_rows`.
TABLE3_ROWS: list[dict[str, Any]] = _table3_rows()


class LinearAUHead(nn.Module):
    """Table 3 row 1: mean-pooled tokens → Linear → sigmoid. ``(B, D, C) -> {"au": (B, N)}``."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor, return_intermediates: bool = False) -> dict[str, torch.Tensor]:
        return {"au": torch.sigmoid(self.fc(x.mean(dim=1)).float())}  # float32 under autocast too


class ANFLHead(nn.Module):
    """Stage-1 head (Sec. 2.1): AFG maps ``U`` → ``v = GAP(U)`` → FGG (Eq. 1) → Eq. 2."""

    def __init__(self, channels: int, num_classes: int, neighbor_num: int = 4, metric: str = "dots",
                 use_fgg: bool = True, sub_nodes: Sequence[int] | None = None) -> None:
        super().__init__()
        self.afg = PerNodeLinear(num_classes, channels)
        self.fgg = FGGLayer(channels, num_classes, neighbor_num, metric) if use_fgg else None
        self.similarity = SimilarityHead(num_classes, channels, sub_nodes)
        self.neighbor_num, self.metric = neighbor_num, metric

    def forward(self, x: torch.Tensor, return_intermediates: bool = False) -> dict[str, torch.Tensor]:
        v = PerNodeLinear.nodes(self.afg(x))  # (B, N, C)
        if self.fgg is not None:
            v, adj = self.fgg(v, return_adjacency=True)
        else:
            adj = knn_adjacency(v, self.neighbor_num, self.metric)
        out = {"au": self.similarity(v)}
        if return_intermediates:
            out.update(nodes=v, adjacency=adj)
        return out


class MEFLHead(nn.Module):
    """Stage-2 head (Sec. 2.2): AFG → MEFL edges (Eq. 3–5) → L GatedGCN layers → Eq. 2 and edge FC.

    ``gnn_residual``: :class:`~afg.nn.GatedGCN`'s ``residual``; ``edge_classifier=False`` drops
    the edge FC (and the ``edge`` output), as OpenGraphAU's stage-2 head has none."""

    def __init__(self, channels: int, num_classes: int, num_layers: int = 2, neighbor_num: int = 4,
                 metric: str = "dots", efficient: bool = True, sub_nodes: Sequence[int] | None = None,
                 gnn_residual: str = "inner", edge_classifier: bool = True) -> None:
        super().__init__()
        self.afg = PerNodeLinear(num_classes, channels)
        self.mefl = MEFL(channels, num_classes, efficient=efficient)
        self.gnn = GatedGCN(channels, num_classes, num_layers, residual=gnn_residual)
        self.similarity = SimilarityHead(num_classes, channels, sub_nodes)
        self.edge_classifier = EdgeClassifier(channels, 4) if edge_classifier else None
        self.neighbor_num, self.metric = neighbor_num, metric

    def forward(self, x: torch.Tensor, return_intermediates: bool = False) -> dict[str, torch.Tensor]:
        maps = self.afg(x)  # (B, N, D, C)
        v0 = PerNodeLinear.nodes(maps)  # (B, N, C)
        e0 = self.mefl(maps, x)  # (B, N², C), p = i*N + j
        v, e = self.gnn(v0, e0)
        out = {"au": self.similarity(v)}
        if self.edge_classifier is not None:
            out["edge"] = self.edge_classifier(e)
        if return_intermediates:
            out.update(nodes=v, edge_features=e, adjacency=knn_adjacency(v0, self.neighbor_num, self.metric))
        return out


class MEGraphAU(AffectModel):
    """ME-GraphAU, stage 1 or 2. ``forward(images) -> {"au": (B, N) probabilities[, "edge": (B, N², 4)]}``.

    Options: ``stage`` (1|2), ``neighbor_num`` K (4 BP4D, 3 DISFA), ``metric`` (dots|cosine|l1),
    ``use_afg``, ``use_fgg`` (stage 1), ``loss`` ('wa'|'wbce'), ``lam`` λ of Eq. 8 (default 0.05
    ResNet, 0.01 Swin; stage 2 only), ``num_layers`` GatedGCN layers, ``efficient`` MEFL moments.

    OpenGraphAU (the authors' 41-AU tool, :mod:`afg.compat.opengraphau`) is the same model with
    ``sub_nodes`` (extra left/right classes scored from main nodes, :class:`~afg.nn.SimilarityHead`;
    ``au`` is then ``(B, num_classes + len(sub_nodes))``), ``gnn_residual="outer"`` and
    ``edge_classifier=False`` (stage 2).
    """

    task = "au"

    def __init__(self, num_classes: int, backbone: str = "resnet50", pretrained: bool = False,
                 weights: str | None = None, img_size: int = 224, stage: int = 1, neighbor_num: int = 4,
                 metric: str = "dots", use_afg: bool = True, use_fgg: bool = True, loss: str = "wa",
                 lam: float | None = None, num_layers: int = 2, efficient: bool = True,
                 sub_nodes: Sequence[int] | None = None, gnn_residual: str = "inner",
                 edge_classifier: bool = True) -> None:
        super().__init__()
        if stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, got {stage}")
        self.num_classes, self.stage, self.loss = num_classes, stage, loss
        self.lam = (0.01 if backbone.startswith("swin") else 0.05) if lam is None else float(lam)
        self.backbone = create_backbone(backbone, pretrained=pretrained, weights=weights, img_size=img_size)
        c_in = self.backbone.num_features
        if not use_afg:
            if stage == 2 or sub_nodes:
                raise ValueError("stage 2 and sub_nodes need the AFG (use_afg=True)")
            self.global_linear = None
            self.head: nn.Module = LinearAUHead(c_in, num_classes)
            return
        c = c_in // 2 if backbone.startswith("swin") else c_in // 4
        self.global_linear = LinearBlock(c_in, c)
        if stage == 1:
            self.head = ANFLHead(c, num_classes, neighbor_num, metric, use_fgg, sub_nodes)
        else:
            self.head = MEFLHead(c, num_classes, num_layers, neighbor_num, metric, efficient,
                                 sub_nodes, gnn_residual, edge_classifier)

    def forward(self, images: torch.Tensor, return_intermediates: bool = False) -> dict[str, torch.Tensor]:
        x = self.backbone(images)  # (B, D, C_in)
        if self.global_linear is not None:
            x = self.global_linear(x)  # (B, D, C)
        out = self.head(x, return_intermediates)
        if return_intermediates:
            out["tokens"] = x
        return out

    def build_criterion(self, stats: dict[str, Any] | None = None, **options: Any) -> nn.Module:
        """Options: ``loss`` ('wa'|'wbce'), ``lam`` (alias ``lambda_edge``). Class weights from ``stats`` (uniform without)."""
        lam = options.pop("lam", options.pop("lambda_edge", self.lam if self.stage == 2 else 0.0))
        loss = options.pop("loss", self.loss)
        if options:
            raise TypeError(f"unknown criterion options: {sorted(options)}")
        return MEGraphAUCriterion(weights_from_stats(stats, self.num_classes), loss, lam)

    @torch.no_grad()
    def init_from_stage1(self, source: nn.Module | dict | str | Path) -> list[str]:
        """Stage 2 initialisation: copy backbone, global block, AFG and similarity vectors from a
        stage-1 model, state dict or checkpoint file (keys under ``model``/``state_dict`` accepted).
        Returns the copied keys."""
        if isinstance(source, (str, Path)):
            source = load_checkpoint(source)
        if isinstance(source, nn.Module):
            source = source.state_dict()
        for key in ("model", "state_dict", "model_state"):
            if isinstance(source.get(key), dict):
                source = source[key]
        prefixes = ("backbone.", "global_linear.", "head.afg.", "head.similarity.")
        own = self.state_dict()
        take = {k: v for k, v in source.items()
                if k.startswith(prefixes) and k in own and own[k].shape == v.shape}
        if not any(k.startswith("head.afg.") for k in take):
            raise ValueError("source holds no compatible stage-1 AFG weights")
        self.load_state_dict(take, strict=False)
        return sorted(take)


@register_model("me_graphau_stage1")
def me_graphau_stage1(num_classes: int, backbone: str = "resnet50", pretrained: bool = False,
                      weights: str | None = None, img_size: int = 224, neighbor_num: int = 4,
                      metric: str = "dots", use_afg: bool = True, use_fgg: bool = True,
                      loss: str = "wa", lam: float | None = None, num_layers: int = 2,
                      efficient: bool = True, sub_nodes: Sequence[int] | None = None,
                      gnn_residual: str = "inner", edge_classifier: bool = True) -> MEGraphAU:
    """ME-GraphAU stage 1 (ANFL). See :class:`MEGraphAU`. ``lam``/``num_layers``/``efficient``/
    ``gnn_residual``/``edge_classifier`` concern stage 2 only (accepted so that one option set
    can describe both stages)."""
    return MEGraphAU(num_classes, backbone, pretrained, weights, img_size, stage=1, neighbor_num=neighbor_num,
                     metric=metric, use_afg=use_afg, use_fgg=use_fgg, loss=loss, sub_nodes=sub_nodes)


@register_model("me_graphau")
def me_graphau(num_classes: int, backbone: str = "resnet50", pretrained: bool = False,
               weights: str | None = None, img_size: int = 224, neighbor_num: int = 4, metric: str = "dots",
               loss: str = "wa", lam: float | None = None, num_layers: int = 2, efficient: bool = True,
               use_afg: bool = True, use_fgg: bool = True, sub_nodes: Sequence[int] | None = None,
               gnn_residual: str = "inner", edge_classifier: bool = True) -> MEGraphAU:
    """ME-GraphAU stage 2 (AFG + MEFL + GatedGCN). See :class:`MEGraphAU`. ``use_fgg`` only records
    whether the stage-1 model that initialises this one had the FGG (Table 3 rows 5 vs 6)."""
    if not use_afg:
        raise ValueError("me_graphau (stage 2) needs the AFG (use_afg=True)")
    return MEGraphAU(num_classes, backbone, pretrained, weights, img_size, stage=2, neighbor_num=neighbor_num,
                     metric=metric, loss=loss, lam=lam, num_layers=num_layers, efficient=efficient,
                     sub_nodes=sub_nodes, gnn_residual=gnn_residual, edge_classifier=edge_classifier)
