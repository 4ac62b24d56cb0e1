"""emotion_gcn model (registered in afg.models)."""
from __future__ import annotations
