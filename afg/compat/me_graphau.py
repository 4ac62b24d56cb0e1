"""ME-GraphAU: the authors' key names (``MEFARG`` in their ``model/ANFL.py`` / ``model/MEFL.py``) ↔ ours.

Their head (stage 1) holds ``class_linears.{i}.{fc,bn}.*`` (N LinearBlocks), ``gnn.{U,V,bnv}.*``
and ``sc``; stage 2 replaces ``gnn`` by ``gnn.{U,V,A,B,E}{1,2}.weight``, ``gnn.{bnv,bne}{1,2}.*``
and adds ``edge_extractor.{FAM,ARM,edge_proj,bn}.*`` and ``edge_fc.*``. Ours stacks the N
LinearBlocks into one :class:`afg.nn.PerNodeLinear` (``afg.weight[i]`` ↔ ``class_linears.i.fc.weight``;
BN channel slice ``i·C:(i+1)·C`` ↔ ``class_linears.i.bn``).

Full checkpoints: keys ``[module.]backbone.*`` (torchvision ResNet or Microsoft Swin layout),
``global_linear.*``, ``head.*``. ResNet keys are timm's; Swin keys go through timm's converter.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models import create_model
from ..models.me_graphau import ANFLHead, MEFLHead
from ..runs import load_checkpoint
from .registry import register_official_head

__all__ = [
    "OfficialMEGraphAUHead",
    "model_from_official_checkpoint",
    "official_head_to_ours",
    "official_to_ours",
    "ours_head_to_official",
    "ours_to_official",
]

_BN = ("weight", "bias", "running_mean", "running_var")
_GNN2 = re.compile(r"^gnn\.([UVABE])([0-9]+)\.weight$")
_GNN2_BN = re.compile(r"^gnn\.(bnv|bne)([0-9]+)\.(.+)$")


def _num_nodes(sd: dict) -> int:
    return int(sd["sc"].shape[0])


def official_head_to_ours(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Authors' head keys -> keys of our :class:`~afg.models.me_graphau.ANFLHead` / ``MEFLHead``."""
    n = _num_nodes(sd)
    out: dict[str, torch.Tensor] = {"similarity.sc": sd["sc"]}
    out["afg.weight"] = torch.stack([sd[f"class_linears.{i}.fc.weight"] for i in range(n)])
    out["afg.bias"] = torch.stack([sd[f"class_linears.{i}.fc.bias"] for i in range(n)])
    for b in _BN:
        out[f"afg.bn.{b}"] = torch.cat([sd[f"class_linears.{i}.bn.{b}"] for i in range(n)])
    if "class_linears.0.bn.num_batches_tracked" in sd:
        out["afg.bn.num_batches_tracked"] = sd["class_linears.0.bn.num_batches_tracked"]
    for k, v in sd.items():
        if k == "sc" or k.startswith("class_linears."):
            continue
        if k.startswith("edge_extractor."):
            out["mefl." + k[len("edge_extractor."):]] = v
        elif k.startswith("edge_fc."):
            out["edge_classifier.fc." + k[len("edge_fc."):]] = v
        elif (m := _GNN2.match(k)) is not None:
            out[f"gnn.layers.{int(m.group(2)) - 1}.{m.group(1)}.weight"] = v
        elif (m := _GNN2_BN.match(k)) is not None:
            out[f"gnn.layers.{int(m.group(2)) - 1}.{m.group(1)}.{m.group(3)}"] = v
        elif k.startswith("gnn."):  # stage-1 FGG: gnn.U / gnn.V / gnn.bnv
            out["fgg." + k[len("gnn."):]] = v
        else:
            raise KeyError(f"unexpected key in ME-GraphAU head state dict: {k!r}")
    return out


