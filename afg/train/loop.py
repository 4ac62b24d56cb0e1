"""``fit(model, train_data, val_data, recipe)`` — one trainer for all five papers.

Per stage (see :class:`afg.train.recipe.Recipe`): optional model switch, initialisation from the
previous stage's checkpoint, freezing; then epochs of (train → evaluate → checkpoint → log).

Run directory (``run_dir``, laid out by :class:`afg.runs.RunFolder`: single-stage runs write
directly into it, multi-stage runs into one sub-folder per stage): the resolved recipe; per stage
the resumable checkpoint and the selected one (atomic; plain tensors/types; weights_only loading;
each carries the model's :class:`afg.runs.InputSpec`; with ``recipe.ema_decay``,
:mod:`afg.train.ema`, validation scores the moving average, the selected checkpoint's ``model`` is
the average, the resumable one's the live weights); ``metrics.csv`` (one row per epoch: epoch,
step, lr, train losses, scalar val metrics) and ``metrics.json`` (the same rows with non-scalar
metrics, e.g. confusion matrices); the training record, written when the stage/run completes
(status, best epoch, metrics); ``tb/``, TensorBoard events (``recipe.tensorboard``).

Resuming: ``fit(..., resume=True)`` (the default) continues from the resumable checkpoint — model, optimiser,
scheduler, scaler, RNG states, running epoch sums, sampler position — so a run killed at any point
ends with the same weights and metrics as an uninterrupted one (bit-exact on CPU with
``recipe.deterministic``). A complete stage is skipped. A non-finite loss raises
:class:`NonFiniteLossError` naming the epoch, step and loss terms; the checkpoints keep the last
good state.

Models that need more than images declare the batch keys in ``forward_keys`` (e.g. AU-GCN's
``("landmarks",)``); the trainer passes them as keyword arguments.

Layout of the code: :mod:`afg.train.state` (:class:`TrainState`: position, selection, logs, running
sums and their checkpoint record), :mod:`afg.train.epoch` (loader, one stage's objects, one epoch —
global batch size under ``torchrun``, gradient accumulation, DDP padding), :mod:`afg.train.stage_model`
(model switch, ``init_from``, freezing), :mod:`afg.train.logs` (the run folder's files). This module
sequences them: :func:`fit` runs the stages, a stage runs epochs of train → validate → select →
checkpoint → log.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import Dataset

from ..data.stats import training_statistics
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..progress import line
from ..runs import InputSpec, RunFolder, load_checkpoint
from ..utils import resolve_device, seed_everything, set_deterministic
from .distributed import DistContext
from .ema import load_ema_state
from .epoch import NonFiniteLossError, StageParts, build_parts, train_one_epoch
from .epoch import scalar_terms as scalar_terms  # re-exported: it lived here
from .evaluate import _unwrap, evaluate
from .logs import epoch_line, is_scalar, open_tensorboard, write_logs
from .recipe import Recipe, default_monitor
from .stage_model import freeze_modules, stage_model
from .state import TrainState, to_json

__all__ = ["FitResult", "NonFiniteLossError", "fit", "freeze_modules", "load_recipe"]


@dataclass
class FitResult:
    """What :func:`fit` returns. ``metrics``: the best epoch's validation metrics of the last stage
    (or the last epoch's training losses when there is no validation data)."""

    metrics: dict[str, Any]
    last_metrics: dict[str, Any]
    best_epoch: int
    history: list[dict[str, Any]]
    run_dir: Path | None
    model: nn.Module | None = field(default=None, repr=False)
    stages: list[dict[str, Any]] = field(default_factory=list)
    status: str = "complete"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "metrics": self.metrics,
            "last_metrics": self.last_metrics,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "stages": self.stages,
            "run_dir": str(self.run_dir) if self.run_dir else None,
        }


def load_recipe(recipe: Recipe | dict | str | Path | None) -> Recipe:
    """A :class:`Recipe` from a recipe, a dict, a YAML path, or ``None`` (the defaults)."""
    if recipe is None:
        return Recipe()
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, dict):
        return Recipe.from_dict(recipe)
    return Recipe.from_yaml(recipe)


