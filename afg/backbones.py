"""The one backbone entry point: timm feature extractors that return the last stage as tokens ``(B, D, C)``.

``D = h*w`` positions of the last feature map, ``C`` channels. ResNet-50 at 224 px gives
``[B, 2048, 7, 7] -> (B, 49, 2048)``; Swin in current timm is channels-last ``[B, 7, 7, C]``;
DenseNet-121 gives ``[B, 1024, 7, 7]``. This is the input every graph head in afg takes.

:func:`create_backbone` builds one from a name and an optional local weights file;
:class:`Backbone` wraps a timm model without its classifier; :func:`load_backbone_weights` reads
torchvision- or timm-format checkpoints (``weights_only=True``). Weights are never downloaded
implicitly: ``weights=<file>`` loads a local checkpoint (e.g. the ``resnet50-19c8e357.pth`` the
ME-GraphAU code asks for); ``pretrained=True`` uses timm's hub cache and fails at once, telling you
to pass ``weights=``, when the weights are neither cached nor reachable.

Nothing here starts a pretraining: a named pretraining (``weights="synthetic"``,
``"synthetic-long"``, :data:`afg.pretrain.PRETRAIN_PRESETS`) is resolved into its weights file
(shipped in ``afg/weights/``, else trained once and cached) by
:func:`afg.pretrain.resolve_weights` *before* the model is built — the experiment layer does it
(:func:`afg.experiments.build_model`); given here, such a name is one clear error.

Besides timm's models, :data:`SMALL_BACKBONES` names afg's own narrow ResNets (timm's ``ResNet``
with fewer, thinner stages) for CPU work on the synthetic faces: ``resnet_tiny`` (one BasicBlock per
stage, 32-256 channels, output stride 16, 1.2 M parameters) trains about 4x faster than
ResNet-18 and gives the paper's 7x7 = 49 tokens at 112 px.
"""
from __future__ import annotations

import difflib
import importlib
import os
import re
from pathlib import Path

import torch
from torch import nn

from .runs import load_checkpoint

__all__ = ["SMALL_BACKBONES", "SUPPORTED_BACKBONES", "Backbone", "check_backbone_name", "create_backbone",
           "load_backbone_weights"]

SUPPORTED_BACKBONES = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "swin_tiny_patch4_window7_224",
    "swin_small_patch4_window7_224",
    "swin_base_patch4_window7_224",
    "densenet121",
    "resnet_tiny",
)

#: afg's narrow ResNets: name -> keyword arguments of ``timm.models.resnet.ResNet`` (BasicBlock).
SMALL_BACKBONES: dict[str, dict] = {
    "resnet_tiny": {"layers": (1, 1, 1, 1), "channels": (32, 64, 128, 256), "stem_width": 32, "output_stride": 16},
    "resnet_small": {"layers": (2, 2, 2, 2), "channels": (32, 64, 128, 256), "stem_width": 32, "output_stride": 16},
}

_CLASSIFIER_PREFIXES = ("fc.", "head.", "classifier.", "head.fc.")
_WRAPPER_PREFIXES = ("module.", "model.", "backbone.", "encoder.")


