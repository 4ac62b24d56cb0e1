"""AU-GCN region figures: the landmark-based AU ROIs drawn on a face (Liu et al. 2020, Fig. 2(a))
and the per-ROI auto-encoders' reconstructions next to their crops."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..data.rois import RoiSet, canonical_landmarks, roi_boxes, roi_set
from ..data.transforms import denormalize

__all__ = ["FACE_CONTOURS", "plot_roi_reconstructions", "plot_rois"]

#: 68-point contours (index ranges, closed?) for drawing a schematic face
FACE_CONTOURS: list[tuple[range, bool]] = [
    (range(17), False), (range(17, 22), False), (range(22, 27), False), (range(27, 31), False),
    (range(31, 36), False), (range(36, 42), True), (range(42, 48), True), (range(48, 60), True),
    (range(60, 68), True),
]


def _image_array(image: Any) -> np.ndarray:
    """``(H, W, 3)`` uint8/float image, or a ``(3, H, W)`` ImageNet-normalised tensor -> ``(H, W, 3)``."""
    if isinstance(image, torch.Tensor):
        x = image.detach().cpu().float()
        if x.dim() == 3 and x.shape[0] in (1, 3):
            mean = torch.tensor([0.485, 0.456, 0.406])[: x.shape[0], None, None]
            std = torch.tensor([0.229, 0.224, 0.225])[: x.shape[0], None, None]
            x = (x * std + mean).clamp(0, 1).permute(1, 2, 0)
        return x.numpy()
    return np.asarray(image)


def plot_rois(
    image: Any = None,
    landmarks: Any = None,
    rois: RoiSet | str = "disfa",
    size: int = 200,
    roi_frac: float = 0.125,
    show_landmarks: bool = True,
    show_labels: bool = True,
    ax: Any = None,
    title: str | None = None,
) -> Figure:
    """Draw every local ROI (squares of side ``roi_frac * W``) and its AUs on a face.

    Args:
        image: ``(H, W, 3)`` array or ``(3, H, W)`` normalised tensor; None draws a schematic face
            from the landmarks.
        landmarks: ``(68, 2)`` pixel coordinates; None uses the canonical aligned-face template.
        rois: a :class:`~afg.data.rois.RoiSet` or ``"bp4d"``/``"disfa"``/an AU list.
        size: face size when ``image`` is None.

    Returns:
        the Figure (the whole-face ROI is the image border, drawn dashed).
    """
    rs = roi_set(rois) if not isinstance(rois, RoiSet) else rois
    img = None if image is None else _image_array(image)
    h, w = (size, size) if img is None else img.shape[:2]
    lm = canonical_landmarks((h, w)) if landmarks is None else torch.as_tensor(landmarks, dtype=torch.float32)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.2, 4.2))
    else:
        fig = ax.figure
    if img is not None:
        ax.imshow(img, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    else:
        ax.set_facecolor("#f4efe9")
        pts = lm.numpy()
        for idx, closed in FACE_CONTOURS:
            p = pts[list(idx) + ([idx[0]] if closed else [])]
            ax.plot(p[:, 0], p[:, 1], color="#8a7a6a", lw=1.2)
    if show_landmarks:
        ax.scatter(lm[:, 0], lm[:, 1], s=4, color="#1f77b4", zorder=3)
    boxes = roi_boxes(lm, rs, (h, w), roi_frac * w)[0] - 0.5  # continuous -> pixel-index coords
    groups = list(dict.fromkeys(r.aus for r in rs.rois if r.points))
    cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
    for r, box in zip(rs.rois, boxes.tolist()):
        x1, y1, x2, y2 = box
        if not r.points:  # whole face
            ax.add_patch(Rectangle((x1 + 1, y1 + 1), x2 - x1 - 2, y2 - y1 - 2, fill=False, ls="--", lw=1.5,
                                   ec="0.3"))
            continue
        color = cmap(groups.index(r.aus) % cmap.N)
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1.6, ec=color, zorder=4))
        if show_labels:
            label = ",".join(a.replace("AU0", "").replace("AU", "") for a in r.aus)
            ax.text(x1, y1 - 1, label, color=color, fontsize=6.5, va="bottom", ha="left", zorder=5,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7})
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"AU-GCN ROIs: {len(rs)} ({len(rs.local_indices)} local + face)", fontsize=9)
    return fig


def plot_roi_reconstructions(target: Any, recon: Any, roi_names: Sequence[str] | None = None,
                             max_rois: int = 8, ax_size: float = 0.9) -> Figure:
    """ROI crops (top row) and their auto-encoder reconstructions (bottom row) of one face.

    ``target``/``recon``: ``(R, 3, n, n)`` ImageNet-normalised tensors (AU-GCN's ``roi_target`` and
    ``roi_recon`` outputs for one image).
    """
    t = torch.as_tensor(target).detach().float().cpu()  # (R, 3, n, n)
    r = torch.as_tensor(recon).detach().float().cpu()  # (R, 3, n, n)
    n = min(max_rois, t.shape[0])
    fig, axes = plt.subplots(2, n, figsize=(ax_size * n, ax_size * 2.2), squeeze=False)
    for j in range(n):
        for i, img in enumerate((t[j], r[j])):
            axes[i, j].imshow(denormalize(img).permute(1, 2, 0).numpy())
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        if roi_names is not None:
            axes[0, j].set_title(str(roi_names[j]), fontsize=6)
    axes[0, 0].set_ylabel("ROI", fontsize=7)
    axes[1, 0].set_ylabel("AE", fontsize=7)
    fig.tight_layout()
    return fig
