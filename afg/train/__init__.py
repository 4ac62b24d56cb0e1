"""Training: typed recipes, ``fit``, evaluation per task, checkpoints, DDP, cross-validation."""
from . import checkpoint, cv, distributed, evaluate, loop, optim, recipe
from .checkpoint import *
from .cv import *
from .distributed import *
from .evaluate import *
from .loop import *
from .optim import *
from .recipe import *

__all__ = [
    "DistContext",
    "FitResult",
    "NonFiniteLossError",
    "OptimizerConfig",
    "Recipe",
    "ScheduleConfig",
    "Stage",
    "build_optimizer",
    "build_scheduler",
    "compute_metrics",
    "cross_validate",
    "default_monitor",
    "evaluate",
    "fit",
    "fold_indices",
    "freeze_modules",
    "load_checkpoint",
    "load_recipe",
    "model_inputs",
    "save_checkpoint",
    "schedule_factor",
    "split_fold",
    "standardize_batch",
    "summarize",
    "to_plain",
]
