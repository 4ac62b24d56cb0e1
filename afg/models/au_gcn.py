"""AU-GCN (Liu et al. 2020): landmark ROIs → per-ROI auto-encoders → fixed ROI graph → 2-layer GCN → FC.

Paper: Z. Liu, J. Dong, C. Zhang, L. Wang, J. Dang, `"Relation Modeling with Graph Convolutional
Networks for Facial Action Unit Detection" <https://doi.org/10.1007/978-3-030-37734-2_40>`_, MMM
2020 (`arXiv:1910.10334 <https://arxiv.org/abs/1910.10334>`_). Equations used: Eq. 1–9 (below;
losses in :mod:`afg.losses.au_gcn`).

Reads like the paper's Fig. 1:

1. ``rois``: AU regions from 68 landmarks (Sec. 3.2, :mod:`afg.data.rois`); 19 ROIs for BP4D,
   14 for DISFA, the last one the whole face.
2. ``autoencoders``: one AE per ROI, latent ``Z0`` (R, d0 = 150) (Sec. 3.3, Eq. 1-3), with a
   per-ROI classifier for the ROI-level loss (Eq. 2).
3. ``roi_adj``: G from the AU relation graph M_bool (Eq. 4-5) and the ROI rules (Sec. 3.4).
4. ``gcn``: ``Z_{i+1} = G Z_i W_i`` (Eq. 6), d 150 → 30 → 12, each followed by dropout then ReLU;
   flatten; ``fc`` → C logits; ``au`` = sigmoid (Sec. 3.6). Loss Eq. 7 + λ2 Eq. 8.

The model has no CNN backbone (``backbone``/``pretrained``/``weights`` are accepted and ignored).
It needs landmarks: ``forward(images, landmarks=None)``; without landmarks (or rows with NaN)
the canonical aligned-face template (:func:`afg.data.rois.canonical_landmarks`) is used.
Landmarks are pixel-index coordinates of the images passed in.

Table 4 ablations (``variant``): ``au_net`` (no GCN/D/F: concatenated Z0 → FC), ``au_net_d``,
``wo_fd``, ``wo_f``, ``wo_d``, ``full``. Training stages (``stage`` / :meth:`set_stage`):
``"autoencoder"`` (AEs + ROI classifiers, loss Eq. 3; ``au`` is then the mean ROI-level
probability of each AU) and ``"full"`` (all modules, loss Eq. 9).

Where the paper leaves a number open or prints another normalisation:

* ``threshold`` ``h`` of Eq. 5 is not printed; 0.8 rebuilds Table 1(b) from DISFA's labels
  (``tests/reference/test_au_gcn_table1.py``). M_bool comes from each fold's training labels
  (``graph="auto"``) or from Table 1 (``graph="paper"``).
* the reconstruction loss (Eq. 1, ``(1/n²) Σ_ij |I^GT_ij − I^R_ij|`` over colour pixels) is also
  averaged over the 3 colour channels, so it is 1/3 of the printed sum over channels and
  ``λ1 = 3`` in Eq. 3 weighs it as ``λ1 = 1`` would with channels summed.
* the training frames are a per-video sample (§4.1; ``data.frame_sampling``,
  :mod:`afg.data.sampling`), which sets the occurrence rates behind Eq. 7's class weights.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.rois import (
    DATASET_AUS,
    canonical_landmarks,
    default_roi_sizes,
    extract_rois,
    roi_boxes,
    roi_set,
)
from ..graphs.cooccurrence import cooccurrence_graph, roi_graph
from ..graphs.normalize import normalize_digraph
from ..losses.au_gcn import AUGCNLoss, au_gcn_class_weights
from ..nn.gcn import GraphConvolution
from ..nn.roi_ae import PerRoiLinear, RoiAutoEncoders
from ..reference.au_gcn_graphs import TABLE1_AUS, published_graph
from .base import AffectModel
from .registry import register_model

__all__ = ["AUGCN", "VARIANTS"]

#: Table 4 rows: (use_gcn, use_dice, use_face)
VARIANTS = {
    "au_net": (False, False, False),
    "au_net_d": (False, True, False),
    "wo_fd": (True, False, False),
    "wo_f": (True, True, False),
    "wo_d": (True, False, True),
    "full": (True, True, True),
}


class AUGCN(AffectModel):
    task = "au"

    def __init__(
        self,
        num_classes: int,
        dataset: str | None = "disfa",
        au_names: list[str] | None = None,
        variant: str = "full",
        use_gcn: bool | None = None,
        use_dice: bool | None = None,
        use_face: bool | None = None,
        stage: str = "full",
        graph: Any = "auto",
        threshold: float = 0.8,
        img_size: int = 200,
        roi_frac: float = 0.125,
        roi_size: int | None = None,
        latent_dim: int = 150,
        hidden_dims: tuple[int, int] = (30, 12),
        dropout: float = 0.2,
        adj_norm: str = "symmetric",
        ae_channels: tuple[int, int, int] = (16, 32, 24),
        landmarks: str = "data",
        template_margin: float = 0.1,
    ) -> None:
        super().__init__()
        if landmarks not in ("data", "template"):
            raise ValueError(f"landmarks must be 'data' or 'template', got {landmarks!r}")
        #: batch keys the trainer passes to forward (``landmarks="template"``: none, always the template)
        self.forward_keys: tuple[str, ...] = ("landmarks",) if landmarks == "data" else ()
        self.optional_forward_keys: tuple[str, ...] = ("landmarks",)
        gcn_d, dice_d, face_d = VARIANTS[variant]
        self.use_gcn = gcn_d if use_gcn is None else use_gcn
        self.use_dice = dice_d if use_dice is None else use_dice
        self.use_face = face_d if use_face is None else use_face
        self.dataset = dataset.lower() if dataset else None
        names = au_names or DATASET_AUS.get(self.dataset or "", None)
        if names is None or len(names) != num_classes:
            raise ValueError(f"au_gcn needs au_names for {num_classes} AUs (dataset={dataset!r})")
        self.label_names = list(names)
        self.rois = roi_set(self.label_names, face=self.use_face, strict=False)
        self.template_margin = template_margin  # crop margin of afg.data.faces.align
        self.roi_frac, self.adj_norm, self.graph_source, self.threshold = roi_frac, adj_norm, graph, threshold
        self.roi_size = roi_size or default_roi_sizes(img_size, roi_frac)[1]
        r = len(self.rois)
        self.register_buffer("membership", torch.as_tensor(self.rois.membership))  # (R, C)
        # 2. per-ROI auto-encoders + ROI-level classifiers (Eq. 1-3)
        self.autoencoders = RoiAutoEncoders(r, self.roi_size, latent_dim, tuple(ae_channels))
        self.roi_classifier = PerRoiLinear(r, latent_dim, num_classes)
        # 3. graphs: M_bool (C, C) and G (R, R)
        self.register_buffer("au_graph", torch.eye(num_classes))
        self.register_buffer("roi_adj", torch.eye(r))
        self.set_au_graph(self._initial_graph(graph, num_classes))
        # 4. GCN (Eq. 6) or AU-Net's concatenation, then FC
        d1, d2 = hidden_dims
        if self.use_gcn:
            self.gcn = nn.ModuleList([GraphConvolution(latent_dim, d1), GraphConvolution(d1, d2)])
            self.drop = nn.Dropout(dropout)
            self.fc = nn.Linear(r * d2, num_classes)
        else:
            self.fc = nn.Linear(r * latent_dim, num_classes)
        self.stage = "full"
        self.set_stage(stage)
        self.decode_in_full = False  # set by build_criterion when the ROI loss stays in stage "full"

    # ------------------------------------------------------------------ graphs
    def _initial_graph(self, graph: Any, c: int) -> np.ndarray:
        if isinstance(graph, str):
            if graph in ("auto", "paper") and self.dataset in TABLE1_AUS and TABLE1_AUS[self.dataset] == self.label_names:
                return published_graph(self.dataset)
            if graph == "paper":
                raise ValueError(f"no published graph for AUs {self.label_names}")
            return np.eye(c)  # "auto"/"labels": replaced by prepare() from the training labels
        return np.asarray(graph)

    def set_au_graph(self, m_bool: Any) -> None:
        """Install a (C, C) M_bool and rebuild G (Sec. 3.4)."""
        m = np.asarray(m_bool, dtype=np.float64)
        self.au_graph.copy_(torch.as_tensor(m, dtype=torch.float32))
        self.roi_adj.copy_(torch.as_tensor(roi_graph(m, self.rois), dtype=torch.float32))

    def prepare(self, train_data: Any = None, stats: dict[str, Any] | None = None) -> None:
        """Build M_bool from the training labels (Eq. 4-5) unless ``graph`` is "paper"/a matrix."""
        if self.graph_source in ("auto", "labels") and stats is not None and stats.get("au_labels") is not None:
            self.set_au_graph(cooccurrence_graph(stats["au_labels"], self.threshold))

    def adjacency(self) -> torch.Tensor:
        return normalize_digraph(self.roi_adj) if self.adj_norm == "symmetric" else self.roi_adj

    # ------------------------------------------------------------------ stages
    def set_stage(self, stage: str) -> None:
        stage = {"ae": "autoencoder", "pretrain": "autoencoder"}.get(stage, stage)
        if stage not in ("autoencoder", "full"):
            raise ValueError(f"stage must be 'autoencoder' or 'full', got {stage!r}")
        self.stage = stage

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """``backbone``: the auto-encoders and ROI classifiers; ``head``: GCN and FC."""
        bb = list(self.autoencoders.parameters()) + list(self.roi_classifier.parameters())
        ids = {id(p) for p in bb}
        return {"backbone": bb, "head": [p for p in self.parameters() if id(p) not in ids]}

    # ------------------------------------------------------------------ forward
    def _landmarks(self, images: torch.Tensor, landmarks: torch.Tensor | None) -> torch.Tensor:
        b, _, h, w = images.shape
        tpl = canonical_landmarks((h, w), batch=b, margin=self.template_margin).to(images.device)
        if landmarks is None:
            return tpl
        lm = landmarks.to(images.device, torch.float32)
        bad = torch.isnan(lm).flatten(1).any(1)
        return torch.where(bad[:, None, None], tpl, lm)

    def forward(
        self, images: torch.Tensor, landmarks: torch.Tensor | None = None, return_intermediates: bool = False
    ) -> dict[str, torch.Tensor]:
        b, _, h, w = images.shape
        lm = self._landmarks(images, landmarks)  # (B, 68, 2)
        boxes = roi_boxes(lm, self.rois, (h, w), self.roi_frac * w)  # (B, R, 4)
        rois = extract_rois(images, boxes, self.roi_size)  # (B, R, 3, n, n)
        ae_stage = self.stage == "autoencoder"
        z0, recon = self.autoencoders(rois, decode=ae_stage or self.decode_in_full or return_intermediates)
        roi_logits = self.roi_classifier(z0)  # (B, R, C)
        out: dict[str, torch.Tensor] = {"roi_logits": roi_logits, "roi_target": rois}
        if recon is not None:
            out["roi_recon"] = recon
        if ae_stage:  # AU probability = mean over the ROIs holding the AU
            memb = self.membership
            local = memb.clone()
            if self.rois.face_index is not None:
                local[self.rois.face_index] = 0
            memb = torch.where(local.sum(0, keepdim=True) > 0, local, memb)
            out["au"] = (torch.sigmoid(roi_logits.float()) * memb).sum(1) / memb.sum(0).clamp_min(1)
        else:
            if self.use_gcn:
                adj = self.adjacency()
                z = z0
                for layer in self.gcn:  # Eq. 6, then dropout, then ReLU
                    z = F.relu(self.drop(layer(z, adj)))
            else:
                z = z0  # AU-Net: concatenated node features
            logits = self.fc(z.flatten(1))
            out["au_logits"] = logits
            out["au"] = torch.sigmoid(logits.float())  # float32 under autocast too
            if return_intermediates and self.use_gcn:
                out["gcn_nodes"] = z
        if return_intermediates:
            out["nodes"] = z0
            out["adjacency"] = self.adjacency().expand(b, -1, -1)
            out["roi_boxes"] = boxes
            out["landmarks"] = lm
        return out

    def build_criterion(self, stats: dict[str, Any] | None = None, **options: Any) -> nn.Module:
        """:class:`afg.losses.AUGCNLoss` with w_i from the training occurrence rates (Eq. 7).

        Options: ``lambda_rec`` (3), ``lambda_dice`` (4), ``roi_weight`` (0: ROI loss only in
        stage "autoencoder"), ``dice_smooth`` (1), ``dice_per_sample`` (True), ``class_weights``,
        ``stage`` (``"autoencoder"``/``"ae"`` or ``"full"``: also switches the model's stage, so a
        recipe stage can say ``losses: {stage: ae}``).
        """
        if "stage" in options:
            self.set_stage(options.pop("stage"))
        weights = options.pop("class_weights", None)
        if weights is None and stats is not None:
            if stats.get("au_rates") is not None:
                weights = au_gcn_class_weights(stats["au_rates"])
            elif stats.get("au_class_weights") is not None:
                weights = stats["au_class_weights"]
        crit = AUGCNLoss(self.membership, weights, use_dice=options.pop("use_dice", self.use_dice),
                         stage=self, **options)
        self.decode_in_full = crit.roi_weight > 0
        return crit


@register_model("au_gcn")
def au_gcn(num_classes: int, backbone: Any = None, pretrained: bool = False, weights: Any = None,
           img_size: int = 200, **options: Any) -> AUGCN:
    """``create_model("au_gcn", num_classes, dataset="disfa"|"bp4d", variant=..., stage=...)``.

    ``pretrain_autoencoders=True`` is an alias of ``stage="autoencoder"``. See :class:`AUGCN`.
    """
    if options.pop("pretrain_autoencoders", False):
        options["stage"] = "autoencoder"
    return AUGCN(num_classes, img_size=img_size, **options)
