"""The configs a command reads, loaded and checked before any work: :func:`load_config` (an
experiment config with ``--set``/``--fold``/``--device``) and :func:`load_ablation` (an ablation
file, :class:`~afg.experiments.spec.AblationSpec`). Problems are one :class:`UsageError` line
that names the file."""
from __future__ import annotations

import os
from collections.abc import Sequence

from ..config import ConfigError
from ..experiments import Ablation, ExperimentConfig, load_experiment
from ..experiments.checks import check_experiment, require_model_name
from ..experiments.spec import AblationSpec, apply_to_stages
from .common import check_device
from .errors import UsageError, existing_file, one_line

__all__ = ["load_ablation", "load_config"]


def load_config(path: str, overrides: Sequence[str] | None = None, fold: int | None = None,
                device: str | None = None) -> ExperimentConfig:
    """Load + override + check an experiment config (raises :class:`UsageError` or ConfigError).

    A ``recipe.KEY``/``model.KEY`` override also reaches the stages that set ``KEY`` themselves
    (:func:`~afg.experiments.spec.apply_to_stages`, which prints so)."""
    existing_file(path, "config file")
    try:
        cfg = load_experiment(path)
        require_model_name(path, overrides or [])
        if overrides:
            cfg = apply_to_stages(cfg.override(list(overrides)), list(overrides))
        if fold is not None and cfg.data.folds == 0:
            raise UsageError(f"--fold {fold}: {path} uses the official split (data.folds: 0)")
        check_device(device)
        ov = {**({"data.fold": fold} if fold is not None else {}),
              **({"recipe.device": device} if device is not None else {})}
        cfg = cfg.override(ov) if ov else cfg
    except UsageError:
        raise
    except ConfigError as exc:
        raise UsageError(_naming(path, exc)) from None
    except Exception as exc:  # noqa: BLE001 - yaml errors and the like: any unreadable file is one line
        raise UsageError(f"{path}: cannot read the config ({one_line(exc)})") from None
    check_experiment(cfg)
    return cfg


def load_ablation(path: str | os.PathLike, runs: str | None = None) -> tuple[Ablation, AblationSpec]:
    """Read and check an ablation file → ``(Ablation, AblationSpec)``; runs go under ``runs``."""
    p = existing_file(str(path), "ablation file")
    try:
        spec = AblationSpec.load(p)
        return spec.build(folder=p.parent, root=runs), spec
    except ConfigError as exc:
        raise UsageError(_naming(p, exc)) from None


def _naming(path: str | os.PathLike, exc: ConfigError) -> str:
    """The error's line, starting with ``path`` (once: YAML syntax errors name it already)."""
    text = one_line(exc)
    return text if text.startswith(str(path)) else f"{path}: {text}"
