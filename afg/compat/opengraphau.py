"""OpenGraphAU (the authors' 41-AU detector published beside ME-GraphAU) ↔ our ME-GraphAU model.

OpenGraphAU is ME-GraphAU's ``MEFARG`` with 27 main AU nodes and 14 left/right sub-AUs, trained
on about two million faces of six datasets (github.com/lingjivoo/OpenGraphAU). In afg it is an
option set of :class:`afg.models.me_graphau.MEGraphAU`, not a separate model:

* ``sub_nodes = (0, 0, 1, 1, 2, 2, 4, 4, 7, 7, 8, 8, 11, 11)``: sub-AU pair ``i`` (left ``2i``,
  right ``2i+1``) is scored from main node ``sub_list[i]`` with its own vector (the similarity
  head's sub-class option, :class:`afg.nn.SimilarityHead`); output ``au`` ``(B, 27 + 14)``;
* stage 2: ``gnn_residual="outer"`` (their GatedGCN adds the ReLU'd update to the node
  features, ME-GraphAU's applies the ReLU after the sum) and ``edge_classifier=False`` (their
  stage-2 head has no edge FC);
* the body (backbone + global LinearBlock, C → C/4 for ResNets, C/2 for Swin) is ME-GraphAU's.

Their head keys: ``main_class_linears.{i}.{fc,bn}.*`` (27 LinearBlocks), ``main_sc`` (27, C),
``sub_sc`` (14, C); stage 1 ``gnn.{U,V,bnv}.*``; stage 2 ``edge_extractor.{FAM,ARM,edge_proj,bn}.*``
and ``gnn.graph_layers.{l}.{U,V,A,B,E,bnv,bne}.*``. The mapping renames them into ME-GraphAU's
layout and reuses :func:`afg.compat.me_graphau.official_head_to_ours`.

Column names (:data:`OPENGRAPHAU_COLUMNS`): ``AU01 … AU39`` then ``AUL1 AUR1 … AUL14 AUR14`` in
the authors' output order. Their pair named 12 is scored from the AU11 node and their own label
table calls it "nasolabial deepener" (AU11); the columns keep the authors' names, the plot
labels (:data:`OPENGRAPHAU_DESCRIPTIONS`) follow the node.

Preprocessing of their evaluation: shorter side to 256, centre crop 224, ImageNet mean/std
(:data:`OPENGRAPHAU_RESIZE`, :data:`OPENGRAPHAU_IMG_SIZE`); :class:`afg.Predictor` applies it to
the aligned face.

Backbones: ResNet-18/34/50/101 and Swin-T/S/B (inferred from the keys). Their MAE ViT-B/16 is not
supported: the public OpenGraphAU code contains no ViT model (so no key layout or token/channel
convention to map) and afg's backbones do not include a ViT; such a checkpoint is refused with a
one-line error.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.au_names import au_column, au_name
from ..models import create_model
from ..models.me_graphau import ANFLHead, MEFLHead
from ..runs import load_checkpoint
from . import me_graphau as _mg
from .me_graphau import (
    _infer_backbone,
    _unwrap,
    official_head_to_ours,
    ours_head_to_official,
)
from .registry import register_official_head

__all__ = [
    "OPENGRAPHAU_COLUMNS",
    "OPENGRAPHAU_DESCRIPTIONS",
    "OPENGRAPHAU_IMG_SIZE",
    "OPENGRAPHAU_MAIN_AUS",
    "OPENGRAPHAU_RESIZE",
    "OPENGRAPHAU_SUB_LIST",
    "OPENGRAPHAU_SUB_NODES",
    "OfficialOpenGraphAUHead",
    "is_opengraphau_state_dict",
    "model_from_official_checkpoint",
    "official_head_to_ours_ogau",
    "official_to_ours",
    "ours_head_to_official_ogau",
    "ours_to_official",
]

#: the 27 main AUs, in the order of the model's first 27 outputs
OPENGRAPHAU_MAIN_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                         20, 22, 23, 24, 25, 26, 27, 32, 38, 39)
#: main node of each left/right sub-AU pair (the authors' ``sub_list``)
OPENGRAPHAU_SUB_LIST: tuple[int, ...] = (0, 1, 2, 4, 7, 8, 11)
#: main node of each of the 14 sub-AU outputs (left, right per pair)
OPENGRAPHAU_SUB_NODES: tuple[int, ...] = tuple(i for i in OPENGRAPHAU_SUB_LIST for _ in range(2))
_SUB_NUMBERS = (1, 2, 4, 6, 10, 12, 14)  # the authors' names of the pairs
#: the 41 output columns: AU01 … AU39, AUL1, AUR1, …, AUL14, AUR14
OPENGRAPHAU_COLUMNS: list[str] = ([au_column(a) for a in OPENGRAPHAU_MAIN_AUS]
                                  + [au_column(n, s) for n in _SUB_NUMBERS for s in "LR"])
#: column -> FACS name of what the column scores (the AUL12/AUR12 pair: the AU11 node)
OPENGRAPHAU_DESCRIPTIONS: dict[str, str] = {
    **{c: au_name(c) for c in OPENGRAPHAU_COLUMNS[:27]},
    **{c: au_name(au_column(OPENGRAPHAU_MAIN_AUS[node], c[2]))
       for c, node in zip(OPENGRAPHAU_COLUMNS[27:], OPENGRAPHAU_SUB_NODES)},
}
OPENGRAPHAU_RESIZE, OPENGRAPHAU_IMG_SIZE = 256, 224

_LAYER = re.compile(r"^gnn\.graph_layers\.([0-9]+)\.([A-Za-z]+)\.(.+)$")
_OURS_LAYER = re.compile(r"^gnn\.([UVABE]|bnv|bne)([0-9]+)\.(.+)$")


def is_opengraphau_state_dict(sd: dict) -> bool:
    """True for an OpenGraphAU head or whole ``MEFARG`` state dict (``main_sc``/``sub_sc`` keys)."""
    keys = {str(k).removeprefix("module.").removeprefix("head.") for k in sd}
    return "main_sc" in keys and "sub_sc" in keys


# ---- head keys ---------------------------------------------------------------------------------
def official_head_to_ours_ogau(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenGraphAU head keys -> keys of our ``ANFLHead`` / ``MEFLHead`` with ``sub_nodes``."""
    renamed: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if k == "sub_sc":
            continue
        if k == "main_sc":
            k = "sc"
        elif k.startswith("main_class_linears."):
            k = k[len("main_"):]
        elif (m := _LAYER.match(k)) is not None:  # gnn.graph_layers.0.U.weight -> gnn.U1.weight
            k = f"gnn.{m.group(2)}{int(m.group(1)) + 1}.{m.group(3)}"
        renamed[k] = v
    out = official_head_to_ours(renamed)
    out["similarity.sub_sc"] = sd["sub_sc"]
    return out


