"""One epoch of training: the loader, the objects a stage's batches go through, and the epoch.

Batch size is global: under ``torchrun`` each of the ``N`` ranks gets ``batch_size / N`` samples
(:class:`ResumableSampler`, a ``DistributedSampler``). Gradient accumulation ``A`` steps once per
window of ``A`` batches; a window of ``r`` batches (``r = A`` except perhaps the epoch's last)
back-propagates ``loss_b / r`` for each batch ``b``, so the update's gradient is

    g = (1/r) Σ_{b ∈ window} ∇ mean_b(loss),

the gradient of one batch of all the window's samples (equal batch sizes). Samples the sampler
repeats to even out the ranks (global position ``rank + k·N ≥ len(data)``) enter the gradient but
not the epoch's training metrics, which weight each batch's mean by its ``n_b`` distinct samples:
``train_<term> = Σ_b n_b · mean_b / Σ_b n_b`` (exact with one sample per rank and step).

``recipe.amp``: the forward pass runs under ``torch.autocast`` where
:func:`~afg.train.evaluate.autocast_dtype` allows it (bf16 also on a CPU with native bfloat16),
the criterion on its outputs cast to float32; fp16 scales the loss (``GradScaler``), bf16 needs no
scaling. Elsewhere a warning says so and the stage trains in float32 (``auto`` falls back
without a warning: it asks for bf16 only where the device has it).
"""
from __future__ import annotations

import math
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..data.augment import device_augment_of
from ..progress import bar as progress_bar
from ..runs import InputSpec, RunFolder
from ..utils import atomic_save_json
from .checkpoint import save_checkpoint
from .distributed import DistContext
from .ema import build_ema, ema_state
from .evaluate import autocast_dtype, collate, float_outputs, model_inputs, to_device
from .optim import build_optimizer, build_scheduler
from .recipe import Recipe, resolve_workers
from .state import TrainState

__all__ = ["NonFiniteLossError", "ResumableSampler", "StageParts", "TrainLoader", "build_loader",
           "build_parts", "reduce_sums", "scalar_terms", "train_batch", "train_one_epoch"]


class NonFiniteLossError(RuntimeError):
    """The loss became NaN/inf; ``epoch``, ``step`` and ``terms`` say where and which."""

    def __init__(self, epoch: int, step: int, terms: dict[str, float], stage: str = ""):
        self.epoch, self.step, self.terms, self.stage = epoch, step, terms, stage
        where = f"stage {stage!r}, " if stage else ""
        t = ", ".join(f"{k}={v:.4g}" for k, v in terms.items())
        super().__init__(
            f"non-finite loss at {where}epoch {epoch}, step {step} (global); terms: {t}. "
            "Training stopped; the stage's checkpoints hold the last good state."
        )


class ResumableSampler(DistributedSampler):
    """DistributedSampler (seeded by ``seed + epoch``) that can skip a prefix on resume."""

    skip: int = 0

    def __iter__(self):
        it = list(super().__iter__())
        return iter(it[self.skip:])

    def __len__(self) -> int:
        return super().__len__() - self.skip


def _seed_worker(worker_id: int) -> None:  # pragma: no cover - runs in worker processes
    seed = torch.initial_seed() % (2**32)
    np.random.seed(seed)
    random.seed(seed)


@dataclass
class TrainLoader:
    """The training loader of one rank; ``batches``: batches per epoch (at most
    ``max_steps_per_epoch × grad_accum``); ``per_rank``: samples per batch on this rank."""

    loader: DataLoader
    sampler: ResumableSampler
    generator: torch.Generator
    per_rank: int
    batches: int
    workers: int

    def start_epoch(self, epoch: int, first_batch: int, seed: int) -> None:
        """Shuffle for ``epoch`` and skip the ``first_batch`` batches already trained."""
        self.sampler.set_epoch(epoch)
        self.sampler.skip = first_batch * self.per_rank
        self.generator.manual_seed(seed * 100_003 + epoch)


