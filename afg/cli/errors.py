"""Bad user input as one line: :class:`UsageError` and the helpers that phrase it.

Every command checks its inputs before doing any work and reports a problem as ONE line
``afg: error: ...`` on stderr with exit code 2 (:func:`afg.cli.main`), before a run folder exists.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["UsageError", "existing_file", "one_line"]


class UsageError(Exception):
    """Bad user input; printed as one ``afg: error: ...`` line, exit code 2."""


def one_line(exc: BaseException) -> str:
    """An exception's text on one line (a KeyError's without the quotes ``str`` adds)."""
    text = str(exc).strip()
    if isinstance(exc, KeyError) and text.startswith(("'", '"')) and text.endswith(("'", '"')):
        text = text[1:-1]
    return " ".join(text.split()) if text else type(exc).__name__


def existing_file(path: str, what: str) -> Path:
    """``path`` as a Path; a :class:`UsageError` when it is missing or a folder."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{what} not found: {path}")
    if p.is_dir():
        raise UsageError(f"{what} is a folder, expected a file: {path}")
    return p
