"""What a checkpoint holds, as one typed record: :class:`CheckpointInfo` and the model beside it.

:func:`load_model_checkpoint` turns a checkpoint file (or a run folder, :func:`resolve_checkpoint`)
into ``(model in eval mode, CheckpointInfo)``. The file is read by
:func:`afg.runs.load_checkpoint` only (``torch.load(weights_only=True)`` or
``.safetensors``), so nothing in it is unpickled into arbitrary objects. Two formats:

* afg checkpoints (``afg-checkpoint-v1`` by :func:`afg.train.fit`, or their ``.safetensors``
  export by :func:`afg.export.export_safetensors`): the model is rebuilt from ``model_config``
  with :func:`afg.models.model_from_config` and its ``state_dict`` loaded strictly;
* the authors' ``MEFARG`` state dicts, converted by
  :func:`afg.compat.model_from_official_checkpoint`: ME-GraphAU (``head.sc``; 12 AUs = BP4D,
  8 = DISFA order) and OpenGraphAU (``head.main_sc`` + ``head.sub_sc``; 41 columns
  ``AU01 … AU39, AUL1 … AUR14``, faces aligned at 256 px and their centre 224 px fed to the model).

The record is built in one place, :meth:`CheckpointInfo.from_module`, from the model's attributes
and what the file adds; an already built ``nn.Module`` (``Predictor(model)``) gets the same record
with ``kind="module"``. Its :class:`~afg.runs.InputSpec` (``info.input_spec``: image size, resize,
normalisation, label names, task, dataset) is the checkpoint's own; a checkpoint written before
checkpoints carried one gets it from the model and its run folder's ``config.yaml``
(:func:`legacy_input_spec`), the one place that still reads it.

Layer: above :mod:`afg.models` and :mod:`afg.compat` (it builds their models), below
:mod:`afg.train` and the front ends (``Predictor``, ``afg eval``, export) that use it.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from .compat import model_from_official_checkpoint
from .compat.opengraphau import is_opengraphau_state_dict
from .data.au_names import au_name
from .data.transforms import IMAGENET_MEAN, IMAGENET_STD
from .models import model_from_config
from .runs import BEST, LAST, CheckpointError, InputSpec, RunFolder, load_checkpoint

__all__ = ["OFFICIAL_AUS", "CheckpointInfo", "legacy_input_spec", "load_model_checkpoint", "resolve_checkpoint"]

#: label names of the authors' ME-GraphAU checkpoints by number of AUs
OFFICIAL_AUS = {
    12: (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24),  # BP4D
    8: (1, 2, 4, 6, 9, 12, 25, 26),  # DISFA
}

#: prefix of the numbered columns of a model without label names, by task
_PREFIX = {"au": "AU", "expression": "class", "multilabel": "label"}


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint holds besides its weights.

    Attributes:
        kind: ``afg``, ``official`` (an authors' ME-GraphAU / OpenGraphAU file) or ``module``
            (an ``nn.Module`` given directly).
        path: the checkpoint file (``None`` for a module).
        task: ``au``, ``expression`` or ``multilabel``.
        label_names: one name per output column, when the checkpoint knows them.
        model_config: the registry config (``name``, ``num_classes``, options).
        stage: training stage (1/2) or ``None``.
        resize: faces are aligned at ``resize`` px and their centre ``img_size`` crop is fed to the
            model (the run's ``data.resize``; OpenGraphAU 256), or ``None``.
        label_descriptions: column → readable name (OpenGraphAU's node names), when given.
        source: ``opengraphau`` for OpenGraphAU checkpoints, else ``None``.
        input_spec: what the model expects as input (:class:`afg.runs.InputSpec`), when known.

    ``info["task"]`` / ``info.get("resize")`` (the dict this record replaces) keep working for one
    release.
    """

    kind: str
    path: str | None
    task: str
    label_names: list[str] | None
    model_config: dict[str, Any]
    stage: int | None = None
    resize: int | None = None
    label_descriptions: dict[str, str] | None = None
    source: str | None = None
    input_spec: InputSpec | None = None

    @classmethod
    def from_module(cls, model: nn.Module, kind: str = "module", path: str | None = None,
                    **fields: Any) -> CheckpointInfo:
        """The record of ``model`` from its attributes (``task``, ``label_names``,
        ``model_config``, ``eval_resize``, ``label_descriptions``); ``fields`` take precedence."""
        found = {"task": getattr(model, "task", "au"),
                 "label_names": getattr(model, "label_names", None),
                 "model_config": dict(getattr(model, "model_config", None) or {}),
                 "resize": getattr(model, "eval_resize", None),
                 "label_descriptions": getattr(model, "label_descriptions", None)}
        found.update({k: v for k, v in fields.items() if v is not None or k not in found})
        names = found.pop("label_names")
        resize = found.pop("resize")
        return cls(kind=kind, path=path, label_names=[str(x) for x in names] if names else None,
                   resize=int(resize) if resize else None, **found)

    @property
    def columns(self) -> list[str]:
        """The label columns: ``label_names``, else numbered by task (``AU00``…, ``class0``…) for
        ``num_classes`` outputs plus OpenGraphAU-style ``sub_nodes``."""
        if self.label_names:
            return list(self.label_names)
        cfg = self.model_config
        n = int(cfg.get("num_classes") or 0) + len(cfg.get("sub_nodes") or ())
        prefix = _PREFIX.get(self.task, "out")
        return [f"{prefix}{i:02d}" if prefix == "AU" else f"{prefix}{i}" for i in range(n)]

    def column_descriptions(self) -> dict[str, str]:
        """Column → readable name: ``label_descriptions`` where it names the column, else the FACS
        name of an AU column (:func:`afg.data.au_names.au_name`), else the column itself."""
        out = {}
        for c in self.columns:
            try:
                out[c] = (self.label_descriptions or {}).get(c) or au_name(c)
            except ValueError:
                out[c] = c
        return out

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (shallow)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    # dict-style access of the former ``info`` dict (kept for one release)
    def __getitem__(self, key: str) -> Any:
        if key not in self.as_dict():
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        value = self.as_dict().get(key)
        return default if value is None else value


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file, or a run folder → its final weights (:meth:`afg.runs.RunFolder.find_weights`)."""
    p = Path(path)
    if p.is_file():
        return p
    if p.is_dir():
        found = RunFolder(p).find_weights()
        if found is None:
            raise CheckpointError(f"{p}: folder holds no {BEST} or {LAST} (not a finished run folder)")
        return found
    raise CheckpointError(f"{p}: checkpoint not found")


def legacy_input_spec(model: nn.Module, file: str | os.PathLike | None, task: str,
                      label_names: Sequence[str] | None, resize: int | None = None) -> InputSpec:
    """The input spec of a checkpoint written before checkpoints carried one: the model's
    ``img_size``, ImageNet normalisation (what every afg model was trained with), and ``data.resize``
    / ``data.dataset`` from the ``config.yaml`` of the run folder ``file`` lies in (when
    ``resize`` is not known otherwise)."""
    data = {}
    folder = RunFolder.of_checkpoint(file) if file is not None else None
    if folder is not None:
        data = folder.data_config() or {}
    cfg = getattr(model, "model_config", None) or {}
    r = resize or data.get("resize") or getattr(model, "eval_resize", None)
    return InputSpec(img_size=int(cfg.get("img_size") or 224), mean=IMAGENET_MEAN, std=IMAGENET_STD, task=task,
                     resize=int(r) if r else None,
                     label_names=tuple(str(x) for x in label_names) if label_names else None,
                     dataset=data.get("dataset"))


def load_model_checkpoint(path: str | os.PathLike,
                          map_location: str = "cpu") -> tuple[nn.Module, CheckpointInfo]:
    """``(model in eval mode, CheckpointInfo)`` from an afg or an authors' ME-GraphAU /
    OpenGraphAU checkpoint, or a run folder (:func:`resolve_checkpoint`).

    ``info.input_spec`` (and ``info.resize``) is the checkpoint's own, else
    :func:`legacy_input_spec`. Raises :class:`CheckpointError` with a one-line reason.
    """
    file = resolve_checkpoint(path)
    ck = load_checkpoint(file, map_location=map_location)  # weights_only=True; one-line CheckpointError
    if not isinstance(ck, dict):
        raise CheckpointError(f"{file}: expected a dict checkpoint, got {type(ck).__name__}")
    if isinstance(ck.get("model_config"), dict) and isinstance(ck.get("model"), dict):
        model, info = _afg_model(ck, file)
    else:
        model, info = _official_model(ck, file)
    spec = InputSpec.of_checkpoint(ck) or legacy_input_spec(model, file, info.task, info.label_names, info.resize)
    return model.eval(), dataclasses.replace(info, input_spec=spec, resize=spec.resize)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


def _au_names_from_metrics(metrics: Any, n: int) -> list[str] | None:
    """AU names from a checkpoint's ``f1/AU..`` metric keys, when there is one per output."""
    if not isinstance(metrics, Mapping):
        return None
    names = [k.split("/", 1)[1] for k in metrics if isinstance(k, str) and k.startswith("f1/")]
    return names if len(names) == n else None


