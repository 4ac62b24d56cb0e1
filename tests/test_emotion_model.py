"""Emotion-GCN model and its Table I baselines (tiny resnet18 at 64 px)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from afg.graphs import emotion_adjacency, emotion_gcn_normalize, spearman_matrix
from afg.models import create_model, model_from_config
from afg.models.emotion_gcn import TABLE1_VARIANTS

SIZE = 64
TINY = {"backbone": "resnet18", "img_size": SIZE}


def _stats(n=400, seed=0):
    rng = np.random.default_rng(seed)
    e = rng.integers(0, 7, n)
    va = np.column_stack([0.8 * (e == 1) - 0.5 * (e == 2), 0.6 * (e >= 3)]) + rng.normal(0, 0.2, (n, 2))
    multi = np.eye(7)[e]
    multi[(e == 1) & (rng.random(n) < 0.5), 3] = 1  # blended happy + surprise
    return {"expressions": e, "va": va, "expression_counts": np.bincount(e, minlength=7), "emotion_labels": multi}


def _batch(n=8, seed=0):
    """Synthetic faces with their expression and valence/arousal labels."""
    from afg.data.synth import SynthFaces

    ds = SynthFaces(profile="disfa", n_subjects=2, images_per_subject=n // 2, size=SIZE, seed=seed)
    items = [ds[i] for i in range(n)]
    return {"image": torch.stack([it["image"] for it in items]).float(),
            "expression": torch.stack([it["expression"] for it in items]).long(),
            "va": torch.stack([it["va"] for it in items]).float()}


def test_gcn_forward_is_eq1_2_7_10():
    torch.manual_seed(0)
    st = _stats()
    m = create_model("emotion_gcn", 7, **TINY).eval()
    assert m.task == "expression" and m.graph_source.startswith("identity")
    m.prepare(None, st)
    corr = spearman_matrix(st["expressions"], st["va"][:, 0], st["va"][:, 1])
    adj = torch.tensor(emotion_adjacency(corr, tau=0.1, p=0.7), dtype=torch.float32)
    torch.testing.assert_close(m.adjacency, adj)
    x = torch.randn(3, 3, SIZE, SIZE)
    out = m(x, return_intermediates=True)
    assert out["expression"].shape == (3, 7) and out["va"].shape == (3, 2)
    # manual: x = GMP(f_cnn(I)); W = Â·LReLU(Â Z W1)·W2; logits = x W_c^T, va = x W_r^T
    feat = m.backbone.feature_map(x).amax((2, 3))
    h = torch.nn.functional.leaky_relu(adj @ m.node_embeddings @ m.gcn[0].weight, 0.2)
    w = adj @ h @ m.gcn[1].weight
    torch.testing.assert_close(out["features"], feat)
    torch.testing.assert_close(out["expression"], feat @ w[:7].T, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out["va"], feat @ w[7:].T, rtol=1e-4, atol=1e-4)
    assert m.classifier_vectors().shape == (9, 512) and out["nodes"].shape == (3, 9, 512)
    assert [g.weight.shape for g in m.gcn] == [(300, 512), (512, 512)] and all(g.bias is None for g in m.gcn)
    assert "offline" in m.embedding_source


def test_graph_options_and_layers():
    st = _stats()
    corr = spearman_matrix(st["expressions"], st["va"][:, 0], st["va"][:, 1])
    off = create_model("emotion_gcn", 7, graph="official", **TINY)
    off.prepare(None, st)
    ref = emotion_gcn_normalize(emotion_adjacency(corr, 0.1, 0.5, official=True))
    np.testing.assert_allclose(off.adjacency.numpy(), ref, atol=1e-6)
    cond = create_model("emotion_gcn", 7, graph="conditional", tau=0.1, p=0.5, **TINY)
    cond.prepare(None, st)
    assert cond.adjacency[1, 3] > 0 and cond.adjacency[3, 1] > 0  # happy <-> surprise edge
    # a 6-emotion source without Neutral (SynthFaces' expression_multilabel) gets a Neutral column
    six = create_model("emotion_gcn", 7, graph="conditional", tau=0.1, p=0.5, **TINY)
    six.prepare(None, {**st, "emotion_labels": st["emotion_labels"][:, 1:]})
    torch.testing.assert_close(six.adjacency, cond.adjacency)
    with pytest.raises(ValueError, match="conditional"):
        create_model("emotion_gcn", 7, graph="conditional", **TINY).prepare(None, {k: st[k] for k in ("expressions", "va")})
    given = create_model("emotion_gcn", 7, correlation=corr, tau=0.15, p=0.4, **TINY)
    np.testing.assert_allclose(given.adjacency.numpy(), emotion_adjacency(corr, 0.15, 0.4), atol=1e-6)
    given.prepare(None, None)  # a given graph is kept, no stats needed
    for layers, shapes in [(1, [(300, 512)]), (3, [(300, 512), (512, 512), (512, 512)])]:
        m = create_model("emotion_gcn", 7, gcn_layers=layers, embedding_dim=300, **TINY)
        assert [tuple(g.weight.shape) for g in m.gcn] == shapes
    z = np.random.default_rng(0).normal(size=(9, 16)).astype(np.float32)
    m = create_model("emotion_gcn", 7, embeddings=z, **TINY)
    assert m.gcn[0].weight.shape == (16, 512) and m.embedding_source == "given array"


def test_checkpoint_roundtrip_keeps_graph():
    st = _stats()
    m = create_model("emotion_gcn", 7, tau=0.05, **TINY)
    m.prepare(None, st)
    m2 = model_from_config(m.model_config)
    m2.load_state_dict(m.state_dict())
    torch.testing.assert_close(m2.adjacency, m.adjacency)
    x = torch.randn(2, 3, SIZE, SIZE)
    torch.testing.assert_close(m2.eval()(x)["va"], m.eval()(x)["va"])


def test_baseline_heads():
    single = create_model("emotion_single", 7, **TINY)
    out = single(torch.randn(2, 3, SIZE, SIZE))
    assert set(out) == {"expression"} and single.classifier_vectors().shape == (7, 512)
    va_only = create_model("emotion_single", 7, target="va", **TINY)
    assert set(va_only(torch.randn(2, 3, SIZE, SIZE))) == {"va"}
    mtl = create_model("emotion_mtl", 7, regression_loss="mse", pooling="avg", **TINY)
    assert mtl.classifier_vectors().shape == (9, 512)
    crit = mtl.build_criterion(_stats())
    assert crit.regression == "mse" and crit.class_weights is not None
    assert single.build_criterion(None).class_weights is None  # stats=None: uniform
    with pytest.raises(TypeError):
        create_model("emotion_gcn", 7, taux=0.1, **TINY)


@pytest.mark.parametrize("variant", list(TABLE1_VARIANTS))
def test_table1_variant_lowers_its_loss(variant):
    torch.manual_seed(0)
    name, opts = TABLE1_VARIANTS[variant]
    st = _stats()
    model = create_model(name, 7, **TINY, **opts)
    model.prepare(None, st)
    crit = model.build_criterion(st)
    batch = _batch()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-3)
    losses, acc = [], []
    for _ in range(8):
        out = model(batch["image"])
        loss = crit(out, batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        acc.append((out["expression"].argmax(1) == batch["expression"]).float().mean().item())
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.8 * losses[0], losses
    assert acc[-1] > acc[0], acc  # accuracy on the training batch rises


@pytest.mark.parametrize("name", ["affectnet", "affwild2", "synthetic"])
def test_configs_parse_and_build(name):
    from pathlib import Path

    import yaml

    from afg.train.recipe import Recipe

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / f"emotion_gcn_{name}.yaml").read_text())
    recipe = Recipe.from_dict(cfg["recipe"])
    assert recipe.optimizer.name == "sgd" and recipe.optimizer.lr == pytest.approx(1e-3)
    assert recipe.optimizer.weight_decay == pytest.approx(1e-3) and recipe.optimizer.momentum == pytest.approx(0.9)
    opts = dict(cfg["model"])
    model_name, num_classes = opts.pop("name"), opts.pop("num_classes")
    opts.update(pretrained=False, backbone="resnet18", img_size=SIZE)  # no download in tests
    model = create_model(model_name, num_classes, **opts)
    assert model.tau == 0.1 and len(model.node_names) == 9


def test_fit_smoke_on_synthetic_faces(tmp_path):
    """The synthetic recipe runs through afg.train.fit: prepare() builds the Spearman graph from
    the training labels and evaluation reports accuracy and CCC."""
    from pathlib import Path

    import yaml

    from afg.data import synth
    from afg.train import fit

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "emotion_gcn_synthetic.yaml").read_text())
    opts = dict(cfg["model"])
    model = create_model(opts.pop("name"), opts.pop("num_classes"), **{**opts, "img_size": SIZE})
    train = synth.SynthFaces(profile="disfa", n_subjects=4, images_per_subject=6, size=SIZE, seed=0)
    val = synth.SynthFaces(profile="disfa", n_subjects=2, images_per_subject=4, size=SIZE, seed=1, subject_offset=50)
    recipe = {**cfg["recipe"], "epochs": 1, "max_steps_per_epoch": 2}
    result = fit(model, train, val, recipe)
    row = result.history[-1]
    assert np.isfinite(row["train_loss"])
    # accuracy and CCC are those of the trained model on the validation faces (hand-computed)
    items = [val[i] for i in range(len(val))]
    with torch.no_grad():
        out = result.model.eval()(torch.stack([it["image"] for it in items]))
    y = np.array([int(it["expression"]) for it in items])
    assert row["accuracy"] == pytest.approx((out["expression"].argmax(1).numpy() == y).mean())
    v, p = np.array([float(it["valence"]) for it in items]), out["va"][:, 0].numpy().astype(float)
    ccc = 2 * np.cov(v, p, bias=True)[0, 1] / (v.var() + p.var() + (v.mean() - p.mean()) ** 2)
    assert row["ccc_valence"] == pytest.approx(ccc, rel=1e-4, abs=1e-6)
    assert model.graph_source.startswith("paper graph")
    assert not torch.equal(model.adjacency, torch.eye(9))


def test_loaded_weights_keep_the_trained_graph_and_say_so():
    """Â is a buffer: loading a prepared model's weights restores it, and graph_source no longer
    claims the identity placeholder; prepare() then leaves the loaded graph alone."""
    torch.manual_seed(0)
    st = _stats()
    trained = create_model("emotion_gcn", 7, **TINY)
    trained.prepare(None, st)
    fresh = create_model("emotion_gcn", 7, **TINY)
    assert fresh.graph_source.startswith("identity")
    fresh.load_state_dict(trained.state_dict())
    torch.testing.assert_close(fresh.adjacency, trained.adjacency)
    assert not fresh.graph_source.startswith("identity") and "loaded" in fresh.graph_source
    fresh.prepare(None, _stats(seed=1))  # other labels: the loaded graph stays
    torch.testing.assert_close(fresh.adjacency, trained.adjacency)
    untrained = create_model("emotion_gcn", 7, **TINY)
    untrained.load_state_dict(create_model("emotion_gcn", 7, **TINY).state_dict())
    assert untrained.graph_source.startswith("identity")  # an identity graph is still reported as such


def test_gcn_head_and_loss_options_given_as_configs_or_flat_agree():
    from afg.models.emotion_gcn import EmotionGCN, EmotionGCNHeadConfig, EmotionLossConfig

    torch.manual_seed(0)
    flat = create_model("emotion_gcn", 7, backbone="resnet_tiny", img_size=64, tau=0.2, gcn_layers=1,
                        regression_loss="mse", lambda_va=2.0)
    torch.manual_seed(0)
    typed = EmotionGCN(7, backbone="resnet_tiny", img_size=64, head_config=EmotionGCNHeadConfig(tau=0.2, gcn_layers=1),
                       loss_config=EmotionLossConfig(regression_loss="mse", lambda_va=2.0))
    a, b = flat.state_dict(), typed.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (typed.tau, len(typed.gcn), typed.regression_loss, typed.lambda_va) == (0.2, 1, "mse", 2.0)
    with pytest.raises(TypeError, match="'gcn_layer'"):
        create_model("emotion_gcn", 7, backbone="resnet_tiny", img_size=64, gcn_layer=1)
