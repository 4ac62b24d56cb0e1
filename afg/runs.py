"""What a run leaves on disk, owned in one place: the run folder, its records, and the one loader.

A run folder (:class:`RunFolder`) written by :func:`afg.train.fit` and :func:`afg.experiments.run`::

    <run>/config.yaml          the resolved experiment config (the runner)
    <run>/recipe.yaml          the training recipe (fit)
    <run>/training.json        the training record: status, best epoch, metrics, history (fit)
    <run>/evaluation.json      the evaluation record: held-out metrics, selection mode, precision,
                               protocol, sizes (the runner; its presence marks a complete run)
    <run>/stage<i>-<name>/     one folder per stage of a multi-stage recipe (a single-stage run
                               keeps the stage's files in <run> itself), each holding
        last.pt / best.pt      checkpoints (last: the resumable state; best: the selected weights)
        training.json          the stage's training record
        metrics.json / .csv    every epoch's log row

The final weights are the last stage's ``best.pt``, else its ``last.pt`` (:attr:`RunFolder.final_weights`).
Folders written before this module (#48) hold one ``result.json`` per folder
instead of the two records — the runner's evaluation record overwrote the training loop's at the
run's root, told apart by ``"selection" in record`` — and are still read: the readers fall back to
it (:meth:`RunFolder.training_record`, :meth:`RunFolder.evaluation_record`).

Names kept for old folders (renaming them would orphan every cached run): a run is named after the
*first* stage's model (``me_graphau_stage1-<hash>`` for ME-GraphAU, whose stage 2 builds
``me_graphau``) and a stage folder after its index and its recipe name (``stage2-stage2``).

Every checkpoint :func:`afg.train.fit` writes carries its :class:`InputSpec` (``input_spec``:
image size, ``data.resize``, normalisation mean/std, label names, task, dataset — like timm's
``pretrained_cfg``), so inference does not re-read ``config.yaml`` to guess; checkpoints from
before it fall back to the run folder's ``config.yaml`` (:meth:`RunFolder.data_config`).

:func:`load_checkpoint` is the one loader of every weights file in afg (``Predictor``, ``afg
eval``/``predict``, stage ``init_from``, ``create_backbone(weights=)``, the ME-GraphAU converters):
``torch.load(weights_only=True)`` or ``.safetensors``, never arbitrary objects. It tells apart the
ways a file can fail, each as one :class:`CheckpointError` line: *not a PyTorch checkpoint*,
*truncated or corrupt (N bytes)* and *refuses pickled objects* (the file asks the unpickler for a
Python object such as ``os.system``; ``weights_only=True`` never builds it, so nothing in it runs).
:func:`recover_run_dir` makes what a killed process left resumable.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from .utils import atomic_save_json, atomic_torch_save, atomic_write_text

__all__ = ["BEST", "CONFIG_FILE", "EVALUATION_RECORD", "LAST", "LEGACY_RECORD", "STAGE_GLOB", "TRAINING_RECORD",
           "CheckpointError", "InputSpec", "RunFolder", "load_checkpoint", "read_safetensors_header",
           "recover_run_dir", "stage_folder_name"]

BEST, LAST = "best.pt", "last.pt"
TRAINING_RECORD, EVALUATION_RECORD = "training.json", "evaluation.json"
#: the single record of folders written before the two records had their own names
LEGACY_RECORD = "result.json"
CONFIG_FILE, RECIPE_FILE = "config.yaml", "recipe.yaml"
#: the stage folders of a multi-stage run (``stage<i>-<name>``)
STAGE_GLOB = "stage*-*"


class CheckpointError(ValueError):
    """The file is missing, not a checkpoint, or holds a model afg cannot rebuild (one line)."""


def stage_folder_name(index: int, name: str | None) -> str:
    """The folder of stage ``index`` (0-based) named ``name`` in a multi-stage run: ``stage2-stage2``."""
    return f"stage{index + 1}-{name or 'main'}"


# ----------------------------------------------------------------------------- input spec
@dataclass(frozen=True)
class InputSpec:
    """What a model expects as input and what its outputs are (a checkpoint's ``input_spec``).

    Attributes:
        img_size: side of the square crop fed to the model (px).
        resize: faces are aligned at ``resize`` px and their centre ``img_size`` crop is fed to the
            model (the run's ``data.resize``), or ``None`` (aligned at ``img_size``).
        mean, std: per-channel normalisation of ``[0, 1]`` RGB (``(x - mean) / std``).
        label_names: one name per output column, or ``None``.
        task: ``au``, ``expression`` or ``multilabel``.
        dataset: the dataset the run trained on (``data.dataset``), or ``None``.
    """

    img_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    task: str = "au"
    resize: int | None = None
    label_names: tuple[str, ...] | None = None
    dataset: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (lists, not tuples) for a checkpoint or safetensors metadata."""
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputSpec:
        """The spec of :meth:`to_dict`'s dict; unknown keys (a newer writer's) are ignored."""
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        names = d.get("label_names")
        return cls(**{**d, "img_size": int(d["img_size"]), "mean": tuple(float(x) for x in d["mean"]),
                      "std": tuple(float(x) for x in d["std"]),
                      "resize": int(d["resize"]) if d.get("resize") else None,
                      "label_names": tuple(str(x) for x in names) if names else None})

    @classmethod
    def of_checkpoint(cls, ck: Any) -> InputSpec | None:
        """The spec a checkpoint carries (``input_spec``), or ``None`` (written before it did)."""
        d = ck.get("input_spec") if isinstance(ck, dict) else None
        return cls.from_dict(d) if isinstance(d, dict) else None


# ----------------------------------------------------------------------------- run folder
def _read_json(path: Path) -> Any:
    """The JSON in ``path``, or ``None`` when missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _complete_training(done: Any) -> bool:
    keys = ("metrics", "last_metrics", "best_epoch", "history")
    return isinstance(done, dict) and done.get("status") == "complete" and all(k in done for k in keys)


class RunFolder:
    """A run folder (see the module doc): where each file is, and the readers and writers of its records.

    ``RunFolder(path)`` does not touch the disk; ``stage`` arguments are a stage folder (a
    :class:`~pathlib.Path`) or ``None`` for the folder holding the final stage.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunFolder) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @classmethod
    def of_checkpoint(cls, checkpoint: str | os.PathLike) -> RunFolder | None:
        """The run folder a checkpoint file lies in (its folder, or the one above for a stage
        folder): the nearest holding ``config.yaml``; ``None`` when neither does."""
        here = Path(checkpoint).parent
        for folder in (here, here.parent):
            if (folder / CONFIG_FILE).is_file():
                return cls(folder)
        return None

    # -- files ------------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        """The resolved experiment config (``config.yaml``), written by the runner."""
        return self.path / CONFIG_FILE

    @property
    def recipe_file(self) -> Path:
        return self.path / RECIPE_FILE

    @property
    def stages(self) -> list[Path]:
        """The stage folders in order (empty for a single-stage run)."""
        return sorted(p for p in self.path.glob(STAGE_GLOB) if p.is_dir())

    def stage(self, name: str) -> Path | None:
        """The folder of the stage named ``name`` (the last of that name), or ``None``."""
        found = [p for p in self.stages if p.name.split("-", 1)[1] == name]
        return found[-1] if found else None

    def stage_dir(self, index: int, name: str | None, multi: bool) -> Path:
        """Where :func:`afg.train.fit` writes stage ``index`` (0-based): its own folder in a
        multi-stage run, the run folder itself otherwise."""
        return self.path / stage_folder_name(index, name) if multi else self.path

    @property
    def final_stage(self) -> Path:
        """The folder of the last stage (the run folder for a single-stage run)."""
        stages = self.stages
        return stages[-1] if stages else self.path

    @staticmethod
    def best(stage: Path) -> Path:
        """``best.pt`` of a stage folder: the selected weights."""
        return Path(stage) / BEST

    @staticmethod
    def last(stage: Path) -> Path:
        """``last.pt`` of a stage folder: the resumable training state."""
        return Path(stage) / LAST

    def weights(self, stage: Path | None = None) -> Path:
        """A stage's final weights: its ``best.pt`` if present, else its ``last.pt`` (the final
        stage's by default). The path may not exist (an unfinished run)."""
        d = self.final_stage if stage is None else Path(stage)
        return d / BEST if (d / BEST).exists() else d / LAST

    @property
    def final_weights(self) -> Path:
        """The run's final weights: the last stage's :meth:`weights`."""
        return self.weights()

    def find_weights(self) -> Path | None:
        """The final weights that exist: the last stage's, else weights at the run folder's root;
        ``None`` when the folder holds none (not a finished run folder)."""
        stages = self.stages
        for d in ([stages[-1]] if stages else []) + [self.path]:
            for name in (BEST, LAST):
                if (d / name).is_file():
                    return d / name
        return None

    def resumable(self) -> list[Path]:
        """Every ``last.pt`` of the run (root and stages) that exists."""
        return [p for p in [self.path / LAST, *(d / LAST for d in self.stages)] if p.is_file()]

    # -- records ----------------------------------------------------------------------------
    def training_record(self, stage: Path | None = None) -> dict[str, Any] | None:
        """The complete training record of a stage folder (the run folder by default): its
        ``training.json``, else an old folder's ``result.json``; ``None`` when absent, not complete
        or unreadable (warned: the stage resumes from ``last.pt``)."""
        d = self.path if stage is None else Path(stage)
        for f in (d / TRAINING_RECORD, d / LEGACY_RECORD):
            if f.exists():
                done = _read_json(f)
                if done is None:
                    warnings.warn(f"{f}: unreadable; the stage is resumed from last.pt", stacklevel=3)
                return done if _complete_training(done) else None
        return None

    def write_training_record(self, record: dict[str, Any], stage: Path | None = None) -> Path:
        """Write a training record (atomically) into a stage folder (the run folder by default)."""
        return atomic_save_json((self.path if stage is None else Path(stage)) / TRAINING_RECORD, record)

    def evaluation_record(self) -> dict[str, Any] | None:
        """The runner's evaluation record: ``evaluation.json``, else an old folder's
        ``result.json`` when it is the runner's (it names ``selection``); ``None`` otherwise."""
        done = _read_json(self.path / EVALUATION_RECORD)
        if done is None:
            old = _read_json(self.path / LEGACY_RECORD)
            done = old if isinstance(old, dict) and "selection" in old else None
        return done if isinstance(done, dict) else None

    def write_evaluation_record(self, record: dict[str, Any]) -> Path:
        """Write the evaluation record (atomically): from then on the run is complete."""
        return atomic_write_text(self.path / EVALUATION_RECORD, json.dumps(record, indent=1))

    def has_record(self) -> bool:
        """Whether the run folder holds any record (training or evaluation, new or old name)."""
        return any((self.path / n).is_file() for n in (EVALUATION_RECORD, TRAINING_RECORD, LEGACY_RECORD))

    def is_complete(self) -> bool:
        """True once the runner wrote a complete evaluation record (a run whose training ended but
        whose held-out evaluation did not is finished, not reused)."""
        done = self.evaluation_record()
        return done is not None and done.get("status") == "complete"

    def write_config(self, text: str) -> Path:
        """Write the resolved experiment config (``config.yaml``) atomically."""
        return atomic_write_text(self.config_file, text)

    def config(self) -> dict[str, Any] | None:
        """The resolved experiment config as a dict, or ``None`` (missing or unreadable)."""
        import yaml  # local: only old checkpoints and `afg eval` read it

        try:
            cfg = yaml.safe_load(self.config_file.read_text())
        except (OSError, yaml.YAMLError):
            return None
        return cfg if isinstance(cfg, dict) else None

    def data_config(self) -> dict[str, Any] | None:
        """The ``data`` section of :meth:`config`, or ``None``."""
        data = (self.config() or {}).get("data")
        return data if isinstance(data, dict) else None


def _stage_dirs(run_dir: Path) -> Sequence[Path]:
    return [run_dir, *RunFolder(run_dir).stages]


# ----------------------------------------------------------------------------- the loader
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
    meta = read_safetensors_header(path).get("__metadata__") or {}
    device = map_location if isinstance(map_location, str) else "cpu"
    try:
        tensors = load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: truncated or corrupt ({path.stat().st_size} bytes; "
                              f"{_first_line(exc)})") from None
    if meta.get("format", "").startswith("afg-") and "model_config" in meta:
        out: dict[str, Any] = {"model": tensors}
        for key in ("model_config", "label_names", "metrics", "stage", "resize", "label_descriptions", "input_spec"):
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



# ----------------------------------------------------------------------------- recovery
def recover_run_dir(run_dir: str | os.PathLike) -> list[str]:
    """Make what a killed or failed process left in ``run_dir`` resumable; returns what was done.

    Called by the one process that holds the run's lock (:mod:`afg.runlock`) before it resumes:

    * temporary files of atomic writes that never reached their rename (``.last.pt.*.tmp``, a
      kill or a full disk in the middle of a write) are removed;
    * an unreadable ``last.pt`` is moved aside to ``last.pt.corrupt``; the stage resumes from its
      ``best.pt`` when that holds the whole training state of a plain (not averaged) model —
      the same record ``last.pt`` had at that epoch — and restarts otherwise;
    * an unreadable ``best.pt`` is moved aside with the stage's ``last.pt`` and training record:
      the stage restarts (its best weights cannot be recovered).

    Each repair is one warning naming the file.
    """
    rd = Path(run_dir)
    done: list[str] = []
    if not rd.is_dir():
        return done
    for d in _stage_dirs(rd):
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
    last, best, out = d / LAST, d / BEST, []
    best_ck = _readable(best) if best.is_file() else None
    if best.is_file() and best_ck is None:
        _set_aside(best)
        for f in (last, d / TRAINING_RECORD, d / LEGACY_RECORD):
            if f.is_file():
                _set_aside(f)
        return [f"{best}: truncated or corrupt, moved to best.pt.corrupt; the stage restarts"]
    if not last.is_file() or _readable(last) is not None:
        return out
    _set_aside(last)
    if best_ck is not None and "optimizer" in best_ck and "ema" not in best_ck:
        atomic_torch_save(best_ck, last)  # already plain tensors and types
        out.append(f"{last}: truncated or corrupt, moved to last.pt.corrupt; resuming from best.pt "
                   f"(epoch {int(best_ck.get('epoch', 0))})")
    else:
        for f in (d / TRAINING_RECORD, d / LEGACY_RECORD):
            f.unlink(missing_ok=True)
        out.append(f"{last}: truncated or corrupt, moved to last.pt.corrupt; the stage restarts")
    return out
