r"""Emotion-GCN (Antoniadis et al., FG 2021) and its Table I baselines, as options of one class.

Paper: P. Antoniadis, P. P. Filntisis, P. Maragos, `"Exploiting Emotional Dependencies with Graph
Convolutional Networks for Facial Expression Recognition" <https://arxiv.org/abs/2106.03487>`_,
FG 2021. Equations used: Eq. 1–12 (below; losses in :mod:`afg.losses.emotion`, the graph in
:mod:`afg.graphs.emotion`).

Fig. 2: image → backbone (DenseNet-121) → global max pooling → x ∈ R^D (Eq. 1);
node embeddings Z (9×d) → L graph convolutions over Â (Eq. 2-6) → W ∈ R^{9×D};
expression logits W_c·x (Eq. 7), valence/arousal W_r·x (Eq. 10); loss L_c + L_r (Eq. 8-12).

Registered names: ``emotion_gcn`` (GCN-generated classifiers/regressors), ``emotion_mtl``
(multi-task, independent linear heads, ``regression_loss="ccc"|"mse"``) and ``emotion_single``
(one linear head, ``target="expression"|"va"``). :data:`TABLE1_VARIANTS` maps the paper's rows
to (name, options).
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..backbones import create_backbone
from ..data.stats import training_statistics
from ..embeddings import resolve_embeddings
from ..graphs.emotion import (
    AFFECTNET_EXPRESSIONS,
    emotion_adjacency,
    emotion_adjacency_conditional,
    emotion_gcn_normalize,
    spearman_matrix,
)
from ..losses.emotion import EmotionCriterion, expression_class_weights
from ..nn import bregnext as _bregnext  # noqa: F401  registers timm's "bregnext50" (Table V)
from ..nn.gcn import GraphConvolution
from .base import AffectModel, build_head_config
from .registry import register_model

__all__ = ["TABLE1_VARIANTS", "EmotionGCN", "EmotionGCNHeadConfig", "EmotionLossConfig"]

#: Table I rows -> (registered name, options)
TABLE1_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "single_task": ("emotion_single", {"target": "expression"}),
    "multi_task_mse": ("emotion_mtl", {"regression_loss": "mse"}),
    "multi_task_ccc": ("emotion_mtl", {"regression_loss": "ccc"}),
    "emotion_gcn": ("emotion_gcn", {}),
}


@dataclass(frozen=True)
class EmotionGCNHeadConfig:
    """Options of the GCN head (``head="gcn"``): the graph over the ``C + 2`` nodes and the GCN
    that turns their embeddings into classifiers and regressors.

    Attributes:
        embeddings: node embeddings Z — a word-vector file the user brings (the paper: 300-d
            GloVe, ``glove.6B.300d.txt``), ``None``/``"offline:hash"`` (prior-free offline vectors,
            the default), ``"offline:affect"`` (offline vectors with a hand-set valence/arousal
            prior that only this GCN head receives — explicit opt-in) or an array ``(C+2, d)``
            (:func:`afg.embeddings.resolve_embeddings`); ``self.embedding_source`` says which.
        embedding_dim: dimension of the offline vectors.
        correlation: ``(C+2, C+2)`` Spearman matrix; else :meth:`EmotionGCN.prepare` computes it.
        adjacency: a ready ``(C+2, C+2)`` Â used as is (overrides everything else).
        graph: ``"paper"`` (Eq. 3-6), ``"official"`` (authors' code + their ``gen_adj``) or
            ``"conditional"`` (Sec. IV.E, needs ``stats["emotion_labels"]`` in ``prepare``).
        tau, p: Eq. 5 threshold and Eq. 6 re-weighting (Table II).
        literal_eq5: apply Eq. 5 to every entry of Eq. 3's A, its zeros included, so ``tau=0``
            links every pair (Table II's τ = 0 column); identical to the default for ``tau > 0``
            (see :func:`afg.graphs.emotion_adjacency`).
        gcn_layers: L ∈ {1, 2, 3}; hidden width ``hidden_dim`` (512), LeakyReLU(0.2) between.
        last_activation: also apply Eq. 2's ``h`` (LeakyReLU) to the last GCN layer, whose output
            is the classifiers and regressors ``W`` — Eq. 2 read literally (the real-data configs
            set it); ``False`` (the default, which every cached run was trained with) is the
            authors' code and ML-GCN's: no activation after the last layer
            (docs/paper_vs_code.md).
    """

    embeddings: Any = None
    embedding_dim: int = 300
    correlation: Any = None
    adjacency: Any = None
    graph: str = "paper"
    tau: float = 0.1
    p: float = 0.7
    literal_eq5: bool = False
    gcn_layers: int = 2
    hidden_dim: int = 512
    last_activation: bool = False


@dataclass(frozen=True)
class EmotionLossConfig:
    """Options of the model's criterion (:meth:`EmotionGCN.build_criterion`).

    Attributes:
        regression_loss: ``"ccc"`` (Eq. 12) or ``"mse"`` for ``va``.
        class_weights: ``"inverse"`` (Eq. 8-9: N_min/N_c from the training counts, the paper on
            AffectNet and Aff-Wild2) or ``"none"`` (the authors' Aff-Wild2 code).
        ce_reduction: ``"weighted_mean"`` (Σ w·ℓ / Σ w, PyTorch's and the authors') or
            ``"mean"`` (Eq. 8 per image averaged over the batch, Σ w·ℓ / B).
        lambda_va, unbiased_variance: see :class:`afg.losses.EmotionCriterion`.
    """

    regression_loss: str = "ccc"
    class_weights: str = "inverse"
    ce_reduction: str = "weighted_mean"
    lambda_va: float = 1.0
    unbiased_variance: bool = False


class EmotionGCN(AffectModel):
    """Expression classifiers and V/A regressors, generated by a GCN (``head="gcn"``) or linear.

    Args:
        num_classes: expression classes ``C`` (7); the graph has ``C + 2`` nodes.
        backbone, pretrained, weights, img_size: see :func:`afg.backbones.create_backbone`;
            ``densenet121`` (the paper) or ``bregnext50`` (Table V, :mod:`afg.nn.bregnext`).
        head: ``"gcn"`` (Emotion-GCN) or ``"linear"`` (the multi-/single-task baselines).
        tasks: outputs to produce, ``("expression", "va")``, ``("expression",)`` or ``("va",)``.
        pooling: ``"max"`` (Eq. 1) or ``"avg"`` (the authors' baseline code).
        expression_names: node names of the classes (default AffectNet order).
        head_config: the GCN head's options (:class:`EmotionGCNHeadConfig`).
        loss_config: the criterion's options (:class:`EmotionLossConfig`).
        **options: the fields of either config given flat (as ``create_model`` and the YAML
            configs give them), e.g. ``tau=0.2, regression_loss="mse"``.
    """

    task = "expression"

    def __init__(
        self,
        num_classes: int = 7,
        backbone: str = "densenet121",
        pretrained: bool = False,
        weights: str | None = None,
        img_size: int = 224,
        head: str = "gcn",
        tasks: Sequence[str] = ("expression", "va"),
        pooling: str = "max",
        expression_names: Sequence[str] | None = None,
        head_config: EmotionGCNHeadConfig | None = None,
        loss_config: EmotionLossConfig | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        loss_options = {k: options.pop(k) for k in list(options) if k in EmotionLossConfig.__dataclass_fields__}
        loss = build_head_config(EmotionLossConfig, loss_config, loss_options, "EmotionGCN")
        cfg = build_head_config(EmotionGCNHeadConfig, head_config, options, "EmotionGCN")
        tasks = tuple(tasks)
        _check_options(head, pooling, cfg.graph, tasks)
        self.num_classes, self.head, self.tasks, self.pooling = num_classes, head, tasks, pooling
        self.regression_loss, self.class_weights_mode = loss.regression_loss, loss.class_weights
        self.lambda_va, self.unbiased_variance = loss.lambda_va, loss.unbiased_variance
        self.graph, self.tau, self.p, self.literal_eq5 = cfg.graph, cfg.tau, cfg.p, cfg.literal_eq5
        self.ce_reduction = loss.ce_reduction
        names = list(expression_names or (AFFECTNET_EXPRESSIONS if num_classes == 7 else [f"class{i}" for i in range(num_classes)]))
        self.label_names = names
        self.node_names = names + ["Valence", "Arousal"]
        self.backbone = create_backbone(backbone, pretrained=pretrained, weights=weights, img_size=img_size)
        dim = self.backbone.num_features  # D (1024 for DenseNet-121)
        if head == "linear":
            self.classifier = nn.Linear(dim, num_classes) if "expression" in tasks else None
            self.regressor = nn.Linear(dim, 2) if "va" in tasks else None
            self.graph_source = "none"
        else:
            self._build_gcn_head(cfg, dim)

    def _build_gcn_head(self, cfg: EmotionGCNHeadConfig, dim: int) -> None:
        """Node embeddings Z ``(C+2, d)``, the L GCN layers ``d -> hidden -> D`` and Â (identity
        until :meth:`prepare`, unless ``cfg`` gives an adjacency or a correlation matrix)."""
        n = self.num_classes + 2
        embeddings = cfg.embeddings
        if embeddings is None or isinstance(embeddings, str) or hasattr(embeddings, "__fspath__"):
            z, self.embedding_source = resolve_embeddings(embeddings, [w.lower() for w in self.node_names],
                                                          dim=cfg.embedding_dim)
        else:
            z, self.embedding_source = np.asarray(embeddings, dtype=np.float32), "given array"
        if z.shape[0] != n:
            raise ValueError(f"embeddings have {z.shape[0]} rows, the graph has {n} nodes")
        self.register_buffer("node_embeddings", torch.as_tensor(z, dtype=torch.float32))  # Z (n, d)
        if cfg.gcn_layers not in (1, 2, 3):
            raise ValueError(f"gcn_layers must be 1, 2 or 3, got {cfg.gcn_layers}")
        widths = [z.shape[1]] + [cfg.hidden_dim] * (cfg.gcn_layers - 1) + [dim]  # d -> 512 -> D for L = 2
        self.gcn = nn.ModuleList(GraphConvolution(a, b) for a, b in itertools.pairwise(widths))
        self.act = nn.LeakyReLU(0.2)
        self.last_activation = bool(cfg.last_activation)
        self.register_buffer("adjacency", torch.eye(n))  # Â of Eq. 2, replaced by prepare()
        self.graph_source = "identity (prepare() not called yet)"
        self.register_load_state_dict_post_hook(EmotionGCN._name_loaded_graph)
        if cfg.adjacency is not None:
            self.set_adjacency(np.asarray(cfg.adjacency, dtype=np.float64), "given adjacency")
        elif cfg.correlation is not None:
            self.set_correlation(cfg.correlation)

    # ----- graph ----------------------------------------------------------------------------
    @staticmethod
    def _name_loaded_graph(module: nn.Module, incompatible_keys: Any) -> None:
        """A checkpoint restores Â (a buffer) but not the string that describes it: a model loaded
        before ``prepare()`` says where its graph came from instead of "identity" (and
        ``prepare()`` then keeps it)."""
        adj = module.adjacency
        if module.graph_source.startswith("identity") and not torch.equal(
                adj, torch.eye(len(adj), dtype=adj.dtype, device=adj.device)):
            module.graph_source = "loaded with the weights (built from the training labels when trained)"

    def set_adjacency(self, adj: np.ndarray, source: str) -> None:
        self.adjacency.copy_(torch.as_tensor(adj, dtype=torch.float32))
        self.graph_source = source

    def set_correlation(self, corr: Any, multilabel: Any = None) -> None:
        """Build Â from a Spearman matrix with this model's ``graph``, ``tau`` and ``p``."""
        if self.graph == "official":  # authors' gen_A (p = 0.5) then gen_adj (= transpose)
            adj = emotion_gcn_normalize(emotion_adjacency(corr, self.tau, 0.5, official=True))
        elif self.graph == "conditional":
            if multilabel is None:
                raise ValueError("graph='conditional' needs multi-label expression labels (stats['emotion_labels'])")
            adj = emotion_adjacency_conditional(corr, multilabel, tau=self.tau, p=self.p)
        else:  # Eq. 3-6; rows already sum to one (Â of Eq. 2)
            adj = emotion_adjacency(corr, tau=self.tau, p=self.p, literal_eq5=self.literal_eq5)
        p = 0.5 if self.graph == "official" else self.p
        lit = ", literal Eq. 5" if self.literal_eq5 and self.graph == "paper" else ""
        self.set_adjacency(adj, f"{self.graph} graph (tau={self.tau}, p={p}{lit})")

    def prepare(self, train_data: Any = None, stats: dict[str, Any] | None = None) -> None:
        """Spearman adjacency from the training labels (``stats["expressions"]``, ``stats["va"]``)
        unless a matrix was given. ``graph="conditional"`` needs ``stats["emotion_labels"]``
        ``(n, C)`` in the expression order, or ``(n, C-1)`` without Neutral (then prepended: on
        when no emotion is)."""
        if self.head != "gcn" or not self.graph_source.startswith("identity"):
            return
        if stats is None and train_data is not None:
            stats = training_statistics(train_data)
        if not stats or "expressions" not in stats or "va" not in stats:
            raise ValueError("prepare() needs stats with 'expressions' (n,) and 'va' (n, 2)")
        va = np.asarray(stats["va"], dtype=np.float64)
        corr = spearman_matrix(stats["expressions"], va[:, 0], va[:, 1], num_classes=self.num_classes, names=self.node_names)
        self.correlation = corr
        multi = stats.get("emotion_labels")
        if multi is not None and np.asarray(multi).shape[1] == self.num_classes - 1:
            # 6 basic emotions without Neutral (e.g. SynthFaces): Neutral = no emotion active
            multi = np.asarray(multi, dtype=np.float64)
            multi = np.column_stack([(np.nan_to_num(multi).sum(1) == 0).astype(np.float64), multi])
        self.set_correlation(corr, multi)

    # ----- forward --------------------------------------------------------------------------
    def generated_vectors(self) -> torch.Tensor:
        """Eq. 2 stacked L times: ``W = Â·h(…h(Â Z W¹)…)·W^L`` → ``(C+2, D)`` (with
        ``last_activation``: ``W = h(Â·h(…)·W^L)``, Eq. 2 at every layer)."""
        h = self.node_embeddings
        for i, layer in enumerate(self.gcn):
            h = layer(h, self.adjacency)
            if i < len(self.gcn) - 1 or self.last_activation:
                h = self.act(h)
        return h

    def classifier_vectors(self) -> torch.Tensor:
        """Learned classifiers then regressors, rows ``(C [+2], D)`` for Fig. 6 (detached)."""
        if self.head == "gcn":
            return self.generated_vectors().detach()
        rows = [m.weight for m in (self.classifier, self.regressor) if m is not None]
        return torch.cat(rows, 0).detach()

    def forward(self, images: torch.Tensor, return_intermediates: bool = False) -> dict[str, torch.Tensor]:
        tokens = self.backbone(images)  # (B, h*w, D)
        x = tokens.amax(1) if self.pooling == "max" else tokens.mean(1)  # Eq. 1: (B, D)
        out: dict[str, torch.Tensor] = {}
        if self.head == "gcn":
            w = self.generated_vectors()  # (C+2, D)
            scores = x @ w.t()  # (B, C+2)
            out["expression"] = scores[:, : self.num_classes]  # Eq. 7 (softmax in the loss)
            out["va"] = scores[:, self.num_classes :]  # Eq. 10
            if return_intermediates:
                b = x.shape[0]
                out["nodes"] = w.unsqueeze(0).expand(b, -1, -1)
                out["adjacency"] = self.adjacency.unsqueeze(0).expand(b, -1, -1)
        else:
            if self.classifier is not None:
                out["expression"] = self.classifier(x)
            if self.regressor is not None:
                out["va"] = self.regressor(x)
        if return_intermediates:
            out["features"] = x
        return out

    def build_criterion(self, stats: dict[str, Any] | None = None, **options: Any) -> nn.Module:
        """:class:`~afg.losses.EmotionCriterion`; options override ``class_weights``,
        ``regression_loss``, ``lambda_va``, ``unbiased_variance``, ``ce_reduction``."""
        mode = options.pop("class_weights", self.class_weights_mode)
        weights = None
        if isinstance(mode, str):
            if mode == "inverse" and stats is not None and stats.get("expression_counts") is not None:
                weights = expression_class_weights(stats["expression_counts"])
            elif mode not in ("inverse", "none"):
                raise ValueError(f"class_weights must be 'inverse', 'none' or an array, got {mode!r}")
        elif mode is not None:
            weights = np.asarray(mode, dtype=np.float64)
        return EmotionCriterion(
            class_weights=weights,
            regression=options.pop("regression_loss", self.regression_loss) if "va" in self.tasks else None,
            classification="expression" in self.tasks,
            lambda_va=options.pop("lambda_va", self.lambda_va),
            unbiased_variance=options.pop("unbiased_variance", self.unbiased_variance),
            ce_reduction=options.pop("ce_reduction", self.ce_reduction),
            **options,
        )


def _check_options(head: str, pooling: str, graph: str, tasks: tuple[str, ...]) -> None:
    if head not in ("gcn", "linear") or pooling not in ("max", "avg"):
        raise ValueError(f"head must be 'gcn'|'linear' and pooling 'max'|'avg', got {head!r}, {pooling!r}")
    if graph not in ("paper", "official", "conditional") or not set(tasks) <= {"expression", "va"} or not tasks:
        raise ValueError(f"bad graph={graph!r} or tasks={tasks!r}")
    if head == "gcn" and tasks != ("expression", "va"):
        raise ValueError("the GCN head generates both classifiers and regressors: tasks must be both")


@register_model("emotion_gcn")
def emotion_gcn(num_classes: int = 7, **options: Any) -> EmotionGCN:
    """Emotion-GCN: GCN-generated classifiers and regressors (Table I row iv)."""
    return EmotionGCN(num_classes=num_classes, head="gcn", **options)


@register_model("emotion_mtl")
def emotion_mtl(num_classes: int = 7, regression_loss: str = "ccc", **options: Any) -> EmotionGCN:
    """Multi-task baseline: shared features, linear classifier + regressor (Table I ii/iii)."""
    return EmotionGCN(num_classes=num_classes, head="linear", tasks=("expression", "va"), regression_loss=regression_loss, **options)


@register_model("emotion_single")
def emotion_single(num_classes: int = 7, target: str = "expression", **options: Any) -> EmotionGCN:
    """Single-task baseline: weighted CE only (Table I i) or CCC-only V/A (Table III row 1)."""
    return EmotionGCN(num_classes=num_classes, head="linear", tasks=(target,), **options)
