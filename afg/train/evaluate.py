"""Evaluation per task over a whole dataset (sharded across DDP ranks, gathered, vectorised).

* ``"au"``: :func:`afg.metrics.au.au_report` — per-AU F1 (threshold 0.5), accuracy, AUC and means;
  masked labels ignored.
* ``"expression"``: :func:`afg.metrics.expression.expression_report` — accuracy, mean class
  accuracy, macro F1, dataset-level CCC for valence/arousal; the confusion matrix is returned
  under ``confusion_matrix`` (a list of lists; not a scalar, so it goes to JSON only).
* ``"multilabel"``: :func:`afg.metrics.multilabel.multilabel_report` — the nine metrics over the
  faces whose label vector is complete; ``incomplete_rows`` counts the faces left out (a NaN
  label, e.g. a picture without ratings that reached the evaluation set).

Batches are dicts (``afg`` conventions, see DESIGN.md); :func:`standardize_batch` also accepts
the synthetic generator's alternative key names (``aus``, ``valence``/``arousal``,
``expression_multilabel``).

Mixed precision (``recipe.amp``, :func:`autocast_dtype`): the forward pass runs under
``torch.autocast`` — bf16 or fp16 on CUDA, bf16 on a CPU with native bfloat16 instructions
(AVX512-BF16 or AMX); ``auto`` is bf16 wherever the device computes it natively and float32
elsewhere — and its outputs are cast back to float32 (:func:`float_outputs`) before the
criterion and the metrics, so losses and metrics are float32 sums whatever the forward ran in.
:func:`precision_name` names what a run's forward pass ran in (the evaluation record's ``precision``, :class:`afg.runs.RunFolder`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from ..progress import bar as progress_bar
from .distributed import DistContext

__all__ = ["autocast_dtype", "collate", "compute_metrics", "cpu_has_bf16", "cuda_has_bf16", "evaluate",
           "float_outputs", "model_inputs", "precision_name", "standardize_batch"]


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bfloat16 arithmetic (AVX512-BF16 or AMX tiles), the
    instructions oneDNN's bf16 convolutions and matrix products need to be faster than float32
    (without them bf16 is emulated)."""
    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def cuda_has_bf16() -> bool:
    """Whether CUDA computes bfloat16 natively (compute capability 8.0+). Without a visible GPU
    (a login node resolving a config a GPU job will run) it answers ``True``, the GPUs of today."""
    if not torch.cuda.is_available():
        return True
    return bool(torch.cuda.is_bf16_supported(including_emulation=False))


def autocast_dtype(amp: str, device_type: str) -> torch.dtype | None:
    """The dtype ``torch.autocast`` runs ``recipe.amp`` in on ``device_type``, or ``None`` where
    it cannot (float32): ``bf16``/``fp16`` on CUDA; ``bf16`` on a CPU with :func:`cpu_has_bf16`;
    nothing else (fp16 on the CPU, bf16 on a CPU without native bf16, other devices).
    ``auto``: bf16 on a CPU with :func:`cpu_has_bf16` or a GPU with :func:`cuda_has_bf16`,
    float32 elsewhere (never fp16, whose loss scaling changes the recipe)."""
    if amp == "none":
        return None
    if amp == "auto":
        native = (device_type == "cpu" and cpu_has_bf16()) or (device_type == "cuda" and cuda_has_bf16())
        return torch.bfloat16 if native else None
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    if device_type == "cuda" or (device_type == "cpu" and amp == "bf16" and cpu_has_bf16()):
        return dtype
    return None


def precision_name(amp: str, device_type: str) -> str:
    """What a forward pass under ``recipe.amp`` = ``amp`` runs in on ``device_type``:
    ``"float32"``, ``"bfloat16 autocast"`` or ``"float16 autocast"`` (:func:`autocast_dtype`)."""
    dtype = autocast_dtype(amp, device_type)
    return "float32" if dtype is None else f"{str(dtype).removeprefix('torch.')} autocast"


