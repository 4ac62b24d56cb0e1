"""Small utilities shared by every package: devices, seeding, atomic writes.

Nothing here knows about models or data; every other module may import it.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "WriteError",
    "atomic_save_json",
    "atomic_torch_save",
    "atomic_write_bytes",
    "atomic_write_text",
    "file_sha256",
    "resolve_device",
    "seed_everything",
    "seed_worker",
    "set_deterministic",
]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Map ``"auto"`` to CUDA, then Apple MPS, then CPU; pass anything else to ``torch.device``.

    Asking for an accelerator that is not available raises a ``RuntimeError`` naming it, instead
    of failing later inside a kernel.
    """
    if isinstance(device, torch.device):
        return device
    if device is None or str(device).lower() == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(str(device))
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available on this machine")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise RuntimeError(f"device {device!r} requested but this machine has "
                           f"{torch.cuda.device_count()} CUDA device(s) (cuda:0..)")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise RuntimeError(f"device {device!r} requested but MPS is not available on this machine")
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def seed_worker(worker_id: int) -> None:  # pragma: no cover - runs in worker processes
    """``DataLoader(worker_init_fn=seed_worker)``: derive NumPy/random seeds from torch's."""
    seed = torch.initial_seed() % (2**32)
    np.random.seed(seed)
    random.seed(seed)


def set_deterministic(enabled: bool = True) -> None:
    """Opt-in deterministic mode (bit-exact reruns on CPU; slower cuDNN paths on GPU)."""
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.deterministic = enabled
        torch.backends.cudnn.benchmark = not enabled


class WriteError(OSError):
    """A file could not be written (full disk, quota, I/O error); ``str``: one line
    ``[Errno 28] No space left on device: '<path>'``. The previous file, if any, is unchanged."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename over ``path``.

    A reader never sees a half-written file; a crash leaves the old file (or none) and at most a
    ``.<name>.*.tmp`` file (removed by :func:`afg.runs.recover_run_dir`). A failed
    write (``ENOSPC`` …) removes its temporary file and raises :class:`WriteError` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteError(exc.errno, exc.strerror or str(exc), str(path)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            # a full disk (ENOSPC), a quota (EDQUOT), an I/O error: one line naming the file
            raise WriteError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default))


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` through a temporary file + fsync + rename (see :func:`atomic_write_bytes`)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (shipped weights, a prepared folder's manifest)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, torch.Tensor):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
