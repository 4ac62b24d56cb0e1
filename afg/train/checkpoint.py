"""Writing checkpoints of plain tensors and Python types only (read back by :func:`afg.runs.load_checkpoint`).

A pickled checkpoint can execute code when unpickled; afg never unpickles arbitrary objects.
Everything that goes into a checkpoint is passed through :func:`to_plain` (NumPy arrays become
tensors, dataclasses dicts, unknown objects their ``str``), and the one loader,
:func:`afg.runs.load_checkpoint`, uses ``torch.load(..., weights_only=True)``. Files are written
atomically (temporary file, fsync, rename — :func:`afg.utils.atomic_torch_save`), so a kill never
leaves a half-written checkpoint. Where a run's checkpoints lie: :class:`afg.runs.RunFolder`.

The rebuilt model and a typed record of what a checkpoint holds (task, label names, stage, input
spec; afg and the authors' ME-GraphAU / OpenGraphAU formats):
:func:`afg.inference.load_model_checkpoint`.

Layout (``format: afg-checkpoint-v1``): ``model`` (state_dict), ``model_config``, ``task``,
``label_names``, ``input_spec`` (:class:`afg.runs.InputSpec`; absent in older files),
``optimizer``, ``scheduler``, ``scaler``, ``epoch`` (completed epochs), ``batch_in_epoch``,
``global_step``, ``rng`` (torch/cuda/numpy/python states), ``recipe``, ``stage``, ``metrics``,
``history``, ``best``, ``accum`` (running epoch sums), ``afg_version``; with ``recipe.ema_decay``
also ``ema`` (the averaged weights, the model's keys) and ``ema_updates`` — the selected weights'
``model`` is then the average (:mod:`afg.train.ema`).
"""
from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..utils import atomic_torch_save

__all__ = ["rng_state", "save_checkpoint", "set_rng_state", "to_plain"]

FORMAT = "afg-checkpoint-v1"


def to_plain(obj: Any) -> Any:
    """Recursively convert to tensors / dict / list / tuple / str / int / float / bool / None."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu() if obj.device.type != "cpu" else obj.detach()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_plain(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k) if not isinstance(k, int) else k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(to_plain(v) for v in obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (torch.dtype, torch.Size)):
        return obj
    return str(obj)


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "kind": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        cuda = list(state["cuda"])[: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(cuda)
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    state = to_plain({"format": FORMAT, **state})
    return atomic_torch_save(state, path)