def float_outputs(out: dict[str, Any]) -> dict[str, Any]:
    """``out`` with its half-precision tensors (bf16/fp16, from an autocast forward pass) cast to
    float32, so that losses and metrics are computed in float32 (float32 tensors pass as they are)."""
    return {k: v.float() if torch.is_tensor(v) and v.dtype in (torch.bfloat16, torch.float16) else v
            for k, v in out.items()}


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Default collate plus key standardisation (keys every item has are kept)."""
    keys = set(items[0])
    for it in items[1:]:
        keys &= set(it)
    batch = torch.utils.data.default_collate([{k: it[k] for k in keys} for it in items])
    return standardize_batch(batch)


def standardize_batch(batch: dict[str, Any]) -> dict[str, Any]:
    """Alias alternative label keys to the DESIGN.md names and add ``au_mask`` when missing."""
    if "au" not in batch and "aus" in batch:
        batch["au"] = batch["aus"]
    if "au" in batch:
        au = torch.as_tensor(batch["au"]).float()
        batch["au"] = au
        if "au_mask" not in batch:
            batch["au_mask"] = ~torch.isnan(au)
    if "va" not in batch and "valence" in batch and "arousal" in batch:
        batch["va"] = torch.stack(
            [torch.as_tensor(batch["valence"]).float(), torch.as_tensor(batch["arousal"]).float()], -1
        )
    if "emotions" not in batch and "expression_multilabel" in batch:
        batch["emotions"] = torch.as_tensor(batch["expression_multilabel"]).float()
    return batch


def to_device(batch: dict[str, Any], device: torch.device, channels_last: bool = False) -> dict[str, Any]:
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device, non_blocking=True)
            if k == "image" and channels_last and v.ndim == 4:
                v = v.contiguous(memory_format=torch.channels_last)
        out[k] = v
    return out


def model_inputs(model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
    """``(images, extra kwargs)`` for ``model.forward``.

    ``model.forward_keys`` are required batch keys (a ``KeyError`` names the missing ones);
    ``model.optional_forward_keys`` are passed when the batch has them.
    """
    keys = getattr(model, "forward_keys", ()) or ()
    missing = [k for k in keys if k not in batch]
    if missing:
        raise KeyError(f"{type(model).__name__} needs batch keys {missing} (forward_keys) that the data lacks")
    extra = {k: batch[k] for k in keys}
    for k in getattr(model, "optional_forward_keys", ()) or ():
        if k in batch and k not in extra:
            extra[k] = batch[k]
    return batch["image"], extra


def _unwrap(model: nn.Module) -> nn.Module:
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    m = getattr(model, "_orig_mod", None)
    return m if isinstance(m, nn.Module) else model


def _label_names(data: Any, attr: str) -> list[str] | None:
    ds = data
    while isinstance(ds, Subset):
        ds = ds.dataset
    names = getattr(ds, attr, None)
    return list(names) if names is not None else None


def compute_metrics(task: str, preds: dict[str, np.ndarray], labels: dict[str, np.ndarray],
                    names: Sequence[str] | None = None) -> dict[str, Any]:
    """Metrics of gathered predictions/labels for ``task`` (flat dict)."""
    if task == "au":
        # local: scikit-learn/SciPy only when evaluating, not for afg predict / export
        from ..metrics.au import au_report

        return au_report(labels["au"], preds["au"], labels.get("au_mask"), names=names)
    if task == "expression":
        out: dict[str, Any] = {}
        logits = preds.get("expression")
        y = labels.get("expression")
        va_p, va_t = preds.get("va"), labels.get("va")
        # local: scikit-learn/SciPy only when evaluating, not for afg predict / export
        from ..metrics.expression import expression_confusion_matrix, expression_report

        out.update(expression_report(y, logits, va_t if va_p is not None else None, va_p))
        if logits is not None and y is not None:
            out["confusion_matrix"] = expression_confusion_matrix(
                y, logits, num_classes=logits.shape[-1]).tolist()
        return out
    if task == "multilabel":
        # local: scikit-learn/SciPy only when evaluating, not for afg predict / export
        from ..metrics.multilabel import incomplete_rows, multilabel_report

        scores = 1.0 / (1.0 + np.exp(-preds["emotions"]))
        # faces with an incomplete label vector are not scored; how many is part of the report
        skipped = int(incomplete_rows(labels["emotions"]).sum())
        out = {k: float(v) for k, v in multilabel_report(labels["emotions"], scores).items()}
        out["incomplete_rows"] = skipped
        return out
    raise ValueError(f"unknown task {task!r}")


_LABEL_KEYS = {"au": ("au", "au_mask"), "expression": ("expression", "va"), "multilabel": ("emotions",)}
_PRED_KEYS = {"au": ("au",), "expression": ("expression", "va"), "multilabel": ("emotions",)}


def _predict(model: nn.Module, loader: DataLoader, task: str, device: torch.device,
             criterion: nn.Module | None, amp: str, channels_last: bool,
             progress: bool) -> tuple[dict[str, list[np.ndarray]], dict[str, list[np.ndarray]], float, int]:
    """Per-batch predictions and labels of ``task`` over ``loader``, the summed criterion loss
    (Σ_b loss_b · |b|) and the sample count."""
    core = _unwrap(model)
    preds: dict[str, list[np.ndarray]] = {k: [] for k in _PRED_KEYS[task]}
    labels: dict[str, list[np.ndarray]] = {k: [] for k in _LABEL_KEYS[task]}
    loss_sum, count = 0.0, 0
    dtype = autocast_dtype(amp, device.type)
    for batch in progress_bar(desc="eval", enabled=progress, iterable=loader, leave=False):
        batch = to_device(batch, device, channels_last)
        images, extra = model_inputs(core, batch)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = model(images, **extra)
        out = float_outputs(out)
        if criterion is not None:
            loss_sum += float(criterion(out, batch)["loss"]) * images.shape[0]
        count += images.shape[0]
        for k, acc in preds.items():
            if k in out:
                acc.append(out[k].float().cpu().numpy())
        for k, acc in labels.items():
            if k in batch:
                acc.append(batch[k].cpu().numpy())
    return preds, labels, loss_sum, count


def _gathered(parts: list[dict[str, Any]], field: str, keys: Any) -> dict[str, np.ndarray]:
    """``field`` (``preds``/``labels``) of every rank's shard, concatenated in dataset order."""
    order = np.argsort(np.concatenate([p["idx"] for p in parts]), kind="stable")
    return {k: np.concatenate([p[field][k] for p in parts if k in p[field]])[order] for k in keys}


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Dataset,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    num_workers: int = 0,
    criterion: nn.Module | None = None,
    amp: str = "none",
    channels_last: bool = False,
    dist_ctx: DistContext | None = None,
    progress: bool = False,
    task: str | None = None,
    return_predictions: bool = False,
) -> dict[str, Any]:
    """Metrics of ``model`` on ``data`` (and ``val_loss`` = Σ loss_b·|b| / n when a criterion is
    given).

    Under DDP each rank evaluates ``range(rank, n, world)`` (no padding) and the predictions are
    gathered, so every rank returns the metrics of the whole set.
    """
    ctx = dist_ctx or DistContext()
    core = _unwrap(model)
    task = task or getattr(core, "task", "au")
    device = torch.device(device) if device is not None else next(core.parameters()).device
    idx = list(range(ctx.rank, len(data), ctx.world_size))
    loader = DataLoader(Subset(data, idx), batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, collate_fn=collate,
                        pin_memory=device.type == "cuda")
    was_training = core.training
    model.eval()
    preds, labels, loss_sum, count = _predict(model, loader, task, device, criterion, amp, channels_last,
                                              progress and ctx.is_main)
    if was_training:
        model.train()
    local = {
        "idx": np.asarray(idx, dtype=np.int64),
        "preds": {k: np.concatenate(v) for k, v in preds.items() if v},
        "labels": {k: np.concatenate(v) for k, v in labels.items() if v},
        "loss": loss_sum,
        "count": count,
    }
    parts = ctx.all_gather_objects(local)
    P, L = _gathered(parts, "preds", local["preds"]), _gathered(parts, "labels", local["labels"])
    names = _label_names(data, {"au": "au_names", "expression": "expression_names",
                                "multilabel": "emotion_names"}[task])
    metrics = compute_metrics(task, P, L, names=names if task == "au" else None)
    if criterion is not None:
        metrics["val_loss"] = sum(p["loss"] for p in parts) / max(1, sum(p["count"] for p in parts))
    if return_predictions:
        metrics["_predictions"] = P
        metrics["_labels"] = L
    return metrics
