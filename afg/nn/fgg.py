"""FGG graph layer (ME-GraphAU ANFL). Owner: ME-GraphAU issue."""
from __future__ import annotations

__all__: list[str] = []
