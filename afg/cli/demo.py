"""``afg demo``: the main job (:func:`afg.demo.main`)."""
from __future__ import annotations

import argparse

from .. import demo
from .common import check_device

__all__ = ["cmd_demo"]


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo (``--quick``: about a minute) into ``--runs`` and ``--figures``."""
    check_device(args.device)
    return demo.main(quick=args.quick, runs=args.runs, figures=args.figures, device=args.device)
