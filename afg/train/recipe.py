"""Typed training recipes (YAML ``recipe:`` section) — one schema for all five papers.

A :class:`Recipe` says how to train; the model and the data are described elsewhere
(``model:`` / ``data:`` sections of an experiment config, see :mod:`afg.experiments`).
Every field has a default, so ``Recipe()`` trains; unknown keys raise a
:class:`afg.config.ConfigError` naming the key (``recipe.optimizer.lrr``).

YAML schema (all keys optional)::

    recipe:
      epochs: 20               # per stage unless the stage overrides it
      batch_size: 64           # GLOBAL batch size (divided across DDP ranks)
      eval_batch_size: null    # default: batch_size
      optimizer:
        name: adamw            # adamw | adam | sgd
        lr: 1.0e-4
        betas: [0.9, 0.999]
        momentum: 0.9          # sgd only
        nesterov: false
        weight_decay: 5.0e-4
        eps: 1.0e-8
        lr_mult: {backbone: 1.0, head: 1.0}   # per model.param_groups() name
        fused: null            # true: torch's fused Adam/AdamW kernel (one pass over the weights;
                               #   same update rule, rounding order differs); null/false: torch's
                               #   default implementation. Left out of the run key when null
      schedule:
        name: cosine           # constant | cosine | step | multistep | poly | exponential
        warmup_epochs: 0.0     # linear warm-up (fractions allowed), or warmup_steps
        warmup_steps: 0
        warmup_start: 0.0      # lr factor at step 0 of the warm-up
        min_lr: 0.0            # cosine floor as a fraction of the base lr
        step_epochs: 10        # step: multiply by gamma every step_epochs
        milestones: []         # multistep: epochs
        gamma: 0.1
        power: 0.9             # poly
        per_iteration: true    # update every iteration (true) or once per epoch
      losses: {}               # keyword options for model.build_criterion(stats, **losses)
                               # (loss weights, switches; see each model's docstring)
      stages: []               # see Stage; empty = one stage built from the fields above
      amp: none                # none | bf16 | fp16 | auto — bf16 on CUDA or on a CPU with bf16
                               #   support (AVX512-BF16/AMX); fp16 CUDA only; elsewhere a warning,
                               #   float32. auto: bf16 where the device has it natively, float32
                               #   elsewhere (no warning). Losses and metrics are float32 either
                               #   way; the run's evaluation record's "precision" says what the forward ran in
      grad_clip: null          # max global grad norm
      ema_decay: null          # e.g. 0.99: validate, select and keep an exponential moving average
                               #   of the weights (afg.train.ema; warm-up min(β, (1+t)/(10+t)))
      grad_accum: 1
      channels_last: false
      compile: false           # torch.compile the model
      num_workers: 0           # DataLoader workers; auto: min(8, CPU cores) on CUDA, 0 elsewhere
      pin_memory: true
      persistent_workers: true
      prefetch_factor: 2
      seed: 0                  # the initialisation (and, unless data_seed is set, the data's draws)
      data_seed: null          # the batch order and the selection split's identities (null: seed);
                               #   set it to tell the two sources of a seed's spread apart
      deterministic: false     # bit-exact reruns/resumes on CPU
      device: auto
      monitor: auto            # metric selecting the kept weights (au: f1_mean, expression: accuracy,
      monitor_mode: max        #   multilabel: average_precision; "val_loss" with mode min)
      selection: val           # which epoch's weights a run reports (afg.experiments.run):
                               #   val  - kept weights chosen on a subject-disjoint split carved out of
                               #          the fold's training subjects; the held-out fold is
                               #          evaluated once, with those weights (honest)
                               #   last - the final epoch (no selection; held-out evaluated once)
                               #   test - kept weights chosen on the held-out fold itself (the papers'
                               #          protocol; optimistic: the test labels choose the epoch)
      selection_fraction: 0.125   # val: share of the training subjects (at least one) carved out,
                                  #   drawn with recipe.data_seed (null: recipe.seed)
      eval_every: 1
      checkpoint_every_steps: 0   # 0 = checkpoint at epoch ends only
      max_steps_per_epoch: null   # for quick runs
      progress: true           # tqdm.auto bars (terminal and notebook)
      tensorboard: false
      find_unused_parameters: false   # DDP

A stage overrides any of the recipe fields above for its part of the schedule, and may switch
the model (``model: {name: me_graphau}`` — options merged into the current model config),
initialise from the previous stage and freeze modules::

      stages:
        - name: stage1
          model: {name: me_graphau_stage1}
          epochs: 20
        - name: stage2
          model: {name: me_graphau}
          init_from: previous   # previous | <path to a .pt> | null
          init_checkpoint: best # which of the previous stage's checkpoints: best | last
          strict: false         # missing/unexpected keys allowed (new modules stay fresh)
          freeze: [backbone]    # module-name prefixes whose parameters get requires_grad=False
          optimizer: {lr: 1.0e-5}
          losses: {lambda_edge: 0.05}

Switching the model rebuilds it from ``model.model_config`` (set by ``afg.models.create_model``)
with the stage's keys merged, and carries the current weights over wherever names and shapes
match (so a pretrained backbone survives); ``init_from`` then loads the previous stage on top.

ME-GraphAU's two stages and AU-GCN's auto-encoder pre-training (``losses: {stage: ae}`` then
``init_from: previous``) are recipes of this form.

``selection`` is read by the experiment runner (:func:`afg.experiments.run`), which decides what
:func:`afg.train.fit` validates on (the carved-out split, the held-out fold, or nothing) and
evaluates the held-out fold after training; a direct ``fit(model, train, val, recipe)`` selects on
the ``val`` it is given, except that ``selection: last`` makes every epoch the "best" one (so
the selected checkpoint = the last one, and a stage ``init_checkpoint: best`` takes the final weights). Every
stage of a multi-stage recipe selects on the same data.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..config import Config, ConfigError, apply_overrides

__all__ = ["AMP_MODES", "SELECTION_MODES", "OptimizerConfig", "Recipe", "ScheduleConfig", "Stage", "default_monitor",
           "resolve_workers"]

#: values of ``recipe.selection`` (see the module docstring)
SELECTION_MODES = ("val", "last", "test")

#: values of ``recipe.amp``: float32, bf16 / fp16 autocast, or bf16 where the device computes it
#: natively (:func:`afg.train.evaluate.autocast_dtype`)
AMP_MODES = ("none", "bf16", "fp16", "auto")


@dataclass
class OptimizerConfig(Config):
    name: str = "adamw"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    eps: float = 1e-8
    lr_mult: dict[str, float] = field(default_factory=dict)
    fused: bool | None = None

    def __post_init__(self) -> None:
        if self.name.lower() not in ("adamw", "adam", "sgd"):
            raise ConfigError(f"optimizer.name: {self.name!r} is not one of adamw, adam, sgd")
        self.name = self.name.lower()
        if self.fused and self.name == "sgd":
            raise ConfigError("optimizer.fused: only adam and adamw have the fused kernel here")


@dataclass
class ScheduleConfig(Config):
    name: str = "cosine"
    warmup_epochs: float = 0.0
    warmup_steps: int = 0
    warmup_start: float = 0.0
    min_lr: float = 0.0
    step_epochs: float = 10.0
    milestones: list[float] = field(default_factory=list)
    gamma: float = 0.1
    power: float = 0.9
    per_iteration: bool = True

    def __post_init__(self) -> None:
        names = ("constant", "cosine", "step", "multistep", "poly", "exponential")
        if self.name.lower() not in names:
            raise ConfigError(f"schedule.name: {self.name!r} is not one of {', '.join(names)}")
        self.name = self.name.lower()


#: recipe fields a stage may override (everything except ``stages`` itself)
_STAGE_OVERRIDABLE = (
    "epochs", "batch_size", "eval_batch_size", "optimizer", "schedule", "losses", "grad_clip",
    "amp", "max_steps_per_epoch", "monitor", "monitor_mode",
)


@dataclass
class Stage(Config):
    """One stage of a multi-stage recipe; ``None``/empty fields inherit from the recipe."""

    name: str = ""
    model: dict[str, Any] = field(default_factory=dict)
    init_from: str | None = "previous"
    init_checkpoint: str = "best"
    strict: bool = False
    freeze: list[str] = field(default_factory=list)
    epochs: int | None = None
    batch_size: int | None = None
    eval_batch_size: int | None = None
    optimizer: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=dict)
    losses: dict[str, Any] | None = None
    grad_clip: float | None = None
    amp: str | None = None
    max_steps_per_epoch: int | None = None
    monitor: str | None = None
    monitor_mode: str | None = None


@dataclass
class Recipe(Config):
    """How to train (see the module docstring for the YAML schema)."""

    epochs: int = 20
    batch_size: int = 64
    eval_batch_size: int | None = None
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    losses: dict[str, Any] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)
    amp: str = "none"
    grad_clip: float | None = None
    ema_decay: float | None = None
    grad_accum: int = 1
    channels_last: bool = False
    compile: bool = False
    num_workers: int | str = 0
    pin_memory: bool = True
    persistent_workers: bool = True
    prefetch_factor: int = 2
    seed: int = 0
    data_seed: int | None = None
    deterministic: bool = False
    device: str = "auto"
    monitor: str = "auto"
    monitor_mode: str = "max"
    selection: str = "val"
    selection_fraction: float = 0.125
    eval_every: int = 1
    checkpoint_every_steps: int = 0
    max_steps_per_epoch: int | None = None
    progress: bool = True
    tensorboard: bool = False
    find_unused_parameters: bool = False

    def __post_init__(self) -> None:
        if self.amp not in AMP_MODES:
            raise ConfigError(f"amp: {self.amp!r} is not one of {', '.join(AMP_MODES)}")
        if self.monitor_mode not in ("max", "min"):
            raise ConfigError(f"monitor_mode: {self.monitor_mode!r} is not max or min")
        if self.num_workers != "auto" and not (isinstance(self.num_workers, int) and self.num_workers >= 0):
            raise ConfigError(f"num_workers: {self.num_workers!r} is not a count >= 0 or 'auto'")
        if self.selection not in SELECTION_MODES:
            raise ConfigError(f"selection: {self.selection!r} is not one of {', '.join(SELECTION_MODES)}")
        if not 0.0 < self.selection_fraction < 1.0:
            raise ConfigError(f"selection_fraction: {self.selection_fraction} is not in (0, 1)")
        if self.ema_decay is not None and not 0.0 < float(self.ema_decay) < 1.0:
            raise ConfigError(f"ema_decay: {self.ema_decay} is not in (0, 1) (null turns the average off)")
        if self.data_seed is not None and not isinstance(self.data_seed, int):
            raise ConfigError(f"data_seed: {self.data_seed!r} is not an integer (null: recipe.seed)")
        if self.batch_size < 1 or self.epochs < 0 or self.grad_accum < 1:
            raise ConfigError("batch_size and grad_accum must be >= 1 and epochs >= 0")

    @property
    def order_seed(self) -> int:
        """The seed of the batch order and the selection split: ``data_seed``, else ``seed``."""
        return self.seed if self.data_seed is None else int(self.data_seed)

    def resolved_stages(self) -> list[Recipe]:
        """One flat :class:`Recipe` per stage (stage overrides applied; ``stages`` emptied).

        The stage's own ``name``/``model``/``init_from``/``freeze`` are returned alongside via
        :meth:`stage_specs`.
        """
        if not self.stages:
            return [dataclasses.replace(self, stages=[])]
        base = self.to_dict()
        base["stages"] = []
        out = []
        for st in self.stages:
            d = json_copy(base)
            for key in _STAGE_OVERRIDABLE:
                val = getattr(st, key)
                if val is None or (isinstance(val, dict) and not val and key != "losses"):
                    continue
                if key in ("optimizer", "schedule"):
                    d[key] = apply_overrides(d[key], val)
                else:
                    d[key] = val
            out.append(Recipe.from_dict(d))
        return out

    def stage_specs(self) -> list[Stage]:
        return list(self.stages) if self.stages else [Stage(name="", init_from=None)]


def json_copy(d: Any) -> Any:
    return json.loads(json.dumps(d))


def default_monitor(task: str) -> tuple[str, str]:
    """The metric (and mode) that selects the kept (best) checkpoint for a task."""
    return {
        "au": ("f1_mean", "max"),
        "expression": ("accuracy", "max"),
        "multilabel": ("average_precision", "max"),
    }.get(task, ("val_loss", "min"))


def resolve_workers(num_workers: int | str, device_type: str) -> int:
    """DataLoader workers of ``recipe.num_workers``: ``"auto"`` is ``min(8, CPU cores)`` when
    training on CUDA (one process cannot decode faces as fast as a GPU trains on them:
    ``benchmarks/gpu_check.sh``) and 0 on the CPU, where workers only take cores from training."""
    if num_workers == "auto":
        return min(8, os.cpu_count() or 1) if device_type == "cuda" else 0
    return int(num_workers)