def _device_and_ranks(name: str | torch.device) -> tuple[torch.device, DistContext]:
    """The training device and the DDP context (one GPU per local rank; more ranks than GPUs
    share them round-robin — gloo only: NCCL refuses two ranks on one GPU)."""
    device = resolve_device(name)
    ctx = DistContext.from_env(device.type)
    if ctx.enabled and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    return device, ctx


def _training_statistics(data: Dataset) -> dict[str, Any] | None:
    try:
        return training_statistics(data)
    except (TypeError, AttributeError):
        return None


def fit(
    model: nn.Module,
    train_data: Dataset,
    val_data: Dataset | None = None,
    recipe: Recipe | dict | str | Path | None = None,
    run_dir: str | Path | None = None,
    resume: bool = True,
    stats: dict[str, Any] | None = None,
    device: str | torch.device | None = None,
    callbacks: list[Callable[[dict[str, Any]], None]] | None = None,
    input_spec: dict[str, Any] | None = None,
) -> FitResult:
    """Train ``model`` on ``train_data`` following ``recipe``; evaluate on ``val_data`` each epoch.

    Args:
        model: an :class:`afg.models.base.AffectModel` (``task``, ``build_criterion``,
            ``param_groups``, ``prepare``, optional ``forward_keys``).
        train_data, val_data: datasets of dict items (DESIGN.md keys), exposing ``labels()``.
        recipe: a :class:`Recipe`, a dict, or a YAML path.
        run_dir: where checkpoints and logs go; ``None`` keeps everything in memory.
        resume: continue from ``run_dir``'s resumable checkpoints when present.
        stats: training-set statistics; computed with
            :func:`afg.data.stats.training_statistics` when omitted.
        device: overrides ``recipe.device``.
        callbacks: called on rank 0 with each epoch's log row.
        input_spec: what the checkpoints' :class:`afg.runs.InputSpec` takes from the data rather
            than the model (``resize``, ``dataset``; the runner passes its ``data`` section's).

    Returns:
        :class:`FitResult`; ``result.model`` holds the best weights of the last stage.
    """
    recipe = load_recipe(recipe)
    dev, ctx = _device_and_ranks(device if device is not None else recipe.device)
    if recipe.deterministic:
        set_deterministic(True)
    run_dir = Path(run_dir) if run_dir is not None else None
    folder = RunFolder(run_dir) if run_dir is not None else None
    if folder is not None and ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        recipe.to_yaml(folder.recipe_file)
    if stats is None:
        stats = _training_statistics(train_data)
    specs = recipe.stage_specs()
    multi = len(specs) > 1
    prev_dir, history, stages, out = None, [], [], {}
    for si, (st_recipe, spec) in enumerate(zip(recipe.resolved_stages(), specs)):
        name = spec.name or f"stage{si + 1}"
        stage_dir = folder.stage_dir(si, spec.name, multi) if folder is not None else None
        model = stage_model(model, spec, si, name, prev_dir, out.get("best_state"), warn=ctx.is_main)
        out = _train_stage(model, train_data, val_data, st_recipe, stage_dir, resume, stats,
                           dev, ctx, name, callbacks, model_input_spec(model, input_spec))
        model, prev_dir = out["model"], stage_dir
        history += [{"stage": name, **row} if multi else row for row in out["history"]]
        stages.append({"name": name, "metrics": out["metrics"], "best_epoch": out["best_epoch"]})
    result = FitResult(
        metrics=out["metrics"], last_metrics=out["last_metrics"], best_epoch=out["best_epoch"],
        history=history, run_dir=run_dir, model=model, stages=stages,
    )
    if folder is not None and ctx.is_main:
        if multi:
            write_logs(run_dir, history)
        folder.write_training_record(to_json(result.to_dict()))
    ctx.barrier()
    return result


