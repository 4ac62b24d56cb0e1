"""timm feature extractors that return the last stage as tokens ``(B, D, C)``.

``D = h*w`` positions of the last feature map, ``C`` channels. ResNet-50 at 224 px gives
``[B, 2048, 7, 7] -> (B, 49, 2048)``; Swin in current timm is channels-last ``[B, 7, 7, C]``;
DenseNet-121 gives ``[B, 1024, 7, 7]``. This is the input every graph head in afg takes.

Weights are never downloaded implicitly: ``weights=<file>`` loads a local torchvision- or
timm-format checkpoint (e.g. the ``resnet50-19c8e357.pth`` the ME-GraphAU code asks for);
``pretrained=True`` uses timm's hub cache and fails at once, telling you to pass ``weights=``,
when the weights are neither cached nor reachable.

Besides timm's models, :data:`SMALL_BACKBONES` names afg's own narrow ResNets (timm's ``ResNet``
with fewer, thinner stages) for CPU work on the synthetic faces: ``resnet_tiny`` (one BasicBlock per
stage, 32-256 channels, output stride 16, 1.2 M parameters) trains about 4x faster than
ResNet-18 and gives the paper's 7x7 = 49 tokens at 112 px. ``weights="synthetic"`` loads
(from the package's ``afg/weights/``, else training once, then caching) a backbone pretrained on
synthetic-face landmarks
(:func:`afg.pretrain.synthetic_weights`), the stand-in for ImageNet weights where none can be
downloaded.
"""
from __future__ import annotations

import os

from .nn.backbone import (
    SMALL_BACKBONES,
    SUPPORTED_BACKBONES,
    Backbone,
    build_backbone,
    check_backbone_name,
    load_backbone_weights,
)
from .pretrain import preset_spec, synthetic_weights

__all__ = ["SMALL_BACKBONES", "SUPPORTED_BACKBONES", "Backbone", "check_backbone_name", "create_backbone",
           "load_backbone_weights"]


def create_backbone(
    name: str,
    pretrained: bool = False,
    weights: str | os.PathLike | None = None,
    img_size: int = 224,
) -> Backbone:
    """Create a token-returning backbone.

    Args:
        name: a timm model name (``resnet18/34/50/101``, ``swin_{tiny,small,base}_patch4_window7_224``,
            ``densenet121``; other timm CNNs/ViTs usually work too).
        pretrained: use timm's hub weights (must already be cached or reachable).
        weights: a local checkpoint file (``.pt``/``.pth`` loaded with ``weights_only=True``, or
            ``.safetensors``), loaded offline; takes precedence over ``pretrained``.
            ``"synthetic"``: the synthetic-landmark pretraining of ``name`` at ``img_size``
            (:func:`afg.pretrain.synthetic_weights`: the package's shipped file where it has one —
            ``resnet_tiny`` at 112 px —, else trained on first use, then cached);
            ``"synthetic-long"``: the same pretext, 4x the steps (:data:`afg.pretrain.PRETRAIN_PRESETS`).
        img_size: input size (112 for CPU experiments); Swin is built for it.

    Returns:
        :class:`Backbone`; ``forward(x: (B,3,H,W)) -> (B, D, C)``.
    """
    check_backbone_name(name)  # before any pretraining
    spec = preset_spec(weights)
    if spec is not None:
        weights = synthetic_weights(name, img_size, spec)
    return build_backbone(name, pretrained=pretrained, weights=weights, img_size=img_size)
