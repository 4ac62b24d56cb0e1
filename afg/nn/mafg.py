"""MAFG multi-scale axial attention node features (Li et al. 2025). Owner: MAFG issue."""
from __future__ import annotations

__all__: list[str] = []