def build_loader(data: Dataset, recipe: Recipe, ctx: DistContext, device: torch.device) -> TrainLoader:
    """The shuffled, resumable loader of ``data`` for this rank (``recipe.batch_size`` global).

    The last incomplete batch is dropped (a batch of one image makes BatchNorm over the batch
    raise, e.g. CCFG's); a training set smaller than one batch still trains on that one batch.
    """
    if recipe.batch_size % ctx.world_size:
        raise ValueError(f"batch_size {recipe.batch_size} is not divisible by {ctx.world_size} ranks")
    per_rank = recipe.batch_size // ctx.world_size
    sampler = ResumableSampler(data, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
                               seed=recipe.order_seed, drop_last=False)
    gen = torch.Generator()
    workers = resolve_workers(recipe.num_workers, device.type)
    loader = DataLoader(
        data, batch_size=per_rank, sampler=sampler, num_workers=workers, collate_fn=collate,
        drop_last=len(sampler) >= per_rank,
        pin_memory=recipe.pin_memory and device.type == "cuda", generator=gen,
        persistent_workers=recipe.persistent_workers and workers > 0,
        prefetch_factor=recipe.prefetch_factor if workers > 0 else None,
        worker_init_fn=_seed_worker if workers > 0 else None,
    )
    batches = len(loader)
    if recipe.max_steps_per_epoch:
        batches = min(batches, recipe.max_steps_per_epoch * recipe.grad_accum)
    return TrainLoader(loader, sampler, gen, per_rank, batches, workers)


def reduce_sums(ctx: DistContext, sums: dict[str, float]) -> dict[str, float]:
    """``sums`` added over the ranks (float64; unchanged without DDP)."""
    keys = sorted(sums)
    tot = ctx.all_reduce_sum(torch.tensor([sums[k] for k in keys], dtype=torch.float64))
    return dict(zip(keys, tot.tolist()))


@dataclass
class StageParts:
    """The objects one stage's batches go through. ``model`` is the plain model (checkpoints,
    inputs); ``train_model`` runs the forward pass (``model`` unless set to its DDP/compiled
    wrapper)."""

    model: nn.Module
    criterion: Callable[..., dict[str, torch.Tensor]]
    data: TrainLoader
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    use_amp: bool
    amp_dtype: torch.dtype
    device: torch.device
    device_augment: Callable[..., dict[str, Any]] | None
    n_train: int
    recipe: Recipe
    ctx: DistContext
    name: str
    stage_dir: Path | None
    train_model: nn.Module | None = None
    ema: AveragedModel | None = None
    #: written into every checkpoint of the stage (``input_spec``), when known
    input_spec: InputSpec | None = None

    def __post_init__(self) -> None:
        if self.train_model is None:
            self.train_model = self.model

    @property
    def eval_model(self) -> nn.Module:
        """What validation and model selection score: the weights' moving average
        (``recipe.ema_decay``, :mod:`afg.train.ema`) or the model being trained."""
        return self.ema.module if self.ema is not None else self.train_model

    @property
    def selected_model(self) -> nn.Module:
        """The weights model selection keeps (the selected checkpoint): :attr:`eval_model`, unwrapped."""
        return self.ema.module if self.ema is not None else self.model

    @property
    def task(self) -> str:
        return getattr(self.model, "task", "au")

    @property
    def last_path(self) -> Path | None:
        return RunFolder.last(self.stage_dir) if self.stage_dir is not None else None

    def save(self, path: Path | None, state: TrainState, selected: bool = False) -> None:
        """Write ``state``'s checkpoint to ``path`` (main rank; nothing when ``path`` is None).

        Mid-epoch under DDP the main rank saves the running sums of every rank; a resume
        restores them there and zeros elsewhere, so the epoch's reduced means are unchanged.
        With a moving average the record also holds it (``ema``, ``ema_updates``), and
        ``selected=True`` (the selected checkpoint) stores the averaged weights as ``model``: the weights
        that were validated, and that a run is later loaded from."""
        if path is None:
            return
        sums = dict(state.accum)
        if state.batch_in_epoch and self.ctx.enabled:
            sums = reduce_sums(self.ctx, sums)
        if self.ctx.is_main:
            record = state.to_checkpoint(
                model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                scaler=self.scaler, recipe=self.recipe, stage=self.name, task=self.task, accum=sums)
            if self.input_spec is not None:
                record["input_spec"] = self.input_spec.to_dict()
            if self.ema is not None:
                record.update(ema_state(self.ema))
                if selected:
                    record["model"] = record["ema"]
            save_checkpoint(path, record)


