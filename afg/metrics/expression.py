"""Single-label expression and V/A metrics (accuracy, mean class accuracy, CCC). Owner: Emotion-GCN issue."""
from __future__ import annotations

__all__: list[str] = []
