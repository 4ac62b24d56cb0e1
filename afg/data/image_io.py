"""Robust image reading: every file or array becomes an ``(H, W, 3)`` uint8 RGB array.

Handles what the official releases contain: 8-bit RGB JPEG/PNG, grayscale TIFF (JAFFE), RGBA and
palette PNGs, 16-bit PNG/TIFF, EXIF-rotated JPEGs (phones), multi-page TIFFs (first page), and
video frames already decoded to arrays (uint8, uint16 or float in [0, 1]).
Failures raise :class:`UnreadableImageError` with the path and the reason, so callers can record
them instead of crashing a long run.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..utils import atomic_write_bytes

__all__ = ["UnreadableImageError", "as_rgb_uint8", "read_image", "write_image"]


class UnreadableImageError(OSError):
    """A file that cannot be decoded as an image (missing, truncated, not an image, ...)."""


def as_rgb_uint8(image: Any) -> np.ndarray:
    """Convert an array or PIL image to ``(H, W, 3)`` uint8 RGB.

    - ``(H, W)`` or ``(H, W, 1)`` grayscale → replicated to 3 channels;
    - ``(H, W, 4)`` RGBA → alpha composited over white; ``(H, W, 2)`` gray+alpha likewise;
    - uint16 → scaled by ``255 / 65535``; other integer types → scaled by their range when the
      maximum exceeds 255; floats are taken as [0, 1] when their maximum is ≤ 1, else as [0, 255].
    """
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image)
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 2, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # (C, H, W) → (H, W, C)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (1, 2, 3, 4)):
        raise ValueError(f"expected an (H, W), (H, W, C) image with C in 1..4, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("empty image")
    arr = _to_uint8_range(arr)
    if arr.ndim == 2:
        arr = arr[..., None]
    c = arr.shape[-1]
    if c in (2, 4):  # composite over white using the alpha channel
        alpha = arr[..., -1:].astype(np.float32) / 255.0
        color = arr[..., :-1].astype(np.float32)
        arr = np.clip(color * alpha + 255.0 * (1 - alpha), 0, 255).round().astype(np.uint8)
        c -= 1
    if c == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return np.ascontiguousarray(arr)


def _to_uint8_range(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        return (arr.astype(np.float32) * (255.0 / 65535.0)).round().astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        hi = int(arr.max())
        if hi <= 255 and int(arr.min()) >= 0:
            return arr.astype(np.uint8)
        scale = 65535.0 if hi <= 65535 else float(hi)
        return np.clip(arr.astype(np.float64) * (255.0 / scale), 0, 255).round().astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        a = np.nan_to_num(arr.astype(np.float32))
        if a.max() <= 1.0:
            a = a * 255.0
        return np.clip(a, 0, 255).round().astype(np.uint8)
    raise ValueError(f"unsupported image dtype {arr.dtype}")


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ("RGB", "L"):
        return as_rgb_uint8(np.asarray(img))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return as_rgb_uint8(np.asarray(img.convert("RGBA" if img.mode != "LA" else "LA")))
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        arr = np.asarray(img)
        if img.mode.startswith("I;16"):
            arr = arr.astype(np.uint16)
        return as_rgb_uint8(arr)
    return as_rgb_uint8(np.asarray(img.convert("RGB")))  # P, CMYK, YCbCr, 1, ...


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` to ``(H, W, 3)`` uint8 RGB, applying the EXIF orientation.

    Raises :class:`UnreadableImageError` (never anything else for a bad file).
    """
    p = Path(path)
    if not p.is_file():
        raise UnreadableImageError(f"{p}: file not found")
    try:
        with Image.open(p) as img:
            img.seek(0)
            img.load()
            img = ImageOps.exif_transpose(img) or img
            arr = _pil_to_rgb(img)
    except UnidentifiedImageError as exc:
        raise UnreadableImageError(f"{p}: not a recognised image ({exc})") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise UnreadableImageError(f"{p}: cannot decode ({type(exc).__name__}: {exc})") from exc
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise UnreadableImageError(f"{p}: image too small {arr.shape[:2]}")
    return arr


def write_image(path: str | os.PathLike, image: np.ndarray, quality: int = 95) -> Path:
    """Atomically write a uint8 RGB image (format from the suffix; JPEG at ``quality``).

    The bytes go to a temporary file in the same folder which is then renamed, so an interrupted
    run never leaves a truncated image under the final name.
    """
    p = Path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP"}.get(
        p.suffix.lower()
    )
    if fmt is None:
        raise ValueError(f"unsupported output format {p.suffix!r}")
    buf = io.BytesIO()
    kwargs = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    Image.fromarray(as_rgb_uint8(image)).save(buf, format=fmt, **kwargs)
    atomic_write_bytes(p, buf.getvalue())  # temporary name + rename: never a truncated image
    return p
