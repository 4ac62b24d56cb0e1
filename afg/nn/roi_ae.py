"""Per-ROI auto-encoders (AU-GCN). Owner: AU-GCN issue."""
from __future__ import annotations

__all__: list[str] = []