def model_input_spec(model: nn.Module, given: dict[str, Any] | None = None) -> InputSpec | None:
    """The :class:`afg.runs.InputSpec` of ``model`` (its ``img_size``, task and label names; ImageNet
    normalisation, what every afg model and data pipeline use) with ``given``'s ``resize`` and
    ``dataset``; ``None`` for a model without ``model_config['img_size']``."""
    img_size = (getattr(_unwrap(model), "model_config", None) or {}).get("img_size")
    if not img_size:
        return None
    given = given or {}
    names = getattr(_unwrap(model), "label_names", None)
    return InputSpec(img_size=int(img_size), mean=IMAGENET_MEAN, std=IMAGENET_STD,
                     task=getattr(_unwrap(model), "task", "au"), resize=int(given["resize"]) if given.get("resize") else None,
                     label_names=tuple(str(x) for x in names) if names else None, dataset=given.get("dataset"))


def _completed_stage(model: nn.Module, stage_dir: Path, done: dict[str, Any],
                     device: torch.device) -> dict[str, Any]:
    """A stage whose training record says complete: its final weights and results."""
    model.load_state_dict(load_checkpoint(RunFolder(stage_dir).weights(stage_dir))["model"])
    return {"model": model.to(device), "metrics": done["metrics"], "last_metrics": done["last_metrics"],
            "best_epoch": done["best_epoch"], "history": done["history"]}


def _monitor(recipe: Recipe, task: str, validates: bool) -> tuple[str, str]:
    """The selection metric and its mode; ``auto``: the task's default, ``train_loss`` without
    validation data."""
    if recipe.monitor != "auto":
        return recipe.monitor, recipe.monitor_mode
    return default_monitor(task) if validates else ("train_loss", "min")


def _wrap(model: nn.Module, recipe: Recipe, ctx: DistContext, device: torch.device) -> nn.Module:
    """The module that runs the forward pass: ``model``, DDP-wrapped and/or compiled."""
    if ctx.enabled:
        model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None,
                    find_unused_parameters=recipe.find_unused_parameters)
    if recipe.compile:
        model = torch.compile(model)
    return model


def _train_stage(model: nn.Module, train_data: Dataset, val_data: Dataset | None, recipe: Recipe,
                 stage_dir: Path | None, resume: bool, stats: dict[str, Any] | None, device: torch.device,
                 ctx: DistContext, name: str,
                 callbacks: list[Callable[[dict[str, Any]], None]] | None,
                 input_spec: InputSpec | None = None) -> dict[str, Any]:
    """Train one stage (or load it when its training record says it is complete)."""
    done = RunFolder(stage_dir).training_record(stage_dir) if stage_dir is not None and resume else None
    if done is not None:
        return _completed_stage(model, stage_dir, done, device)
    seed_everything(recipe.seed)
    parts = build_parts(_unwrap(model), train_data, stats, recipe, device, ctx, name, stage_dir, input_spec)
    monitor, mode = _monitor(recipe, parts.task, val_data is not None)
    state = TrainState()
    if resume and parts.last_path is not None and parts.last_path.exists():
        ck = load_checkpoint(parts.last_path)
        state = TrainState.from_checkpoint(
            ck, model=parts.model, optimizer=parts.optimizer,
            scheduler=parts.scheduler, scaler=parts.scaler, is_main=ctx.is_main)
        if parts.ema is not None and not load_ema_state(parts.ema, ck) and ctx.is_main:
            warnings.warn(f"{parts.last_path} holds no moving average (recipe.ema_decay): it restarts "
                          "from the resumed weights", stacklevel=3)
    parts.train_model = _wrap(parts.model, recipe, ctx, device)
    writer = None
    if recipe.tensorboard and stage_dir is not None and ctx.is_main:
        writer = open_tensorboard(stage_dir)
    while state.epoch < recipe.epochs:
        row = _run_epoch(state, parts, val_data)
        value = row.get(monitor)
        # recipe.selection "last": every epoch is the best so far (the selected = the final weights)
        if recipe.selection == "last" or (monitor in row and state.improves(value, mode)):
            _keep_best(state, parts, value, row)
        parts.save(parts.last_path, state)
        _log_epoch(state, parts, row, writer, callbacks)
        line(epoch_line(parts.name, row, recipe.epochs, monitor), recipe.progress and ctx.is_main)
    if writer is not None:
        writer.close()
    return _finish_stage(state, parts, monitor)


