"""``afg export``: a checkpoint's model weights as ``.safetensors`` (:func:`afg.export.export_safetensors`)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..export import export_safetensors
from ..predict import CheckpointError, resolve_checkpoint
from ..runs import read_safetensors_header
from .errors import UsageError

__all__ = ["cmd_export"]


def cmd_export(args: argparse.Namespace) -> int:
    """Write ``args.checkpoint``'s model to ``args.output``; print what was written."""
    out = Path(args.output)
    if out.suffix != ".safetensors":
        raise UsageError(f"{args.output}: the output file must end in .safetensors")
    if out.is_dir():
        raise UsageError(f"{args.output}: is a folder, expected a file name")
    try:
        src = resolve_checkpoint(args.checkpoint)
        export_safetensors(src, out)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    tensors = sum(1 for k in read_safetensors_header(out) if k != "__metadata__")
    print(f"afg export: {src} -> {out} ({tensors} tensors, {out.stat().st_size / 2**20:.1f} MiB); read it "
          f"with afg predict/eval, Predictor, model.weights or a stage's init_from")
    return 0
