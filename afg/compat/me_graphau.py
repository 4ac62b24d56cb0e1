"""Key mapping for the authors me_graphau code."""
from __future__ import annotations
