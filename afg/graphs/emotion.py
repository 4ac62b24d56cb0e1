"""Spearman matrix and Emotion-GCN adjacency (Eq. 3-6). Owner: Emotion-GCN issue."""
from __future__ import annotations

__all__: list[str] = []
