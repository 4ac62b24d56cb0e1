"""LinearBlock and PerNodeLinear (ME-GraphAU AFG). Owner: ME-GraphAU issue."""
from __future__ import annotations

__all__: list[str] = []