def build_parts(model: nn.Module, data: Dataset, stats: Any, recipe: Recipe, device: torch.device,
                ctx: DistContext, name: str, stage_dir: Path | None,
                input_spec: InputSpec | None = None) -> StageParts:
    """Prepare ``model`` (training statistics, device, memory format) and build the criterion,
    loader, optimiser, scheduler and AMP objects of a stage."""
    model.prepare(data, stats)
    model.to(device)
    if recipe.channels_last:
        model.to(memory_format=torch.channels_last)
    criterion = model.build_criterion(stats, **recipe.losses)
    if isinstance(criterion, nn.Module):
        criterion.to(device)
    loader = build_loader(data, recipe, ctx, device)
    # an incomplete last accumulation window still steps (its loss is scaled by its own length)
    steps_per_epoch = max(1, math.ceil(loader.batches / recipe.grad_accum))
    optimizer = build_optimizer(model, recipe.optimizer)
    scheduler = build_scheduler(optimizer, recipe.schedule, recipe.epochs, steps_per_epoch)
    amp_dtype = autocast_dtype(recipe.amp, device.type)
    use_amp = amp_dtype is not None
    if recipe.amp not in ("none", "auto") and not use_amp and ctx.is_main:
        needs = ("CUDA or a CPU with native bfloat16 (AVX512-BF16 or AMX)" if recipe.amp == "bf16"
                 else "CUDA")
        warnings.warn(f"amp={recipe.amp!r} needs {needs}; training in float32 on {device.type}", stacklevel=4)
    return StageParts(
        ema=build_ema(model, recipe.ema_decay),
        model=model, criterion=criterion, data=loader, optimizer=optimizer, scheduler=scheduler,
        scaler=torch.amp.GradScaler("cuda", enabled=use_amp and recipe.amp == "fp16"),
        use_amp=use_amp, amp_dtype=amp_dtype or torch.float32,
        device=device, device_augment=device_augment_of(data),  # data.augment_on: device
        n_train=len(data), recipe=recipe, ctx=ctx, name=name, stage_dir=stage_dir, input_spec=input_spec)


def scalar_terms(terms: dict[str, Any]) -> dict[str, float]:
    """The one-element tensors of a criterion's output as floats, read from the device in one
    transfer (a ``float()`` per term would wait for the GPU once per term)."""
    keys = [k for k, v in terms.items() if torch.is_tensor(v) and v.numel() == 1]
    if not keys:
        return {}
    vals = torch.stack([terms[k].detach().float().reshape(()) for k in keys]).tolist()
    return dict(zip(keys, vals))


def _check_finite(vals: dict[str, float], state: TrainState, parts: StageParts) -> None:
    """Raise :class:`NonFiniteLossError` (and write ``status.json``) when any rank's loss terms
    are not all finite."""
    finite = torch.tensor([float(all(math.isfinite(v) for v in vals.values()))])
    if parts.ctx.enabled:
        finite = parts.ctx.all_reduce_sum(finite) / parts.ctx.world_size
    if finite.item() < 1.0:
        if parts.stage_dir is not None and parts.ctx.is_main:
            atomic_save_json(parts.stage_dir / "status.json", {
                "status": "non-finite loss", "epoch": state.epoch, "step": state.global_step, "terms": vals})
        raise NonFiniteLossError(state.epoch, state.global_step, vals, parts.name)


def _add_to_sums(sums: dict[str, float], vals: dict[str, float], parts: StageParts, i: int,
                 size: int) -> None:
    """Add batch ``i``'s terms, weighted by its distinct samples, to the epoch's running sums."""
    ctx, k0 = parts.ctx, i * parts.data.per_rank
    n = sum(1 for j in range(size) if ctx.rank + (k0 + j) * ctx.world_size < parts.n_train)
    sums["_n"] = sums.get("_n", 0.0) + n
    for k, v in vals.items():
        key = "train_loss" if k == "loss" else f"train_{k}"
        sums[key] = sums.get(key, 0.0) + v * n