class Backbone(nn.Module):
    """A timm model without its classifier whose forward returns tokens ``(B, D, C)``.

    Attributes:
        num_features: ``C``, channels of the last stage.
        grid: ``(h, w)`` of the last feature map for the configured ``img_size``.
        channels_last_output: True when timm's ``forward_features`` is NHWC (Swin).
    """

    def __init__(self, name: str, model: nn.Module, img_size: int) -> None:
        super().__init__()
        self.name = name
        self.model = model
        self.img_size = img_size
        self.num_features = int(model.num_features)
        self.channels_last_output = name.startswith("swin")
        with torch.no_grad():
            was_training = model.training
            model.eval()
            fmap = model.forward_features(torch.zeros(1, 3, img_size, img_size))
            model.train(was_training)
        if self.channels_last_output:
            self.grid = (int(fmap.shape[1]), int(fmap.shape[2]))
        else:
            self.grid = (int(fmap.shape[-2]), int(fmap.shape[-1]))

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """Last-stage map as ``(B, C, h, w)`` (Swin's NHWC permuted)."""
        f = self.model.forward_features(x)
        if self.channels_last_output:
            f = f.permute(0, 3, 1, 2)
        return f

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B,3,H,W) -> (B, D, C)
        f = self.model.forward_features(x)
        if self.channels_last_output:  # (B, h, w, C)
            return f.flatten(1, 2)
        return f.flatten(2).transpose(1, 2)  # (B, C, h, w) -> (B, h*w, C)

    @property
    def target_layer(self) -> nn.Module:
        """The module whose output is the last feature map (a natural Grad-CAM target)."""
        m = self.model
        for attr in ("layer4", "layers", "features"):
            if hasattr(m, attr):
                mod = getattr(m, attr)
                return mod[-1] if isinstance(mod, nn.Sequential) and attr == "layers" else mod
        return m


def _strip_state_dict(sd: dict) -> dict:
    for key in ("state_dict", "model", "model_state", "net"):
        if key in sd and isinstance(sd[key], dict) and sd[key] and all(
            isinstance(v, torch.Tensor) for v in list(sd[key].values())[:5]
        ):
            sd = sd[key]
            break
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue
        changed = True
        while changed:
            changed = False
            for p in _WRAPPER_PREFIXES:
                if k.startswith(p):
                    k = k[len(p):]
                    changed = True
        out[k] = v
    return out


def _fit_score(sd: dict[str, torch.Tensor], own: dict[str, torch.Tensor]) -> tuple[int, int]:
    """(tensors whose name and shape match ``own``, minus those whose shape does not)."""
    ok = sum(1 for k, v in sd.items() if k in own and own[k].shape == v.shape)
    bad = sum(1 for k, v in sd.items() if k in own and own[k].shape != v.shape)
    return (ok - bad, -bad)


