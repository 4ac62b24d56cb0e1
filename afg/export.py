"""Trained weights as ``.safetensors`` (the format model hubs use): ``afg export CHECKPOINT out.safetensors``.

A safetensors file is a JSON header (tensor names, dtypes, shapes, byte offsets, and a
``__metadata__`` mapping of strings) followed by the raw tensor bytes; reading one never runs
code. :func:`export_safetensors` writes the model's ``state_dict`` and, in the metadata, what
:class:`afg.predict.Predictor` needs to rebuild the model without the original checkpoint:

==================  ====================================================================
``format``          ``afg-safetensors-v1``
``model_config``    JSON of the registry config (``name``, ``num_classes``, options)
``task``            ``au`` / ``expression`` / ``multilabel``
``label_names``     JSON list (``["AU01", ...]``) or ``null``
``stage``           JSON (``1``/``2`` or ``null``)
``resize``          JSON: the face size whose centre ``img_size`` crop the model saw (the run's
                    ``data.resize``; OpenGraphAU 256) or ``null``
``input_spec``      JSON of the model's :class:`afg.runs.InputSpec` (image size, resize,
                    normalisation, label names, task, dataset) or ``null``
``label_descriptions``  JSON mapping column → readable name, when the checkpoint has one
``afg_version``     the exporting afg version
``source``          the checkpoint file it came from
==================  ====================================================================

Every loader of afg reads such a file back (:func:`afg.runs.load_checkpoint`):
``Predictor("model.safetensors")``, ``afg eval``/``afg predict``, a stage's ``init_from``,
``create_backbone(weights="backbone.safetensors")`` and ``MEGraphAU.init_from_stage1``.
Optimizer, scheduler and RNG states are not exported (a safetensors file is for inference and
initialisation; training resumes from the run folder's own checkpoints).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors.torch import save

from . import __version__
from .inference import load_model_checkpoint
from .runs import read_safetensors_header
from .utils import atomic_write_bytes

__all__ = ["FORMAT", "export_safetensors"]

FORMAT = "afg-safetensors-v1"


def export_safetensors(checkpoint: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the model of ``checkpoint`` (an afg ``.pt``, a run folder, an authors' ME-GraphAU
    checkpoint or another ``.safetensors``) to ``out`` atomically; returns ``out``.

    Raises :class:`afg.runs.CheckpointError` (one line) for a file that cannot be read.
    """
    model, info = load_model_checkpoint(checkpoint)  # info.resize: the run's data.resize too
    # clone: tied / shared storages and views become separate contiguous tensors (safetensors
    # stores each tensor once and refuses aliases)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "model_config": json.dumps(info.model_config, sort_keys=True),
        "task": str(info.task),
        "label_names": json.dumps(info.label_names),
        "stage": json.dumps(info.stage),
        "resize": json.dumps(info.resize),  # the run's config.yaml does not travel with the export
        "input_spec": json.dumps(info.input_spec.to_dict() if info.input_spec else None),
        "afg_version": __version__,
        "source": str(info.path),
    }
    if info.label_descriptions:
        meta["label_descriptions"] = json.dumps(info.label_descriptions)
    return atomic_write_bytes(Path(out), save(tensors, metadata=meta))


def _tensor_count(path: str | os.PathLike) -> int:
    """Number of tensors in a safetensors file (for the CLI summary)."""
    return sum(1 for k in read_safetensors_header(path) if k != "__metadata__")
