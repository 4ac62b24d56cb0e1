"""Grad-CAM for any afg model, on top of pytorch-grad-cam.

afg models return dicts (and the authors' heads tuples); cosine-similarity heads output raw
scores. :func:`gradcam` wraps the model so the CAM sees one ``(B, K)`` score tensor, builds one
target per image, reshapes token/NHWC activations to maps, re-enables gradients on a frozen
target layer and restores the model's train/eval mode and ``requires_grad`` flags afterwards.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

__all__ = ["ScoreOutput", "gradcam", "overlay_cam", "plot_gradcam_grid"]

_METHODS = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "hirescam": "HiResCAM",
    "xgradcam": "XGradCAM",
    "eigencam": "EigenCAM",
    "layercam": "LayerCAM",
}


class ScoreOutput(nn.Module):
    """Expose one tensor of scores ``(B, K)`` from a model returning a dict or tuple.

    ``key`` picks the dict entry (default: the model's task output — ``au``, ``expression``
    or ``emotions``); tuples give their first element (the AU scores of ME-GraphAU stage 2).
    Extra inputs the model needs (e.g. AU-GCN landmarks) are passed as ``forward_kwargs``.
    """

    def __init__(self, model: nn.Module, key: str | None = None, forward_kwargs: dict | None = None):
        super().__init__()
        self.model = model
        self.key = key
        self.forward_kwargs = forward_kwargs or {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x, **self.forward_kwargs)
        if isinstance(out, dict):
            key = self.key
            if key is None:
                for cand in ("au", "expression", "emotions", "logits"):
                    if cand in out:
                        key = cand
                        break
            if key is None:
                raise KeyError(f"model output has none of au/expression/emotions: {list(out)}")
            return out[key]
        if isinstance(out, (tuple, list)):
            return out[0]
        return out


def _reshape_transform(kind: str | None):
    def fn(t: torch.Tensor) -> torch.Tensor:
        if t.dim() == 4 and kind == "nhwc":
            return t.permute(0, 3, 1, 2)
        if t.dim() == 4 and kind is None and t.shape[-1] > t.shape[1] and t.shape[1] == t.shape[2]:
            return t.permute(0, 3, 1, 2)  # Swin-style NHWC (B, h, w, C)
        if t.dim() == 3:  # tokens (B, D, C) -> (B, C, h, w)
            b, d, c = t.shape
            h = round(d ** 0.5)
            if h * h != d:
                raise ValueError(f"cannot reshape {d} tokens to a square map")
            return t.transpose(1, 2).reshape(b, c, h, h)
        return t

    return fn


class _Target:
    """Raw score of output index ``idx`` (no softmax: valid for sigmoid, cosine and logit heads)."""

    def __init__(self, idx: int):
        self.idx = int(idx)

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        return output[..., self.idx]


def _resolve_targets(targets, n_images: int, names: Sequence[str] | None) -> list[list[int]]:
    if isinstance(targets, (int, np.integer, str)):
        targets = [targets]
    idx = []
    for t in targets:
        if isinstance(t, str):
            if names is None or t not in list(names):
                raise KeyError(f"target {t!r} not in names {list(names) if names else None}")
            idx.append(list(names).index(t))
        else:
            idx.append(int(t))
    return [idx for _ in range(n_images)]


def gradcam(
    model: nn.Module,
    images: torch.Tensor,
    target_layer: nn.Module,
    targets,
    method: str = "gradcam",
    names: Sequence[str] | None = None,
    key: str | None = None,
    layout: str | None = None,
    forward_kwargs: dict | None = None,
) -> np.ndarray:
    """Class-activation maps of ``targets`` for every image.

    Args:
        model: an afg model (dict output), an authors' head (tuple output) or any module.
        images: ``(B, 3, H, W)`` normalised.
        target_layer: module whose activations are explained (``model.backbone.target_layer``,
            ``model.mafg.attention``…); frozen layers are re-enabled for the call.
        targets: AU/class indices or names (with ``names``); one CAM per image and target.
        method: ``gradcam``, ``gradcam++``, ``hirescam``, ``xgradcam``, ``eigencam``, ``layercam``.
        key: output entry to explain (default: the task output).
        layout: ``"nhwc"`` for channels-last activations (Swin); tokens ``(B, D, C)`` and
            NCHW maps are recognised automatically.

    Returns:
        ``(B, T, H, W)`` float array in [0, 1].
    """
    # local: pytorch-grad-cam takes seconds to import; only Grad-CAM needs it
    import pytorch_grad_cam as pgc

    if method not in _METHODS:
        raise ValueError(f"unknown CAM method {method!r}; choose from {sorted(_METHODS)}")
    wrapper = ScoreOutput(model, key=key, forward_kwargs=forward_kwargs)
    modes = {m: m.training for m in model.modules()}
    flags = {p: p.requires_grad for p in target_layer.parameters()}
    for p in target_layer.parameters():
        p.requires_grad_(True)
    device = next(model.parameters()).device
    images = images.to(device)
    tgt_idx = _resolve_targets(targets, images.shape[0], names)
    n_t = len(tgt_idx[0])
    maps = np.zeros((images.shape[0], n_t, images.shape[-2], images.shape[-1]), dtype=np.float32)
    try:
        cam_cls = getattr(pgc, _METHODS[method])
        with cam_cls(model=wrapper, target_layers=[target_layer], reshape_transform=_reshape_transform(layout)) as cam:
            for t in range(n_t):
                tg = [_Target(tgt_idx[b][t]) for b in range(images.shape[0])]
                maps[:, t] = cam(input_tensor=images, targets=tg)
    finally:
        for m, training in modes.items():
            m.train(training)
        for p, flag in flags.items():
            p.requires_grad_(flag)
    return maps


def overlay_cam(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a ``(H, W)`` CAM (jet colour map) over a ``(H, W, 3)`` uint8 face."""
    cm = plt.get_cmap("jet")(np.clip(cam, 0, 1))[..., :3]
    img = image.astype(np.float32) / 255.0
    return (np.clip((1 - alpha) * img + alpha * cm, 0, 1) * 255).astype(np.uint8)


def plot_gradcam_grid(
    images,
    cams,
    row_titles: Sequence[str] | None = None,
    col_titles: Sequence[str] | None = None,
    alpha: float = 0.45,
    ax_size: float = 1.4,
):
    """Grid of CAM overlays (Li et al. Fig. 3, SVML-RGCN Fig. 7).

    Args:
        images: ``(B, H, W, 3)`` uint8 faces (one per row).
        cams: ``(B, T, H, W)`` maps from :func:`gradcam` (one column per target), optionally
            with the raw face as an extra first column when ``col_titles`` has T+1 entries.
    """
    images = np.asarray(images)
    cams = np.asarray(cams)
    b, t = cams.shape[:2]
    with_face = col_titles is not None and len(col_titles) == t + 1
    cols = t + int(with_face)
    fig, axes = plt.subplots(b, cols, figsize=(ax_size * cols, ax_size * b), squeeze=False)
    for i in range(b):
        c0 = 0
        if with_face:
            axes[i, 0].imshow(images[i])
            c0 = 1
        for j in range(t):
            axes[i, c0 + j].imshow(overlay_cam(images[i], cams[i, j], alpha))
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
        if row_titles is not None:
            axes[i, 0].set_ylabel(row_titles[i], fontsize=7)
    if col_titles is not None:
        for j, title in enumerate(col_titles[:cols]):
            axes[0, j].set_title(title, fontsize=7)
    fig.tight_layout()
    return fig
