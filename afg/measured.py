"""Results files: every measured number the README and ``docs/`` quote, with where it came from.

A results file is ``docs/results/<name>.json`` (or ``$AFG_RESULTS_DIR/<name>.json``), written only
by the command that measured its numbers, never by hand::

    {"name": "demo_cold_start",
     "command": "python -m afg demo",          # the command that wrote it (re-run it to refresh)
     "date": "2026-12-07T18:02:11Z",           # UTC, when it was written
     "commit": "979e9b8",                      # the checkout's HEAD then (+ "-dirty" if modified)
     "machine": "2-core Intel Xeon ... (AVX-512 BF16), no GPU, torch 2.14.1",
     "precision": "bf16",                      # or null where it does not apply
     "data": {...} | [...]}                    # the numbers: a dict of values or a list of rows

Pages render their numbers from ``data`` (``afg.docs`` / the page tests check they agree), so a
number cannot go stale without a test failing. This module knows nothing about models or data.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["machine_description", "read_results", "results_dir", "write_results"]

_KEYS = ("name", "command", "date", "commit", "machine", "precision", "data")


def results_dir(folder: str | os.PathLike | None = None) -> Path:
    """``folder``, else ``$AFG_RESULTS_DIR``, else the checkout's ``docs/results``."""
    if folder is not None:
        return Path(folder)
    env = os.environ.get("AFG_RESULTS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "docs" / "results"


def _commit(cwd: Path) -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def machine_description() -> str:
    """One line: cores, CPU model (and AVX-512 BF16 where the CPU has it), GPU if any, torch version."""
    import torch  # local: afg.measured is read by the torch-free afg.docs

    cpu = platform.processor() or platform.machine()
    flags = ""
    try:
        info = Path("/proc/cpuinfo").read_text()
        for line in info.splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        if " avx512_bf16" in info:
            flags = " (AVX-512 BF16)"
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()}-core {cpu}{flags}, {gpu}, torch {torch.__version__}"


def write_results(name: str, data: Any, *, command: str, precision: str | None = None,
                  folder: str | os.PathLike | None = None) -> Path:
    """Write ``<results_dir>/<name>.json`` atomically and return its path.

    ``data`` must be JSON-serialisable (numbers, strings, lists, dicts); ``command`` is the command
    line a reader re-runs to measure it again.
    """
    from .utils import (  # local: afg.utils loads torch; afg.measured is read by the torch-free afg.docs
        _json_default,
        atomic_save_json,
    )

    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"results name {name!r}: a plain file stem, e.g. 'demo_cold_start'")
    path = results_dir(folder) / f"{name}.json"
    record = {
        "name": name,
        "command": command,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": _commit(Path(__file__).resolve().parent),
        "machine": machine_description(),
        "precision": precision,
        "data": data,
    }
    json.dumps(record, allow_nan=False, default=_json_default)  # refuse NaN/inf and objects before anything is written
    return atomic_save_json(path, record)


def read_results(name: str, folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """The record :func:`write_results` wrote for ``name``; a clear error when it is missing or malformed."""
    path = results_dir(folder) / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no results file {name!r} (run the command that measures it)")
    record = json.loads(path.read_text())
    missing = [k for k in _KEYS if k not in record]
    if missing:
        raise ValueError(f"{path}: not a results file (missing {', '.join(missing)})")
    return record
