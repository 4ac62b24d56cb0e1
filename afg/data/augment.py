"""Training-time augmentation of face items, and its deterministic test-time counterpart.

The papers train on aligned faces with light geometric augmentation and test without it:

* ME-GraphAU (Sec. 4.1) and Li et al. (Sec. 4.2): faces resized to 256 px, a random 224 px crop
  and a random horizontal flip in training; the centre 224 px crop at test time.
* Emotion-GCN: random horizontal flips.
* AU-GCN: horizontal flips, with the 68 landmarks mirrored *and renumbered* so that each AU ROI
  keeps its meaning (:func:`afg.data.rois.flip_landmarks`).

:class:`FaceAugment` applies, to a dataset item (``image`` ``(3, H, W)`` ImageNet-normalised, optional
``landmarks`` ``(68, 2)`` in pixel-centre coordinates), in this order:

1. colour jitter (brightness, contrast, saturation factors drawn from ``[1 - s, 1 + s]``, a hue
   shift from ``[-s/2, s/2]``; Emotion-GCN's brightness/contrast/hue/saturation changes),
2. rotation by an angle drawn from ``[-r, r]`` degrees about the image centre,
3. a ``crop × crop`` crop — random in training, centred at test time,
4. a horizontal flip with probability 1/2.

Landmarks follow every geometric step, so ROI-based models (AU-GCN) stay consistent. Labels are
unchanged: AU, expression, valence/arousal and multi-label emotion annotations are not
left/right-specific. Only the test-time centre crop is applied when ``train=False``.

Randomness comes from torch's global generator (seeded by :func:`afg.train.fit`; DataLoader
workers get their own seeds), so runs stay reproducible.

:class:`AugmentedSubset` is a :class:`torch.utils.data.Subset` that transforms its items: code that
walks ``Subset.dataset``/``Subset.indices`` (label statistics, label names) sees through it.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import Dataset, Subset
from torchvision.transforms.v2 import functional as TF

from .device_augment import (
    DeviceAugment,
    EncodedFaceDataset,
    decode_item,  # lazy: it reads afg.data.datasets
)
from .rois import flip_landmarks
from .transforms import IMAGENET_MEAN, IMAGENET_STD
from .wrappers import dataset_layers

if TYPE_CHECKING:
    from .device_augment import DeviceAugment
    from .spec import DataSpec

__all__ = ["AugmentedSubset", "FaceAugment", "device_augment_of", "rotate_points"]


def rotate_points(points: torch.Tensor, angle: float, height: int, width: int) -> torch.Tensor:
    """Pixel-centre points ``(..., 2)`` (x, y) after rotating a ``height × width`` image by ``angle``
    degrees counter-clockwise about its centre (as :func:`torchvision.transforms.v2.functional.rotate`).

    With ``c = ((W-1)/2, (H-1)/2)`` and ``d = p - c`` (y pointing down):
    ``p' = c + (d_x cos θ + d_y sin θ, -d_x sin θ + d_y cos θ)``.
    """
    th = math.radians(angle)
    c = torch.tensor([(width - 1) / 2.0, (height - 1) / 2.0], dtype=points.dtype, device=points.device)
    d = points - c
    cos, sin = math.cos(th), math.sin(th)
    x = d[..., 0] * cos + d[..., 1] * sin
    y = -d[..., 0] * sin + d[..., 1] * cos
    return torch.stack([x, y], dim=-1) + c


@dataclass
class FaceAugment:
    """Augmentation of one face item (see the module docstring for the order of the steps).

    Args:
        crop: output side in pixels (``None``: no crop). Random position when ``train``, centred
            otherwise.
        hflip: random horizontal flips (training only).
        rotation: maximum rotation in degrees (training only).
        color_jitter: strength ``s`` of the brightness/contrast/saturation/hue jitter (training
            only; ``True`` means 0.2).
        train: training (random) or test-time (centre crop only) behaviour.
        on_device: in training, leave the item as it is and let the trainer apply these steps
            to the whole batch on the training device (:mod:`afg.data.device_augment`,
            ``data.augment_on: device``); the test-time centre crop still runs here.
    """

    crop: int | None = None
    hflip: bool = False
    rotation: float = 0.0
    color_jitter: float | bool = 0.0
    train: bool = True
    on_device: bool = False

    def __post_init__(self) -> None:
        if self.color_jitter is True:
            self.color_jitter = 0.2
        self.color_jitter = float(self.color_jitter or 0.0)
        if self.crop is not None and int(self.crop) <= 0:
            raise ValueError(f"crop must be a positive side in pixels, got {self.crop}")
        if self.rotation < 0 or not 0.0 <= self.color_jitter < 1.0:
            raise ValueError("rotation must be >= 0 and color_jitter in [0, 1)")

    @property
    def is_identity(self) -> bool:
        """True when this transform never changes an item."""
        random = self.train and (self.hflip or self.rotation > 0 or self.color_jitter > 0)
        return self.crop is None and not random

    @classmethod
    def from_spec(cls, spec: DataSpec, train: bool, crop: int | None = None) -> FaceAugment:
        """From a :class:`afg.data.spec.DataSpec` (``hflip``, ``rotation``, ``color_jitter``,
        ``augment_on``)."""
        return cls(crop=crop, hflip=bool(spec.hflip), rotation=float(spec.rotation or 0.0),
                   color_jitter=spec.color_jitter, train=train,
                   on_device=getattr(spec, "augment_on", "cpu") == "device")

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        if self.train and self.on_device:
            return item
        if "image" not in item and "jpeg" in item:  # data.decode_on: device, seen on the CPU

            item = decode_item(item)
        if self.is_identity:
            return item

        out = dict(item)
        img = item["image"]  # (3, H, W), ImageNet-normalised
        lm = item.get("landmarks")
        lm = None if lm is None else torch.as_tensor(lm, dtype=torch.float32).clone()
        _, h, w = img.shape
        mean = torch.tensor(IMAGENET_MEAN, dtype=img.dtype).view(3, 1, 1)
        std = torch.tensor(IMAGENET_STD, dtype=img.dtype).view(3, 1, 1)
        rgb = None
        if self.train and (self.color_jitter > 0 or self.rotation > 0):
            rgb = (img * std + mean).clamp(0, 1)
        if self.train and self.color_jitter > 0:
            s = self.color_jitter
            f = (torch.rand(4) * 2 - 1) * s
            f[:3] += 1.0
            f[3] /= 2  # hue shift in [-s/2, s/2] of a full turn
            for i in torch.randperm(4).tolist():  # random order, as torchvision's ColorJitter
                op = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)[i]
                rgb = op(rgb, float(f[i])).clamp(0, 1)
        if self.train and self.rotation > 0:
            angle = float((torch.rand(()) * 2 - 1) * self.rotation)
            rgb = TF.rotate(rgb, angle, interpolation=TF.InterpolationMode.BILINEAR)
            if lm is not None:
                lm = rotate_points(lm, angle, h, w)
        if rgb is not None:
            img = (rgb - mean) / std
        if self.crop is not None:
            size = int(self.crop)
            if size > h or size > w:
                raise ValueError(f"crop {size} is larger than the {h}x{w} face (data.resize/img_size)")
            if self.train:
                top = int(torch.randint(0, h - size + 1, ()))
                left = int(torch.randint(0, w - size + 1, ()))
            else:
                top, left = (h - size) // 2, (w - size) // 2
            img = img[:, top:top + size, left:left + size]
            if lm is not None:
                lm = lm - torch.tensor([left, top], dtype=lm.dtype)
            w = size
        if self.train and self.hflip and bool(torch.rand(()) < 0.5):
            img = img.flip(-1)
            if lm is not None:
                lm = flip_landmarks(lm, w)
        out["image"] = img.contiguous()
        if lm is not None:
            out["landmarks"] = lm
        return out


class AugmentedSubset(Subset):
    """``Subset(dataset, indices)`` whose items pass through ``transform``."""

    def __init__(self, dataset: Dataset, indices: Sequence[int], transform: Callable[[dict], dict]):
        super().__init__(dataset, indices)
        self.transform = transform

    def __getitem__(self, idx: int) -> dict[str, Any]:
        return self.transform(self.dataset[self.indices[idx]])

    def __getitems__(self, indices: list[int]) -> list[dict[str, Any]]:
        return [self[i] for i in indices]


def device_augment_of(data: Dataset) -> DeviceAugment | None:
    """The :class:`~afg.data.device_augment.DeviceAugment` a training set asks for: its
    :class:`AugmentedSubset`'s ``FaceAugment(on_device=True, train=True)``, or decoding only for an
    :class:`~afg.data.device_augment.EncodedFaceDataset` without one (looking through
    ``Subset``/cache wrappers, :func:`afg.data.wrappers.dataset_layers`); ``None`` when
    augmentation runs per item."""
    for layer in dataset_layers(data):
        if isinstance(layer, AugmentedSubset):
            t = layer.transform
            if getattr(t, "on_device", False) and getattr(t, "train", False):
                return DeviceAugment.from_face_augment(t)
            return None
        if isinstance(layer, EncodedFaceDataset):  # decode only (no augmentation configured)
            return DeviceAugment(train=False)
    return None
