"""Relational GCN layer (SVML-RGCN Eq. 7). Owner: SVML issue."""
from __future__ import annotations

__all__: list[str] = []
