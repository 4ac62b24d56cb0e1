"""The ``data`` section of an experiment config (:class:`DataSpec`, schema in
:mod:`afg.experiments.config`) and the dataset-builder registry (:func:`register_dataset`); the
builders themselves are in :mod:`afg.data.build`."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch.utils.data import Dataset

from ..config import Config, ConfigError
from .sampling import FrameSampling

__all__ = ["DATASETS", "DataSpec", "register_dataset"]


@dataclass
class DataSpec(Config):
    """The ``data`` section of an experiment config (schema in :mod:`afg.experiments.config`)."""

    dataset: str = "synthetic"
    root: str | None = None
    prepared: str | None = None
    profile: str = "disfa"
    n_subjects: int = 12
    images_per_subject: int = 20
    size: int = 112
    occlusion_rate: float = 0.0
    seed: int = 0
    folds: int | None = None  # None: the dataset's protocol (synthetic and registered builders: 3)
    fold: int = 1
    img_size: int | None = None
    resize: int | None = None
    hflip: bool = False
    rotation: float = 0.0
    color_jitter: bool | float = False  # true = strength 0.2 (afg.data.augment.FaceAugment)
    threshold: float | None = None
    split: str | None = None
    basic: dict[str, Any] = field(default_factory=dict)
    cache: bool = True
    options: dict[str, Any] = field(default_factory=dict)
    frame_sampling: dict[str, Any] = field(default_factory=dict)
    packed: bool | str = False
    augment_on: str = "cpu"
    decode_on: str = "cpu"

    def __post_init__(self) -> None:
        if self.folds is None and self.dataset.lower() in {"synthetic", *DATASETS}:
            # the synthetic faces' (and any registered builder's) 3 folds, as always; "synthetic" by
            # name, since its builder registers when afg.data.build is imported
            self.folds = 3
        if self.folds is not None and (self.folds < 0 or self.folds == 1):
            raise ConfigError(f"data.folds: {self.folds} must be 0 (the official split), k >= 2, or "
                              "unset (the dataset's protocol)")
        if self.folds and not 1 <= self.fold <= self.folds:
            raise ConfigError(f"data.fold: {self.fold} is not in 1..{self.folds} (folds are 1-based)")
        if self.augment_on not in ("cpu", "device"):
            raise ConfigError(f"data.augment_on: {self.augment_on!r} is not cpu or device")
        if self.decode_on not in ("cpu", "device") or (self.decode_on == "device" and (
                self.augment_on != "device" or self.packed)):
            raise ConfigError(f"data.decode_on: {self.decode_on!r} must be cpu or device; device needs "
                              "data.augment_on: device and no data.packed (a pack is decoded already)")
        if self.frame_sampling:
            try:
                FrameSampling.from_spec(self.frame_sampling)
            except ValueError as e:
                raise ConfigError(str(e)) from None


DATASETS: dict[str, Callable[[DataSpec], tuple[Dataset, Dataset | None]]] = {}


def register_dataset(name: str):
    """Decorator: ``@register_dataset("mydata") def build(spec) -> (train, val)``."""

    def deco(fn):
        DATASETS[name.lower()] = fn
        return fn

    return deco
