"""``fit(model, train_data, val_data, recipe)`` — one trainer for all five papers.

Per stage (see :class:`afg.train.recipe.Recipe`): optional model switch, initialisation from the
previous stage's checkpoint, freezing; then epochs of (train → evaluate → checkpoint → log).

Run directory (``run_dir``; single-stage runs write directly into it, multi-stage runs into
``stage{k}-{name}/`` sub-folders)::

    recipe.yaml        the resolved recipe
    last.pt / best.pt  checkpoints (atomic; plain tensors/types; weights_only loading)
    metrics.csv        one row per epoch: epoch, step, lr, train losses, scalar val metrics
    metrics.json       the same rows with non-scalar metrics (confusion matrices)
    result.json        written when the stage/run completes (status, best epoch, metrics)
    tb/                TensorBoard events (``recipe.tensorboard``)

Resuming: ``fit(..., resume=True)`` (the default) continues from ``last.pt`` — model, optimiser,
scheduler, scaler, RNG states, running epoch sums, sampler position — so a run killed at any point
ends with the same weights and metrics as an uninterrupted one (bit-exact on CPU with
``recipe.deterministic``). A complete stage is skipped. A non-finite loss raises
:class:`NonFiniteLossError` naming the epoch, step and loss terms; ``last.pt``/``best.pt`` keep
the last good state.

Models that need more than images declare the batch keys in ``forward_keys`` (e.g. AU-GCN's
``("landmarks",)``); the trainer passes them as keyword arguments.

Batch size is global: under ``torchrun`` each of the N ranks gets ``batch_size / N`` samples
(DistributedSampler), so a recipe means the same optimisation on 1 or N GPUs. When the ranks do not
divide the training set, the sampler repeats a few samples; they count in the gradient, while the
epoch's training metrics weight each batch's mean by its number of distinct samples (exact with one
sample per rank and step). ``grad_accum = A`` steps once per window of ``A`` batches, each batch's
loss divided by ``A`` (an incomplete last window of ``r`` batches: by ``r``), so the update equals
one batch of all the window's samples.
"""
from __future__ import annotations

import csv
import io
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from .. import __version__
from ..utils import (
    atomic_save_json,
    atomic_write_text,
    resolve_device,
    seed_everything,
    set_deterministic,
)
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .distributed import DistContext
from .evaluate import _unwrap, collate, evaluate, model_inputs, to_device
from .optim import build_optimizer, build_scheduler
from .recipe import Recipe, default_monitor, resolve_workers

__all__ = ["FitResult", "NonFiniteLossError", "fit", "freeze_modules", "load_recipe"]


class NonFiniteLossError(RuntimeError):
    """The loss became NaN/inf; ``epoch``, ``step`` and ``terms`` say where and which."""

    def __init__(self, epoch: int, step: int, terms: dict[str, float], stage: str = ""):
        self.epoch, self.step, self.terms, self.stage = epoch, step, terms, stage
        where = f"stage {stage!r}, " if stage else ""
        t = ", ".join(f"{k}={v:.4g}" for k, v in terms.items())
        super().__init__(
            f"non-finite loss at {where}epoch {epoch}, step {step} (global); terms: {t}. "
            "Training stopped; last.pt/best.pt hold the last good state."
        )


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
    if recipe is None:
        return Recipe()
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, dict):
        return Recipe.from_dict(recipe)
    return Recipe.from_yaml(recipe)


def freeze_modules(model: nn.Module, prefixes: list[str]) -> int:
    """``requires_grad=False`` for parameters whose name starts with any prefix; returns count."""
    n = 0
    for name, p in model.named_parameters():
        if any(name == pre or name.startswith(pre + ".") for pre in prefixes):
            p.requires_grad_(False)
            n += 1
    if prefixes and n == 0:
        raise ValueError(f"freeze {prefixes}: no parameter matches")
    return n