def _optimizer_step(parts: StageParts) -> None:
    recipe = parts.recipe
    if recipe.grad_clip:
        parts.scaler.unscale_(parts.optimizer)
        torch.nn.utils.clip_grad_norm_(parts.model.parameters(), recipe.grad_clip)
    parts.scaler.step(parts.optimizer)
    parts.scaler.update()
    parts.optimizer.zero_grad(set_to_none=True)
    if parts.ema is not None:
        parts.ema.update_parameters(parts.model)
    if recipe.schedule.per_iteration:
        parts.scheduler.step()


def train_batch(state: TrainState, parts: StageParts, batch: dict[str, Any], i: int) -> dict[str, float]:
    """Forward, backward and (at the end of an accumulation window) an optimiser step on batch
    ``i`` of the epoch; advances ``state`` and returns the batch's loss terms."""
    recipe, device, accum = parts.recipe, parts.device, parts.recipe.grad_accum
    batch = to_device(batch, device, recipe.channels_last)
    if parts.device_augment is not None:
        batch = parts.device_augment(batch, channels_last=recipe.channels_last)
    images, extra = model_inputs(parts.model, batch)
    with torch.autocast(device.type, dtype=parts.amp_dtype, enabled=parts.use_amp):
        out = parts.train_model(images, **extra)
    terms = parts.criterion(float_outputs(out), batch)  # the loss in float32 (see evaluate.py)
    vals = scalar_terms(terms)
    _check_finite(vals, state, parts)
    window_end = min(parts.data.batches, (i // accum + 1) * accum)
    parts.scaler.scale(terms["loss"] / (window_end - (i // accum) * accum)).backward()
    _add_to_sums(state.accum, vals, parts, i, images.shape[0])
    state.batch_in_epoch = i + 1
    if i + 1 == window_end:
        _optimizer_step(parts)
        state.global_step += 1
        every = recipe.checkpoint_every_steps
        if every and state.global_step % every == 0 and i + 1 < parts.data.batches:
            parts.save(parts.last_path, state)
    return vals


def train_one_epoch(state: TrainState, parts: StageParts, progress: bool = False) -> tuple[dict[str, Any], float]:
    """Train the epoch ``state.epoch`` from batch ``state.batch_in_epoch`` to its end.

    Afterwards ``state`` points at the next epoch. Returns the epoch's log row (``epoch``
    1-based, ``step``, ``lr``, ``train_<term>`` means reduced over the ranks) and the seconds
    spent waiting for data.
    """
    recipe, data, first = parts.recipe, parts.data, state.batch_in_epoch
    parts.model.train()
    data.start_epoch(state.epoch, first, recipe.order_seed)
    if first == 0:
        state.accum = {}
    with progress_bar(data.batches, f"{parts.name} epoch {state.epoch + 1}/{recipe.epochs}", progress,
                      initial=first, leave=False) as bar:
        data_time, t_data = 0.0, time.perf_counter()
        parts.optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(data.loader, start=first):
            if i >= data.batches:
                break
            data_time += time.perf_counter() - t_data
            vals = train_batch(state, parts, batch, i)
            bar.update(1)
            if progress and i % 10 == 0:
                bar.set_postfix(loss=f"{vals.get('loss', float('nan')):.4f}")
            t_data = time.perf_counter()
    if not recipe.schedule.per_iteration:
        parts.scheduler.step()
    data.sampler.skip = 0
    state.epoch, state.batch_in_epoch = state.epoch + 1, 0
    sums = reduce_sums(parts.ctx, state.accum)
    row: dict[str, Any] = {"epoch": state.epoch, "step": state.global_step,
                           "lr": parts.optimizer.param_groups[0]["lr"]}
    row.update({k: v / max(1.0, sums["_n"]) for k, v in sums.items() if k != "_n"})
    return row, data_time
