"""Face detection (MTCNN) and 5-point similarity alignment.

Detection uses facenet-pytorch's MTCNN (its P/R/O-net weights ship inside the wheel, nothing is
downloaded). Frames are detected in batches: each frame is downscaled so that its longest side is
at most ``max_side`` and the batch is zero-padded to a common canvas (MTCNN needs equal-size
inputs); boxes and landmarks are mapped back to the original pixels.

Alignment fits the similarity transform (rotation, isotropic scale, translation; Umeyama 1991,
least squares) that maps the five MTCNN points (left eye, right eye, nose tip, left and right mouth
corners, as seen in the image) onto a canonical template and warps the full-resolution image into a
``size × size`` crop. The template is the common 5-point template for a 112 × 112 face crop,
scaled to ``size`` and shrunk towards the centre by ``margin``:

    t(size, margin) = ((T_112 / 112 − ½) / (1 + 2·margin) + ½) · size

so ``margin = 0`` is the tight recognition crop and ``margin = 0.1`` leaves 10 % of the template
box of extra context on each side (forehead and chin; default, better for AUs of the brows).
The fit weights the eyes 10× the other points (``point_weights``): eyes are MTCNN's most reliable
points and AU crops need them at a fixed place; on frontal photographs they land within about
1.5 px of the template at 224 px while nose and mouth still fix the rotation and scale jointly.

Coordinates: pixel centres at integer positions (``x = 0`` is the centre of the first column),
``box = (x1, y1, x2, y2)``; the transform is the ``(2, 3)`` matrix ``M`` with
``crop = M[:, :2] @ source + M[:, 2]``.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..utils import resolve_device
from .image_io import UnreadableImageError, as_rgb_uint8, read_image

__all__ = [
    "TEMPLATE_112",
    "FaceAligner",
    "align",
    "align_with_landmarks",
    "apply_transform",
    "estimate_similarity",
    "face_template",
    "get_mtcnn",
    "landmarks68_to_5",
    "warp_affine",
]

#: Canonical 5-point template (x, y) in a 112 × 112 crop: left eye, right eye, nose tip,
#: left mouth corner, right mouth corner.
TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def face_template(size: int = 224, margin: float = 0.1) -> np.ndarray:
    """Template points ``(5, 2)`` for a ``size × size`` crop with ``margin`` (see module doc)."""
    if margin <= -0.5:
        raise ValueError("margin must be > -0.5")
    unit = TEMPLATE_112 / 112.0
    return ((unit - 0.5) / (1.0 + 2.0 * margin) + 0.5) * size


def estimate_similarity(src: np.ndarray, dst: np.ndarray,
                        weights: Sequence[float] | None = None) -> np.ndarray:
    r"""Weighted least-squares similarity transform ``src → dst`` (Umeyama 1991). ``(2, 3)``.

    Minimises :math:`\sum_k w_k \| s R x_k + t - y_k \|^2` over the scale ``s``, the rotation
    ``R`` (no reflection) and ``t``. With normalised weights, weighted means
    :math:`\mu_x, \mu_y`, covariance :math:`\Sigma = \sum_k w_k (y_k-\mu_y)(x_k-\mu_x)^T = U D V^T`:
    :math:`R = U S V^T`, :math:`s = \mathrm{tr}(D S) / \sum_k w_k \|x_k-\mu_x\|^2`,
    :math:`t = \mu_y - s R \mu_x` with ``S = diag(1, ±1)`` removing reflections.
    """
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    if src.shape != dst.shape or len(src) < 2:
        raise ValueError(f"need ≥ 2 matching points, got {src.shape} and {dst.shape}")
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(src),) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be {len(src)} non-negative numbers")
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    sc, dc = src - mu_s, dst - mu_d
    cov = (dc * w[:, None]).T @ sc  # (2, 2)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rot = u @ np.diag(d) @ vt
    var_s = float(w @ (sc**2).sum(1))
    scale = float((s * d).sum() / var_s) if var_s > 0 else 1.0
    t = mu_d - scale * rot @ mu_s
    return np.concatenate([scale * rot, t[:, None]], axis=1)


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map ``(..., 2)`` points with a ``(2, 3)`` affine matrix."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def warp_affine(image: np.ndarray, matrix: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Warp ``image`` (H, W, 3) uint8 with the source→output ``matrix`` into a ``size`` crop.

    Bilinear sampling; when the transform shrinks by 2× or more the source is first box-reduced
    by the integer factor (anti-aliasing). Outside pixels are black.
    """
    out_w, out_h = (size, size) if isinstance(size, int) else (size[1], size[0])
    a = np.asarray(matrix, dtype=np.float64)[:, :2].copy()
    t = np.asarray(matrix, dtype=np.float64)[:, 2].copy()
    # PIL puts pixel centres at +0.5: U = A X + t + 0.5 − A·(0.5, 0.5)
    t = t + 0.5 - a @ np.array([0.5, 0.5])
    img = Image.fromarray(as_rgb_uint8(image))
    scale = float(np.sqrt(abs(np.linalg.det(a))))
    factor = int(np.floor(1.0 / scale)) if scale > 0 else 1
    if factor >= 2:
        img = img.reduce(factor)  # PIL coordinates scale exactly by 1/factor
        a = a * factor
    a_inv = np.linalg.inv(a)
    b_inv = -a_inv @ t
    data = (a_inv[0, 0], a_inv[0, 1], b_inv[0], a_inv[1, 0], a_inv[1, 1], b_inv[1])
    out = img.transform((out_w, out_h), Image.Transform.AFFINE, data=data,
                        resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
    return np.asarray(out)


def landmarks68_to_5(landmarks: np.ndarray) -> np.ndarray:
    """iBUG 68-point landmarks ``(68, 2)`` → the 5 MTCNN points (eye centres, nose tip, mouth
    corners). Eye centres are the means of points 37–42 and 43–48 (1-based)."""
    lm = np.asarray(landmarks, dtype=np.float64).reshape(68, 2)
    return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]])