def _load_weights(model: nn.Module, state: dict[str, torch.Tensor], strict: bool) -> dict[str, list[str]]:
    own = model.state_dict()
    if strict:
        model.load_state_dict(state, strict=True)
        return {"missing": [], "unexpected": [], "skipped": []}
    keep = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    skipped = [k for k in state if k in own and own[k].shape != state[k].shape]
    res = model.load_state_dict(keep, strict=False)
    if not keep:
        raise ValueError("init_from: no parameter of the checkpoint matches the model")
    return {"missing": list(res.missing_keys), "unexpected": [k for k in state if k not in own],
            "skipped": skipped}


class _ResumableSampler(DistributedSampler):
    """DistributedSampler (seeded by ``seed + epoch``) that can skip a prefix on resume."""

    skip: int = 0

    def __iter__(self):
        it = list(super().__iter__())
        return iter(it[self.skip:])

    def __len__(self) -> int:
        return super().__len__() - self.skip


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _write_logs(stage_dir: Path, history: list[dict[str, Any]]) -> None:
    atomic_save_json(stage_dir / "metrics.json", history)
    cols: list[str] = []
    for row in history:
        for k, v in row.items():
            if k not in cols and (_is_scalar(v) or isinstance(v, str)):
                cols.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for row in history:
        w.writerow({k: row.get(k, "") for k in cols})
    atomic_write_text(stage_dir / "metrics.csv", buf.getvalue())


def _better(value: float, best: float | None, mode: str) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return best is None
    if best is None or (isinstance(best, float) and math.isnan(best)):
        return True
    return value > best if mode == "max" else value < best


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
) -> FitResult:
    """Train ``model`` on ``train_data`` following ``recipe``; evaluate on ``val_data`` each epoch.

    Args:
        model: an :class:`afg.models.base.AffectModel` (``task``, ``build_criterion``,
            ``param_groups``, ``prepare``, optional ``forward_keys``).
        train_data, val_data: datasets of dict items (DESIGN.md keys), exposing ``labels()``.
        recipe: a :class:`Recipe`, a dict, or a YAML path.
        run_dir: where checkpoints and logs go; ``None`` keeps everything in memory.
        resume: continue from ``run_dir``'s ``last.pt`` when present.
        stats: training-set statistics; computed with
            :func:`afg.data.stats.training_statistics` when omitted.
        device: overrides ``recipe.device``.
        callbacks: called on rank 0 with each epoch's log row.

    Returns:
        :class:`FitResult`; ``result.model`` holds the best weights of the last stage.
    """
    recipe = load_recipe(recipe)
    dev_name = device if device is not None else recipe.device
    probe = resolve_device(dev_name)
    ctx = DistContext.from_env(probe.type)
    if ctx.enabled and probe.type == "cuda":
        # one GPU per local rank; more ranks than GPUs share them round-robin (gloo only: NCCL
        # refuses two ranks on one GPU)
        probe = torch.device("cuda", ctx.local_rank % torch.cuda.device_count())
        torch.cuda.set_device(probe)
    if recipe.deterministic:
        set_deterministic(True)
    run_dir = Path(run_dir) if run_dir is not None else None
    if run_dir is not None and ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        recipe.to_yaml(run_dir / "recipe.yaml")
    if stats is None:
        try:
            from ..data.stats import training_statistics

            stats = training_statistics(train_data)
        except (TypeError, AttributeError):
            stats = None
    stage_recipes = recipe.resolved_stages()
    specs = recipe.stage_specs()
    multi = len(specs) > 1
    prev_state: dict[str, torch.Tensor] | None = None
    prev_dir: Path | None = None
    history: list[dict[str, Any]] = []
    stage_results: list[dict[str, Any]] = []
    out: dict[str, Any] = {}
    for si, (st_recipe, spec) in enumerate(zip(stage_recipes, specs)):
        name = spec.name or f"stage{si + 1}"
        stage_dir = None
        if run_dir is not None:
            stage_dir = run_dir / f"stage{si + 1}-{spec.name or 'main'}" if multi else run_dir
        if spec.model:
            from ..models.registry import model_from_config

            cfg = dict(getattr(_unwrap(model), "model_config", None) or {})
            if not cfg:
                raise ValueError(f"stage {name!r} switches the model but the model has no model_config "
                                 "(build it with afg.models.create_model)")
            cfg.update(spec.model)
            old = _unwrap(model)
            model = model_from_config(cfg)
            # carry the current weights over (pretrained backbone, earlier stages); init_from
            # below then loads the previous stage's checkpoint on top
            try:
                _load_weights(model, old.state_dict(), strict=False)
            except ValueError:
                pass
            if getattr(old, "label_names", None) is not None:
                model.label_names = old.label_names
        # initialise from the previous stage (or a file)
        if spec.init_from:
            if spec.init_from == "previous":
                if si == 0:
                    state = None
                elif prev_dir is not None:
                    f = prev_dir / f"{spec.init_checkpoint}.pt"
                    f = f if f.exists() else prev_dir / "last.pt"
                    state = load_checkpoint(f)["model"]
                else:
                    state = prev_state
            else:
                ck = load_checkpoint(spec.init_from)
                state = ck.get("model", ck) if isinstance(ck, dict) else ck
            if state is not None:
                info = _load_weights(model, state, spec.strict)
                if ctx.is_main and (info["missing"] or info["skipped"]):
                    warnings.warn(f"stage {name!r}: initialised from previous stage; "
                                  f"{len(info['missing'])} fresh tensors, {len(info['skipped'])} "
                                  "skipped for shape", stacklevel=2)
        if spec.freeze:
            freeze_modules(model, spec.freeze)
        out = _train_stage(model, train_data, val_data, st_recipe, stage_dir, resume, stats,
                           probe, ctx, name, callbacks)
        model = out["model"]
        prev_dir = stage_dir
        prev_state = out.get("best_state")
        for row in out["history"]:
            history.append({"stage": name, **row} if multi else row)
        stage_results.append({"name": name, "metrics": out["metrics"], "best_epoch": out["best_epoch"]})
    result = FitResult(
        metrics=out["metrics"], last_metrics=out["last_metrics"], best_epoch=out["best_epoch"],
        history=history, run_dir=run_dir, model=model, stages=stage_results,
    )
    if run_dir is not None and ctx.is_main:
        if multi:
            _write_logs(run_dir, history)
        atomic_save_json(run_dir / "result.json", to_json(result.to_dict()))
    ctx.barrier()
    return result


