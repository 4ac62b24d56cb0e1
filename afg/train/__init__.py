"""Training: typed recipes, ``fit``, evaluation per task, checkpoints, DDP, cross-validation."""
from . import (
    checkpoint,
    cv,
    distributed,
    ema,
    epoch,
    evaluate,
    logs,
    loop,
    optim,
    recipe,
    stage_model,
    state,
)
from .checkpoint import *
from .cv import *
from .distributed import *
from .ema import build_ema
from .epoch import build_loader, train_one_epoch
from .evaluate import *
from .loop import *
from .optim import *
from .recipe import *
from .state import TrainState

__all__ = [
    "DistContext",
    "FitResult",
    "NonFiniteLossError",
    "OptimizerConfig",
    "Recipe",
    "ScheduleConfig",
    "Stage",
    "TrainState",
    "build_ema",
    "build_loader",
    "build_optimizer",
    "build_scheduler",
    "compute_metrics",
    "cross_validate",
    "default_monitor",
    "evaluate",
    "fit",
    "fold_indices",
    "freeze_modules",
    "load_recipe",
    "model_inputs",
    "save_checkpoint",
    "schedule_factor",
    "split_fold",
    "standardize_batch",
    "summarize",
    "to_plain",
    "train_one_epoch",
]
