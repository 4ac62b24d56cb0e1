"""Experiments: cached runs keyed by config hash, ablations, sweeps, cross-validation, export.

``run(config)`` trains once per distinct resolved config (the epoch chosen as ``recipe.selection``
says: on a validation split of the training subjects by default); ``Ablation``/``Sweep`` run
variants × folds (× seeds) and pivot to mean ± std; :func:`paired_comparison` gives each
variant's paired Δ against a reference with a Student-t interval (:mod:`.analysis`, also the
verdicts against a paper's own Δ); :mod:`afg.reference` holds the papers' published tables.

This package is the generic engine; the papers' tables, probes, figures and notebook setup are in
:mod:`afg.papers`. The data-building entry points (:class:`~afg.data.spec.DataSpec`,
:func:`~afg.data.build.build_data`, ...) live in :mod:`afg.data` and are importable from here too.
"""
from ..data.build import build_data, fresh_identities, item_subjects, selection_split
from ..data.spec import DATASETS, DataSpec, register_dataset
from ..data.wrappers import CachedDataset
from .ablation import SELECTED_ON_TEST, Ablation, Sweep, format_mean_std, pivot_mean_std
from .analysis import (
    VERDICTS,
    format_delta_ci,
    magnitude,
    paired_comparison,
    pairs_needed,
    paper_verdicts,
    recorded_seconds,
    resolution_note,
    spread_by_label,
    verdict,
    verdict_note,
)
from .config import ExperimentConfig, build_model, load_experiment
from .cv import cross_validation
from .export import styled, to_latex, to_markdown
from .runner import HASH_EXCLUDE, RunResult, config_hash, run, run_dir_for, run_precision, runs_root
from .spec import ABLATION_KEYS, AblationSpec, apply_to_stages, load_data_config

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
