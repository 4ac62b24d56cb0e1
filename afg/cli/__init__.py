"""The ``afg`` command line (also ``python -m afg``).

Commands::

    afg train   CONFIG.yaml [--set key=value ...] [--fold K] [--device D]   one cached run
    afg cv      CONFIG.yaml [--set ...] [--folds K]                          every fold, mean ± std
    afg ablate  ABLATION.yaml                                                variants × folds table
    afg eval    CHECKPOINT [--data CONFIG.yaml] [--split val|train]          metrics of a checkpoint
    afg check   DATASET --root RAW                                           read a copy of a release
    afg prepare DATASET --root RAW --out OUT                                 detect + align a release
    afg predict CHECKPOINT INPUTS... [-o out.csv]                            faces → AU/expression table
    afg export  CHECKPOINT OUT.safetensors                                   weights for model hubs
    afg demo    [--quick]                                                    the main job (README)

Every command checks its inputs before doing any work (files and folders exist, config keys are
known, the config names its model, the model, its backbone and its options exist — unknown names
get the closest valid ones —, weights files and ``init_from`` checkpoints load weights-only, the
checkpoint is an afg/ME-GraphAU checkpoint that fits the data: :mod:`afg.experiments.checks`) and
reports a problem as ONE line ``afg: error: ...`` on stderr with exit code 2, before a run folder
exists. A ``--set recipe.KEY`` override of a field that the recipe's stages set themselves
(``epochs``, ``optimizer.lr`` ...) is applied to those stages too, and the command says so.
Runs go to ``--runs`` (default ``$AFG_RUNS_DIR`` or ``./runs``) through the run cache of
:func:`afg.experiments.run`: a finished run is never trained twice. Ablation files: see
:class:`afg.experiments.spec.AblationSpec` (format in :mod:`afg.experiments.spec`).

Layout: :mod:`.parser` (options and help of every command; no torch), :mod:`.app` (:func:`main`),
one module per command group — :mod:`.train` (train, cv, ablate), :mod:`.evaluate`,
:mod:`.check`, :mod:`.prepare`, :mod:`.predict`, :mod:`.export`, :mod:`.demo` — imported when its command runs,
:mod:`.configs` (the configs a command reads), :mod:`.common` and :mod:`.errors`.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from .app import main
from .errors import UsageError
from .parser import build_parser

__all__ = ["ABLATION_KEYS", "UsageError", "build_parser", "load_ablation", "load_config", "main"]

#: names that load torch, resolved on first use (PEP 562) so that ``import afg.cli`` stays light
_LAZY = {"load_ablation": "afg.cli.configs", "load_config": "afg.cli.configs",
         "ABLATION_KEYS": "afg.experiments.spec", "apply_to_stages": "afg.experiments.spec",
         "check_experiment": "afg.experiments.checks"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'afg.cli' has no attribute {name!r}")
