"""Positive/negative label relations and ML-GCN adjacency (SVML-RGCN Eq. 3-4). Owner: SVML issue."""
from __future__ import annotations

__all__: list[str] = []
