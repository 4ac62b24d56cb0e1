"""SVML-RGCN (Zhang et al.): an R-GCN over positive/negative label relations learns the classifier.

Paper: M. Zhang, W. Deng, J. Jiang, H. Zhang, "Multi-Label Facial Expression Recognition with
Graph-Based Modeling of Label Correlation and Node Representation" (the copy in
``papers/svml_rgcn_zhang.md`` prints no DOI or arXiv id). Equations used: Eq. 1 (logits), Eq. 2
(loss, :class:`afg.losses.multilabel.MultiLabelBCELoss`), Eq. 3–4 (relations,
:mod:`afg.graphs.relations`), Eq. 5 (class means), Eq. 6 (MFB), Eq. 7 (R-GCN), Eq. 13–14 (SVML-GCN).

Figure 3 of the paper, as modules::

    images ─ backbone ─ avg-pool ─ f (B, D) ───────────────────────────┐
    f_c (C, D) visual, Eq. 5 ─┐                                         ▼
    e_c (C, d_w) words ───────┴ MFB (Eq. 6) ─ nodes ─ R-GCN ×L (Eq. 7) ─ W_C (C, D) ─ logits = f·W_Cᵀ (Eq. 1)
    labels ─ P_ij (Eq. 3) ─ positive / negative relations (Eq. 4) ─┘

Variants (``variant=``, Tables 2-3): ``baseline`` (backbone + linear), ``svml_gcn`` (GCN over the
re-weighted ML-GCN adjacency of positive relations, Eq. 13-14), ``sml_rgcn`` (word embeddings
only), ``vml_rgcn`` (visual features only), ``svml_rgcn`` (the full model).

The class means f_c (Eq. 5) average φ over **single-label basic-expression images**: the paper
uses RAF-DB basic's training images of the 6 basic expressions (Sec. 4.2). A dataset named by
``data.basic`` is built by :func:`afg.experiments.build_data` and attached to the training set
as ``basic_data``; :meth:`SVMLRGCN.prepare` finds it there (or takes ``basic_data=``). Without
one it falls back to the single-label images of the training set, and a class without any such
image is an error (RAF-Compound has none at all: every image carries two labels). With
``feature_cache`` (a folder) f_c is stored under a key that hashes the exact images (dataset,
fold and split), their labels, the class order and the backbone weights, so no fold, split or
weight file reuses another's means (:func:`feature_cache_key`).
"""
from __future__ import annotations

import hashlib
import itertools
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset, default_collate

from ..backbones import create_backbone
from ..data.wrappers import base_dataset, base_positions, dataset_layers, find_attribute
from ..embeddings import resolve_embeddings
from ..graphs.relations import label_relations, mlgcn_adjacency
from ..losses.multilabel import MultiLabelBCELoss
from ..nn.gcn import GraphConvolution
from ..nn.mfb import MFB
from ..nn.rgcn import RGCNLayer
from .base import AffectModel
from .registry import register_model

__all__ = ["DEFAULT_EMOTION_NAMES", "SVMLRGCN", "VARIANTS", "class_mean_features", "feature_cache_key",
           "find_basic_data"]

VARIANTS = ("baseline", "svml_gcn", "sml_rgcn", "vml_rgcn", "svml_rgcn")
#: RAF-ML's label order (used when neither the caller nor the data names the labels)
DEFAULT_EMOTION_NAMES = ("Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger")


def _emotion_labels(data: Any) -> np.ndarray | None:
    """``labels()["emotions"]`` of a dataset, restricted to a (nested) Subset's indices."""
    ds, idx = base_positions(data)
    y = ds.labels().get("emotions") if hasattr(ds, "labels") else None
    return None if y is None else (np.asarray(y) if idx is None else np.asarray(y)[idx])