_MTCNN_CACHE: dict[tuple, Any] = {}


def get_mtcnn(device: str | torch.device = "cpu", min_face_size: int = 20,
              thresholds: Sequence[float] = (0.6, 0.7, 0.7), factor: float = 0.709):
    """A cached ``facenet_pytorch.MTCNN`` (weights from the wheel; nothing is downloaded)."""
    dev = resolve_device(device)
    key = (str(dev), int(min_face_size), tuple(float(x) for x in thresholds), float(factor))
    if key not in _MTCNN_CACHE:
        try:
            from facenet_pytorch import (
                MTCNN,  # local: optional heavy dependency (facenet-pytorch), only for MTCNN detection
            )
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "face detection needs facenet-pytorch: pip install --no-deps facenet-pytorch==2.6.0"
            ) from exc
        m = MTCNN(keep_all=True, min_face_size=min_face_size, thresholds=list(thresholds),
                  factor=factor, device=dev)
        m.eval()
        _MTCNN_CACHE[key] = m
    return _MTCNN_CACHE[key]


def _object_to_float(x: Any, shape_tail: tuple[int, ...]) -> np.ndarray:
    """facenet-pytorch returns ``dtype=object`` arrays (None where nothing was found)."""
    if x is None:
        return np.zeros((0, *shape_tail), dtype=np.float64)
    arr = np.asarray(x, dtype=object)
    if arr.size == 0 or any(v is None for v in arr.reshape(-1)):
        return np.zeros((0, *shape_tail), dtype=np.float64)
    return np.asarray(arr.tolist(), dtype=np.float64).reshape(-1, *shape_tail)


