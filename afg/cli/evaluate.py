"""``afg eval``: a checkpoint's metrics on the held-out (or training) part of a data config's fold,
after checking that the checkpoint predicts that data's labels
(:mod:`afg.experiments.checks`)."""
from __future__ import annotations

import argparse

from .. import train as afg_train
from ..data.build import build_data, data_protocol
from ..experiments.checks import check_checkpoint_fits, check_checkpoint_model, check_data
from ..experiments.spec import load_data_config
from ..inference import load_model_checkpoint, resolve_checkpoint
from ..runs import CheckpointError, RunFolder
from ..utils import atomic_save_json, resolve_device
from .common import check_device, metric_summary
from .errors import UsageError, existing_file

__all__ = ["cmd_eval"]


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate ``args.checkpoint`` on ``--data`` (default: its run folder's ``config.yaml``)."""
    check_device(args.device)
    try:
        ckpt = resolve_checkpoint(args.checkpoint)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    folder = RunFolder.of_checkpoint(ckpt)  # the run folder holding its config.yaml, if any
    data_path = args.data or (folder.config_file if folder is not None else None)
    if data_path is None:
        raise UsageError(f"--data is required: no config.yaml next to {ckpt}")
    existing_file(str(data_path), "data config")
    cfg, describes_model = load_data_config(data_path, args.set)
    check_data(cfg.data)
    try:
        model, info = load_model_checkpoint(ckpt)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    if describes_model:
        check_checkpoint_model(info, cfg, ckpt, data_path)
    train_data, val_data = build_data(cfg.data)
    data = val_data if args.split == "val" else train_data
    if data is None:
        raise UsageError(f"{data_path}: the data has no {args.split} split")
    check_checkpoint_fits(info, data, ckpt)
    dev = resolve_device(args.device or "auto")
    protocol = data_protocol(val_data, cfg.data)
    print(f"afg eval: {info['model_config'].get('name')} ({info['kind']} checkpoint) on {cfg.data.dataset} "
          f"fold {cfg.data.fold} {args.split}: {len(data)} samples", flush=True)
    print(f"protocol: {'OFF-PROTOCOL: ' if protocol.get('official') is False else ''}{protocol['text']}")
    metrics = afg_train.evaluate(model.to(dev), data, batch_size=args.batch_size, device=dev, task=info["task"],
                             progress=not args.no_progress)
    for line in metric_summary(metrics):
        print(line)
    if args.json:
        scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        atomic_save_json(args.json, {"checkpoint": str(ckpt), "data": str(data_path), "split": args.split,
                                     "protocol": protocol, "metrics": scalars})
        print(f"written: {args.json}")
    return 0

