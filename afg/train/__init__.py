"""Training: typed recipes, ``fit``, evaluation per task, checkpoints, DDP, cross-validation."""
from .recipe import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from .checkpoint import *  # noqa: F401,F403
from .distributed import *  # noqa: F401,F403
from .evaluate import *  # noqa: F401,F403
from .loop import *  # noqa: F401,F403
from .cv import *  # noqa: F401,F403
from . import checkpoint, cv, distributed, evaluate, loop, optim, recipe  # noqa: F401

__all__ = [  # noqa: F405
    "Recipe", "OptimizerConfig", "ScheduleConfig", "Stage", "default_monitor",
    "build_optimizer", "build_scheduler", "schedule_factor",
    "save_checkpoint", "load_checkpoint", "to_plain",
    "DistContext", "evaluate", "compute_metrics", "standardize_batch", "model_inputs",
    "fit", "FitResult", "NonFiniteLossError", "load_recipe", "freeze_modules",
    "fold_indices", "split_fold", "cross_validate", "summarize",
]