def scalar_terms(terms: dict[str, Any]) -> dict[str, float]:
    """The one-element tensors of a criterion's output as floats, read from the device in one
    transfer (a ``float()`` per term would wait for the GPU once per term)."""
    keys = [k for k, v in terms.items() if torch.is_tensor(v) and v.numel() == 1]
    if not keys:
        return {}
    vals = torch.stack([terms[k].detach().float().reshape(()) for k in keys]).tolist()
    return dict(zip(keys, vals))


def to_json(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def _read_result(path: Path) -> dict[str, Any] | None:
    """A complete stage's ``result.json``; ``None`` when absent, unreadable (a corrupt file is
    warned about and the stage resumes from ``last.pt``) or not ``complete``."""
    if not path.exists():
        return None
    try:
        done = json.loads(path.read_text())
    except (OSError, ValueError):
        warnings.warn(f"{path}: unreadable; the stage is resumed from last.pt", stacklevel=3)
        return None
    keys = ("metrics", "last_metrics", "best_epoch", "history")
    complete = isinstance(done, dict) and done.get("status") == "complete"
    return done if complete and all(k in done for k in keys) else None


def _train_stage(model, train_data, val_data, recipe: Recipe, stage_dir: Path | None, resume: bool,
                 stats, device: torch.device, ctx: DistContext, name: str, callbacks) -> dict[str, Any]:
    from tqdm.auto import tqdm

    done = _read_result(stage_dir / "result.json") if stage_dir is not None and resume else None
    if done is not None:
        best = stage_dir / "best.pt" if (stage_dir / "best.pt").exists() else stage_dir / "last.pt"
        model.load_state_dict(load_checkpoint(best)["model"])
        return {"model": model.to(device), "metrics": done["metrics"], "last_metrics": done["last_metrics"],
                "best_epoch": done["best_epoch"], "history": done["history"]}
    seed_everything(recipe.seed)
    core = _unwrap(model)
    task = getattr(core, "task", "au")
    monitor, mode = (recipe.monitor, recipe.monitor_mode)
    if monitor == "auto":
        monitor, mode = default_monitor(task)
        if val_data is None:
            monitor, mode = "train_loss", "min"
    core.prepare(train_data, stats)
    core.to(device)
    if recipe.channels_last:
        core.to(memory_format=torch.channels_last)
    criterion = core.build_criterion(stats, **recipe.losses)
    if isinstance(criterion, nn.Module):
        criterion.to(device)
    if recipe.batch_size % ctx.world_size:
        raise ValueError(f"batch_size {recipe.batch_size} is not divisible by {ctx.world_size} ranks")
    per_rank = recipe.batch_size // ctx.world_size
    eval_bs = max(1, (recipe.eval_batch_size or recipe.batch_size) // ctx.world_size)
    sampler = _ResumableSampler(train_data, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
                                seed=recipe.seed, drop_last=False)
    gen = torch.Generator()
    workers = resolve_workers(recipe.num_workers, device.type)
    from ..data.augment import device_augment_of

    device_aug = device_augment_of(train_data)  # data.augment_on: device — batched, after the transfer
    # the last incomplete batch is dropped (a batch of one image makes BatchNorm over the batch
    # raise, e.g. CCFG's); a training set smaller than one batch still trains on that one batch
    loader = DataLoader(
        train_data, batch_size=per_rank, sampler=sampler, num_workers=workers, collate_fn=collate,
        drop_last=len(sampler) >= per_rank,
        pin_memory=recipe.pin_memory and device.type == "cuda", generator=gen,
        persistent_workers=recipe.persistent_workers and workers > 0,
        prefetch_factor=recipe.prefetch_factor if workers > 0 else None,
        worker_init_fn=_seed_worker if workers > 0 else None,
    )
    batches = len(loader)
    n_train = len(train_data)
    if recipe.max_steps_per_epoch:
        batches = min(batches, recipe.max_steps_per_epoch * recipe.grad_accum)
    # an incomplete last accumulation window still steps (its loss is scaled by its own length)
    steps_per_epoch = max(1, math.ceil(batches / recipe.grad_accum))
    optimizer = build_optimizer(core, recipe.optimizer)
    scheduler = build_scheduler(optimizer, recipe.schedule, recipe.epochs, steps_per_epoch)
    use_amp = recipe.amp != "none" and device.type == "cuda"
    if recipe.amp != "none" and not use_amp and ctx.is_main:
        warnings.warn(f"amp={recipe.amp!r} needs CUDA; training in float32 on {device.type}", stacklevel=3)
    amp_dtype = torch.bfloat16 if recipe.amp == "bf16" else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and recipe.amp == "fp16")

    epoch, batch_in_epoch, global_step = 0, 0, 0
    history: list[dict[str, Any]] = []
    best_value, best_epoch, best_metrics = None, -1, {}
    best_state = None
    accum: dict[str, float] = {}
    last_metrics: dict[str, Any] = {}
    last_path = stage_dir / "last.pt" if stage_dir is not None else None
    if resume and last_path is not None and last_path.exists():
        ck = load_checkpoint(last_path)
        core.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        scheduler.load_state_dict(ck["scheduler"])
        if ck.get("scaler"):
            scaler.load_state_dict(ck["scaler"])
        epoch, batch_in_epoch, global_step = ck["epoch"], ck["batch_in_epoch"], ck["global_step"]
        history = list(ck["history"])
        best_value, best_epoch = ck["best"]["value"], ck["best"]["epoch"]
        best_metrics = ck["best"].get("metrics", {})
        last_metrics = ck.get("metrics", {})
        accum = {k: (v if ctx.is_main else 0.0) for k, v in ck.get("accum", {}).items()}
        set_rng_state(ck["rng"])

    train_model: nn.Module = core
    if ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(core, device_ids=[device.index] if device.type == "cuda" else None,
                          find_unused_parameters=recipe.find_unused_parameters)
    if recipe.compile:
        train_model = torch.compile(train_model)
    writer = None
    if recipe.tensorboard and stage_dir is not None and ctx.is_main:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(stage_dir / "tb"))
        except ImportError:
            warnings.warn("tensorboard is not installed; recipe.tensorboard ignored", stacklevel=3)

    def checkpoint(path: Path, ep: int, bie: int) -> None:
        if path is None:
            return
        sums = dict(accum)
        if bie and ctx.enabled:
            # mid-epoch: rank 0 saves the running sums of every rank (a resume restores them on
            # rank 0 and zeros elsewhere, so the epoch's reduced means are unchanged)
            keys = sorted(sums)
            tot = ctx.all_reduce_sum(torch.tensor([sums[k] for k in keys], dtype=torch.float64))
            sums = dict(zip(keys, tot.tolist()))
        if not ctx.is_main:
            return
        save_checkpoint(path, {
            "afg_version": __version__, "model": core.state_dict(),
            "model_config": getattr(core, "model_config", None), "task": task,
            "label_names": getattr(core, "label_names", None),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(), "epoch": ep, "batch_in_epoch": bie,
            "global_step": global_step, "rng": rng_state(), "recipe": recipe.to_dict(), "stage": name,
            "metrics": to_json(last_metrics), "history": to_json(history),
            "best": {"value": best_value, "epoch": best_epoch, "metrics": to_json(best_metrics)},
            "accum": sums,
        })

    show = recipe.progress and ctx.is_main
    while epoch < recipe.epochs:
        t0 = time.perf_counter()
        core.train()
        sampler.set_epoch(epoch)
        sampler.skip = batch_in_epoch * per_rank
        gen.manual_seed(recipe.seed * 100_003 + epoch)
        first_batch = batch_in_epoch
        if first_batch == 0:
            accum = {}
        bar = tqdm(total=batches, initial=first_batch, desc=f"{name} epoch {epoch + 1}/{recipe.epochs}",
                   disable=not show, leave=False)
        data_time = 0.0
        t_data = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(loader, start=first_batch):
            if i >= batches:
                break
            data_time += time.perf_counter() - t_data
            batch = to_device(batch, device, recipe.channels_last)
            if device_aug is not None:
                batch = device_aug(batch, channels_last=recipe.channels_last)
            images, extra = model_inputs(core, batch)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                outputs = train_model(images, **extra)
                terms = criterion(outputs, batch)
            loss = terms["loss"]
            vals = scalar_terms(terms)
            finite = torch.tensor([float(all(math.isfinite(v) for v in vals.values()))])
            if ctx.enabled:
                finite = ctx.all_reduce_sum(finite) / ctx.world_size
            if finite.item() < 1.0:
                if stage_dir is not None and ctx.is_main:
                    atomic_save_json(stage_dir / "status.json", {
                        "status": "non-finite loss", "epoch": epoch, "step": global_step, "terms": vals})
                bar.close()
                raise NonFiniteLossError(epoch, global_step, vals, name)
            # window of grad_accum batches (the last one may be shorter): the gradient is the mean
            # of its batch gradients, as one batch of all their samples would give
            window_end = min(batches, (i // recipe.grad_accum + 1) * recipe.grad_accum)
            window = window_end - (i // recipe.grad_accum) * recipe.grad_accum
            scaler.scale(loss / window).backward()
            # samples the DistributedSampler repeated to even out the ranks (global position
            # ``rank + k * world`` ≥ len) enter the gradient but not the epoch's training metrics
            k0 = i * per_rank
            n = sum(1 for j in range(images.shape[0])
                    if ctx.rank + (k0 + j) * ctx.world_size < n_train)
            accum["_n"] = accum.get("_n", 0.0) + n
            for k, v in vals.items():
                key = "train_loss" if k == "loss" else f"train_{k}"
                accum[key] = accum.get(key, 0.0) + v * n
            if i + 1 == window_end:
                if recipe.grad_clip:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(core.parameters(), recipe.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                if recipe.schedule.per_iteration:
                    scheduler.step()
                global_step += 1
                if recipe.checkpoint_every_steps and global_step % recipe.checkpoint_every_steps == 0 \
                        and i + 1 < batches:
                    checkpoint(last_path, epoch, i + 1)
            bar.update(1)
            if show and i % 10 == 0:
                bar.set_postfix(loss=f"{vals.get('loss', float('nan')):.4f}")
            t_data = time.perf_counter()
        bar.close()
        if not recipe.schedule.per_iteration:
            scheduler.step()
        sampler.skip = 0
        batch_in_epoch = 0
        # reduce the epoch's sums over ranks
        keys = sorted(accum)
        tot = ctx.all_reduce_sum(torch.tensor([accum[k] for k in keys], dtype=torch.float64))
        sums = dict(zip(keys, tot.tolist()))
        row: dict[str, Any] = {"epoch": epoch + 1, "step": global_step,
                               "lr": optimizer.param_groups[0]["lr"]}
        row.update({k: v / max(1.0, sums["_n"]) for k, v in sums.items() if k != "_n"})
        if val_data is not None and ((epoch + 1) % recipe.eval_every == 0 or epoch + 1 == recipe.epochs):
            metrics = evaluate(train_model, val_data, batch_size=eval_bs, device=device,
                               num_workers=workers, criterion=criterion, amp=recipe.amp,
                               channels_last=recipe.channels_last, dist_ctx=ctx, progress=show, task=task)
            row.update(metrics)
        row["time_s"] = time.perf_counter() - t0
        row["data_wait_share"] = data_time / max(1e-9, row["time_s"])
        epoch += 1
        history.append(to_json(row))
        last_metrics = dict(row.items())
        value = row.get(monitor)
        # recipe.selection "last": every epoch is the best so far (best.pt = the final weights)
        if recipe.selection == "last" or (monitor in row and _better(value, best_value, mode)):
            best_value, best_epoch, best_metrics = value, epoch, dict(last_metrics)
            if stage_dir is not None:
                checkpoint(stage_dir / "best.pt", epoch, 0)
            else:
                best_state = {k: v.detach().clone() for k, v in core.state_dict().items()}
        checkpoint(last_path, epoch, 0)
        if stage_dir is not None and ctx.is_main:
            _write_logs(stage_dir, history)
        if writer is not None:
            for k, v in row.items():
                if _is_scalar(v):
                    writer.add_scalar(k, v, epoch)
        if ctx.is_main:
            for cb in callbacks or []:
                cb(dict(row))
        ctx.barrier()
    if writer is not None:
        writer.close()
    # leave the model holding the best weights
    if best_epoch > 0:
        if stage_dir is not None and (stage_dir / "best.pt").exists():
            ctx.barrier()
            core.load_state_dict(load_checkpoint(stage_dir / "best.pt")["model"])
        elif best_state is not None:
            core.load_state_dict(best_state)
    if not best_metrics:
        best_metrics = dict(last_metrics)
    result = {"status": "complete", "metrics": to_json(best_metrics), "last_metrics": to_json(last_metrics),
              "best_epoch": best_epoch, "history": history, "monitor": monitor}
    if stage_dir is not None and ctx.is_main:
        atomic_save_json(stage_dir / "result.json", result)
    return {**result, "model": core, "best_state": best_state}


def _seed_worker(worker_id: int) -> None:  # pragma: no cover - runs in worker processes
    import random

    seed = torch.initial_seed() % (2**32)
    np.random.seed(seed)
    random.seed(seed)
