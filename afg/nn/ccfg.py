"""CCFG cross-channel feature generation (Li et al. 2025). Owner: MAFG issue."""
from __future__ import annotations

__all__: list[str] = []
