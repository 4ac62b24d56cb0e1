"""Training augmentation as batched tensor operations on the training device, after the transfer.

:class:`afg.data.augment.FaceAugment` augments one item at a time in the DataLoader workers; at
GPU speed the workers become the bottleneck (``benchmarks/loader_speed.py``). With
``data.augment_on: device`` the workers hand over the faces at their loaded size and
:class:`DeviceAugment` applies the same steps to the whole batch on the GPU, one kernel per step,
with per-sample random parameters drawn from the same distributions, in the same order:

1. colour jitter, strength ``s``: brightness, contrast and saturation factors
   ``b, c, a ~ U[1 - s, 1 + s]`` and a hue shift ``η ~ U[-s/2, s/2]`` (a fraction of a turn),
   applied in a uniformly random order per sample, each clamped to ``[0, 1]`` —
   brightness ``x' = b x``; contrast ``x' = c x + (1 - c) mean(Y)``; saturation
   ``x' = a x + (1 - a) Y`` with the luma ``Y = 0.2989 R + 0.587 G + 0.114 B`` (ITU-R 601);
   hue: ``H' = (H + η) mod 1`` in HSV;
2. rotation by ``θ ~ U[-r, r]`` degrees about the image centre, bilinear, zeros outside: the
   output pixel ``p`` (centred coordinates, ``y`` down) samples the input at ``R(θ) p`` with
   ``R(θ) = [[cos θ, -sin θ], [sin θ, cos θ]]``, and landmarks move to ``R(θ)^T (p - c) + c``
   (:func:`afg.data.augment.rotate_points`);
3. the ``crop × crop`` window at ``(top, left) ~ U{0..H-crop} × U{0..W-crop}`` (the centre
   window when not training);
4. a horizontal flip with probability ``hflip_p`` (1/2), landmarks mirrored *and renumbered*
   (:func:`afg.data.rois.flip_landmarks`).

``tests/test_device_augment.py`` checks each step against the per-image path (torchvision's
functional ops and :class:`FaceAugment`): equal for fixed parameters (centre crop and a forced
flip exactly), and equal in distribution for the random draws (crop offsets, flip rate, angles,
pixel statistics) on fixed seeds.

For datasets too large to pack (:mod:`afg.data.packed`), ``data.decode_on: device`` also moves
the JPEG decoding there: the training items carry the encoded file (``jpeg``, bytes; read from
disk, never decoded by the workers: :class:`EncodedFaceDataset`) and the batch is decoded by
``torchvision.io.decode_jpeg(device="cuda")`` (nvJPEG) before the augmentation, then resized to
``data.resize`` (bilinear with antialiasing, so not bit-identical to the loader's PIL resize)
when the prepared size differs. On the CPU the same call uses libjpeg-turbo, as PIL does.

Random numbers come from the device's default generator (seeded by :func:`afg.train.fit`, saved
in checkpoints), so runs stay reproducible and resumable.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torchvision.io import ImageReadMode, decode_jpeg

from .datasets.face_dataset import FaceDataset
from .rois import flip_landmarks
from .transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["DeviceAugment", "EncodedFaceDataset", "adjust_hue", "decode_item", "decode_jpegs",
           "hsv_to_rgb", "rgb_to_hsv", "rotate_batch"]

_LUMA = (0.2989, 0.587, 0.114)


def _luma(rgb: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` → ``(B, 1, H, W)`` ITU-R 601 luma."""
    return (rgb[:, 0] * _LUMA[0] + rgb[:, 1] * _LUMA[1] + rgb[:, 2] * _LUMA[2]).unsqueeze(1)


