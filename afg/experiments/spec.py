"""The files a user writes besides experiment configs: ablation files (:class:`AblationSpec`) and the
data config of an evaluation (:func:`load_data_config`), typed like every other config.

An ablation file (``afg ablate``, ``configs/ablations/*.yaml``)::

    base: ../me_graphau_synthetic.yaml     # experiment config, relative to this file (or a mapping)
    set: {recipe.epochs: 1}                # optional dotted overrides applied to every variant
    folds: 3                               # k (folds 1..k), or a list of 1-based folds; default:
                                           #   the base config's data.fold only
    seeds: [0, 1]                          # optional: repeat every run with these recipe.seed
    metrics: [f1_mean, auc_mean]           # optional: table columns (default by task)
    reference: me_graphau/table3           # optional: afg.reference table printed alongside;
                                           #   without `variants`, its rows' overrides are used
    variants:                              # name -> dotted overrides ({} or null = the base)
      Backbone (WBCE): {model.use_afg: false, model.loss: wbce}
      +AFG+FGG, L_WA: {}
    executor: {name: slurm, partition: gpu, time_min: 240}   # optional: where the runs train
                                           #   (ExecutorSpec; afg ablate's options override it)

A ``set`` (or ``--set``) override of a recipe field that the recipe's stages set themselves
(``recipe.epochs``, ``recipe.optimizer.lr`` …) or of a model option a stage's ``model:`` sets is
copied into those stages (:func:`apply_to_stages`), so that it changes what it says.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Self

import yaml

from ..config import Config, ConfigError, apply_overrides, from_dict, parse_yaml
from ..reference import table_info
from ..reference import variants as reference_variants
from ..train.recipe import Recipe, Stage
from .ablation import Ablation
from .checks import check_experiment, require_model_name
from .config import DataSpec, ExperimentConfig, load_experiment
from .executors import ExecutorSpec, resolve_executor

__all__ = ["ABLATION_KEYS", "AblationSpec", "apply_to_stages", "load_data_config"]

#: one line per key whose value has the wrong shape (the typed parse's message names a Python type)
_SHAPES = {
    "base": "'base' must be a path or a mapping",
    "set": "'set' must be a mapping or a list of key=value",
    "folds": "'folds' must be an integer k or a list of 1-based folds",
    "seeds": "'seeds' must be a list of integers",
    "metrics": "'metrics' must be a list of metric names",
    "reference": "'reference' must be a table id such as me_graphau/table3",
    "variants": "'variants' must be a non-empty mapping name -> overrides",
}
#: recipe fields a stage sets itself (its own value wins over the recipe's)
_STAGE_FIELDS = tuple(f.name for f in fields(Stage) if f.name in {g.name for g in fields(Recipe)})


def _read_mapping(path: str | os.PathLike, prefix: str = "", hint: str = "") -> dict[str, Any]:
    """A YAML file whose top level is a mapping (``{}`` when empty); one ``ConfigError`` line for
    invalid YAML (naming the file, line and column) or another top level (starting with ``prefix``)."""
    data = parse_yaml(Path(path).read_text(), path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix}top level must be a mapping{hint}")
    return data


def _message(exc: BaseException) -> str:
    """An exception's text on one line (a KeyError's without the quotes ``str`` adds)."""
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    return " ".join(str(text).split()) or type(exc).__name__


@dataclass
class AblationSpec(Config):
    """An ablation file (format in the module docstring); unknown keys are refused.

    :meth:`load` reads one, :meth:`build` turns it into an :class:`~afg.experiments.Ablation` after
    checking every run it will train (:func:`~afg.experiments.checks.check_experiment`). Problems
    are one :class:`~afg.config.ConfigError` line without the file's name (:func:`afg.cli.load_ablation`
    puts it in front).
    """

    base: str | dict[str, Any] | None = None
    set: dict[str, Any] | list[str] | None = None
    folds: int | list[int] | None = None
    seeds: list[int] | None = None
    metrics: list[str] | None = None
    reference: str | None = None
    variants: dict[str, Any] | None = None
    description: str | None = None
    name: str | None = None
    executor: ExecutorSpec | None = None

    def __post_init__(self) -> None:
        if self.base is None:
            raise ConfigError("'base' (the experiment config) is required")
        if (self.variants is None and self.reference is None) or self.variants == {}:
            raise ConfigError(_SHAPES["variants"])
        for name, ov in (self.variants or {}).items():
            if not isinstance(ov, (dict, list, type(None))):
                raise ConfigError(f"variant {name!r}: overrides must be a mapping or a list of key=value")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Self:
        """The typed spec of a mapping; a wrong key or shape is one line naming it."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(ABLATION_KEYS))
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r}; valid keys: {', '.join(ABLATION_KEYS)}")
        if data.get("executor") is not None:  # ExecutorSpec's own messages ("executor.name: ...")
            data["executor"] = resolve_executor(data["executor"])
        try:
            return from_dict(cls, data)
        except ConfigError as exc:
            key = re.match(r"\w*", str(exc)).group()
            if key not in _SHAPES:
                raise
            raise ConfigError(_SHAPES[key]) from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Self:
        """Read an ablation YAML file (``yaml.safe_load``)."""
        return cls.from_dict(_read_mapping(path, "", f" with keys {', '.join(ABLATION_KEYS)}"))

    def base_config(self, folder: str | os.PathLike | None = None) -> ExperimentConfig:
        """The base experiment with ``set`` applied (also to the stages that set those fields);
        a relative ``base`` path is looked up in ``folder`` (the ablation file's), then as given."""
        if isinstance(self.base, dict):
            cfg = load_experiment(self.base)
            if not (isinstance(self.base.get("model"), dict) and self.base["model"].get("name")):
                raise ConfigError("base.model.name is required")
        else:
            path = Path(folder or ".") / self.base if not Path(self.base).is_absolute() else Path(self.base)
            if not path.is_file() and Path(self.base).is_file():
                path = Path(self.base)
            if not path.is_file():
                raise ConfigError(f"base config not found: {self.base}")
            cfg = load_experiment(path)
            try:
                require_model_name(path, [f"{k}=" for k in self.set or []])
            except ConfigError as exc:
                raise ConfigError(f"{path}: {exc}") from None
        if self.set:
            cfg = apply_to_stages(cfg.override(self.set), self.set)
        return cfg

    def variant_overrides(self) -> dict[str, dict[str, Any] | list[str]]:
        """``{name: overrides}``: the file's variants, or the reference table's rows without them."""
        if self.reference is not None:
            try:
                table_info(self.reference)
            except (KeyError, ValueError) as exc:
                raise ConfigError(f"reference: {_message(exc)}") from None
        found = self.variants if self.variants is not None else reference_variants(self.reference)
        if not found:
            raise ConfigError(_SHAPES["variants"])
        return {str(name): ov or {} for name, ov in found.items()}

    def build(self, folder: str | os.PathLike | None = None,
              root: str | os.PathLike | None = None) -> Ablation:
        """The :class:`~afg.experiments.Ablation` (runs under ``root``), every run checked first."""
        cfg = self.base_config(folder)
        variants = self.variant_overrides()
        abl = Ablation(cfg, variants, folds=self.folds, seeds=self.seeds, root=root, metrics=self.metrics)
        base = abl.base.to_dict()
        for name, ov in variants.items():
            try:
                ExperimentConfig.from_dict(apply_overrides(base, ov))
            except ConfigError as exc:
                raise ConfigError(f"variant {name!r}: {exc}") from None
        for name, _fold, _seed, run_cfg in list(abl.configs()):
            try:
                check_experiment(run_cfg)
            except ConfigError as exc:
                raise ConfigError(f"variant {name!r}: {exc}") from None
        return abl