def ours_head_to_official(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`official_head_to_ours`."""
    w = sd["afg.weight"]
    n, c = w.shape[0], w.shape[1]
    out: dict[str, torch.Tensor] = {"sc": sd["similarity.sc"]}
    for i in range(n):
        out[f"class_linears.{i}.fc.weight"] = w[i].clone()
        out[f"class_linears.{i}.fc.bias"] = sd["afg.bias"][i].clone()
        for b in _BN:
            out[f"class_linears.{i}.bn.{b}"] = sd[f"afg.bn.{b}"][i * c:(i + 1) * c].clone()
        if "afg.bn.num_batches_tracked" in sd:
            out[f"class_linears.{i}.bn.num_batches_tracked"] = sd["afg.bn.num_batches_tracked"].clone()
    for k, v in sd.items():
        if k.startswith(("afg.", "similarity.")):
            continue
        if k.startswith("mefl."):
            out["edge_extractor." + k[len("mefl."):]] = v
        elif k.startswith("edge_classifier.fc."):
            out["edge_fc." + k[len("edge_classifier.fc."):]] = v
        elif (m := re.match(r"^gnn\.layers\.([0-9]+)\.(.+)$", k)) is not None:
            layer, rest = int(m.group(1)) + 1, m.group(2)
            name, _, tail = rest.partition(".")
            out[f"gnn.{name}{layer}.{tail}"] = v
        elif k.startswith("fgg."):
            out["gnn." + k[len("fgg."):]] = v
        else:
            raise KeyError(f"unexpected key in our ME-GraphAU head state dict: {k!r}")
    return out


class OfficialMEGraphAUHead(nn.Module):
    """Our head wrapped to return what the authors' ``Head`` returns: ``cl`` (B, N) for stage 1,
    ``(cl (B, N), cl_edge (B, N², 4))`` for stage 2. Input: tokens ``(B, D, C)`` after the global
    LinearBlock. :meth:`official_state_dict` exports the weights under the authors' names."""

    def __init__(self, head: nn.Module, stage: int) -> None:
        super().__init__()
        self.head, self.stage = head, stage

    def forward(self, x: torch.Tensor):
        out = self.head(x)
        return out["au"] if self.stage == 1 else (out["au"], out["edge"])

    def official_state_dict(self) -> dict[str, torch.Tensor]:
        return ours_head_to_official(self.head.state_dict())


def _build_head(stage: int, sd: dict, num_classes: int, **options: Any) -> OfficialMEGraphAUHead:
    if _num_nodes(sd) != num_classes:
        raise ValueError(f"state dict has {_num_nodes(sd)} AUs, num_classes={num_classes}")
    c = int(sd["sc"].shape[1])
    if stage == 1:
        head = ANFLHead(c, num_classes, options.pop("neighbor_num", 4), options.pop("metric", "dots"))
    else:
        n_layers = len({m.group(2) for k in sd if (m := _GNN2.match(k))}) or 2
        head = MEFLHead(c, num_classes, num_layers=n_layers, efficient=options.pop("efficient", True))
    if options:
        raise TypeError(f"unknown options {sorted(options)}")
    head.load_state_dict(official_head_to_ours(sd), strict=True)
    return OfficialMEGraphAUHead(head, stage)


@register_official_head("me_graphau_stage1")
def _stage1(state_dict: dict, num_classes: int, **options: Any) -> OfficialMEGraphAUHead:
    """Options: ``neighbor_num`` (K, default 4), ``metric`` (default ``dots``)."""
    return _build_head(1, state_dict, num_classes, **options)


@register_official_head("me_graphau_stage2")
def _stage2(state_dict: dict, num_classes: int, **options: Any) -> OfficialMEGraphAUHead:
    """Options: ``efficient`` (MEFL moments, default True)."""
    return _build_head(2, state_dict, num_classes, **options)


# ---- full checkpoints --------------------------------------------------------------------------
def _unwrap(sd: Any) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model", "net"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    return {(k.removeprefix("module.")): v for k, v in sd.items()
            if isinstance(v, torch.Tensor)}


def _infer_backbone(sd: dict[str, torch.Tensor]) -> str:
    keys = [k for k in sd if k.startswith("backbone.")]
    if any(k.startswith("backbone.layer4.") for k in keys):
        n3 = 1 + max(int(k.split(".")[2]) for k in keys if k.startswith("backbone.layer3."))
        bottleneck = any(k.startswith("backbone.layer1.0.conv3.") for k in keys)
        return {(True, 6): "resnet50", (True, 23): "resnet101", (False, 2): "resnet18",
                (False, 6): "resnet34"}[(bottleneck, n3)]
    if "backbone.patch_embed.proj.weight" in sd:
        dim = sd["backbone.patch_embed.proj.weight"].shape[0]
        depth3 = 1 + max(int(k.split(".")[4]) for k in keys if k.startswith("backbone.layers.2.blocks."))
        name = {(96, 6): "tiny", (96, 18): "small", (128, 18): "base"}[(dim, depth3)]
        return f"swin_{name}_patch4_window7_224"
    raise ValueError("cannot infer the backbone from the checkpoint keys; pass backbone=")


