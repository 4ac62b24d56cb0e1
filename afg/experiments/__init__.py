"""Experiments: cached runs keyed by config hash, ablations, sweeps, cross-validation, export.

``run(config)`` trains once per distinct resolved config (the epoch chosen as ``recipe.selection``
says: on a validation split of the training subjects by default); ``Ablation``/``Sweep`` run
variants × folds (× seeds) and pivot to mean ± std; :func:`paired_comparison` gives each
variant's paired Δ against a reference with a Student-t interval (:mod:`.analysis`, also the
verdicts against a paper's own Δ); :mod:`afg.reference` holds the papers' published tables.
"""
from .ablation import *
from .analysis import *
from .config import *
from .cv import *
from .export import *
from .runner import *
from .spec import *

__all__ = [
    "ABLATION_KEYS",
    "DATASETS",
    "HASH_EXCLUDE",
    "SELECTED_ON_TEST",
    "VERDICTS",
    "Ablation",
    "AblationSpec",
    "CachedDataset",
    "DataSpec",
    "ExperimentConfig",
    "RunResult",
    "Sweep",
    "apply_to_stages",
    "build_data",
    "build_model",
    "config_hash",
    "cross_validation",
    "format_delta_ci",
    "format_mean_std",
    "fresh_identities",
    "item_subjects",
    "load_data_config",
    "load_experiment",
    "magnitude",
    "paired_comparison",
    "pairs_needed",
    "paper_verdicts",
    "pivot_mean_std",
    "recorded_seconds",
    "register_dataset",
    "resolution_note",
    "run",
    "run_dir_for",
    "run_precision",
    "runs_root",
    "selection_split",
    "spread_by_label",
    "styled",
    "to_latex",
    "to_markdown",
    "verdict",
    "verdict_note",
]
