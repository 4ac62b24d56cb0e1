"""Edge co-occurrence targets (ME-GraphAU Eq. 7). Owner: ME-GraphAU issue."""
from __future__ import annotations

__all__: list[str] = []
