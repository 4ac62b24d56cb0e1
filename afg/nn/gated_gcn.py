"""GatedGCN layer. Owner: ME-GraphAU issue."""
from __future__ import annotations

__all__: list[str] = []
