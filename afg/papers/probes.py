"""Probes of a paper's claims that are not ablation rows: CCFG as written vs as coded (Li et al.),
AU-GCN's co-occurrence graph (Eq. 4–5) on real DISFA labels next to its Table 1, and the K-NN
in-degree of active vs inactive AUs (ME-GraphAU Fig. 4)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..graphs.cooccurrence import cooccurrence_graph
from ..graphs.knn import knn_adjacency
from ..models import create_model
from .notebook_setup import reference_dir

__all__ = ["DISFA_REFERENCE_AUS", "au_relation_graphs", "ccfg_paper_vs_code", "disfa_training_labels",
           "knn_degrees"]

#: the 8 DISFA AUs of the reference label files (``fold{k}_test_labels.txt`` columns)
DISFA_REFERENCE_AUS = ["AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26"]


def ccfg_paper_vs_code(images: Any, num_classes: int = 8, backbone: str = "resnet18", img_size: int = 64,
                       seed: int = 0) -> pd.DataFrame:
    """Li et al.'s CCFG as written (``official=False``) and as coded by the authors (``official=True``)
    on the same images and the same backbone/topology weights.

    Returns one row per mode: the largest difference between the CCFG vectors of two AUs of the same
    image (0 ⇔ every AU gets the same vector), the number of distinct per-AU vectors, and the
    BatchNorm ``num_batches_tracked`` after one training-mode forward pass (N for the authors'
    shared block, 1 for the paper's per-AU blocks).
    """
    rows = {}
    state = None
    for official in (False, True):
        torch.manual_seed(seed)
        m = create_model("mafg_ccfg", num_classes, backbone=backbone, pretrained=False, img_size=img_size,
                         official=official)
        if state is None:
            state = {k: v for k, v in m.state_dict().items() if "ccfg" not in k}
        else:  # same backbone, MAFG, GNN and CCFG topology weights
            m.load_state_dict(state, strict=False)
        m.train()
        with torch.no_grad():
            out = m(images, return_intermediates=True)
        v = out["nodes_ccfg"]  # (B, N, C)
        diff = (v[:, :, None, :] - v[:, None, :, :]).abs().amax(dim=(-1,))  # (B, N, N)
        distinct = int(torch.unique(v[0].round(decimals=6), dim=0).shape[0])
        ccfg = m.head.ccfg
        bn = [mod for mod in ccfg.modules() if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm)]
        rows["authors' code (official=True)" if official else "paper (official=False)"] = {
            "max |v_i - v_j| (CCFG, same image)": float(diff.max()),
            "distinct CCFG vectors per image": distinct,
            "BN num_batches_tracked after 1 step": int(bn[0].num_batches_tracked) if bn else None,
            "CCFG parameters": sum(p.numel() for p in ccfg.parameters()),
        }
    return pd.DataFrame(rows).T


def disfa_training_labels(ref: str | os.PathLike | None = None) -> dict[int, np.ndarray] | None:
    """Real DISFA training labels of folds 1–3 (fold k trains on the other two test lists) from the
    reference folder (:func:`~afg.papers.notebook_setup.reference_dir`); ``None`` when absent."""
    root = Path(ref) if ref is not None else reference_dir()
    if root is None or not (root / "disfa" / "fold1_test_labels.txt").exists():
        return None
    tests = {k: np.loadtxt(root / "disfa" / f"fold{k}_test_labels.txt", dtype=np.float32) for k in (1, 2, 3)}
    return {k: np.concatenate([tests[j] for j in (1, 2, 3) if j != k]) for k in (1, 2, 3)}


def au_relation_graphs(labels_by_fold: Mapping[Any, np.ndarray], threshold: float = 0.8,
                       published: np.ndarray | None = None) -> tuple[dict[Any, np.ndarray], pd.DataFrame]:
    """AU-GCN's M_bool (Eq. 4–5) per fold and, with ``published``, how many entries differ from it."""
    graphs = {k: cooccurrence_graph(y, threshold) for k, y in labels_by_fold.items()}
    rows = {}
    for k, g in graphs.items():
        row = {"frames": len(labels_by_fold[k]), "edges (off-diagonal)": int(g.sum() - np.trace(g))}
        if published is not None:
            row["entries differing from Table 1"] = int((g != published).sum())
        rows[f"fold {k}" if isinstance(k, int) else str(k)] = row
    return graphs, pd.DataFrame(rows).T


def knn_degrees(node_features: torch.Tensor, labels: Any, k: int, metric: str = "dots") -> pd.DataFrame:
    """ME-GraphAU Fig. 4's observation, measured: mean number of K-NN edges *pointing to* a node
    (in-degree, self loops excluded) for active vs inactive AUs, over faces ``(F, N, C)`` with 0/1
    ``labels (F, N)`` (ground truth or thresholded predictions)."""
    a = knn_adjacency(torch.as_tensor(node_features).float(), k, metric)  # (F, N, N), row i -> its K
    a = a * (1 - torch.eye(a.shape[-1]))
    indeg = a.sum(1).numpy()  # (F, N)
    y = np.asarray(labels, float) > 0.5
    return pd.DataFrame({"active AUs": [indeg[y].mean() if y.any() else np.nan, int(y.sum())],
                         "inactive AUs": [indeg[~y].mean() if (~y).any() else np.nan, int((~y).sum())]},
                        index=["mean in-degree", "nodes"])
