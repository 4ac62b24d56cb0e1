"""The authors' MAFG+CCFG head (``lkq52110/au-recognition``, class ``Head``) ↔ our modules.

``head_from_official("mafg_ccfg", state_dict, num_classes, neighbor_num=4)`` builds
:class:`afg.models.mafg_ccfg.MAFGCCFGHead` with ``official=True`` and loads their keys:

=====================================  =============================================
theirs                                 ours
=====================================  =============================================
``mafg.conv0``                         ``mafg.attention.local``
``mafg.conv{n}_1`` / ``conv{n}_2``     ``mafg.attention.branches.{n}.0`` / ``.1``
``mafg.conv3``                         ``mafg.attention.mix``
``mafg.class_linears.{i}.fc/bn``       ``mafg.node_linears`` (stacked, one BatchNorm)
``gnn.U`` / ``gnn.V`` / ``gnn.bnv``    ``gnn.U`` / ``gnn.V`` / ``gnn.bnv``
``ccfg.conv1`` / ``conv2``             ``ccfg.topology.alpha_rel1`` / ``alpha_rel2``
``ccfg.conv3`` / ``conv4``             ``ccfg.topology.beta_local`` / ``conv_f``
``ccfg.class_linear``                  ``ccfg.shared_linear``
``post_concat``                        ``post``
``sc``                                 ``classifier.sc``
=====================================  =============================================

Their ``Head.class_linear`` / ``Head.class_generates`` and ``ccfg.class_generates`` are built but
never used in the forward pass (the pools hold no weights); they are accepted and dropped. A
``module.`` or ``head.`` prefix (their full ``MACG`` checkpoints) is stripped; backbone and
``global_linear`` keys are ignored here (:func:`split_official_checkpoint` returns them).
"""
from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from ..models.mafg_ccfg import MAFGCCFGHead, MAFGCCFGHeadConfig
from ..nn.blocks import LinearBlock, PerNodeLinear
from .registry import register_official_head

__all__ = ["OfficialMAFGCCFGHead", "official_to_ours", "split_official_checkpoint"]

_RENAMES = [
    (r"^mafg\.conv0\.", "mafg.attention.local."),
    (r"^mafg\.conv(\d)_1\.", r"mafg.attention.branches.\1.0."),
    (r"^mafg\.conv(\d)_2\.", r"mafg.attention.branches.\1.1."),
    (r"^mafg\.conv3\.", "mafg.attention.mix."),
    (r"^ccfg\.conv1\.", "ccfg.topology.alpha_rel1."),
    (r"^ccfg\.conv2\.", "ccfg.topology.alpha_rel2."),
    (r"^ccfg\.conv3\.", "ccfg.topology.beta_local."),
    (r"^ccfg\.conv4\.", "ccfg.topology.conv_f."),
    (r"^ccfg\.class_linear\.", "ccfg.shared_linear."),
    (r"^post_concat\.", "post."),
    (r"^sc$", "classifier.sc"),
    (r"^gnn\.", "gnn."),
]
_UNUSED = re.compile(r"^(class_linear\.|class_generates\.|ccfg\.class_generates\.)")


def split_official_checkpoint(state_dict: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """Split a full ``MACG`` state dict into (head keys, other keys: backbone, global_linear)."""
    head, rest = {}, {}
    for k, v in state_dict.items():
        k = k.removeprefix("module.")
        if k.startswith("head."):
            head[k[len("head."):]] = v
        else:
            rest[k] = v
    return (head, rest) if head else (rest, {})


def official_to_ours(state_dict: dict[str, torch.Tensor], num_classes: int) -> dict[str, torch.Tensor]:
    """Rename the authors' head keys to :class:`MAFGCCFGHead` keys (``official=True``)."""
    out: dict[str, torch.Tensor] = {}
    blocks: dict[int, dict[str, torch.Tensor]] = {}
    unknown = []
    for k, v in state_dict.items():
        m = re.match(r"^mafg\.class_linears\.(\d+)\.(.+)$", k)
        if m:
            blocks.setdefault(int(m.group(1)), {})[m.group(2)] = v
            continue
        if _UNUSED.match(k):
            continue
        for pat, rep in _RENAMES:
            if re.match(pat, k):
                out[re.sub(pat, rep, k)] = v
                break
        else:
            unknown.append(k)
    if unknown:
        raise KeyError(f"unexpected keys in the official MAFG+CCFG head: {unknown[:5]}")
    if sorted(blocks) != list(range(num_classes)):
        raise KeyError(f"expected mafg.class_linears.0..{num_classes - 1}, found {sorted(blocks)}")
    # N LinearBlocks -> one PerNodeLinear (weights stacked, BatchNorm channels concatenated)
    lin = [LinearBlock(*blocks[i]["fc.weight"].shape[::-1]) for i in range(num_classes)]
    for blk, i in zip(lin, range(num_classes)):
        blk.load_state_dict(blocks[i])

    c_out, c_in = blocks[0]["fc.weight"].shape
    pnl = PerNodeLinear(num_classes, c_in, c_out)
    pnl.load_from_blocks(lin)
    out.update({f"mafg.node_linears.{k}": v for k, v in pnl.state_dict().items()})
    return out


class OfficialMAFGCCFGHead(nn.Module):
    """Our head in the authors' mode; ``forward(tokens (B, D, C)) -> (B, N)`` like their ``Head``."""

    def __init__(self, head: MAFGCCFGHead) -> None:
        super().__init__()
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)


@register_official_head("mafg_ccfg")
def _build(state_dict: dict[str, torch.Tensor], num_classes: int, neighbor_num: int = 4, metric: str = "dots", **_: Any) -> nn.Module:
    sd, _rest = split_official_checkpoint(state_dict)
    channels = int(sd["sc"].shape[1])
    head = MAFGCCFGHead(channels, num_classes, MAFGCCFGHeadConfig(neighbor_num=neighbor_num, metric=metric, official=True))
    head.load_state_dict(official_to_ours(sd, num_classes), strict=True)
    return OfficialMAFGCCFGHead(head)