@dataclass
class FaceAligner:
    """Batched MTCNN detection + similarity alignment.

    ``aligner(images)`` (or :meth:`align`) takes a list of paths, arrays (RGB, gray, RGBA, 16-bit,
    float) or PIL images — or a ``(T, H, W, C)`` array of video frames — and returns one dict per
    input (see :func:`align`). Unreadable inputs and frames without a face are reported in
    ``status`` and ``reason``; nothing raises for a bad image.
    """

    size: int = 224
    margin: float = 0.1
    device: str | torch.device = "cpu"
    batch_size: int = 16
    min_face_size: int = 20
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    select: str = "largest"  # or "probability"
    max_side: int = 640
    point_weights: tuple[float, ...] = (10.0, 10.0, 1.0, 1.0, 1.0)
    _mtcnn: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.select not in ("largest", "probability"):
            raise ValueError("select must be 'largest' or 'probability'")

    @property
    def template(self) -> np.ndarray:
        return face_template(self.size, self.margin)

    @property
    def mtcnn(self):
        if self._mtcnn is None:
            self._mtcnn = get_mtcnn(self.device, self.min_face_size, self.thresholds)
        return self._mtcnn

    # -- detection ---------------------------------------------------------------------------
    def detect(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """All faces per image: ``(boxes (k, 4), scores (k,), points (k, 5, 2))`` in source pixels,
        run in chunks of ``batch_size``."""
        out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for start in range(0, len(images), max(1, self.batch_size)):
            out.extend(self._detect_batch(images[start:start + max(1, self.batch_size)]))
        return out

    def _detect_batch(self, images: Sequence[np.ndarray]):
        if not images:
            return []
        scaled, scales = [], []
        for im in images:
            h, w = im.shape[:2]
            s = min(1.0, self.max_side / max(h, w))
            if s < 1.0:
                nw, nh = max(1, round(w * s)), max(1, round(h * s))
                im = np.asarray(Image.fromarray(im).resize((nw, nh), Image.Resampling.BILINEAR))
                s = (nw / w, nh / h)
            else:
                s = (1.0, 1.0)
            scaled.append(im)
            scales.append(s)
        ch = max(im.shape[0] for im in scaled)
        cw = max(im.shape[1] for im in scaled)
        canvas = np.zeros((len(scaled), ch, cw, 3), dtype=np.uint8)
        for i, im in enumerate(scaled):
            canvas[i, : im.shape[0], : im.shape[1]] = im
        boxes, probs, points = self.mtcnn.detect(canvas, landmarks=True)
        results = []
        for i, (sx, sy) in enumerate(scales):
            b = _object_to_float(boxes[i], (4,))
            p = _object_to_float(probs[i], ()).reshape(-1)
            q = _object_to_float(points[i], (5, 2))
            if len(b):
                # back to source pixels (pixel centres at integers)
                b[:, [0, 2]] = (b[:, [0, 2]] + 0.5) / sx - 0.5
                b[:, [1, 3]] = (b[:, [1, 3]] + 0.5) / sy - 0.5
                q[..., 0] = (q[..., 0] + 0.5) / sx - 0.5
                q[..., 1] = (q[..., 1] + 0.5) / sy - 0.5
            results.append((b, p, q))
        return results

    # -- alignment ---------------------------------------------------------------------------
    def align_points(self, image: np.ndarray, points5: np.ndarray) -> dict[str, Any]:
        """Align ``image`` given its 5 source points (no detection)."""
        image = as_rgb_uint8(image)
        m = estimate_similarity(points5, self.template, self.point_weights)
        crop = warp_affine(image, m, self.size)
        return {
            "status": "ok",
            "image": crop,
            "landmarks": apply_transform(m, points5).astype(np.float32),
            "transform": m,
            "source_landmarks": np.asarray(points5, dtype=np.float32),
            "source_size": tuple(image.shape[:2]),
        }

    def align(self, images: Any) -> list[dict[str, Any]]:
        """One dict per input: ``status`` (``ok``/``no_face``/``unreadable``), ``image``
        (size × size × 3 uint8 or None), ``landmarks`` (5, 2) in crop pixels, ``box`` (4,) and
        ``source_landmarks`` (5, 2) in source pixels, ``score``, ``transform`` (2, 3) source→crop,
        ``source_size`` (H, W), ``faces`` (number detected), ``reason`` (why it failed)."""
        items = _as_list(images)
        results: list[dict[str, Any] | None] = [None] * len(items)
        decoded: list[np.ndarray] = []
        where: list[int] = []
        for i, item in enumerate(items):
            try:
                decoded.append(load_input(item))
                where.append(i)
            except (UnreadableImageError, ValueError, TypeError) as exc:
                results[i] = _failure("unreadable", str(exc))
        for i, im, (b, p, q) in zip(where, decoded, self.detect(decoded)):
            if len(b) == 0:
                results[i] = _failure("no_face", "no face detected", source_size=im.shape[:2])
                continue
            if self.select == "largest":
                k = int(np.argmax((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])))
            else:
                k = int(np.argmax(p))
            r = self.align_points(im, q[k])
            r.update(box=b[k].astype(np.float32), score=float(p[k]), faces=len(b), reason="")
            results[i] = r
        return results  # type: ignore[return-value]

    __call__ = align


