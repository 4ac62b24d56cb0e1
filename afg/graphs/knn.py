"""K-NN adjacency over node features (ME-GraphAU FGG, Li et al. GNN). Owner: ME-GraphAU issue."""
from __future__ import annotations

__all__: list[str] = []
