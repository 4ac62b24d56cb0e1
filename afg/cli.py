"""Command line (`afg ...`). Placeholder until the CLI issue lands: `afg --version`, `afg demo`."""
from __future__ import annotations

import argparse
import sys

from . import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="afg", description=__doc__)
    parser.add_argument("--version", action="version", version=f"afg {__version__}")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="run the main job on synthetic faces")
    demo.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        import torch

        from .backbones import create_backbone

        bb = create_backbone("resnet18", img_size=112)
        print("tokens", tuple(bb(torch.zeros(1, 3, 112, 112)).shape))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
