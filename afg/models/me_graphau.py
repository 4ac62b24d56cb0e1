"""me_graphau model (registered in afg.models)."""
from __future__ import annotations
