"""Published AU relation graphs M_bool of AU-GCN (Liu et al. 2020, Table 1), as package data.

``TABLE1_BP4D`` (Table 1(a), AU order 1 2 4 6 7 10 12 14 15 17 23 24) and ``TABLE1_DISFA``
(Table 1(b), AU order 1 2 4 6 9 12 25 26), transcribed from the paper. The DISFA matrix follows
from the real DISFA training labels of each fold with threshold 0.8
(``tests/reference/test_au_gcn_table1.py``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["TABLE1_AUS", "TABLE1_BP4D", "TABLE1_DISFA", "published_graph"]

TABLE1_AUS: dict[str, list[str]] = {
    "bp4d": ["AU01", "AU02", "AU04", "AU06", "AU07", "AU10", "AU12", "AU14", "AU15", "AU17", "AU23", "AU24"],
    "disfa": ["AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26"],
}

# Table 1(a) BP4D
TABLE1_BP4D = np.array(
    [
        [1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0],
        [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0],
        [1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0],
        [0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0],
        [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0],
        [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        [0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0],
        [0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1],
    ],
    dtype=np.int64,
)

# Table 1(b) DISFA
TABLE1_DISFA = np.array(
    [
        [1, 1, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0, 0],
        [0, 0, 1, 0, 1, 0, 0, 0],
        [0, 0, 0, 1, 0, 1, 1, 0],
        [0, 0, 1, 0, 1, 0, 0, 0],
        [0, 0, 0, 1, 0, 1, 1, 0],
        [0, 0, 0, 1, 0, 1, 1, 1],
        [0, 0, 0, 0, 0, 0, 1, 1],
    ],
    dtype=np.int64,
)


def published_graph(dataset: str) -> np.ndarray:
    """A copy of the published ``M_bool`` for ``"bp4d"`` or ``"disfa"``."""
    key = dataset.lower()
    if key == "bp4d":
        return TABLE1_BP4D.copy()
    if key == "disfa":
        return TABLE1_DISFA.copy()
    raise ValueError(f"no published AU-GCN graph for {dataset!r} (bp4d, disfa)")
