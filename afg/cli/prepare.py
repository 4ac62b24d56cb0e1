"""``afg prepare``: detect (MTCNN) and align every face of an official release once, resumably
(:func:`afg.data.prepare.prepare_main`)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from ..data.datasets import ADAPTERS, ReleaseFormatError
from ..data.prepare import prepare_main
from .common import check_device
from .errors import UsageError, one_line

__all__ = ["cmd_prepare"]


def cmd_prepare(args: argparse.Namespace) -> int:
    """Prepare ``args.dataset`` from ``--root`` into ``--out``; print the summary."""
    check_device(args.device)
    key = args.dataset.lower().replace("_", "").replace("-", "")
    known = sorted({k.replace("-", "") for k in ADAPTERS})
    if key not in known:
        raise UsageError(f"unknown dataset {args.dataset!r}; choose from {', '.join(known)}")
    root, out = Path(args.root), Path(args.out)
    if not root.is_dir():
        raise UsageError(f"--root: release folder not found: {args.root}")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out exists and is not a folder: {args.out}")
    if args.size < 32:
        raise UsageError(f"--size {args.size}: must be >= 32")
    try:
        summary = prepare_main(args.dataset, root, out, size=args.size, batch_size=args.batch_size,
                               device=args.device or "auto", resume=not args.no_resume,
                               margin=args.margin, progress=not args.no_progress, limit=args.limit,
                               **_options(args.option))
    except (ReleaseFormatError, FileNotFoundError, KeyError, TypeError) as exc:
        raise UsageError(f"{args.dataset}: {one_line(exc)}") from None
    summary = summary if isinstance(summary, dict) else {}
    shown = {k: v for k, v in summary.items() if isinstance(v, (int, float, str)) and len(str(v)) < 80}
    print("afg prepare: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    print(f"written: {out / 'manifest.csv'}")
    return 0


def _options(items: list[str] | None) -> dict[str, Any]:
    """``--option KEY=VALUE ...`` as adapter keyword arguments (values parsed as YAML)."""
    options: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"--option {item!r} is not of the form key=value")
        k, v = item.split("=", 1)
        options[k.strip()] = yaml.safe_load(v)
    return options
