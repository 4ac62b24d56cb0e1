"""Key mapping for the authors mafg_ccfg code."""
from __future__ import annotations
