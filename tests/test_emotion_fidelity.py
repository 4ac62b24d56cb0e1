"""Emotion-GCN fidelity (issue #24): Table II's τ = 0 column links every pair; node embeddings are
prior-free by default (the hand-set affect prior is opt-in, a GloVe file is read as given); the
paper's weighted cross-entropy (Eq. 8-9) on Aff-Wild2 by hand; the BReG-NeXt backbone of Table V."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from afg import reference as ref
from afg.embeddings import hash_word_vectors, offline_word_vectors, resolve_embeddings
from afg.experiments import load_experiment
from afg.graphs.emotion import emotion_adjacency
from afg.models import create_model
from afg.nn.bregnext import BReGNeXt, BReGShortcut, BReGUnit

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
NODES = ["neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "valence", "arousal"]
TINY = {"backbone": "resnet_tiny", "img_size": 32}


def _corr(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.uniform(-0.6, 0.6, (9, 9))
    c = (c + c.T) / 2
    np.fill_diagonal(c, 1.0)
    return c


# ------------------------------------------------------------------------------- Table II, τ = 0
def test_tau_zero_literal_eq5_links_every_pair():
    c = _corr()
    a = emotion_adjacency(c, tau=0.0, p=0.7, literal_eq5=True)
    off = ~np.eye(9, dtype=bool)
    np.testing.assert_allclose(a[off], 0.7 / 8)  # Eq. 6: p over the 8 neighbours of every node
    np.testing.assert_allclose(np.diag(a), 0.3)
    assert a[0, 1] > 0 and a[7, 8] > 0  # Cat-Cat and Valence-Arousal edges too
    # the default keeps Eq. 3's structure at tau = 0 (Cat-Dim only) ...
    d = emotion_adjacency(c, tau=0.0, p=0.7)
    assert d[0, 1] == 0 and d[7, 8] == 0 and d[0, 7] == pytest.approx(0.35)
    # ... and for tau > 0 both readings are the same matrix
    for tau in (0.05, 0.1, 0.15):
        np.testing.assert_array_equal(emotion_adjacency(c, tau=tau, literal_eq5=True), emotion_adjacency(c, tau=tau))
    # the reference table builds the column that way, and the model follows
    assert ref.table_info("emotion_gcn/table2_tau")["column_overrides"][0] == {"model.tau": 0, "model.literal_eq5": True}
    m = create_model("emotion_gcn", 7, **TINY, tau=0.0, literal_eq5=True, correlation=c)
    assert bool((m.adjacency > 0).all()) and "literal Eq. 5" in m.graph_source


# ------------------------------------------------------------------------------- embeddings
def test_default_embeddings_are_prior_free_affect_prior_is_opt_in(tmp_path):
    m = create_model("emotion_gcn", 7, **TINY)
    np.testing.assert_array_equal(m.node_embeddings.numpy(), hash_word_vectors(NODES, 300))
    assert m.embedding_source.startswith("offline:hash-v1")
    prior = offline_word_vectors(NODES, 300)
    assert not np.allclose(m.node_embeddings.numpy(), prior)
    a = create_model("emotion_gcn", 7, **TINY, embeddings="offline:affect")
    np.testing.assert_array_equal(a.node_embeddings.numpy(), prior)
    assert a.embedding_source.startswith("offline:affect-hash-v1")

    def cos(u, v):
        return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))

    # what the prior carries: happy leans towards valence only with the affect term
    z, zp = m.node_embeddings.numpy(), prior
    assert cos(zp[1], zp[7]) > 0.2 > abs(cos(z[1], z[7]))
    # SVML-RGCN's word vectors follow the same rule
    s = create_model("svml_rgcn", 6, variant="sml_rgcn", **TINY)
    assert s.embedding_source.startswith("offline:hash-v1")
    with pytest.raises(ValueError, match="offline:affect"):
        resolve_embeddings("offline:glove", ["happy"])


def test_glove_text_file_is_read_as_given(tmp_path):
    rng = np.random.default_rng(3)
    vecs = {w: rng.normal(size=5).round(4) for w in NODES}
    glove = tmp_path / "glove.tiny.5d.txt"
    glove.write_text("".join(f"{w} " + " ".join(f"{x:.4f}" for x in v) + "\n" for w, v in vecs.items()))
    m = create_model("emotion_gcn", 7, **TINY, embeddings=str(glove))
    np.testing.assert_allclose(m.node_embeddings.numpy(), np.stack([vecs[w] for w in NODES]), atol=1e-6)
    assert m.embedding_source.startswith("glove-text:") and m.gcn[0].weight.shape[0] == 5


# ------------------------------------------------------------------------------- Eq. 8-9
def test_affwild2_weighted_ce_matches_hand_computation():
    cfg = load_experiment(CONFIGS / "emotion_gcn_affwild2.yaml")
    assert cfg.model["class_weights"] == "inverse"  # the paper; "none" is the authors' code
    opts = {k: v for k, v in cfg.model.items() if k not in ("name", "num_classes", "backbone",
                                                           "pretrained", "weights", "img_size")}
    m = create_model("emotion_gcn", 7, **TINY, **opts)
    counts = np.array([40, 10, 5, 8, 30, 20, 12])  # Aff-Wild2 order; Disgust rarest
    crit = m.build_criterion({"expression_counts": counts})
    logits = torch.tensor([[1.0, 0.2, -0.3, 0.0, 2.0, -1.0, 0.5], [0.1, 0.1, 1.5, -0.2, 0.0, 0.3, -0.4],
                           [-0.5, 0.8, 0.0, 0.0, 0.2, 1.1, 0.9]])
    y = torch.tensor([4, 2, -1])  # Happiness, Disgust, missing
    out = {"expression": logits, "va": torch.zeros(3, 2)}
    batch = {"expression": y, "va": torch.full((3, 2), float("nan"))}
    w = 5 / counts  # Eq. 9 as the text intends: N_min / N_c
    nll = [-F.log_softmax(logits[i], 0)[y[i]].item() for i in range(2)]
    hand = (w[4] * nll[0] + w[2] * nll[1]) / (w[4] + w[2])  # PyTorch's weighted mean
    assert crit(out, batch)["expression"].item() == pytest.approx(hand, rel=1e-6)
    mean = m.build_criterion({"expression_counts": counts}, ce_reduction="mean")
    assert mean(out, batch)["expression"].item() == pytest.approx((w[4] * nll[0] + w[2] * nll[1]) / 2, rel=1e-6)
    code = m.build_criterion({"expression_counts": counts}, class_weights="none")
    assert code(out, batch)["expression"].item() == pytest.approx(sum(nll) / 2, rel=1e-6)


# ------------------------------------------------------------------------------- Table V
def test_bregnext_shortcut_has_the_bounded_gradient():
    g = BReGShortcut()
    with torch.no_grad():
        g.a.fill_(1.7)
        g.c.fill_(0.4)
    x = torch.linspace(-4, 4, 17, requires_grad=True)
    g(x).sum().backward()
    torch.testing.assert_close(x.grad, 1.0 / (0.4**2 + 1 + 1.7**2 * x.detach() ** 2))
    assert float(x.grad.max()) <= 1 / (0.4**2 + 1) + 1e-6
    u = BReGUnit(32, 64, stride=2)
    xin = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        for p in (u.conv2.weight, u.conv2.bias):
            p.zero_()  # residual branch off: the output is the padded, pooled g(x)
        s = F.avg_pool2d(u.shortcut(xin), 2, 2)
        torch.testing.assert_close(u(xin), F.pad(s, (0, 0, 0, 0, 16, 16)))


def test_bregnext50_structure_and_emotion_gcn_on_it():
    net = BReGNeXt()
    units = [m for m in net.modules() if isinstance(m, BReGUnit)]
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(units) == 24 and len(convs) + 1 == 50  # stem + 48 unit convs + the authors' FC
    assert net.forward_features(torch.zeros(1, 3, 64, 64)).shape == (1, 128, 16, 16)
    assert 3.0e6 < sum(p.numel() for p in net.parameters()) < 3.2e6  # the paper's 3.1 M
    cfg = load_experiment(CONFIGS / "emotion_gcn_affectnet_bregnext.yaml")
    assert cfg.model["backbone"] == "bregnext50"
    m = create_model("emotion_gcn", 7, backbone="bregnext50", img_size=32)
    out = m(torch.randn(2, 3, 32, 32))
    assert out["expression"].shape == (2, 7) and out["va"].shape == (2, 2)
    (out["expression"].sum() + out["va"].sum()).backward()
    assert m.backbone.model.features[0].shortcut.a.grad is not None
    with pytest.raises(RuntimeError, match="pretrained"):
        create_model("emotion_gcn", 7, backbone="bregnext50", pretrained=True, img_size=32)
