"""Checks that run before any work: a config's model, backbone, weights files and data exist, and a
checkpoint fits the data it is evaluated on.

The typed configs (:class:`~afg.experiments.ExperimentConfig`, :class:`~afg.experiments.AblationSpec`)
already reject unknown keys and values of the wrong type; these checks look one step further — into
the model registry, the backbone names, the files a config names and the release folders — so that a
mistake is one :class:`~afg.config.ConfigError` line (naming the key, the value and the closest valid
ones) before a run folder exists. ``afg train``/``cv``/``ablate``/``eval`` call them; so can a script.
"""
from __future__ import annotations

import difflib
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..backbones import check_backbone_name
from ..config import ConfigError
from ..data.datasets import ADAPTERS
from ..data.spec import DATASETS, DataSpec
from ..data.synth import PROFILES
from ..data.wrappers import base_dataset
from ..models import list_models
from ..models.registry import model_factory
from ..pretrain import PRETRAIN_PRESETS, preset_spec
from ..runs import CheckpointError, load_checkpoint
from .config import ExperimentConfig

__all__ = ["check_checkpoint_fits", "check_checkpoint_model", "check_data", "check_experiment", "check_model",
           "check_weights_file", "require_model_name"]

#: label-name attribute of a dataset, by the task a checkpoint predicts
_LABEL_ATTR = {"au": "au_names", "expression": "expression_names", "multilabel": "emotion_names"}


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def require_model_name(path: str | Path, overrides: Sequence[str] = ()) -> None:
    """A config file must name its model: the Python default (a ResNet-50 baseline) is never what a
    user who forgot ``model:`` wants. ``overrides`` (``KEY=VALUE``) may set ``model.name``."""
    raw = yaml.safe_load(Path(path).read_text())
    model = raw.get("model") if isinstance(raw, dict) else None
    named = isinstance(model, dict) and bool(model.get("name"))
    if not named and not any(str(o).split("=", 1)[0].strip() == "model.name" for o in overrides):
        raise ConfigError(f"model.name is required (one of {', '.join(list_models())})")


def check_model(model_cfg: dict[str, Any], where: str = "model") -> None:
    """The registered model exists and accepts every option, its backbone exists and its weights
    file loads (without building the model); unknown names get the closest valid ones."""
    name = model_cfg.get("name")
    try:
        factory = model_factory(str(name))
    except KeyError:
        close = difflib.get_close_matches(str(name), list_models(), n=3, cutoff=0.5)
        hint = f"closest: {', '.join(close)}; " if close else ""
        raise ConfigError(f"{where}.name: unknown model {name!r}; {hint}available: "
                          f"{', '.join(list_models())}") from None
    params = inspect.signature(factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(model_cfg) - set(params) - {"name"})
        if unknown:
            opts = ", ".join(p for p in params if p != "num_classes")
            raise ConfigError(f"{where}.{unknown[0]}: model {name!r} has no option {unknown[0]!r}; "
                              f"options: {opts}")
    if isinstance(model_cfg.get("backbone"), str):
        try:
            check_backbone_name(model_cfg["backbone"])
        except ValueError as exc:
            raise ConfigError(f"{where}.backbone: {_one_line(exc)}") from None
    weights = model_cfg.get("weights")
    if isinstance(weights, str) and preset_spec(weights) is None:
        check_weights_file(weights, f"{where}.weights")


#: weights files already checked: (resolved path, size, mtime) — an ablation validates every run
_CHECKED_WEIGHTS: set[tuple[str, int, int]] = set()


def check_weights_file(path: str | Path, where: str) -> None:
    """The file exists and loads weights-only (no pickled object, not truncated)."""
    p = Path(path)
    if not p.is_file():
        named = ", ".join(PRETRAIN_PRESETS)
        raise ConfigError(f"{where}: file not found: {path} (give a weights file or a named pretraining: {named})")
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key in _CHECKED_WEIGHTS:
        return
    try:
        load_checkpoint(p)
    except CheckpointError as exc:
        raise ConfigError(f"{where}: {_one_line(exc)}") from None
    _CHECKED_WEIGHTS.add(key)


