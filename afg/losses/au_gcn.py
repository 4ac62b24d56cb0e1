"""AU-GCN losses: ROI CE, reconstruction, weighted CE, weighted Dice (Eq. 1-3, 7-8). Owner: AU-GCN issue."""
from __future__ import annotations

__all__: list[str] = []