def _blend(x: torch.Tensor, y: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """``f x + (1 - f) y`` clamped to [0, 1]; ``f`` per sample ``(B,)``."""
    f = f.view(-1, 1, 1, 1)
    return (x * f + y * (1 - f)).clamp(0, 1)


def rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` RGB in [0, 1] → HSV (hue as a fraction of a turn in [0, 1))."""
    r, g, b = rgb.unbind(1)
    maxc, _ = rgb.max(1)
    minc, _ = rgb.min(1)
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    s = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), torch.zeros_like(maxc))
    h = torch.where(maxc == r, ((g - b) / safe) % 6,
                    torch.where(maxc == g, (b - r) / safe + 2, (r - g) / safe + 4))
    h = torch.where(delta > 0, h / 6, torch.zeros_like(h)) % 1.0
    return torch.stack([h, s, maxc], 1)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_hsv`: sector ``i = ⌊6h⌋``, ``f = 6h - i``, ``p = v(1-s)``,
    ``q = v(1-sf)``, ``t = v(1-s(1-f))``; RGB = (v,t,p), (q,v,p), (p,v,t), (p,q,v), (t,p,v),
    (v,p,q) for ``i = 0..5``."""
    h, s, v = hsv.unbind(1)
    h6 = h * 6
    i = torch.floor(h6)
    f = h6 - i
    i = i.long() % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = torch.stack([torch.stack(c, 1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v),
                                                     (v, p, q))], 1)  # (B, 6, 3, H, W)
    idx = i.unsqueeze(1).unsqueeze(1).expand(-1, 1, 3, -1, -1)
    return table.gather(1, idx).squeeze(1)


def adjust_hue(rgb: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Hue rotated by ``shift`` ``(B,)`` (fractions of a turn)."""
    hsv = rgb_to_hsv(rgb)
    h = (hsv[:, 0] + shift.view(-1, 1, 1)) % 1.0
    return hsv_to_rgb(torch.stack([h, hsv[:, 1], hsv[:, 2]], 1))


def rotate_batch(img: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate each image of ``(B, C, H, W)`` by ``angles`` ``(B,)`` degrees counter-clockwise
    about its centre (bilinear, zeros outside; see the module doc for the sampling grid)."""
    b, _, h, w = img.shape
    th = torch.deg2rad(angles.to(img.dtype)).view(b, 1, 1)
    cos, sin = torch.cos(th), torch.sin(th)
    xs = torch.arange(w, device=img.device, dtype=img.dtype) - (w - 1) / 2
    ys = torch.arange(h, device=img.device, dtype=img.dtype) - (h - 1) / 2
    y, x = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) centred pixel coordinates
    gx = (cos * x - sin * y) / (w / 2)  # normalised input coordinates (align_corners=False)
    gy = (sin * x + cos * y) / (h / 2)
    grid = torch.stack([gx, gy], -1)  # (B, H, W, 2)
    return torch.nn.functional.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _rotate_points(points: torch.Tensor, angles: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Batched :func:`afg.data.augment.rotate_points`: ``(B, K, 2)`` with ``angles`` ``(B,)``."""
    th = torch.deg2rad(angles.to(points.dtype)).view(-1, 1)
    cos, sin = torch.cos(th), torch.sin(th)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    dx, dy = points[..., 0] - cx, points[..., 1] - cy
    return torch.stack([dx * cos + dy * sin + cx, -dx * sin + dy * cos + cy], -1)


def decode_jpegs(files: list[bytes], device: torch.device | str = "cpu", size: int | None = None) -> torch.Tensor:
    """Encoded JPEG files → ``(B, 3, S, S)`` uint8 RGB on ``device`` (nvJPEG on CUDA), resized to
    ``size`` when given (bilinear, antialiased; faces are square)."""
    raw = [torch.frombuffer(bytearray(f), dtype=torch.uint8) for f in files]
    imgs = decode_jpeg(raw, mode=ImageReadMode.RGB, device=device)
    out = []
    for im in imgs:
        if size is not None and tuple(im.shape[-2:]) != (size, size):
            im = torch.nn.functional.interpolate(im[None].float(), size=(size, size), mode="bilinear",
                                                 antialias=True, align_corners=False)[0]
            im = im.round_().clamp_(0, 255).to(torch.uint8)
        out.append(im)
    return torch.stack(out)


def decode_item(item: dict[str, Any], size: int | None = None) -> dict[str, Any]:
    """A dataset item with ``jpeg`` bytes → the usual item with a normalised ``image`` (3, S, S),
    decoded on the CPU (validation views of an :class:`EncodedFaceDataset`)."""
    out = {k: v for k, v in item.items() if k != "jpeg"}
    img = decode_jpegs([item["jpeg"]], "cpu", size or item.get("size"))[0]
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    out["image"] = (img.float() / 255.0 - mean) / std
    out.pop("size", None)
    return out


class EncodedFaceDataset(FaceDataset):
    """:class:`afg.data.datasets.FaceDataset` whose items carry the face file undecoded: ``jpeg``
    (bytes) and ``size`` (the side it is to be decoded to) instead of ``image``; the trainer
    decodes the batch on the device (``data.decode_on: device``)."""

    def _load(self, i: int) -> np.ndarray:  # labels and landmarks only: no pixels are needed here
        return np.zeros((1, 1, 3), dtype=np.uint8)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = super().__getitem__(i)
        del item["image"]
        side = int(self.size or self.prepared_size or 0)
        item["jpeg"] = (self.root / self.table["aligned"].iat[int(i)]).read_bytes()
        item["size"] = side
        if self._lm68 is not None:  # in output pixels, as FaceDataset gives them
            scale = side / float(self.prepared_size or side)
            item["landmarks"] = torch.from_numpy((self._lm68[int(i)] + 0.5) * scale - 0.5)
        return item


@dataclass
class DeviceAugment:
    """Batched :class:`afg.data.augment.FaceAugment` (same arguments; ``hflip_p`` the flip
    probability). ``aug(batch)`` transforms ``batch["image"]`` ``(B, 3, H, W)`` (ImageNet-normalised,
    or uint8 RGB, normalised here) and ``batch["landmarks"]`` ``(B, 68, 2)`` in place of the
    per-item path; other keys pass through."""

    crop: int | None = None
    hflip: bool = False
    rotation: float = 0.0
    color_jitter: float = 0.0
    train: bool = True
    hflip_p: float = 0.5

    @classmethod
    def from_face_augment(cls, aug: Any) -> DeviceAugment:
        return cls(crop=aug.crop, hflip=aug.hflip, rotation=float(aug.rotation),
                   color_jitter=float(aug.color_jitter), train=aug.train)

    def __call__(self, batch: dict[str, Any], channels_last: bool = False) -> dict[str, Any]:
        if "jpeg" in batch:  # data.decode_on: device — on the device the labels were moved to
            batch = dict(batch)
            side = int(batch.pop("size")[0])
            where = next((v.device for v in batch.values() if torch.is_tensor(v)), torch.device("cpu"))
            batch["image"] = decode_jpegs(batch.pop("jpeg"), where, side or None)
        img = batch["image"]
        dev = img.device
        mean = torch.tensor(IMAGENET_MEAN, device=dev).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=dev).view(1, 3, 1, 1)
        if img.dtype == torch.uint8:
            img = (img.float() / 255.0 - mean) / std  # as afg.data.transforms.to_tensor
        img = img.float()
        lm = batch.get("landmarks")
        lm = None if lm is None else lm.float()
        b, _, h, w = img.shape
        train = self.train
        if train and (self.color_jitter > 0 or self.rotation > 0):
            rgb = (img * std + mean).clamp(0, 1)
            if self.color_jitter > 0:
                s = float(self.color_jitter)
                f = (torch.rand(b, 4, device=dev) * 2 - 1) * s
                f[:, :3] += 1.0
                f[:, 3] /= 2
                order = torch.rand(b, 4, device=dev).argsort(1)  # a uniform random order per sample
                for k in range(4):
                    for op in range(4):
                        m = order[:, k] == op
                        if bool(m.any()):
                            rgb[m] = self._color_op(op, rgb[m], f[m, op])
            if self.rotation > 0:
                angles = (torch.rand(b, device=dev) * 2 - 1) * float(self.rotation)
                rgb = rotate_batch(rgb, angles)
                if lm is not None:
                    lm = _rotate_points(lm, angles, h, w)
            img = (rgb - mean) / std
        if self.crop is not None:
            size = int(self.crop)
            if size > h or size > w:
                raise ValueError(f"crop {size} is larger than the {h}x{w} face (data.resize/img_size)")
            if train:
                top = torch.randint(0, h - size + 1, (b,), device=dev)
                left = torch.randint(0, w - size + 1, (b,), device=dev)
            else:
                top = torch.full((b,), (h - size) // 2, device=dev)
                left = torch.full((b,), (w - size) // 2, device=dev)
            ar = torch.arange(size, device=dev)
            rows, cols = top[:, None] + ar, left[:, None] + ar  # (B, size)
            bi = torch.arange(b, device=dev)[:, None, None]
            img = img[bi, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (B, 3, size, size)
            if lm is not None:
                lm = lm - torch.stack([left, top], -1).to(lm.dtype)[:, None, :]
            h = w = size
        if train and self.hflip:
            flip = torch.rand(b, device=dev) < self.hflip_p
            img = torch.where(flip.view(b, 1, 1, 1), img.flip(-1), img)
            if lm is not None:
                lm = torch.where(flip.view(b, 1, 1), flip_landmarks(lm, w), lm)
        out = dict(batch)
        out["image"] = img.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        if lm is not None:
            out["landmarks"] = lm
        return out

    @staticmethod
    def _color_op(op: int, rgb: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        if op == 0:  # brightness
            return (rgb * f.view(-1, 1, 1, 1)).clamp(0, 1)
        if op == 1:  # contrast: towards the mean luma of the image
            return _blend(rgb, _luma(rgb).mean(dim=(1, 2, 3), keepdim=True), f)
        if op == 2:  # saturation: towards the luma
            return _blend(rgb, _luma(rgb), f)
        return adjust_hue(rgb, f).clamp(0, 1)
