r"""BReG-NeXt (Hasani, Negi & Mahoor, IEEE TAFFC 2020): a residual network whose shortcuts pass
through a learnable function with a bounded gradient — Emotion-GCN's Table V backbone.

Specified from the paper (arXiv 2004.08495: BReG-NeXt-50, 3.1 M parameters) and the authors'
public TensorFlow code (github.com/behzadhsni/BReG-NeXt, ``BReG_NeXt()``), reimplemented here:

* every residual unit is full pre-activation with ELU,
  :math:`r(x) = W_2 * \mathrm{ELU}(\mathrm{BN}(W_1 * \mathrm{ELU}(\mathrm{BN}(x))))` (3×3 convolutions
  with bias), and its shortcut is the BReG mapping

  .. math:: g(x) = \frac{\arctan\big(a x / \sqrt{c^2 + 1}\big)}{a \sqrt{c^2 + 1}},\qquad
            g'(x) = \frac{1}{c^2 + 1 + a^2 x^2} \in \Big(0, \frac{1}{c^2+1}\Big]

  with two learnable scalars ``a``, ``c`` per unit (both start at 1); the output is
  :math:`r(x) + g(x)`. A unit that halves the resolution average-pools the shortcut (2×2, stride 2)
  and a unit that widens the channels zero-pads the shortcut's channels on both sides;
* stem: a 3×3 convolution to 32 channels; units: 7 × 32 channels, 1 × 64 (stride 2), 8 × 64,
  1 × 128 (stride 2), 7 × 128 — 24 units, 50 weighted layers ("BReG-NeXt-50"); then BN → ELU;
  the authors' head is global average pooling + a linear layer (afg's models add their own).

Their images are 64×64 (feature map 16×16 × 128 channels). Differences: PyTorch's symmetric
padding of a stride-2 3×3 convolution (TensorFlow's "same" pads bottom/right only); their L2
weight decay of 1e-4 on the stem is left to the optimiser. Registered as timm model ``bregnext50``
so that :func:`afg.backbones.create_backbone` (``backbone: bregnext50``) builds it; there are no
public PyTorch weights, so ``pretrained`` is refused.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from timm.models import is_model, register_model
from torch import nn

__all__ = ["BReGNeXt", "BReGShortcut", "BReGUnit"]

#: (units, channels, stride of the first unit) per stage of BReG-NeXt-50
BREGNEXT50 = ((7, 32, 1), (1, 64, 2), (8, 64, 1), (1, 128, 2), (7, 128, 1))


class BReGShortcut(nn.Module):
    r""":math:`g(x) = \arctan(a x/\sqrt{c^2+1}) / (a\sqrt{c^2+1})`, elementwise; ``a``, ``c`` scalars."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.ones(1))
        self.c = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.sqrt(self.c**2 + 1)
        return torch.atan(self.a * x / s) / (self.a * s)


class BReGUnit(nn.Module):
    """One residual unit: BN → ELU → conv3×3(stride) → BN → ELU → conv3×3, plus g(shortcut).

    Shapes: ``(B, in_ch, H, W)`` → ``(B, out_ch, H/stride, W/stride)``.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        if out_ch < in_ch or (out_ch - in_ch) % 2:
            raise ValueError(f"BReG unit widens by an even number of channels, got {in_ch} -> {out_ch}")
        self.in_ch, self.out_ch, self.stride = in_ch, out_ch, stride
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1)
        self.shortcut = BReGShortcut()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.conv1(F.elu(self.bn1(x)))
        r = self.conv2(F.elu(self.bn2(r)))
        s = self.shortcut(x)
        if self.stride > 1:
            s = F.avg_pool2d(s, self.stride, self.stride)
        if self.out_ch > self.in_ch:
            p = (self.out_ch - self.in_ch) // 2
            s = F.pad(s, (0, 0, 0, 0, p, p))  # zero channels on both sides
        return r + s


class BReGNeXt(nn.Module):
    """BReG-NeXt-50 as a timm-style feature extractor: ``forward_features`` → ``(B, 128, H, W)``
    (stride 4), ``num_features = 128``; ``forward`` adds global average pooling and ``fc`` when
    ``num_classes > 0`` (the authors' head)."""

    def __init__(self, num_classes: int = 0, in_chans: int = 3, stages=BREGNEXT50, stem: int = 32,
                 global_pool: str = "avg") -> None:
        super().__init__()
        self.stem = nn.Conv2d(in_chans, stem, 3, 1, 1)
        units, ch = [], stem
        for n, out, stride in stages:
            for i in range(n):
                units.append(BReGUnit(ch, out, stride if i == 0 else 1))
                ch = out
        self.features = nn.Sequential(*units)
        self.norm = nn.BatchNorm2d(ch)
        self.num_features = ch
        self.global_pool = global_pool
        self.fc = nn.Linear(ch, num_classes) if num_classes > 0 else nn.Identity()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # the authors' variance-scaling init, zero biases
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(self.norm(self.features(self.stem(x))))  # (B, 128, H/4, W/4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.forward_features(x)
        return self.fc(f.mean((2, 3))) if self.global_pool else f


def _register() -> None:
    if is_model("bregnext50"):
        return

    def bregnext50(pretrained: bool = False, **kwargs: Any) -> BReGNeXt:
        """BReG-NeXt-50 (Hasani et al. 2020); no pretrained weights exist for it."""
        if pretrained:
            raise ValueError("bregnext50 has no public PyTorch weights; train it or pass model.weights")
        kw = {k: kwargs[k] for k in ("num_classes", "in_chans", "global_pool") if k in kwargs}
        return BReGNeXt(**kw)

    register_model(bregnext50)


_register()