def load_input(item: Any) -> np.ndarray:
    """Path / PIL image / array → ``(H, W, 3)`` uint8 RGB."""
    if isinstance(item, (str, os.PathLike)):
        return read_image(item)
    try:
        arr = as_rgb_uint8(item)
    except ValueError as exc:
        raise UnreadableImageError(f"array input: {exc}") from exc
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise UnreadableImageError(f"array input too small {arr.shape[:2]}")
    return arr


def _as_list(images: Any) -> list[Any]:
    if isinstance(images, (str, os.PathLike, Image.Image)):
        return [images]
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return list(images)
        return [images]
    if isinstance(images, Iterable):
        return list(images)
    return [images]


def _failure(status: str, reason: str, source_size: tuple[int, int] | None = None) -> dict[str, Any]:
    return {
        "status": status,
        "image": None,
        "landmarks": None,
        "box": None,
        "score": float("nan"),
        "transform": None,
        "source_landmarks": None,
        "source_size": tuple(source_size) if source_size is not None else None,
        "faces": 0,
        "reason": reason,
    }


_ALIGNERS: dict[tuple, FaceAligner] = {}


def align(images: Any, size: int = 224, margin: float = 0.1, device: str | torch.device = "cpu",
          batch_size: int = 16, select: str = "largest", **options: Any) -> list[dict[str, Any]]:
    """Detect and align the face in each input. See :meth:`FaceAligner.align` for the result."""
    key = (size, margin, str(device), batch_size, select, tuple(sorted(options.items())))
    if key not in _ALIGNERS:
        _ALIGNERS[key] = FaceAligner(size=size, margin=margin, device=device,
                                     batch_size=batch_size, select=select, **options)
    return _ALIGNERS[key].align(images)


def align_with_landmarks(image: Any, landmarks: np.ndarray, size: int = 224,
                         margin: float = 0.1) -> dict[str, Any]:
    """Align using given landmarks (5 or 68 points, source pixels) instead of MTCNN — e.g. the
    landmarks AffectNet ships. For 68 points the result also holds ``landmarks68`` in the crop."""
    lm = np.asarray(landmarks, dtype=np.float64)
    pts5 = landmarks68_to_5(lm) if lm.size == 136 else lm.reshape(5, 2)
    im = load_input(image)
    r = FaceAligner(size=size, margin=margin).align_points(im, pts5)
    xs, ys = lm.reshape(-1, 2)[:, 0], lm.reshape(-1, 2)[:, 1]
    r.update(box=np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=np.float32),
             score=float("nan"), faces=1, reason="")
    if lm.size == 136:
        r["landmarks68"] = apply_transform(r["transform"], lm.reshape(68, 2)).astype(np.float32)
    return r
