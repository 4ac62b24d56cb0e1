"""AU detection metrics (per-AU F1/accuracy/AUC, masked). Owner: trainer issue."""
from __future__ import annotations

__all__: list[str] = []
