"""Checkpoints of plain tensors and Python types only, always loaded with ``weights_only=True``.

A pickled checkpoint can execute code when unpickled; afg never unpickles arbitrary objects.
Everything that goes into a checkpoint is passed through :func:`to_plain` (NumPy arrays become
tensors, dataclasses dicts, unknown objects their ``str``), and :func:`load_checkpoint` uses
``torch.load(..., weights_only=True)``. Files are written atomically (temporary file, fsync,
rename — :func:`afg.utils.atomic_torch_save`), so a kill never leaves a half-written ``last.pt``.

:func:`load_checkpoint` is the one loader of every weights file in afg (``Predictor``, ``afg
eval``/``predict``, stage ``init_from``, ``create_backbone(weights=)``, the ME-GraphAU converters).
It also reads ``.safetensors`` files (:mod:`afg.export`), and it tells apart the ways a file can
fail, each as one :class:`CheckpointError` line: *not a PyTorch checkpoint* (neither a
``torch.save`` zip archive, a pickle nor a safetensors file), *truncated or corrupt (N bytes)*, and
*refuses pickled objects* (the file asks the unpickler for a Python object such as ``os.system``;
``weights_only=True`` never builds it, so nothing in the file runs).

The rebuilt model and a typed record of what a checkpoint holds (task, label names, stage,
``data.resize``; afg and the authors' ME-GraphAU / OpenGraphAU formats):
:func:`afg.train.checkpoint_info.load_model_checkpoint`.

Layout (``format: afg-checkpoint-v1``): ``model`` (state_dict), ``model_config``, ``task``,
``label_names``, ``optimizer``, ``scheduler``, ``scaler``, ``epoch`` (completed epochs),
``batch_in_epoch``, ``global_step``, ``rng`` (torch/cuda/numpy/python states), ``recipe``,
``stage``, ``metrics``, ``history``, ``best``, ``accum`` (running epoch sums), ``afg_version``;
with ``recipe.ema_decay`` also ``ema`` (the averaged weights, the model's keys) and
``ema_updates`` — ``best.pt``'s ``model`` is then the average (:mod:`afg.train.ema`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import pickle
import random
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..utils import atomic_torch_save

__all__ = ["CheckpointError", "load_checkpoint", "read_safetensors_header", "recover_run_dir", "rng_state",
           "save_checkpoint", "set_rng_state", "to_plain"]

FORMAT = "afg-checkpoint-v1"


class CheckpointError(ValueError):
    """The file is missing, not a checkpoint, or holds a model afg cannot rebuild (one line)."""


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


def _file_kind(head: bytes, size: int) -> str:
    """``zip`` (``torch.save``), ``pickle`` (legacy ``torch.save`` / plain pickle), ``safetensors``
    or ``unknown`` from the first bytes of a file."""
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") + 8 <= max(size, 9):
        return "safetensors"
    return "unknown"


def read_safetensors_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a safetensors file (tensor table and ``__metadata__``); raises
    :class:`CheckpointError` when the header is cut off or not JSON."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        raw = f.read(n) if 8 + n <= size else b""
    try:
        header = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: truncated or corrupt ({size} bytes; safetensors header unreadable)")
    ends = [int(v["data_offsets"][1]) for k, v in header.items()
            if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v]
    if 8 + n + max(ends, default=0) > size:
        raise CheckpointError(f"{path}: truncated or corrupt ({size} bytes; the safetensors header "
                              f"promises {8 + n + max(ends)})")
    return header


def _load_safetensors(path: Path, map_location: Any) -> dict[str, Any]:
    """Tensors of a safetensors file; with afg metadata (:func:`afg.export.export_safetensors`)
    the checkpoint layout ``{"model": ..., "model_config": ..., "task": ..., "label_names": ...}``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta = read_safetensors_header(path).get("__metadata__") or {}
    device = map_location if isinstance(map_location, str) else "cpu"
    try:
        tensors = load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: truncated or corrupt ({path.stat().st_size} bytes; "
                              f"{_first_line(exc)})") from None
    if meta.get("format", "").startswith("afg-") and "model_config" in meta:
        out: dict[str, Any] = {"model": tensors}
        for key in ("model_config", "label_names", "metrics", "stage", "resize", "label_descriptions"):
            if key in meta:
                try:
                    out[key] = json.loads(meta[key])
                except json.JSONDecodeError:
                    raise CheckpointError(f"{path}: safetensors metadata {key!r} is not JSON") from None
        for key in ("task", "afg_version"):
            if key in meta:
                out[key] = meta[key]
        return out
    return tensors


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0][:160] if text else type(exc).__name__)


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """Load an afg checkpoint, a bare state_dict or a ``.safetensors`` file — never arbitrary
    objects: ``torch.load(..., weights_only=True)``.

    Raises :class:`CheckpointError` with one line: ``checkpoint not found``, ``not a PyTorch
    checkpoint``, ``truncated or corrupt (N bytes)`` or ``refuses pickled objects`` (the file
    references a Python callable such as ``os.system``; it is not executed).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found" if not path.is_dir() else
                              f"{path}: is a folder, expected a checkpoint file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
    kind = _file_kind(head, size)
    if size == 0:
        raise CheckpointError(f"{path}: truncated or corrupt ({size} bytes)")
    if kind == "safetensors" or (kind == "unknown" and path.suffix == ".safetensors"):
        return _load_safetensors(path, map_location)
    if kind == "unknown":
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (neither a torch.save archive, a "
                              "pickle nor a safetensors file)")
    if kind == "zip":
        if not zipfile.is_zipfile(path):
            raise CheckpointError(f"{path}: truncated or corrupt ({size} bytes)")
        with zipfile.ZipFile(path) as zf:
            if not any(n.endswith("data.pkl") for n in zf.namelist()):
                raise CheckpointError(f"{path}: not a PyTorch checkpoint (a zip archive without the "
                                      "data.pkl of torch.save)")
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4": torch's note, not the user's
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Weights only load failed" in text and ("GLOBAL" in text or "Unsupported" in text):
            m = re.search(r"GLOBAL (\S+)", text)
            what = f"it asks for {m.group(1)}" if m else "it holds a pickle opcode outside the tensor subset"
            raise CheckpointError(f"{path}: refuses pickled objects (weights_only=True: {what}, which "
                                  "is not run; afg loads weights-only checkpoints of plain tensors)") from None
        raise CheckpointError(f"{path}: truncated or corrupt ({size} bytes)") from None
    except Exception:  # noqa: BLE001 - every other decoding failure: a damaged file
        raise CheckpointError(f"{path}: truncated or corrupt ({size} bytes)") from None


def recover_run_dir(run_dir: str | os.PathLike) -> list[str]:
    """Make what a killed or failed process left in ``run_dir`` resumable; returns what was done.

    Called by the one process that holds the run's lock (:mod:`afg.runlock`) before it resumes:

    * temporary files of atomic writes that never reached their rename (``.last.pt.*.tmp``, a
      kill or a full disk in the middle of a write) are removed;
    * an unreadable ``last.pt`` is moved aside to ``last.pt.corrupt``; the stage resumes from its
      ``best.pt`` when that holds the whole training state of a plain (not averaged) model —
      the same record ``last.pt`` had at that epoch — and restarts otherwise;
    * an unreadable ``best.pt`` is moved aside with the stage's ``last.pt`` and ``result.json``:
      the stage restarts (its best weights cannot be recovered).

    Each repair is one warning naming the file.
    """
    rd = Path(run_dir)
    done: list[str] = []
    if not rd.is_dir():
        return done
    for d in [rd, *sorted(p for p in rd.glob("stage*-*") if p.is_dir())]:
        for tmp in d.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
            done.append(f"removed {tmp.name}")
        done += _recover_stage(d)
    for line in done:
        if not line.startswith("removed ."):
            warnings.warn(line, stacklevel=2)
    return done


def _readable(path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it loads (``None`` when it is damaged)."""
    try:
        ck = load_checkpoint(path)
    except CheckpointError:
        return None
    return ck if isinstance(ck, dict) else None


def _set_aside(path: Path) -> Path:
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    return aside


def _recover_stage(d: Path) -> list[str]:
    """The repairs of one stage folder ``d`` (see :func:`recover_run_dir`)."""
    last, best, out = d / "last.pt", d / "best.pt", []
    best_ck = _readable(best) if best.is_file() else None
    if best.is_file() and best_ck is None:
        _set_aside(best)
        for f in (last, d / "result.json"):
            if f.is_file():
                _set_aside(f)
        return [f"{best}: truncated or corrupt, moved to best.pt.corrupt; the stage restarts"]
    if not last.is_file() or _readable(last) is not None:
        return out
    _set_aside(last)
    if best_ck is not None and "optimizer" in best_ck and "ema" not in best_ck:
        save_checkpoint(last, best_ck)
        out.append(f"{last}: truncated or corrupt, moved to last.pt.corrupt; resuming from best.pt "
                   f"(epoch {int(best_ck.get('epoch', 0))})")
    else:
        (d / "result.json").unlink(missing_ok=True)
        out.append(f"{last}: truncated or corrupt, moved to last.pt.corrupt; the stage restarts")
    return out