def check_data(spec: DataSpec, where: str = "data") -> None:
    """The dataset (or synthetic profile) exists; a release has its folder and a prepared manifest."""
    name = spec.dataset.lower()
    if name == "synthetic":
        if spec.profile not in PROFILES:
            raise ConfigError(f"{where}.profile: unknown synthetic profile {spec.profile!r}; "
                              f"choose from {', '.join(sorted(PROFILES))}")
        return
    if name in DATASETS:
        return
    key = name.replace("_", "").replace("-", "")
    known = {k.replace("-", "") for k in ADAPTERS}
    if key not in known:
        raise ConfigError(f"{where}.dataset: unknown dataset {spec.dataset!r}; choose from "
                          f"synthetic, {', '.join(sorted(known | set(DATASETS) - {'synthetic'}))}")
    if not spec.root:
        raise ConfigError(f"{where}.root is required for dataset {spec.dataset!r} (--set data.root=PATH)")
    if not Path(spec.root).exists():
        raise ConfigError(f"{where}.root: release folder not found: {spec.root}")
    prepared = Path(spec.prepared or Path(spec.root) / "prepared")
    if not (prepared / "manifest.csv").is_file():
        raise ConfigError(f"{where}.prepared: {prepared} holds no manifest.csv; run "
                          f"`afg prepare {spec.dataset} --root {spec.root} --out {prepared}` first")


def check_experiment(cfg: ExperimentConfig) -> None:
    """:func:`check_model` on the config's model and on each stage's (merged) model, the stages'
    ``init_from`` checkpoints, and :func:`check_data`."""
    check_model(cfg.model, "model")
    merged = dict(cfg.model)
    for i, st in enumerate(cfg.recipe.stages):
        if st.model:
            merged = {**merged, **st.model}
            check_model(merged, f"recipe.stages[{i}].model")
        if st.init_from not in (None, "previous"):
            if not Path(st.init_from).is_file():
                raise ConfigError(f"recipe.stages[{i}].init_from: checkpoint not found: {st.init_from}")
            check_weights_file(st.init_from, f"recipe.stages[{i}].init_from")
    check_data(cfg.data)


def check_checkpoint_model(info: Any, described: ExperimentConfig, checkpoint: str | Path,
                           source: str | Path) -> None:
    """The checkpoint (``info`` of :func:`afg.predict.load_model_checkpoint`) holds one of the models
    that ``described`` (an experiment config read from ``source``) trains: its model or a stage's."""
    name = info["model_config"].get("name")
    names = {described.model.get("name")} | {s.model.get("name") for s in described.recipe.stages
                                             if s.model.get("name")}
    if name not in names:
        raise ConfigError(f"checkpoint {checkpoint} holds model {name!r} but {source} describes "
                          f"{' / '.join(sorted(n for n in names if n))}")


def check_checkpoint_fits(info: Any, data: Any, checkpoint: str | Path) -> None:
    """The checkpoint predicts ``data``'s labels: the same number and, when both are known, the
    same names (``data``: a dataset or any Subset/CachedDataset wrapper of one)."""
    name = info["model_config"].get("name")
    data_names = list(getattr(base_dataset(data), _LABEL_ATTR[info["task"]], None) or [])
    n_model = int(info["model_config"].get("num_classes") or 0)
    if data_names and len(data_names) != n_model:
        raise ConfigError(f"checkpoint {checkpoint} predicts {n_model} labels ({name}) but the data has "
                          f"{len(data_names)} ({', '.join(data_names[:12])})")
    if info["label_names"] and data_names and list(info["label_names"]) != data_names:
        raise ConfigError(f"checkpoint labels {info['label_names']} differ from the data's {data_names}")
