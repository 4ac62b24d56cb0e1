"""Experiment configs (``configs/*.yaml``): ``model`` / ``data`` / ``recipe`` sections.

Schema::

    name: ""                 # optional, cosmetic (not part of the run hash)
    description: ""          # optional, cosmetic
    model:                   # keyword arguments of afg.models.create_model
      name: me_graphau       # registered model name
      num_classes: 12        # optional: taken from the data when omitted
      backbone: resnet50
      pretrained: true
      img_size: 224
      <model options>: ...   # e.g. neighbor_num, metric, use_gnn (see the model's docstring)
    data:                    # DataSpec
      dataset: synthetic     # synthetic | bp4d | disfa | emotionet | affectnet | affwild2 | rafdb |
                             #   rafml | rafcompound | jaffe | <register_dataset name>
      root: data/DISFA       # release folder (real datasets)
      prepared: null         # aligned faces from `afg prepare` (default <root>/prepared)
      profile: disfa         # synthetic: AU profile, n_subjects, images_per_subject, size,
      n_subjects: 12         #   occlusion_rate, seed
      images_per_subject: 20
      size: 112
      folds: null            # null: the dataset's protocol (its official split or the authors'
      fold: 1                #   folds; synthetic: 3); k: k-fold CV (off-protocol where an official
                             #   split exists, and said so); 0: the official split; fold is 1-based
      img_size / resize / hflip / rotation / color_jitter / threshold / split: ...
      basic: {}              # basic-expression faces for SVML-RGCN's class means (Eq. 5), e.g.
                             #   {dataset: rafdb, root: data/RAF-DB/basic, split: train};
                             #   attached to the training set as .basic_data (build_basic_data)
      frame_sampling: {}     # per-video sample of the training frames (AU-GCN §4.1,
                             #   afg.data.sampling): {positives: 100, negatives: 200, seed: 0}
      cache: true            # keep decoded images in memory
      packed: false          # true | a folder: read the faces from one shared memory-mapped
                             #   uint8 array (afg.data.packed; packed at data.resize when missing)
      augment_on: cpu        # cpu | device: hflip/rotation/color_jitter/crop per item in the
                             #   loader, or batched on the training device (afg.data.device_augment)
      decode_on: cpu         # cpu | device: training JPEGs decoded by the loader, or by nvJPEG on
                             #   the GPU (too large to pack; needs augment_on: device)
      options: {}            # anything else, passed to the dataset builder
    recipe: {...}            # afg.train.Recipe (see afg.train.recipe)

Dataset builders are registered with :func:`~afg.data.spec.register_dataset`; a builder takes the
:class:`~afg.data.spec.DataSpec` and returns ``(train, val)`` datasets of dict items. The
builders and the selection split live in :mod:`afg.data.build`.
"""
from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from typing import Any

from torch.utils.data import Dataset

from ..config import Config, ConfigError
from ..data.spec import DataSpec
from ..data.wrappers import base_dataset
from ..models import create_model
from ..pretrain import preset_spec, resolve_weights
from ..train.recipe import Recipe

__all__ = ["ExperimentConfig", "build_model", "load_experiment"]


@dataclass
class ExperimentConfig(Config):
    name: str = ""
    description: str = ""
    model: dict[str, Any] = field(default_factory=lambda: {"name": "baseline"})
    data: DataSpec = field(default_factory=DataSpec)
    recipe: Recipe = field(default_factory=Recipe)

    def __post_init__(self) -> None:
        if "name" not in self.model:
            raise ConfigError("model.name is required")


def load_experiment(config: ExperimentConfig | dict | str | os.PathLike) -> ExperimentConfig:
    if isinstance(config, ExperimentConfig):
        return config
    if isinstance(config, dict):
        return ExperimentConfig.from_dict(config)
    return ExperimentConfig.from_yaml(config)


def _check_classes(model: Any, num_classes: int, base: Any) -> None:
    """An expression model's ``num_classes`` must be the data's class count: a target the model
    has no output for (AffectNet's Contempt, code 7, under a 7-class model) is a config error,
    not an index error half-way into training."""
    names = getattr(base, "expression_names", None) if base is not None else None
    if getattr(model, "task", None) == "expression" and names and len(names) != int(num_classes):
        raise ConfigError(f"model.num_classes is {num_classes} but the data has {len(names)} expression "
                          f"classes {list(names)}; pick the classes in data.options (e.g. AffectNet "
                          f"num_classes: 7, Aff-Wild2 num_classes: 7) or change model.num_classes")


_base = base_dataset  # the old private name (afg.cli and afg.demo import it); use afg.data.wrappers.base_dataset


def build_model(model_cfg: dict[str, Any], train_data: Dataset | None = None):
    """``create_model(**model_cfg)``; ``num_classes`` and label names come from the data, and a
    named pretraining in ``model.weights`` (``"synthetic-long"``) is resolved into its weights file
    here (:func:`afg.pretrain.resolve_weights`), before the model is built."""
    cfg = dict(model_cfg)
    name = cfg.pop("name")
    base = base_dataset(train_data) if train_data is not None else None
    if "num_classes" not in cfg:
        n = getattr(base, "num_classes", None) if base is not None else None
        if n is None and base is not None:
            n = len(getattr(base, "au_names", []) or []) or None
        if n is None:
            raise ConfigError("model.num_classes is required (the data does not say)")
        cfg["num_classes"] = int(n)
    if preset_spec(cfg.get("weights")) is not None:
        defaults = inspect.signature(create_model).parameters
        cfg["weights"] = resolve_weights(cfg["weights"], cfg.get("backbone", defaults["backbone"].default),
                                         int(cfg.get("img_size", defaults["img_size"].default)))
    model = create_model(name, **cfg)
    if "weights" in cfg:  # the checkpoint records the config's pretraining name, not this machine's file
        model.model_config["weights"] = model_cfg["weights"]
    _check_classes(model, cfg["num_classes"], base)
    if base is not None and getattr(model, "label_names", None) is None:
        attr = {"au": "au_names", "expression": "expression_names",
                "multilabel": "emotion_names"}.get(getattr(model, "task", "au"))
        names = getattr(base, attr, None) if attr else None
        if names is not None and len(names) == cfg["num_classes"]:
            model.label_names = list(names)
    return model
