"""Experiments: cached runs keyed by config hash, ablations, sweeps, cross-validation, export.

``run(config)`` trains once per distinct resolved config; ``Ablation``/``Sweep`` run variants ×
folds and pivot to mean ± std; :mod:`afg.reference` holds the papers' published tables.
"""
from .config import *  # noqa: F401,F403
from .runner import *  # noqa: F401,F403
from .ablation import *  # noqa: F401,F403
from .export import *  # noqa: F401,F403
from .cv import *  # noqa: F401,F403

__all__ = [  # noqa: F405
    "DataSpec", "ExperimentConfig", "load_experiment", "register_dataset", "build_data",
    "build_model", "CachedDataset", "DATASETS",
    "run", "RunResult", "config_hash", "run_dir_for", "HASH_EXCLUDE", "runs_root",
    "Ablation", "Sweep", "pivot_mean_std", "format_mean_std",
    "styled", "to_latex", "to_markdown",
    "cross_validation",
]
