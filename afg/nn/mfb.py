"""Multi-modal factorized bilinear pooling (SVML-RGCN Eq. 6). Owner: SVML issue."""
from __future__ import annotations

__all__: list[str] = []
