"""What a training stage carries from batch to batch, and its checkpoint record.

:class:`TrainState` is everything :func:`afg.train.fit` needs, besides the model, optimiser,
scheduler and gradient scaler, to continue a stage exactly where it stopped:

* position: ``epoch`` (completed epochs), ``batch_in_epoch`` (batches of the current epoch
  already trained), ``global_step`` (optimiser steps);
* model selection: ``best_value`` of the monitor, ``best_epoch`` (1-based, ``-1`` = none yet) and
  that epoch's log row ``best_metrics``;
* logs: ``history`` (one row per epoch) and ``last_metrics`` (the latest row);
* the running sums of the current epoch's training terms, ``accum``: ``_n`` = Σ_b n_b (distinct
  samples of the batches so far) and ``train_<term>`` = Σ_b n_b · mean_b(term), so the epoch's
  mean of a term is ``accum[train_<term>] / accum[_n]``;
* the random-number streams (torch, CUDA, NumPy, Python): :meth:`TrainState.to_checkpoint` reads
  the process's, :meth:`TrainState.from_checkpoint` sets them.

The record's keys and contents are the ``afg-checkpoint-v1`` layout described in
:mod:`afg.train.checkpoint`, unchanged, so resumable checkpoints written by earlier versions resume.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .. import __version__
from .checkpoint import rng_state, set_rng_state
from .recipe import Recipe

__all__ = ["TrainState", "to_json"]


def to_json(obj: Any) -> Any:
    """``obj`` as JSON types (arrays and tensors via ``tolist()``, anything else via ``str``)."""
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


@dataclass
class TrainState:
    """Position, model selection, logs and running sums of one training stage (see module doc).

    ``best_weights``: runs without a folder keep the best epoch's weights here instead of in
    selected checkpoint; it is not part of the checkpoint.
    """

    epoch: int = 0
    batch_in_epoch: int = 0
    global_step: int = 0
    best_value: float | None = None
    best_epoch: int = -1
    best_metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    accum: dict[str, float] = field(default_factory=dict)
    last_metrics: dict[str, Any] = field(default_factory=dict)
    best_weights: dict[str, torch.Tensor] | None = field(default=None, repr=False)

    def improves(self, value: float | None, mode: str) -> bool:
        """Whether ``value`` beats ``best_value`` (``mode`` ``"max"`` or ``"min"``). A missing or
        NaN value only counts while there is no best yet; a missing/NaN best is beaten by any."""
        if _missing(value):
            return self.best_value is None
        if _missing(self.best_value):
            return True
        return value > self.best_value if mode == "max" else value < self.best_value

    def record_best(self, value: float | None, row: dict[str, Any]) -> None:
        """The epoch just completed (``epoch``) becomes the best, with log row ``row``."""
        self.best_value, self.best_epoch, self.best_metrics = value, self.epoch, dict(row)

    def to_checkpoint(self, *, model: nn.Module, optimizer: torch.optim.Optimizer,
                      scheduler: Any, scaler: torch.amp.GradScaler, recipe: Recipe, stage: str,
                      task: str, accum: dict[str, float] | None = None) -> dict[str, Any]:
        """The checkpoint record (``afg-checkpoint-v1``) of this state, ``model`` (unwrapped) and
        the optimisation objects; ``accum`` overrides :attr:`accum` (DDP: the sums of all ranks)."""
        return {
            "afg_version": __version__, "model": model.state_dict(),
            "model_config": getattr(model, "model_config", None), "task": task,
            "label_names": getattr(model, "label_names", None),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(), "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "global_step": self.global_step, "rng": rng_state(), "recipe": recipe.to_dict(),
            "stage": stage, "metrics": to_json(self.last_metrics), "history": to_json(self.history),
            "best": {"value": self.best_value, "epoch": self.best_epoch,
                     "metrics": to_json(self.best_metrics)},
            "accum": dict(self.accum) if accum is None else accum,
        }

    @classmethod
    def from_checkpoint(cls, ck: dict[str, Any], *, model: nn.Module, optimizer: torch.optim.Optimizer,
                        scheduler: Any, scaler: torch.amp.GradScaler, is_main: bool = True) -> TrainState:
        """Load ``ck`` (a :meth:`to_checkpoint` record) into the model and optimisation objects,
        set the process's random-number streams, and return the state. Ranks other than the main
        one start their running sums at zero (the main rank's hold every rank's, see
        :meth:`afg.train.epoch.StageParts.save`)."""
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        scheduler.load_state_dict(ck["scheduler"])
        if ck.get("scaler"):
            scaler.load_state_dict(ck["scaler"])
        state = cls(
            epoch=ck["epoch"], batch_in_epoch=ck["batch_in_epoch"], global_step=ck["global_step"],
            best_value=ck["best"]["value"], best_epoch=ck["best"]["epoch"],
            best_metrics=ck["best"].get("metrics", {}), history=list(ck["history"]),
            accum={k: (v if is_main else 0.0) for k, v in ck.get("accum", {}).items()},
            last_metrics=ck.get("metrics", {}),
        )
        set_rng_state(ck["rng"])
        return state
