"""Emotion-GCN losses: weighted CE, CCC (Eq. 9-12). Owner: Emotion-GCN issue."""
from __future__ import annotations

__all__: list[str] = []