def _validate(parts: StageParts, data: Dataset, progress: bool) -> dict[str, Any]:
    """The validation metrics (and ``val_loss``) of the model being trained on ``data``."""
    recipe, ctx = parts.recipe, parts.ctx
    return evaluate(parts.eval_model, data,
                    batch_size=max(1, (recipe.eval_batch_size or recipe.batch_size) // ctx.world_size),
                    device=parts.device, num_workers=parts.data.workers, criterion=parts.criterion,
                    amp=recipe.amp, channels_last=recipe.channels_last, dist_ctx=ctx,
                    progress=progress, task=parts.task)


def _run_epoch(state: TrainState, parts: StageParts, val_data: Dataset | None) -> dict[str, Any]:
    """Train one epoch, validate when due (every ``eval_every`` epochs and after the last);
    the epoch's log row (also appended to ``state.history``)."""
    recipe, show = parts.recipe, parts.recipe.progress and parts.ctx.is_main
    t0 = time.perf_counter()
    row, data_time = train_one_epoch(state, parts, progress=show)
    if val_data is not None and (state.epoch % recipe.eval_every == 0 or state.epoch == recipe.epochs):
        row.update(_validate(parts, val_data, show))
    row["time_s"] = time.perf_counter() - t0
    row["data_wait_share"] = data_time / max(1e-9, row["time_s"])
    state.history.append(to_json(row))
    state.last_metrics = dict(row.items())
    return row


def _keep_best(state: TrainState, parts: StageParts, value: Any, row: dict[str, Any]) -> None:
    """The epoch just trained becomes the best: the selected checkpoint (or a copy of the weights in memory)."""
    state.record_best(value, row)
    if parts.stage_dir is not None:
        parts.save(RunFolder.best(parts.stage_dir), state, selected=True)
    else:
        state.best_weights = {k: v.detach().clone() for k, v in parts.selected_model.state_dict().items()}


def _log_epoch(state: TrainState, parts: StageParts, row: dict[str, Any], writer: Any,
               callbacks: list[Callable[[dict[str, Any]], None]] | None) -> None:
    """metrics.csv/json, TensorBoard scalars and the callbacks (main rank), then a barrier."""
    ctx = parts.ctx
    if parts.stage_dir is not None and ctx.is_main:
        write_logs(parts.stage_dir, state.history)
    if writer is not None:
        for k, v in row.items():
            if is_scalar(v):
                writer.add_scalar(k, v, state.epoch)
    if ctx.is_main:
        for cb in callbacks or []:
            cb(dict(row))
    ctx.barrier()


def _finish_stage(state: TrainState, parts: StageParts, monitor: str) -> dict[str, Any]:
    """Leave the model holding the best weights, write the training record; the stage's results."""
    best = RunFolder.best(parts.stage_dir) if parts.stage_dir is not None else None
    if state.best_epoch > 0:
        if best is not None and best.exists():
            parts.ctx.barrier()
            parts.model.load_state_dict(load_checkpoint(best)["model"])
        elif state.best_weights is not None:
            parts.model.load_state_dict(state.best_weights)
    elif parts.ema is not None:  # nothing was selected: the average, as selection would have kept
        parts.model.load_state_dict(parts.selected_model.state_dict())
    best_metrics = state.best_metrics or dict(state.last_metrics)
    result = {"status": "complete", "metrics": to_json(best_metrics),
              "last_metrics": to_json(state.last_metrics), "best_epoch": state.best_epoch,
              "history": state.history, "monitor": monitor}
    if parts.stage_dir is not None and parts.ctx.is_main:
        RunFolder(parts.stage_dir).write_training_record(result, parts.stage_dir)
    return {**result, "model": parts.model, "best_state": state.best_weights}
