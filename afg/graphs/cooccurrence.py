"""Fixed AU co-occurrence graph and ROI graph (AU-GCN Eq. 4-5). Owner: AU-GCN issue."""
from __future__ import annotations

__all__: list[str] = []
