"""AU-GCN: co-occurrence graph, ROI graph, losses (hand-computed), model variants, training steps."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from afg.data.rois import canonical_landmarks, roi_set
from afg.graphs import cooccurrence_graph, roi_graph
from afg.losses import (
    AUGCNLoss,
    au_gcn_class_weights,
    roi_classification_loss,
    roi_reconstruction_loss,
    weighted_dice_loss,
    weighted_multilabel_ce,
)
from afg.models import create_model
from afg.nn import RoiAutoEncoders
from afg.reference.au_gcn_graphs import TABLE1_DISFA


# ----------------------------------------------------------------------------- graphs
def test_cooccurrence_graph_hand_computed():
    y = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 1], [np.nan, 1, 0]])
    # P(1|0) = 2/3, P(0|1) = 2/2 (row 4 has AU0 missing) -> 5/3; P(2|0) = 1/3, P(0|2) = 1/2 -> 5/6
    # P(2|1) = 1/3, P(1|2) = 1/2 -> 5/6
    g = cooccurrence_graph(y, threshold=0.9)
    np.testing.assert_array_equal(g, [[1, 1, 0], [1, 1, 0], [0, 0, 1]])
    g = cooccurrence_graph(y, threshold=0.83)  # just below 5/6
    np.testing.assert_array_equal(g, np.ones((3, 3)))
    assert cooccurrence_graph(np.zeros((4, 2)), 0.5).tolist() == [[1, 0], [0, 1]]  # self loops kept


def test_roi_graph_structure_disfa():
    rs = roi_set("disfa")  # 0,1 AU1 | 2,3 AU2 | 4,5 AU4 | 6,7 AU6 | 8 AU9 | 9,10 AU12 | 11,12 AU25/26 | 13 face
    g = roi_graph(TABLE1_DISFA, rs)
    assert g.shape == (14, 14) and (g == g.T).all() and (np.diag(g) == 1).all()
    assert g[13].sum() == 14  # face linked to all
    assert g[0, 1] and g[11, 12]  # symmetric pairs (left/right, upper/lower lip)
    assert g[0, 3] and g[1, 2]  # AU1 - AU2 related
    assert not g[0, 4] and not g[0, 6] and not g[0, 8]  # AU1 - AU4 / AU6 / AU9 not
    assert g[8, 4] and g[8, 5] and not g[8, 6]  # AU9 - AU4 yes, AU9 - AU6 no
    assert g[11, 6] and g[12, 9] and g[6, 10]  # AU25 - AU6, AU25 - AU12, AU6 - AU12
    expected_degree = np.array([5, 5, 5, 5, 4, 4, 7, 7, 4, 7, 7, 7, 7, 14])
    np.testing.assert_array_equal(g.sum(1), expected_degree)
    # identity relation: only self loops, symmetric pairs, face
    g0 = roi_graph(np.eye(8), rs)
    assert g0.sum() == 14 + 2 * 6 + 2 * 13
    # without the face node
    gf = roi_graph(TABLE1_DISFA, rs.without_face())
    np.testing.assert_array_equal(gf, g[:13, :13])


# ----------------------------------------------------------------------------- losses
P = torch.tensor([[0.8, 0.3]])
Y = torch.tensor([[1.0, 0.0]])
W = torch.tensor([0.5, 1.5])


def test_weighted_ce_hand_computed():
    want = (0.5 * -math.log(0.8) + 1.5 * -math.log(0.7)) / 2
    got = weighted_multilabel_ce(P, Y, W, from_logits=False)
    assert got.item() == pytest.approx(want, rel=1e-5)
    logits = torch.log(P / (1 - P))
    assert weighted_multilabel_ce(logits, Y, W).item() == pytest.approx(want, rel=1e-5)
    # a missing label contributes nothing (the 1/C normalisation stays)
    y_nan = torch.tensor([[1.0, float("nan")]])
    assert weighted_multilabel_ce(logits, y_nan, W).item() == pytest.approx(0.5 * -math.log(0.8) / 2, rel=1e-5)


def test_weighted_dice_hand_computed():
    want = (0.5 * (1 - 2.6 / 2.64) + 1.5 * (1 - 1 / 1.09)) / 2  # Eq. 8, eps = 1
    assert weighted_dice_loss(P, Y, W, smooth=1.0).item() == pytest.approx(want, rel=1e-5)
    p2 = torch.tensor([[0.8, 0.3], [0.4, 0.9]])
    y2 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    want_batch = (0.5 * (1 - 2.6 / 2.8) + 1.5 * (1 - 2.8 / 2.9)) / 2
    got = weighted_dice_loss(p2, y2, W, smooth=1.0, per_sample=False)
    assert got.item() == pytest.approx(want_batch, rel=1e-5)
    assert weighted_dice_loss(Y, Y, W).item() == pytest.approx(0.0, abs=1e-7)  # perfect prediction


def test_class_weights_from_rates():
    w = au_gcn_class_weights([0.1, 0.2, 0.4])
    inv = np.array([10, 5, 2.5])
    np.testing.assert_allclose(w, 3 * inv / inv.sum())
    assert w.sum() == pytest.approx(3.0)


def test_roi_losses_hand_computed():
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731  BCE(logit, t) = softplus(x) - t x
    logits = torch.tensor([[[2.0, -1.0], [0.5, 1.0]]])  # (B=1, R=2, C=2)
    memb = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([[1.0, 1.0]])
    # ROI 0 holds only AU 0: its target for AU 1 is 0 although AU 1 is present
    roi0 = ((sp(2.0) - 2.0) + sp(-1.0)) / 2
    roi1 = ((sp(0.5) - 0.5) + (sp(1.0) - 1.0)) / 2
    got = roi_classification_loss(logits, y, memb)
    assert got.item() == pytest.approx((roi0 + roi1) / 2, rel=1e-5)
    a, b = torch.zeros(1, 2, 3, 4, 4), torch.full((1, 2, 3, 4, 4), 0.5)
    b[0, 1] = -1.0
    assert roi_reconstruction_loss(a, b).item() == pytest.approx(0.75)


def test_criterion_stages():
    crit = AUGCNLoss(torch.ones(3, 2), class_weights=[1.0, 1.0], stage="autoencoder")
    out = {"roi_logits": torch.zeros(1, 3, 2), "roi_recon": torch.zeros(1, 3, 3, 4, 4),
           "roi_target": torch.ones(1, 3, 3, 4, 4), "au": torch.full((1, 2), 0.5),
           "au_logits": torch.zeros(1, 2)}
    batch = {"au": torch.tensor([[1.0, 0.0]])}
    r = crit(out, batch)
    assert r["loss"].item() == pytest.approx(math.log(2) + 3 * 1.0, rel=1e-5)  # Eq. 3, λ1 = 3
    crit._stage_source[0] = "full"
    r = crit(out, batch)
    dice = ((1 - 2 / 2.25) + (1 - 1 / 1.25)) / 2
    assert r["loss"].item() == pytest.approx(math.log(2) + 4 * dice, rel=1e-5)  # Eq. 9, λ2 = 4


# ----------------------------------------------------------------------------- model
def test_roi_autoencoders_are_independent_per_roi():
    torch.manual_seed(0)
    ae = RoiAutoEncoders(3, roi_size=9, latent_dim=5, channels=(2, 3, 4))
    x = torch.randn(2, 3, 3, 9, 9)
    z, rec = ae(x)
    assert z.shape == (2, 3, 5) and rec.shape == (2, 3, 3, 9, 9)
    x2 = x.clone()
    x2[:, 1] += 1.0  # changing ROI 1 changes only ROI 1's latent and reconstruction
    z2, rec2 = ae(x2)
    torch.testing.assert_close(z2[:, [0, 2]], z[:, [0, 2]])
    torch.testing.assert_close(rec2[:, [0, 2]], rec[:, [0, 2]])
    assert not torch.allclose(z2[:, 1], z[:, 1])


@pytest.mark.parametrize(
    "variant,n_rois,gcn", [("full", 14, True), ("wo_f", 13, True), ("wo_d", 14, True), ("au_net", 13, False)]
)
def test_model_variants(variant, n_rois, gcn):
    torch.manual_seed(0)
    m = create_model("au_gcn", 8, dataset="disfa", variant=variant, img_size=64)
    assert len(m.rois) == n_rois and hasattr(m, "gcn") == gcn
    assert m.forward_keys == ("landmarks",)
    m.eval()
    x = torch.randn(2, 3, 64, 64)
    out = m(x, return_intermediates=True)
    assert out["au"].shape == (2, 8) and ((out["au"] > 0) & (out["au"] < 1)).all()
    assert out["nodes"].shape == (2, n_rois, 150) and out["adjacency"].shape == (2, n_rois, n_rois)
    # landmarks=None is the template; a NaN row falls back to it too
    lm = canonical_landmarks(64, batch=2)
    lm_nan = lm.clone()
    lm_nan[1, 5] = float("nan")
    torch.testing.assert_close(m(x, landmarks=lm_nan)["au"], out["au"])
    shifted = lm + 4.0
    assert not torch.allclose(m(x, landmarks=shifted)["au"], out["au"])


def test_graph_from_training_labels_and_paper():
    m = create_model("au_gcn", 8, dataset="disfa", img_size=64)
    np.testing.assert_array_equal(m.au_graph.numpy(), TABLE1_DISFA)  # default: published Table 1(b)
    labels = (np.random.default_rng(0).random((200, 8)) < 0.3).astype(float)
    m.prepare(None, {"au_labels": labels})
    np.testing.assert_array_equal(m.au_graph.numpy(), cooccurrence_graph(labels, 0.8))
    np.testing.assert_array_equal(m.roi_adj.numpy(), roi_graph(cooccurrence_graph(labels, 0.8), m.rois))
    with pytest.raises(ValueError):
        create_model("au_gcn", 5, dataset="disfa")


def _synthetic_batch(n: int = 8, size: int = 64):
    """Synthetic DISFA-profile faces with their true landmarks and AU labels."""
    from afg.data.synth import SynthFaces

    ds = SynthFaces(profile="disfa", n_subjects=2, images_per_subject=n // 2, size=size, seed=0)
    items = [ds[i] for i in range(n)]
    return {k: torch.stack([it[k].float() for it in items]) for k in ("image", "landmarks", "au")}


@pytest.mark.parametrize("stage", ["autoencoder", "full"])
def test_training_steps_lower_the_loss(stage):
    torch.manual_seed(0)
    batch = _synthetic_batch()
    m = create_model("au_gcn", 8, dataset="disfa", img_size=64, stage=stage, dropout=0.0)
    stats = {"au_rates": batch["au"].mean(0).clamp_min(0.05).numpy()}
    crit = m.build_criterion(stats)
    opt = torch.optim.SGD(m.parameters(), lr=0.05 if stage == "full" else 0.5, momentum=0.9, weight_decay=5e-4)
    losses, fitted, acc = [], [], []
    for _ in range(16):
        out = m(batch["image"], landmarks=batch["landmarks"])
        terms = crit(out, batch)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
        losses.append(terms["loss"].item())
        fitted.append(terms["roi_ce" if stage == "autoencoder" else "loss"].item())
        acc.append(((out["au"] > 0.5).float() == batch["au"]).float().mean().item())  # training batch
    assert set(terms) >= ({"roi_ce", "recon"} if stage == "autoencoder" else {"ce", "dice"})
    assert all(math.isfinite(v) for v in losses)
    # the auto-encoders' reconstruction term plateaus at first under SGD; their ROI CE (and the
    # full model's loss) falls for real, and the AU accuracy on the batch rises
    assert fitted[-1] < 0.8 * fitted[0], fitted
    assert losses[-1] < losses[0]
    assert acc[-1] >= acc[0] + 0.1, acc


def test_stage_switch_and_configs():
    from pathlib import Path

    import yaml

    from afg.train.recipe import Recipe

    m = create_model("au_gcn", 8, dataset="disfa", img_size=64, pretrain_autoencoders=True)
    assert m.stage == "autoencoder"
    crit = m.build_criterion(None, stage="full")  # a recipe stage may say losses: {stage: ...}
    assert m.stage == "full" and crit.stage == "full"
    m.set_stage("ae")
    assert crit.stage == "autoencoder"
    out = m(torch.randn(2, 3, 64, 64))
    assert "au_logits" not in out and out["au"].shape == (2, 8) and out["roi_recon"].shape[1] == 14
    root = Path(__file__).resolve().parents[1] / "configs"
    for name, n_rois in [("bp4d", 19), ("disfa", 14), ("synthetic", 14)]:
        cfg = yaml.safe_load((root / f"au_gcn_{name}.yaml").read_text())
        recipe = Recipe.from_dict(cfg["recipe"])
        assert [s.name for s in recipe.stages] == ["autoencoder", "full"]
        opts = dict(cfg["model"])
        model = create_model(opts.pop("name"), opts.pop("num_classes"), **opts)
        assert len(model.rois) == n_rois