def _afg_model(ck: dict[str, Any], file: Path) -> tuple[nn.Module, CheckpointInfo]:
    """An afg checkpoint: the model rebuilt from ``model_config``, its weights loaded strictly."""
    cfg = dict(ck["model_config"])
    try:
        model = model_from_config(cfg)
        model.load_state_dict(ck["model"], strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{file}: cannot rebuild model {cfg.get('name')!r} ({_first_line(exc)})") from None
    task = ck.get("task") or getattr(model, "task", "au")
    names = ck.get("label_names") or getattr(model, "label_names", None)
    if not names and task == "au":  # older checkpoints: the names of the per-AU F1 metrics
        n = int(cfg.get("num_classes", 0))
        names = (_au_names_from_metrics(ck.get("metrics"), n)
                 or _au_names_from_metrics((ck.get("best") or {}).get("metrics"), n))
    # a .safetensors export carries what the run folder would tell (afg.export)
    return model, CheckpointInfo.from_module(
        model, kind="afg", path=str(file), task=task, label_names=names, model_config=cfg,
        stage=ck.get("stage"), resize=ck.get("resize") or None,
        label_descriptions=ck.get("label_descriptions") or None)


def _looks_official(sd: dict) -> bool:
    """An authors' ``MEFARG`` state dict: ME-GraphAU (``head.sc``) or OpenGraphAU
    (``head.main_sc``)."""
    keys = [k.removeprefix("module.") for k in sd if isinstance(k, str)]
    me_graphau = "head.sc" in keys and any(k.startswith("head.class_linears.") for k in keys)
    return me_graphau or ("head.main_sc" in keys and "head.sub_sc" in keys)


def _official_model(ck: dict[str, Any], file: Path) -> tuple[nn.Module, CheckpointInfo]:
    """An authors' ME-GraphAU / OpenGraphAU state dict (bare or under ``state_dict``/``model``/
    ``net``), converted to our model."""
    sd = ck
    for key in ("state_dict", "model", "net"):
        if isinstance(sd.get(key), dict):
            sd = sd[key]
    if not _looks_official(sd):
        raise CheckpointError(f"{file}: neither an afg checkpoint (no model_config) nor an "
                              "ME-GraphAU / OpenGraphAU (MEFARG) state dict")
    ogau = is_opengraphau_state_dict(sd)
    try:
        model = model_from_official_checkpoint(sd)
    except (KeyError, ValueError, RuntimeError) as exc:
        what = "OpenGraphAU" if ogau else "ME-GraphAU"
        raise CheckpointError(f"{file}: {what} checkpoint not understood ({_first_line(exc)})") from None
    cfg = dict(getattr(model, "model_config", {}) or {})
    n = int(cfg.get("num_classes", 0))
    names = getattr(model, "label_names", None) or (
        [f"AU{a:02d}" for a in OFFICIAL_AUS[n]] if n in OFFICIAL_AUS else None)
    return model, CheckpointInfo.from_module(
        model, kind="official", path=str(file), task="au", label_names=names, model_config=cfg,
        stage=2 if cfg.get("name") == "me_graphau" else 1, source="opengraphau" if ogau else None)
