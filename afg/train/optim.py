"""Optimiser with per-group learning-rate multipliers, and per-iteration schedules.

``build_optimizer(model, cfg)`` uses ``model.param_groups()`` (``{"backbone": [...], "head": [...]}``,
see :class:`afg.models.base.AffectModel`); group ``g`` gets ``lr = cfg.lr * cfg.lr_mult.get(g, 1)``.
Frozen parameters (``requires_grad=False``) are left out. ``build_scheduler`` returns a
``LambdaLR`` whose factor is

* warm-up (``t < W``): ``f = s + (1 - s) t / W`` (``s = warmup_start``), then
* ``constant``: 1; ``cosine``: ``m + (1 - m)(1 + cos(pi u)) / 2`` with ``u = (t - W)/(T - W)``,
  ``m = min_lr``; ``poly``: ``(1 - u)^power``; ``step``: ``gamma^floor(e / step_epochs)``;
  ``multistep``: ``gamma^#{milestones <= e}``; ``exponential``: ``gamma^e``,

where ``t`` is the iteration (or the epoch when ``per_iteration`` is false), ``T`` the total and
``e = t / steps_per_epoch`` the (fractional) epoch. The lambda is rebuilt from the recipe on
resume; only the step counter is in the checkpoint.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .recipe import OptimizerConfig, ScheduleConfig

__all__ = ["build_optimizer", "build_scheduler", "schedule_factor"]


def _named_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    fn = getattr(model, "param_groups", None)
    groups = fn() if callable(fn) else {"all": list(model.parameters())}
    seen: set[int] = set()
    out: dict[str, list[nn.Parameter]] = {}
    for name, params in groups.items():
        keep = []
        for p in params:
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            keep.append(p)
        if keep:
            out[name] = keep
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in seen]
    if rest:  # parameters the model forgot to list still train (as "head")
        out.setdefault("head", []).extend(rest)
    return out


def build_optimizer(model: nn.Module, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    groups = []
    named = _named_groups(model)
    unknown = set(cfg.lr_mult) - set(named)
    if unknown and not set(cfg.lr_mult) & set(named):
        raise ValueError(
            f"optimizer.lr_mult names {sorted(unknown)} but the model's groups are {sorted(named)}"
        )
    for name, params in named.items():
        groups.append({"params": params, "lr": cfg.lr * float(cfg.lr_mult.get(name, 1.0)), "name": name})
    if not groups:
        raise ValueError("no trainable parameters (everything frozen?)")
    if cfg.name == "sgd":
        return torch.optim.SGD(
            groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
            nesterov=cfg.nesterov,
        )
    cls = torch.optim.AdamW if cfg.name == "adamw" else torch.optim.Adam
    fused = {"fused": True} if cfg.fused else {}  # torch's one-pass kernel (CPU and CUDA)
    return cls(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay, **fused)


def schedule_factor(cfg: ScheduleConfig, epochs: int, steps_per_epoch: int) -> Callable[[int], float]:
    """The lr factor as a function of the scheduler step (iteration or epoch)."""
    spe = max(1, steps_per_epoch) if cfg.per_iteration else 1
    total = max(1, epochs * spe)
    warm = cfg.warmup_steps or round(cfg.warmup_epochs * spe)
    warm = min(warm, total)

    def factor(t: int) -> float:
        if t < warm:
            return cfg.warmup_start + (1.0 - cfg.warmup_start) * t / warm
        u = min(1.0, (t - warm) / max(1, total - warm))
        e = t / spe
        if cfg.name == "constant":
            return 1.0
        if cfg.name == "cosine":
            return cfg.min_lr + (1.0 - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * u))
        if cfg.name == "poly":
            return (1.0 - u) ** cfg.power
        if cfg.name == "step":
            return cfg.gamma ** math.floor(e / cfg.step_epochs + 1e-9)
        if cfg.name == "multistep":
            return cfg.gamma ** sum(1 for m in cfg.milestones if e + 1e-9 >= m)
        if cfg.name == "exponential":
            return cfg.gamma**e
        raise ValueError(cfg.name)

    return factor


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, epochs: int, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule_factor(cfg, epochs, steps_per_epoch))