#: keys of an ablation file, in the order of the format above
ABLATION_KEYS = tuple(f.name for f in fields(AblationSpec))


def apply_to_stages(cfg: ExperimentConfig, overrides: list[str] | dict[str, Any],
                    quiet: bool = False) -> ExperimentConfig:
    """Make ``recipe.KEY`` and ``model.KEY`` overrides reach the stages that set ``KEY`` themselves.

    A stage's own value wins over the recipe's (:meth:`afg.train.Recipe.resolved_stages`) and a
    stage's ``model:`` options over the config's ``model:``, so ``--set recipe.epochs=1`` alone would
    not change a config whose stages set ``epochs``. Each such override is copied into those stages
    (``recipe.optimizer.lr`` into stages whose ``optimizer`` sets ``lr``; ``model.lam`` into stages
    whose ``model`` sets ``lam`` — never ``model.name``, a stage's model switch), and a line on
    stdout says so (unless ``quiet``). Returns the new config.
    """
    if not cfg.recipe.stages:
        return cfg
    items = overrides.items() if isinstance(overrides, dict) else [
        (o.split("=", 1)[0].strip(), yaml.safe_load(o.split("=", 1)[1])) for o in overrides if "=" in o]
    d = cfg.to_dict()
    for key, value in items:
        if key.startswith("model.") and key != "model.name":
            field, sub = "model", key.split(".")[1:]
        elif key.startswith("recipe.") and key[len("recipe."):].split(".")[0] in _STAGE_FIELDS:
            field, *sub = key[len("recipe."):].split(".")
        else:
            continue
        hit = [st.get("name") or str(i + 1) for i, st in enumerate(d["recipe"]["stages"])
               if _set_in_stage(st, field, sub, value)]
        if hit and not quiet:
            print(f"afg: {key}={value} also applied to stage{'s' if len(hit) > 1 else ''} "
                  f"{', '.join(hit)} (they set their own {field if field != 'model' else key})",
                  flush=True)
    return type(cfg).from_dict(d)


def _set_in_stage(stage: dict[str, Any], field: str, sub: list[str], value: Any) -> bool:
    """Set ``stage[field][sub...] = value`` when the stage sets that entry itself (``sub`` empty:
    when it sets ``field``; an empty mapping sets nothing, except ``losses: {}``)."""
    own = stage.get(field)
    if not sub:
        if own is None or (isinstance(own, dict) and not own and field != "losses"):
            return False
        stage[field] = value
        return True
    cur = own
    for k in sub[:-1]:
        cur = cur.get(k) if isinstance(cur, dict) else None
    if isinstance(cur, dict) and sub[-1] in cur:
        cur[sub[-1]] = value
        return True
    return False


def load_data_config(path: str | os.PathLike,
                     overrides: list[str] | None = None) -> tuple[ExperimentConfig, bool]:
    """The data to evaluate on: an experiment config (its ``data:``) or a bare ``data:`` section.

    Returns ``(config, describes_model)``: ``describes_model`` when the file has a ``model:``
    section (then a checkpoint must hold one of its models).
    """
    raw = _read_mapping(path, f"{path}: ")
    try:
        if "data" in raw or "model" in raw or "recipe" in raw:
            cfg = ExperimentConfig.from_dict(raw)
        else:  # a bare data section
            cfg = ExperimentConfig(data=DataSpec.from_dict(raw))
        if overrides:
            cfg = cfg.override(list(overrides))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {_message(exc)}") from None
    return cfg, "model" in raw
