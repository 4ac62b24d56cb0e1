"""FACS names of action units, for table columns and plot labels.

afg names AU columns ``AU01``, ``AU02``, … (two digits); OpenGraphAU's left/right sub-AUs are
``AUL1``/``AUR1`` … ``AUL14``/``AUR14`` (side letter, then the number as the authors write it).
The names are the action descriptors of the Facial Action Coding System (Ekman, Friesen & Hager,
FACS manual 2002), lower case after the first word.

>>> au_name("AU12"), au_name("AUR14"), au_label("AU04")
('Lip corner puller', 'Right dimpler', 'AU04 Brow lowerer')
"""
from __future__ import annotations

import re

__all__ = ["FACS_NAMES", "au_column", "au_label", "au_name", "parse_au"]

#: AU number -> FACS action descriptor.
FACS_NAMES: dict[int, str] = {
    1: "Inner brow raiser",
    2: "Outer brow raiser",
    4: "Brow lowerer",
    5: "Upper lid raiser",
    6: "Cheek raiser",
    7: "Lid tightener",
    8: "Lips toward each other",
    9: "Nose wrinkler",
    10: "Upper lip raiser",
    11: "Nasolabial deepener",
    12: "Lip corner puller",
    13: "Sharp lip puller",
    14: "Dimpler",
    15: "Lip corner depressor",
    16: "Lower lip depressor",
    17: "Chin raiser",
    18: "Lip pucker",
    19: "Tongue show",
    20: "Lip stretcher",
    21: "Neck tightener",
    22: "Lip funneler",
    23: "Lip tightener",
    24: "Lip pressor",
    25: "Lips part",
    26: "Jaw drop",
    27: "Mouth stretch",
    28: "Lip suck",
    32: "Lip bite",
    38: "Nostril dilator",
    39: "Nostril compressor",
    41: "Lid droop",
    42: "Slit",
    43: "Eyes closed",
    44: "Squint",
    45: "Blink",
    46: "Wink",
}

_SIDES = {"": "", "L": "Left", "R": "Right"}
_PATTERN = re.compile(r"^AU([LR]?)0*([0-9]+)$", re.IGNORECASE)


def parse_au(column: str) -> tuple[str, int]:
    """``"AU01"`` -> ``("", 1)``, ``"AUR14"`` -> ``("R", 14)``; ``ValueError`` for other names."""
    m = _PATTERN.match(str(column).strip())
    if m is None:
        raise ValueError(f"{column!r} is not an AU column name (AU01, AU12, AUL1, AUR14, …)")
    return m.group(1).upper(), int(m.group(2))


def au_column(number: int, side: str = "") -> str:
    """afg's column name: ``au_column(1) == "AU01"``; sub-AUs ``au_column(1, "L") == "AUL1"``."""
    side = side.upper()
    if side not in _SIDES:
        raise ValueError(f"side must be '', 'L' or 'R', got {side!r}")
    return f"AU{side}{number}" if side else f"AU{number:02d}"


def au_name(column: str) -> str:
    """The FACS name of an AU column (``"Left inner brow raiser"`` for ``AUL1``); the column itself
    when the number has no FACS name here."""
    side, number = parse_au(column)
    name = FACS_NAMES.get(number)
    if name is None:
        return str(column)
    return f"{_SIDES[side]} {name[0].lower()}{name[1:]}" if side else name


def au_label(column: str) -> str:
    """``"AU12 Lip corner puller"``: the column and its FACS name, for plot labels. Columns that
    are not AU names are returned unchanged."""
    try:
        name = au_name(column)
    except ValueError:
        return str(column)
    return str(column) if name == str(column) else f"{column} {name}"