def ours_head_to_official_ogau(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`official_head_to_ours_ogau`."""
    me = ours_head_to_official({k: v for k, v in sd.items() if k != "similarity.sub_sc"})
    out: dict[str, torch.Tensor] = {"sub_sc": sd["similarity.sub_sc"]}
    for k, v in me.items():
        if k == "sc":
            k = "main_sc"
        elif k.startswith("class_linears."):
            k = "main_" + k
        elif (m := _OURS_LAYER.match(k)) is not None:
            k = f"gnn.graph_layers.{int(m.group(2)) - 1}.{m.group(1)}.{m.group(3)}"
        out[k] = v
    return out


def _stage_of(head_sd: dict) -> int:
    return 2 if any(k.startswith("edge_extractor.") for k in head_sd) else 1


class OfficialOpenGraphAUHead(nn.Module):
    """Our head returning what the authors' OpenGraphAU ``Head`` returns: ``cl`` ``(B, 41)`` (both
    stages). Input: tokens ``(B, D, C)`` after the global LinearBlock.
    :meth:`official_state_dict` exports the weights under the authors' names."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)["au"]

    def official_state_dict(self) -> dict[str, torch.Tensor]:
        return ours_head_to_official_ogau(self.head.state_dict())


def _build_head(stage: int, sd: dict, num_classes: int, **options: Any) -> OfficialOpenGraphAUHead:
    n, c = (int(x) for x in sd["main_sc"].shape)
    s = int(sd["sub_sc"].shape[0])
    if num_classes not in (n, n + s):
        raise ValueError(f"state dict has {n} main + {s} sub AUs, num_classes={num_classes}")
    sub_nodes = options.pop("sub_nodes", OPENGRAPHAU_SUB_NODES)
    if len(sub_nodes) != s:
        raise ValueError(f"state dict has {s} sub-AU vectors but sub_nodes lists {len(sub_nodes)}")
    if stage == 1:
        head: nn.Module = ANFLHead(c, n, options.pop("neighbor_num", 4), options.pop("metric", "dots"),
                                   sub_nodes=sub_nodes)
    else:
        layers = len({m.group(1) for k in sd if (m := _LAYER.match(k))}) or 2
        head = MEFLHead(c, n, num_layers=layers, efficient=options.pop("efficient", True),
                        sub_nodes=sub_nodes, gnn_residual="outer", edge_classifier=False)
    if options:
        raise TypeError(f"unknown options {sorted(options)}")
    head.load_state_dict(official_head_to_ours_ogau(sd), strict=True)
    return OfficialOpenGraphAUHead(head)


