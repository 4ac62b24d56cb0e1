"""AU losses: class weights, weighted asymmetric loss, edge co-occurrence loss (ME-GraphAU). Owner: ME-GraphAU issue."""
from __future__ import annotations

__all__: list[str] = []
