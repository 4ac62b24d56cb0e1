"""``afg predict``: :class:`afg.Predictor` on images, folders and videos → a CSV row per face, a
summary, a preview and (``--plot``) figures."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

import pandas as pd

from ..predict import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, CheckpointError, Predictor
from ..runs import RunFolder
from ..viz.au import save_prediction_figures
from .common import check_device
from .errors import UsageError

__all__ = ["cmd_predict"]

#: file types of model weights (what an INPUT should not be)
CHECKPOINT_EXTENSIONS = (".pt", ".pth", ".ckpt", ".bin", ".safetensors")
_SWAPPED = "did you swap CHECKPOINT and INPUTS? (usage: afg predict CHECKPOINT INPUT [INPUT ...])"


def cmd_predict(args: argparse.Namespace) -> int:
    """Predict every face of ``args.inputs``; the CSV goes to ``-o`` (else stdout, and the
    summary to stderr)."""
    _check_inputs(args)
    try:
        pred = Predictor(args.checkpoint, device=args.device or "auto", detect=not args.no_detect,
                         batch_size=args.batch_size, face_threshold=args.face_threshold, fps=args.fps,
                         max_frames=args.max_frames)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    if args.plot and pred.task != "au":
        raise UsageError(f"--plot draws AU probabilities; {args.checkpoint} predicts {pred.task!r} labels")
    df = pred.predict(args.inputs, progress=not args.no_progress, keep_crops=bool(args.plot))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.output, index=False)
        out = sys.stdout
    else:
        df.to_csv(sys.stdout, index=False)
        out = sys.stderr
    _summary(pred, df, args, out)
    if args.output:
        print(f"written: {args.output}", file=out)
    if args.plot:
        paths = save_prediction_figures(df, args.plot, progress=not args.no_progress, crops=pred.crops)
        print(f"figures: {len(paths)} files written to {args.plot}", file=out)
    return 0


def _check_inputs(args: argparse.Namespace) -> None:
    """Inputs exist and are images, videos or folders; ``-o``, ``--fps``, ``--plot`` make sense."""
    check_device(args.device)
    media = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
    ck = Path(args.checkpoint)
    if ck.is_file() and ck.suffix.lower() in media:
        kind = "an image" if ck.suffix.lower() in IMAGE_EXTENSIONS else "a video"
        raise UsageError(f"{ck}: not a PyTorch checkpoint but {kind} file; {_SWAPPED}")
    missing = [x for x in args.inputs if not Path(x).exists()]
    if missing:
        raise UsageError(f"input not found: {missing[0]}" + (f" (and {len(missing) - 1} more)"
                                                            if len(missing) > 1 else ""))
    for x in args.inputs:
        p = Path(x)
        if p.is_file() and p.suffix.lower() not in media:
            hint = f"; {_SWAPPED}" if _looks_like_checkpoint(x) else ""
            raise UsageError(f"{x}: not an image or video file (extensions: {' '.join(media)}){hint}")
        if p.is_dir() and not any(f.is_file() and f.suffix.lower() in media for f in p.rglob("*")):
            hint = f"; {_SWAPPED}" if _looks_like_checkpoint(x) else ""
            raise UsageError(f"{x}: no image or video file in this folder (extensions: {' '.join(media)}){hint}")
    if args.output and Path(args.output).is_dir():
        raise UsageError(f"-o {args.output}: is a folder, expected a CSV file name")
    if args.fps is not None and args.fps <= 0:
        raise UsageError(f"--fps {args.fps}: must be > 0")
    if args.plot and Path(args.plot).is_file():
        raise UsageError(f"--plot {args.plot}: is a file, expected a folder for the figures")


def _looks_like_checkpoint(path: str) -> bool:
    """A file of model weights (by extension) or a run folder (holding final weights)."""
    p = Path(path)
    return p.suffix.lower() in CHECKPOINT_EXTENSIONS or (p.is_dir() and RunFolder(p).find_weights() is not None)


def _summary(pred: Predictor, df: pd.DataFrame, args: argparse.Namespace, out: TextIO) -> None:
    """Counts of inputs, faces, inputs without a face and unreadable ones; the first ``--show``
    faces' outputs (unless ``--quiet``)."""
    ok = df[df["status"] == "ok"]
    print(f"afg predict: {pred!r}: {df['input'].nunique()} inputs, {len(ok)} faces, "
          f"{int((df['status'] == 'no_face').sum())} without a face, "
          f"{int((df['status'] == 'unreadable').sum())} unreadable", file=out)
    if len(ok) and not args.quiet:
        show = ok[["input", "frame", "face", "FaceScore", *pred.output_columns[:12]]].copy()
        show["input"] = show["input"].map(lambda s: Path(s).name if os.sep in s else s)
        with pd.option_context("display.width", 200, "display.max_columns", 40):
            print(show.head(args.show).round(2).to_string(index=False), file=out)
