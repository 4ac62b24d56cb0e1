"""Experiments: cached runs keyed by config hash, ablations, sweeps, cross-validation, export.

``run(config)`` trains once per distinct resolved config; ``Ablation``/``Sweep`` run variants ×
folds and pivot to mean ± std; :mod:`afg.reference` holds the papers' published tables.
"""
from .ablation import *
from .config import *
from .cv import *
from .export import *
from .runner import *

__all__ = [
    "DATASETS",
    "HASH_EXCLUDE",
    "Ablation",
    "CachedDataset",
    "DataSpec",
    "ExperimentConfig",
    "RunResult",
    "Sweep",
    "build_data",
    "build_model",
    "config_hash",
    "cross_validation",
    "format_mean_std",
    "load_experiment",
    "pivot_mean_std",
    "register_dataset",
    "run",
    "run_dir_for",
    "runs_root",
    "styled",
    "to_latex",
    "to_markdown",
]