def find_basic_data(data: Any) -> Any:
    """The ``basic_data`` attribute that :func:`afg.experiments.build_data` attaches for
    ``data.basic``, looked up on ``data`` and every wrapper below it (DataLoader, Subset,
    :class:`~afg.data.wrappers.CachedDataset`); ``None`` when there is none."""
    return find_attribute(data, "basic_data")


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            part = part.detach().cpu().contiguous().reshape(-1)
            h.update(str((part.dtype, tuple(part.shape))).encode())
            h.update(part.view(torch.uint8).numpy().tobytes())
        elif isinstance(part, np.ndarray):
            h.update(str((part.dtype, part.shape)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"|")
    return h.hexdigest()


def _data_identity(data: Any) -> tuple[str, str]:
    """``(readable name, digest)`` of the images a loader/dataset yields: the base dataset's
    image paths (prepared faces: the folder and the aligned files) or, for in-memory data, its
    type and labels; the (nested) Subset indices; the labels of the selected rows."""
    ds, idx = base_positions(data)
    chain = [type(layer).__name__ for layer in dataset_layers(data) if isinstance(layer, Subset)]
    table = getattr(ds, "table", None)
    records = getattr(ds, "records", None)
    frame = table if table is not None else records
    cols = [c for c in ("aligned", "image", "source") if frame is not None and c in frame.columns]
    paths = frame[cols].astype(str).to_numpy().tolist() if cols else None
    labels = ds.labels() if hasattr(ds, "labels") else {}
    name = str(getattr(ds, "name", "") or (getattr(ds, "meta", {}) or {}).get("dataset", "")
               or Path(str(getattr(ds, "root", type(ds).__name__))).name or type(ds).__name__)
    digest = _digest(type(ds).__name__, str(getattr(ds, "root", "")), getattr(ds, "size", None),
                     paths if paths is not None else len(ds), chain, idx,
                     *[np.asarray(labels[k]) for k in sorted(labels)])
    n = len(ds) if idx is None else len(idx)
    return f"{name}-n{n}", digest


def feature_cache_key(backbone: nn.Module, data: Any, label_key: str, class_names: list[str],
                      label_map: dict[int, int] | None) -> str:
    """File name of the Eq. 5 cache: ``<dataset>-n<images>-<data hash>-<weights hash>.pt``.

    The data hash covers the exact images (paths, or labels for in-memory data, plus the
    Subset indices of a fold/split) and their labels, the label key, the class order and the
    name→class map; the weights hash covers every tensor of ``φ``'s state dict. Folds, splits,
    datasets and weight files therefore never share a file (JAFFE's 5 folds get 5 files).
    """
    name, data_hash = _data_identity(data)
    weights = _digest(*[x for k, v in sorted(backbone.state_dict().items()) for x in (k, v)])
    meta = _digest(data_hash, label_key, list(class_names), sorted((label_map or {}).items()))
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return f"{safe}-{meta[:12]}-w{weights[:12]}.pt"


def _pooled(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``(B, D)`` global-average features of a backbone (tokens or map) or an afg model."""
    net = model.backbone if isinstance(getattr(model, "backbone", None), nn.Module) else model
    out = net(images)
    return out.mean(1) if out.dim() == 3 else out.flatten(2).mean(-1) if out.dim() == 4 else out


def _collate_image_labels(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack only ``image`` and the label keys (other entries may not collate)."""
    keys = [k for k in ("image", "expression", "emotions", "expression_multilabel") if k in items[0]]
    return {k: default_collate([it[k] for it in items]) for k in keys}


@torch.no_grad()
def class_mean_features(
    model: nn.Module,
    loader: DataLoader,
    num_classes: int,
    label_key: str = "expression",
    label_map: dict[int, int] | None = None,
    single_label_only: bool = True,
    cache_path: str | Path | None = None,
    device: torch.device | str | None = None,
    on_empty: str = "error",
    class_names: list[str] | None = None,
) -> torch.Tensor:
    r"""Visual node inputs :math:`f_c = \frac{1}{N_c}\sum_n \varphi(I_{c,n})` (SVML-RGCN Eq. 5).

    Args:
        model: the feature extractor ``φ`` — a backbone returning tokens ``(B, D, C)`` / maps, or
            a model with a ``.backbone``; run in eval mode without gradients (mode restored).
        loader: yields batch dicts with ``image`` and ``label_key``.
        num_classes: ``C``.
        label_key: ``expression`` (``(B,)`` long, -1 missing; mapped through ``label_map``
            {dataset index: class index}, unmapped indices dropped) or ``emotions`` /
            ``expression_multilabel`` (``(B, C)`` multi-hot; with ``single_label_only`` only
            images showing exactly one basic expression count, as in the paper).
        cache_path: a ``.pt`` file: loaded when it exists, written after computing otherwise
            (the caller keys it; :func:`feature_cache_key`).
        on_empty: a class without any (single-label) image: ``"error"`` (ValueError naming the
            classes) or ``"global_mean"`` (the mean over all images, with a warning).
        class_names: names for that message.

    Returns:
        ``(C, D)`` float tensor on CPU.
    """
    if on_empty not in ("error", "global_mean"):
        raise ValueError(f"on_empty must be 'error' or 'global_mean', got {on_empty!r}")
    if cache_path is not None and Path(cache_path).is_file():
        return torch.load(cache_path, map_location="cpu", weights_only=True)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    sums, counts, total, n_all = None, torch.zeros(num_classes, dtype=torch.float64), None, 0
    try:
        for batch in loader:
            key = label_key if label_key in batch else "expression_multilabel"
            y = torch.as_tensor(batch[key])
            if y.dim() == 1:  # single label -> one-hot over our classes
                idx = y.long().tolist()
                idx = [label_map.get(i, -1) if label_map is not None else i for i in idx]
                w = torch.zeros(len(idx), num_classes, dtype=torch.float64)
                for r, c in enumerate(idx):
                    if 0 <= c < num_classes:
                        w[r, c] = 1.0
            else:
                w = torch.nan_to_num(y.double(), nan=0.0)
                if single_label_only:
                    w = w * (w.sum(1, keepdim=True) == 1)
            feats = _pooled(model, batch["image"].to(device)).double().cpu()  # (B, D)
            if sums is None:
                sums, total = torch.zeros(num_classes, feats.shape[1], dtype=torch.float64), 0.0
            sums += w.T @ feats
            counts += w.sum(0)
            total = total + feats.sum(0)
            n_all += feats.shape[0]
    finally:
        model.train(was_training)
    if sums is None:
        raise ValueError("class_mean_features: the loader yielded no batch")
    out = sums / counts.clamp_min(1).unsqueeze(1)
    empty = counts == 0
    if empty.any():
        miss = empty.nonzero().flatten().tolist()
        named = [class_names[c] for c in miss] if class_names else miss
        what = "single-label image" if single_label_only else "image"
        if on_empty == "error":
            raise ValueError(
                f"SVML-RGCN Eq. 5: no {what} of class {named} to average into f_c "
                f"({int(counts.sum())} usable of {n_all} images); name a basic-expression dataset "
                "with every class under data.basic (RAF-DB basic, as the paper: "
                "{dataset: rafdb, root: ..., split: train})")
        warnings.warn(f"class_mean_features: no image for classes {named} ({what}s only); "
                      "using the mean over all images", RuntimeWarning, stacklevel=2)
        out[empty] = total / max(n_all, 1)
    out = out.float()
    if cache_path is not None:  # write-then-rename: ranks or folds never read a half-written file
        cache_path = Path(cache_path)
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_name(f".{cache_path.name}.{os.getpid()}.tmp")
        torch.save(out, tmp)
        os.replace(tmp, cache_path)
    return out


class SVMLRGCN(AffectModel):
    """Multi-label expression recognition with a label-graph classifier (see module docstring).

    Args (beyond the registry's): ``variant`` (one of :data:`VARIANTS`); ``t1``, ``t2`` relation
    thresholds (Eq. 4; ``t2`` is also SVML-GCN's ``t``), ``p`` (Eq. 14); ``num_layers`` (2);
    ``hidden_dim`` (every graph layer's width; default ``D``, the paper's 2048); ``num_bases``
    (R-GCN basis decomposition); ``mfb_k``, ``mfb_o`` (Eq. 6), ``mfb_dropout`` (0: Eq. 6 has none;
    MFB's own 0.1, Yu et al., as an option; the synthetic config keeps 0.1); ``mfb_normalize``
    (False: Eq. 6's sum pooling only, the paper; True: Yu et al.'s signed square root + L2
    normalisation after it); ``word_vectors`` (a GloVe file the user brings, the paper's;
    ``None`` = prior-free offline vectors; ``"offline:affect"`` = offline vectors with a hand-set
    affect prior, see :func:`afg.embeddings.resolve_embeddings`) and ``word_dim``;
    ``label_names``; ``feature_cache`` (a folder for the Eq. 5 features, one keyed file per
    dataset/fold/split/weights, :func:`feature_cache_key`; a ``.pt`` path means the folder of that
    name without the suffix); ``missing_class`` (``"error"``: a class without a single-label
    image raises; ``"global_mean"``: it gets the mean over all images, with a warning);
    ``loss_reduction`` (``"sum"`` over classes as Eq. 2, or ``"mean"`` over all entries).
    """

    task = "multilabel"

    def __init__(self, num_classes: int = 6, backbone: str = "resnet50", pretrained: bool = False,
                 weights: str | None = None, img_size: int = 224, variant: str = "svml_rgcn",
                 t1: float = 0.15, t2: float = 0.4, p: float = 0.2, num_layers: int = 2,
                 hidden_dim: int | None = None, num_bases: int | None = None, mfb_k: int = 4,
                 mfb_o: int = 1024, mfb_dropout: float = 0.0, mfb_normalize: bool = False,
                 word_vectors: str | None = None, word_dim: int = 300,
                 label_names: list[str] | None = None, feature_cache: str | None = None,
                 missing_class: str = "error", loss_reduction: str = "sum") -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if missing_class not in ("error", "global_mean"):
            raise ValueError(f"missing_class must be 'error' or 'global_mean', got {missing_class!r}")
        self.variant, self.t1, self.t2, self.p = variant, t1, t2, p
        self.word_vectors, self.word_dim, self.feature_cache = word_vectors, word_dim, feature_cache
        self.missing_class, self.loss_reduction = missing_class, loss_reduction
        MultiLabelBCELoss(loss_reduction)  # validate now, not at the first training step
        self.feature_cache_file: Path | None = None  # the keyed file prepare() used
        if backbone == "resnet50" and pretrained and weights is None:
            warnings.warn("SVML-RGCN: phi (the feature extractor and Eq. 5's class means) is an ImageNet "
                          "ResNet-50, not the paper's ResNet-50 trained on RAF-Basic (Sec. 4.2): train "
                          "configs/resnet50_raf_basic.yaml and pass model.weights=<its final weights>", stacklevel=2)
        self.backbone = create_backbone(backbone, pretrained=pretrained, weights=weights, img_size=img_size)
        d = self.backbone.num_features  # D
        self.label_names = list(label_names or (DEFAULT_EMOTION_NAMES if num_classes == 6
                                                else [f"label{i}" for i in range(num_classes)]))
        if variant == "baseline":
            self.fc = nn.Linear(d, num_classes)
            return
        words, self.embedding_source = resolve_embeddings(word_vectors, self.label_names, dim=word_dim)
        self.register_buffer("word_embeddings", torch.as_tensor(words, dtype=torch.float32))  # e_c
        gen = torch.Generator().manual_seed(0)  # placeholder f_c until prepare() (Eq. 5)
        self.register_buffer("visual_features", torch.randn(num_classes, d, generator=gen).abs())
        self.register_buffer("relations", torch.zeros(2, num_classes, num_classes))  # [pos, neg]
        self.register_buffer("gcn_adjacency", torch.eye(num_classes))  # Eq. 14 (svml_gcn)
        w_dim = self.word_embeddings.shape[1]
        self.mfb = MFB(d, w_dim, mfb_o, k=mfb_k, dropout=mfb_dropout, power_norm=mfb_normalize,
                       l2_norm=mfb_normalize) if variant in ("svml_rgcn", "svml_gcn") else None
        in_dim = {"sml_rgcn": w_dim, "vml_rgcn": d}.get(variant, mfb_o)
        dims = [in_dim] + [hidden_dim or d] * (num_layers - 1) + [d]
        self.graph = nn.ModuleList(
            GraphConvolution(a, b) if variant == "svml_gcn" else RGCNLayer(a, b, 2, num_bases, bias=False)
            for a, b in itertools.pairwise(dims))
        self.act = nn.LeakyReLU(0.2)  # σ of Eq. 7 between layers (none after the last: W_C is free)
        self.prepared = False

    def node_features(self) -> torch.Tensor:
        """``(C, d)`` node inputs ``h^(0)``: MFB(f_c, e_c) (Eq. 6), e_c or f_c alone."""
        if self.variant == "sml_rgcn":
            return self.word_embeddings
        if self.variant == "vml_rgcn":
            return self.visual_features
        return self.mfb(self.visual_features, self.word_embeddings)

    def classifier(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(W_C (C, D), h^(0))``: the graph layers applied to the node features (Eq. 7)."""
        h0 = h = self.node_features()
        for i, layer in enumerate(self.graph):
            h = layer(h, self.gcn_adjacency if self.variant == "svml_gcn" else self.relations)
            if i < len(self.graph) - 1:
                h = self.act(h)
        return h, h0

    def forward(self, images: torch.Tensor, return_intermediates: bool = False) -> dict[str, torch.Tensor]:
        f = self.backbone(images).mean(1)  # (B, D_tok, D) -> f (B, D)
        if self.variant == "baseline":
            out = {"emotions": self.fc(f)}
            return {**out, "features": f} if return_intermediates else out
        w_c, h0 = self.classifier()  # (C, D)
        out = {"emotions": f @ w_c.T}  # Eq. 1, (B, C)
        if return_intermediates:
            b = f.shape[0]
            adj = self.gcn_adjacency if self.variant == "svml_gcn" else self.relations[0] - self.relations[1]
            out.update(features=f, classifier=w_c, nodes=h0.expand(b, *h0.shape),
                       adjacency=adj.expand(b, *adj.shape))
        return out

    def build_criterion(self, stats: dict[str, Any] | None = None, **options: Any) -> nn.Module:
        if options:
            raise TypeError(f"svml_rgcn criterion takes no options, got {sorted(options)}")
        return MultiLabelBCELoss(self.loss_reduction)

    def set_relations(self, labels: Any) -> None:
        """Relations (Eq. 3-4) and the SVML-GCN adjacency (Eq. 13-14) from ``(n, C)`` labels."""
        if self.variant == "baseline":
            return
        rel = label_relations(labels, self.t1, self.t2)
        self.relations.copy_(torch.as_tensor(np.stack([rel["positive"], rel["negative"]])))
        self.gcn_adjacency.copy_(torch.as_tensor(mlgcn_adjacency(labels, self.t2, self.p)))

    def prepare(self, train_data: Any = None, stats: dict[str, Any] | None = None,
                basic_data: Any = None, batch_size: int = 32) -> None:
        """Relations from ``stats["emotion_labels"]`` (or the data's labels) and f_c (Eq. 5).

        ``basic_data`` (dataset/loader of basic-expression images, e.g. RAF-Basic) defaults to
        the ``basic_data`` that ``data.basic`` attached to ``train_data``
        (:func:`find_basic_data`), else ``train_data`` itself. Its ``expression`` labels are
        matched to ``label_names`` by name when the dataset has ``expression_names`` (RAF-DB
        basic's Neutral is dropped); otherwise its single-label ``emotions`` images are used. A
        class with no image raises (``missing_class``).
        """
        base = base_dataset(train_data) if train_data is not None else None
        names = getattr(base, "emotion_names", None)
        if names is not None and len(names) == len(self.label_names) and list(names) != self.label_names:
            self.label_names = list(names)
            if self.variant != "baseline":
                words, self.embedding_source = resolve_embeddings(self.word_vectors, self.label_names,
                                                                  dim=self.word_dim)
                self.word_embeddings.copy_(torch.as_tensor(words))
        if self.variant == "baseline":
            return
        labels = (stats or {}).get("emotion_labels")
        if labels is None and train_data is not None:
            labels = _emotion_labels(train_data)
        if labels is not None:
            self.set_relations(labels)
        if basic_data is None:
            basic_data = find_basic_data(train_data)
        src = basic_data if basic_data is not None else train_data
        self.visual_source = "none" if src is None else "basic" if basic_data is not None else "train"
        if src is not None and self.variant != "sml_rgcn":
            b = base_dataset(src)
            expr = [str(n).lower() for n in getattr(b, "expression_names", [])]
            want = [n.lower() for n in self.label_names]
            key, lmap = "emotions", None
            if expr and all(n in expr for n in want):
                key, lmap = "expression", {expr.index(n): c for c, n in enumerate(want)}
            loader = src if isinstance(src, DataLoader) else DataLoader(
                src, batch_size=batch_size, collate_fn=_collate_image_labels)
            cache = None
            if self.feature_cache:
                folder = Path(self.feature_cache)
                folder = folder.with_suffix("") if folder.suffix == ".pt" else folder
                cache = folder / feature_cache_key(self.backbone, src, key, self.label_names, lmap)
            self.feature_cache_file = cache
            home = self.device  # run phi (Eq. 5) on the GPU when there is one, then move back
            dev = torch.device("cuda") if torch.cuda.is_available() else home
            feats = class_mean_features(self.backbone.to(dev), loader, len(want), key, lmap,
                                        cache_path=cache, device=dev, on_empty=self.missing_class,
                                        class_names=self.label_names)
            self.backbone.to(home)
            self.visual_features.copy_(feats)
        self.prepared = True


@register_model("svml_rgcn")
def svml_rgcn(num_classes: int = 6, backbone: str = "resnet50", pretrained: bool = False,
              weights: str | None = None, img_size: int = 224, **options: Any) -> SVMLRGCN:
    """SVML-RGCN and its ablation variants (``variant=``); see :class:`SVMLRGCN`."""
    return SVMLRGCN(num_classes, backbone, pretrained, weights, img_size, **options)
