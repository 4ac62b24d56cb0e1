"""Image ↔ tensor conversions shared by every dataset (ImageNet normalisation)."""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "denormalize", "to_tensor", "to_uint8"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_tensor(image: np.ndarray, normalize: bool = True) -> torch.Tensor:
    """``(H, W, 3)`` uint8 (or float in [0, 1]) → ``(3, H, W)`` float32, ImageNet-normalised."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float()
    if arr.dtype == np.uint8:
        t = t / 255.0
    if normalize:
        mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
        t = (t - mean) / std
    return t


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_tensor` normalisation; ``(..., 3, H, W)`` → values in [0, 1]."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device, dtype=x.dtype).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device, dtype=x.dtype).view(3, 1, 1)
    return (x * std + mean).clamp(0, 1)


def to_uint8(x: torch.Tensor, normalized: bool = True) -> np.ndarray:
    """``(3, H, W)`` tensor → ``(H, W, 3)`` uint8 array for display."""
    x = x.detach().cpu().float()
    if normalized:
        x = denormalize(x)
    return (x.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