@register_official_head("opengraphau_stage1")
def _stage1(state_dict: dict, num_classes: int, **options: Any) -> OfficialOpenGraphAUHead:
    """``num_classes``: 27 (main) or 41. Options: ``neighbor_num`` (K, 4), ``metric`` (``dots``),
    ``sub_nodes``."""
    return _build_head(1, state_dict, num_classes, **options)


@register_official_head("opengraphau_stage2")
def _stage2(state_dict: dict, num_classes: int, **options: Any) -> OfficialOpenGraphAUHead:
    """Options: ``efficient`` (MEFL moments, default True), ``sub_nodes``."""
    return _build_head(2, state_dict, num_classes, **options)


# ---- whole checkpoints -------------------------------------------------------------------------
def official_to_ours(state_dict: Any, backbone_module: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """An OpenGraphAU ``MEFARG`` state dict (``module.`` prefix and ``state_dict`` wrapper
    optional) -> our :class:`~afg.models.me_graphau.MEGraphAU` keys (Swin needs
    ``backbone_module`` for timm's converter)."""
    return _mg.official_to_ours(state_dict, backbone_module, head_map=official_head_to_ours_ogau)


def ours_to_official(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our OpenGraphAU-option MEGraphAU keys -> the authors' (no ``module.`` prefix; ResNets)."""
    return _mg.ours_to_official(state_dict, head_map=ours_head_to_official_ogau)


def model_options(stage: int) -> dict[str, Any]:
    """The :func:`afg.models.create_model` options that make ME-GraphAU OpenGraphAU."""
    opts: dict[str, Any] = {"sub_nodes": list(OPENGRAPHAU_SUB_NODES)}
    if stage == 2:
        opts.update(gnn_residual="outer", edge_classifier=False)
    return opts


def model_from_official_checkpoint(path_or_state_dict: str | Path | dict, backbone: str | None = None,
                                   stage: int | None = None, neighbor_num: int = 4, metric: str = "dots",
                                   img_size: int = OPENGRAPHAU_IMG_SIZE) -> nn.Module:
    """Our ``me_graphau_stage1`` / ``me_graphau`` model with OpenGraphAU's options, holding a
    released OpenGraphAU checkpoint. ``forward(images)["au"]``: ``(B, 41)`` probabilities in
    :data:`OPENGRAPHAU_COLUMNS` order. ``backbone`` and ``stage`` are inferred when omitted.
    The model carries ``label_names``, ``label_descriptions`` and ``eval_resize`` (256) for
    :class:`afg.Predictor`."""
    sd = path_or_state_dict
    if isinstance(sd, (str, Path)):
        sd = load_checkpoint(sd)  # weights_only=True; one-line CheckpointError
    sd = _unwrap(sd)
    if not is_opengraphau_state_dict(sd):
        raise ValueError("not an OpenGraphAU checkpoint (no head.main_sc / head.sub_sc)")
    if any(k.startswith("backbone.blocks.") or k == "backbone.cls_token" for k in sd):
        raise ValueError("OpenGraphAU ViT (MAE) backbones are not supported: the public code has "
                         "no ViT model to map; use a ResNet or Swin checkpoint")
    n = int(sd["head.main_sc"].shape[0])
    if n != len(OPENGRAPHAU_MAIN_AUS) or int(sd["head.sub_sc"].shape[0]) != len(OPENGRAPHAU_SUB_NODES):
        raise ValueError(f"expected 27 main + 14 sub AUs, the checkpoint has {n} + "
                         f"{int(sd['head.sub_sc'].shape[0])}")
    backbone = backbone or _infer_backbone(sd)
    stage = stage or _stage_of({k[len("head."):]: v for k, v in sd.items() if k.startswith("head.")})
    name = "me_graphau" if stage == 2 else "me_graphau_stage1"
    model = create_model(name, n, backbone=backbone, img_size=img_size, neighbor_num=neighbor_num,
                         metric=metric, **model_options(stage))
    _mg.load_mapped(model, official_to_ours(sd, model.backbone.model), f"OpenGraphAU {name}/{backbone}")
    model.label_names = list(OPENGRAPHAU_COLUMNS)
    model.label_descriptions = dict(OPENGRAPHAU_DESCRIPTIONS)
    model.eval_resize = OPENGRAPHAU_RESIZE  # Predictor: align at 256, feed the centre img_size
    return model.eval()
