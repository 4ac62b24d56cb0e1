"""An exponential moving average of a model's weights (``recipe.ema_decay``).

With ``recipe.ema_decay: β`` (``0 < β < 1``) the optimiser steps of a stage update an averaged copy
of the model; ``θ_t`` are the weights after step ``t + 1`` (``t = 0, 1, …``):

.. math::

    \\bar\\theta_0 = \\theta_0, \\qquad
    \\bar\\theta_t = \\beta_t\\,\\bar\\theta_{t-1} + (1 - \\beta_t)\\,\\theta_t, \\qquad
    \\beta_t = \\min\\Bigl(\\beta, \\frac{1 + t}{10 + t}\\Bigr)

for every floating-point parameter *and buffer* (batch-norm running statistics are averaged with
the weights they normalise); integer buffers (``num_batches_tracked``) take the live value. The
warm-up ``(1 + t) / (10 + t)`` (Tensorflow's ``ExponentialMovingAverage`` with ``num_updates``;
timm's ``ModelEmaV3`` offers the same) keeps the average from being dominated by the first
steps in short runs: with ``1 − β_t = 9 / (10 + t)`` it reaches back over roughly the last ninth
of the steps made (the weight left on ``θ_0`` is ``∏_{s ≤ t} β_s = 10! (t + 1)! / (t + 10)!``,
under 10⁻⁴ after 10 updates, where a fixed β = 0.99 leaves ``0.99^t``, 0.03 after 350), until
``(1 + t) / (10 + t)`` passes β (t > 890 for 0.99) and the horizon stays at ``1 / (1 − β)`` steps.
In a run of ``T`` updates with ``T ≤ (10β − 1) / (1 − β)`` (890 for 0.99, 1,790 for 0.995) β is
never reached: the warm-up alone sets every ``β_t``, and any two decays above ``(1 + T) / (10 + T)``
give the same average (measured: 0.99 and 0.995 train identical runs on the synthetic default's
360-step ME-GraphAU stage 1, ``benchmarks/synth_stability.py``).

What it changes (:mod:`afg.train.loop`): validation, model selection (the selected checkpoint) and therefore
the held-out evaluation and every checkpoint a run is later loaded from score the *averaged*
weights; the resumable checkpoint keeps the live weights (under ``model``, so a run resumes exactly) and the
average (under ``ema``, with ``ema_updates``). Training itself — losses, gradients, the optimiser
— is untouched. The averaging is :class:`torch.optim.swa_utils.AveragedModel` with the update
rule above as its ``multi_avg_fn``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

__all__ = ["build_ema", "ema_decay_at", "ema_state", "ema_update_fn", "load_ema_state"]


def ema_decay_at(decay: float, t: int) -> float:
    """``β_t = min(β, (1 + t) / (10 + t))``: the decay of update ``t`` (0-based)."""
    return min(float(decay), (1.0 + t) / (10.0 + t))


def ema_update_fn(decay: float) -> Callable[[list[torch.Tensor], list[torch.Tensor], Any], None]:
    """The ``multi_avg_fn`` of :class:`~torch.optim.swa_utils.AveragedModel` for decay ``β``.

    ``AveragedModel`` copies the model at its first update and afterwards calls this with the
    number of updates already made (``n_averaged`` ≥ 1, so update ``t`` = ``n_averaged``).
    """
    if not 0.0 < decay < 1.0:
        raise ValueError(f"ema decay {decay} is not in (0, 1)")

    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n_averaged: Any) -> None:
        beta = ema_decay_at(decay, int(n_averaged))
        if torch.is_floating_point(averaged[0]) or torch.is_complex(averaged[0]):
            torch._foreach_lerp_(averaged, current, 1.0 - beta)
        else:  # integer buffers (num_batches_tracked): the live count
            for a, c in zip(averaged, current, strict=True):
                a.copy_(c)

    return update


def build_ema(model: nn.Module, decay: float | None) -> AveragedModel | None:
    """An averaged copy of ``model`` (on its device, in its memory format), or ``None`` when
    ``decay`` is ``None``. Call ``.update_parameters(model)`` after every optimiser step."""
    if decay is None:
        return None
    ema = AveragedModel(model, multi_avg_fn=ema_update_fn(decay), use_buffers=True)
    ema.requires_grad_(False)
    return ema


def ema_state(ema: AveragedModel) -> dict[str, Any]:
    """The checkpoint entries of ``ema``: ``ema`` (the averaged model's state dict, the keys of
    the model's own) and ``ema_updates`` (updates made)."""
    return {"ema": ema.module.state_dict(), "ema_updates": int(ema.n_averaged.item())}


def load_ema_state(ema: AveragedModel, ck: dict[str, Any]) -> bool:
    """Load :func:`ema_state`'s entries of checkpoint ``ck`` into ``ema``; ``False`` (``ema``
    unchanged, so it restarts from the next step's weights) when ``ck`` has none."""
    if "ema" not in ck:
        return False
    ema.module.load_state_dict(ck["ema"])
    ema.n_averaged.fill_(int(ck.get("ema_updates", 0)))
    return True