def load_backbone_weights(model: nn.Module, path: str | os.PathLike, name: str = "") -> list[str]:
    """Load a local checkpoint into a timm model (classifier weights ignored).

    Accepts timm- and torchvision-format files (``module.``/``model.`` prefixes stripped; timm's
    own ``checkpoint_filter_fn`` converts torchvision DenseNet/Swin layouts). Returns the list of
    non-classifier keys that stayed missing; raises when nothing matched.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights file not found: {path}")
    sd = load_checkpoint(path)  # weights_only=True (.pt/.pth) or .safetensors; CheckpointError
    if not isinstance(sd, dict):
        raise ValueError(f"{path}: expected a state_dict (mapping of tensors), got {type(sd).__name__}")  # noqa: TRY004 - a bad file, not a bad argument type
    sd = _strip_state_dict(sd)
    own = model.state_dict()
    # Let timm convert foreign layouts (torchvision DenseNet 'norm.1', original Swin, ...), but only
    # keep its result when it fits the model better: some timm versions' filters also remap a
    # state dict that is already in the model's own layout (Swin's downsample blocks).
    try:
        mod = importlib.import_module(type(model).__module__)
        filt = getattr(mod, "checkpoint_filter_fn", None)
        if filt is not None:
            try:
                converted = filt(dict(sd), model)
                if _fit_score(converted, own) > _fit_score(sd, own):
                    sd = converted
            except Exception:  # noqa: BLE001, S110 - a filter that cannot read this layout leaves it as is
                pass
    except ImportError:
        pass
    sd = {k: v for k, v in sd.items() if not k.startswith(_CLASSIFIER_PREFIXES)}
    matched = {k: v for k, v in sd.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ValueError(
            f"{path}: no tensor matches backbone {name or type(model).__name__}; "
            f"is it a checkpoint for another architecture?"
        )
    missing, _ = model.load_state_dict(matched, strict=False)
    missing = [k for k in missing if not k.startswith(_CLASSIFIER_PREFIXES)]
    bad_shape = [k for k, v in sd.items() if k in own and own[k].shape != v.shape]
    if bad_shape:
        raise ValueError(f"{path}: shape mismatch for {bad_shape[:3]} (wrong architecture?)")
    return missing


def check_backbone_name(name: str) -> None:
    """Raise ``ValueError`` naming the closest valid names (afg's small ResNets and timm's
    ``list_models()``, by :func:`difflib.get_close_matches`) when ``name`` is not a backbone."""

    import timm  # local: timm (~1 s to import) is loaded only when a timm backbone is built

    if name in SMALL_BACKBONES or (isinstance(name, str) and timm.is_model(name)):
        return
    names = [*SMALL_BACKBONES, *timm.list_models()]
    close = difflib.get_close_matches(str(name), names, n=5, cutoff=0.6)
    hint = f"closest: {', '.join(close)}" if close else f"e.g. {', '.join(SUPPORTED_BACKBONES)}"
    raise ValueError(f"unknown backbone {name!r} (not afg's nor a timm model); {hint}")


def create_backbone(
    name: str,
    pretrained: bool = False,
    weights: str | os.PathLike | None = None,
    img_size: int = 224,
) -> Backbone:
    """Create a token-returning backbone.

    Args:
        name: a timm model name (``resnet18/34/50/101``, ``swin_{tiny,small,base}_patch4_window7_224``,
            ``densenet121``; other timm CNNs/ViTs usually work too) or one of :data:`SMALL_BACKBONES`.
        pretrained: use timm's hub weights (must already be cached or reachable).
        weights: a local checkpoint file (``.pt``/``.pth`` loaded with ``weights_only=True``, or
            ``.safetensors``), loaded offline; takes precedence over ``pretrained``. A named
            pretraining (``"synthetic"``, ``"synthetic-long"``) is resolved into its file first by
            :func:`afg.pretrain.resolve_weights` (here it raises ``ValueError``).
        img_size: input size (112 for CPU experiments); Swin is built for it.

    Returns:
        :class:`Backbone`; ``forward(x: (B,3,H,W)) -> (B, D, C)``.
    """
    import timm  # local: timm (~1 s to import) is loaded only when a timm backbone is built

    check_backbone_name(name)
    if isinstance(weights, str) and re.fullmatch(r"synthetic(-[a-z]+)?", weights) and not Path(weights).is_file():
        raise ValueError(f"weights={weights!r} names a pretraining, not a file: resolve it first with "
                         f"afg.pretrain.resolve_weights({weights!r}, {name!r}, {img_size}) (the experiment "
                         "runner does)")
    kwargs: dict = {"num_classes": 0, "global_pool": ""}
    if name.startswith("swin"):
        kwargs["img_size"] = img_size
    if name in SMALL_BACKBONES and pretrained and weights is None:
        raise ValueError(f"{name!r} has no hub weights; use a local file (or weights='synthetic' in a config)")
    if weights is None and pretrained:
        try:
            model = timm.create_model(name, pretrained=True, **kwargs)
        except Exception as e:  # noqa: BLE001 - no hub, no cache (timm raises many kinds); one line instead
            raise RuntimeError(
                f"could not load pretrained weights for {name!r} (no network and no local cache: "
                f"{type(e).__name__}). Download them once elsewhere and pass "
                f"weights='path/to/file.pth' (timm or torchvision format)."
            ) from None
        return Backbone(name, model, img_size)
    if name in SMALL_BACKBONES:
        from timm.models.resnet import (  # local: timm (~1 s to import) is loaded only when a timm backbone is built
            BasicBlock,
            ResNet,
        )

        model = ResNet(BasicBlock, **SMALL_BACKBONES[name], **kwargs)
    else:
        model = timm.create_model(name, pretrained=False, **kwargs)
    if weights is not None:
        missing = load_backbone_weights(model, weights, name)
        if missing:
            raise ValueError(f"{weights}: {len(missing)} backbone tensors missing, e.g. {missing[:3]}")
    return Backbone(name, model, img_size)
