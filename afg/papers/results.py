"""What a notebook reads back from runs and datasets: a run's validation predictions, its trained
model (from the :class:`~afg.experiments.RunResult` or the run cache, or one stage's checkpoint),
dataset attributes under wrappers, and a few faces ready to display."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import Subset

from ..data.build import build_data
from ..data.transforms import denormalize
from ..experiments.config import ExperimentConfig, build_model, load_experiment
from ..experiments.runner import RunResult, final_model_config, held_out_settings, run
from ..runs import RunFolder, load_checkpoint
from ..train.evaluate import collate, evaluate

__all__ = ["dataset_attr", "first_images", "label_names", "load_stage_model", "model_for", "predictions",
           "to_uint8"]

def predictions(result: Any, batch_size: int | None = None) -> dict[str, Any]:
    """Held-out predictions of a :class:`RunResult` (``load_model=True`` or freshly trained):
    ``{"metrics", "preds", "labels", "data"}`` from :func:`afg.train.evaluate`, computed as the
    run's own held-out evaluation computed them — its last stage's ``amp`` (bf16 autocast where
    the run used it), memory format and evaluation batch size (``batch_size`` overrides) — so a
    figure drawn from them (a confusion matrix, Fig. 6) shows the model the run's table scored."""
    if result.model is None:
        raise ValueError("the RunResult carries no model; run it with load_model=True")
    _, val = build_data(result.config.data)
    settings = held_out_settings(result.config)
    if batch_size:
        settings["batch_size"] = batch_size
    m = evaluate(result.model, val, return_predictions=True, **settings)
    preds, labels = m.pop("_predictions"), m.pop("_labels")
    return {"metrics": m, "preds": preds, "labels": labels, "data": val}


def model_for(result: RunResult | ExperimentConfig | dict, root: str | os.PathLike | None = None,
              device: str | torch.device = "cpu") -> torch.nn.Module:
    """The trained model (best weights of the last stage, eval mode) of a run — from the
    :class:`RunResult` when it holds one, otherwise rebuilt from the run cache."""
    model = getattr(result, "model", None)
    if model is None:
        cfg = result.config if isinstance(result, RunResult) else load_experiment(result)
        model = run(cfg, root=root, load_model=True).model
    return model.to(device).eval()


def load_stage_model(result: Any, stage: str):
    """The model of a finished multi-stage run restored from one stage's checkpoint
    (its resumable checkpoint, :meth:`afg.runs.RunFolder.stage`), e.g. AU-GCN after its
    auto-encoder pre-training."""
    d = RunFolder(result.run_dir).stage(stage)
    if d is None:
        raise FileNotFoundError(f"no stage {stage!r} in {result.run_dir}")
    train, _ = build_data(result.config.data)
    model = build_model(final_model_config(result.config, stage), train)
    model.load_state_dict(load_checkpoint(RunFolder.last(d))["model"], strict=False)
    return model.eval()


def dataset_attr(data: Any, attr: str, default: Any = None) -> Any:
    """An attribute of the dataset under ``Subset``/``CachedDataset`` wrappers (``au_names``,
    ``emotion_names``, ``expression_names`` …); ``default`` when none has it."""
    ds = data
    for _ in range(10):
        if hasattr(ds, attr) and not isinstance(ds, (Subset,)):
            return getattr(ds, attr)
        nxt = getattr(ds, "dataset", None) if isinstance(ds, Subset) else getattr(ds, "base", None)
        if nxt is None:
            break
        ds = nxt
    return default


def label_names(dataset: Any, attr: str = "au_names") -> list[str]:
    """``au_names`` (or ``attr``) of a dataset, looking through ``Subset``/``CachedDataset`` wrappers."""
    ds = dataset
    while not hasattr(ds, attr):
        inner = getattr(ds, "dataset", None) or getattr(ds, "base", None)
        if inner is None:
            raise AttributeError(f"{type(dataset).__name__} has no {attr}")
        ds = inner
    return list(getattr(ds, attr))


def first_images(data: Any, n: int = 4) -> dict[str, Any]:
    """The first ``n`` items of a dataset collated: ``image`` (n,3,H,W), ``rgb`` (n,H,W,3) uint8
    (ImageNet normalisation undone) and every other key the items share."""
    batch = collate([data[i] for i in range(min(n, len(data)))])
    batch["rgb"] = (denormalize(batch["image"]) * 255).byte().permute(0, 2, 3, 1).numpy()  # (n, H, W, 3)
    return batch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """ImageNet-normalised ``(B, 3, H, W)`` (or ``(3, H, W)``) → ``(B, H, W, 3)`` uint8 for display."""
    x = images.detach().cpu().float()
    if x.dim() == 3:
        x = x[None]
    x = denormalize(x).permute(0, 2, 3, 1)  # (B, H, W, 3) in [0, 1]
    return (x.numpy() * 255).round().astype(np.uint8)