def official_to_ours(state_dict: Any, backbone_module: nn.Module | None = None,
                     head_map: Callable[[dict], dict] | None = None) -> dict[str, torch.Tensor]:
    """Authors' full ``MEFARG`` state dict (optionally ``module.``-prefixed, or wrapped under
    ``state_dict``) -> our :class:`~afg.models.me_graphau.MEGraphAU` keys. Swin backbones need our
    ``backbone_module`` (the timm model) for timm's layout converter. ``head_map`` maps the
    ``head.*`` keys (default :func:`official_head_to_ours`; OpenGraphAU passes its own)."""
    sd = _unwrap(state_dict)
    out = official_body_to_ours(sd, backbone_module)
    head = {k[len("head."):]: v for k, v in sd.items() if k.startswith("head.")}
    out.update({"head." + k: v for k, v in (head_map or official_head_to_ours)(head).items()})
    return out


def official_body_to_ours(sd: dict[str, torch.Tensor],
                          backbone_module: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """The ``backbone.*`` and ``global_linear.*`` part of an unwrapped ``MEFARG`` state dict ->
    our keys (shared by ME-GraphAU and OpenGraphAU, whose bodies are the same)."""
    bb = {k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.")}
    bb = {k: v for k, v in bb.items() if not k.startswith(("fc.", "head."))}
    if "patch_embed.proj.weight" in bb:
        from timm.models.swin_transformer import (
            checkpoint_filter_fn,  # local: timm (~1 s to import) only to convert an authors' Swin checkpoint
        )

        if backbone_module is None:
            raise ValueError("Swin checkpoints need backbone_module for timm's key converter")
        bb = checkpoint_filter_fn(bb, backbone_module)
    out = {"backbone.model." + k: v for k, v in bb.items()}
    out.update({k: v for k, v in sd.items() if k.startswith("global_linear.")})
    return out


def ours_to_official(state_dict: dict[str, torch.Tensor],
                     head_map: Callable[[dict], dict] | None = None) -> dict[str, torch.Tensor]:
    """Our MEGraphAU keys -> the authors' (no ``module.`` prefix; ResNet backbones); ``head_map``
    as in :func:`official_to_ours` (default :func:`ours_head_to_official`)."""
    out = ours_body_to_official(state_dict)
    head = {k[len("head."):]: v for k, v in state_dict.items() if k.startswith("head.")}
    out.update({"head." + k: v for k, v in (head_map or ours_head_to_official)(head).items()})
    return out


def ours_body_to_official(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`official_body_to_ours` for ResNet backbones."""
    out = {"backbone." + k[len("backbone.model."):]: v for k, v in state_dict.items()
           if k.startswith("backbone.model.")}
    out.update({k: v for k, v in state_dict.items() if k.startswith("global_linear.")})
    return out


def model_from_official_checkpoint(path_or_state_dict: str | Path | dict, num_classes: int | None = None,
                                   backbone: str | None = None, stage: int | None = None,
                                   neighbor_num: int = 4, metric: str = "dots", img_size: int = 224) -> nn.Module:
    """Our ``me_graphau_stage1`` / ``me_graphau`` model holding an authors' released checkpoint.

    ``num_classes``, ``backbone`` and ``stage`` are inferred from the keys when omitted.
    """
    sd = path_or_state_dict
    if isinstance(sd, (str, Path)):
        sd = load_checkpoint(sd)  # weights_only=True: the released checkpoints are plain tensors
    sd = _unwrap(sd)
    num_classes = num_classes or int(sd["head.sc"].shape[0])
    backbone = backbone or _infer_backbone(sd)
    stage = stage or (2 if any(k.startswith("head.edge_extractor.") for k in sd) else 1)
    name = "me_graphau" if stage == 2 else "me_graphau_stage1"
    model = create_model(name, num_classes, backbone=backbone, img_size=img_size,
                         neighbor_num=neighbor_num, metric=metric)
    load_mapped(model, official_to_ours(sd, model.backbone.model), f"{name}/{backbone}")
    return model


#: buffers timm's Swin rebuilds itself (absent from, or not to be taken from, a checkpoint)
_REBUILT = ("relative_position_index", "attn_mask")


def load_mapped(model: nn.Module, ours: dict[str, torch.Tensor], what: str) -> None:
    """Load a state dict already mapped to our keys into ``model``; every parameter must be
    matched (Swin's rebuilt buffers excepted), else one ``ValueError`` naming ``what``."""
    own = model.state_dict()
    ours = {k: v for k, v in ours.items() if k in own or not k.endswith(_REBUILT)}
    missing, unexpected = model.load_state_dict(ours, strict=False)
    missing = [k for k in missing if not k.endswith(_REBUILT)]
    if missing or unexpected:
        raise ValueError(f"checkpoint does not match {what}: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
