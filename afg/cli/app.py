"""``afg``'s entry point: parse, run the command, turn bad input into one line and exit code 2."""
from __future__ import annotations

import sys
import warnings
from importlib import import_module

from .errors import UsageError, one_line
from .parser import COMMANDS, build_parser

__all__ = ["main"]

#: warnings a user of the command line cannot act on (library internals, expected notes)
_QUIET_WARNINGS = (
    (DeprecationWarning, ""),
    (PendingDeprecationWarning, ""),
    (FutureWarning, ""),
    (UserWarning, r"stage .*: initialised from previous stage"),  # stage 2's new modules start fresh
    (UserWarning, r"Detected pickle protocol"),
    (UserWarning, r".*IProgress not found"),
    (RuntimeWarning, r"(Mean of empty slice|invalid value encountered)"),  # metrics of tiny folds
    (Warning, r".*(is ill-defined|Only one class|No positive (class|samples))"),  # sklearn, idem
)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Other warnings as one line (no source line, no file path)."""
    print(f"afg: warning: {' '.join(str(message).split())}", file=file or sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run ``afg argv`` (default: ``sys.argv[1:]``); returns the exit code (0, 2 for bad input,
    130 when interrupted). Argument errors exit through argparse (code 2, one line)."""
    with warnings.catch_warnings():
        for category, pattern in _QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern, category=category)
        warnings.showwarning = _show_warning
        return _main(list(sys.argv[1:] if argv is None else argv))


def _main(argv: list[str]) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    # the command's module (and torch) load only now: --help and --version stay fast
    command = getattr(import_module(f"afg.cli.{COMMANDS[args.command]}"), f"cmd_{args.command}")
    user_errors = import_module("afg.cli.common").USER_ERRORS
    try:
        return int(command(args) or 0)
    except (UsageError, *user_errors) as exc:
        print(f"afg: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("afg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `afg predict ... | head`
        return 0
