"""The nine multi-label metrics (SVML-RGCN). Owner: SVML issue."""
from __future__ import annotations

__all__: list[str] = []
