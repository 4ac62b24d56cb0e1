"""SVML-RGCN model: every variant trains on blended expressions, prepare() (Eq. 3-5), Grad-CAM."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, Subset, default_collate

from afg.models import create_model, model_from_config
from afg.models.svml_rgcn import VARIANTS, class_mean_features

NAMES = ["Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger"]
BLENDS = [(0,), (1,), (2,), (3,), (4,), (5,), (0, 2), (1, 3), (4, 5), (2, 3), (1, 5)]
# missing_class: these tiny sets lack single-label images of some classes (the default raises)
SMALL = {"backbone": "resnet18", "img_size": 64, "mfb_o": 64, "mfb_k": 4, "hidden_dim": 64,
         "missing_class": "global_mean"}


class Blended(Dataset):
    """Tiny stand-in for the synthetic multi-label view: each active emotion lights one region."""

    emotion_names = NAMES
    expression_names = ["Neutral"] + NAMES

    def __init__(self, n: int = 24, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        pick = torch.randint(len(BLENDS), (n,), generator=g).tolist()
        self.y = torch.zeros(n, 6)
        for i, b in enumerate(pick):
            self.y[i, list(BLENDS[b])] = 1
        self.x = 0.3 * torch.randn(n, 3, 64, 64, generator=g)
        for c in range(6):
            r, q = divmod(c, 3)
            self.x[:, c % 3, 32 * r : 32 * r + 32, 21 * q : 21 * q + 21] += 2.0 * self.y[:, c, None, None]

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        blend = self.y[i].sum() > 1
        expr = -1 if blend else int(self.y[i].argmax()) + 1  # 7-class index, Neutral = 0
        return {"image": self.x[i], "emotions": self.y[i], "expression": torch.tensor(expr)}

    def labels(self) -> dict:
        return {"emotions": self.y.numpy().astype(float)}


@pytest.fixture(scope="module")
def synth():
    """Synthetic faces, BP4D profile (the richest multi-label view: ~28 % blended expressions)."""
    from afg.data.synth import SynthFaces

    ds = SynthFaces(profile="bp4d", n_subjects=4, images_per_subject=8, size=64, seed=0)
    y = ds.labels()["emotions"]
    order = np.argsort(-(y.sum(1) + 0.01 * np.arange(len(y))[::-1]))  # blended first
    batch = default_collate([{k: ds[int(i)][k] for k in ("image", "emotions")} for i in order[:8]])
    assert (batch["emotions"].sum(1) > 1).sum() >= 2  # the batch holds blended expressions
    return ds, batch


@pytest.mark.filterwarnings("ignore:class_mean_features")
@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_trains_and_lowers_loss(variant, synth):
    torch.manual_seed(0)
    data, batch = synth
    model = create_model("svml_rgcn", 6, variant=variant, **SMALL)
    model.prepare(data, {"emotion_labels": data.labels()["emotions"]})
    assert model.label_names == list(data.emotion_names)
    crit = model.build_criterion(None)
    groups = model.param_groups()
    opt = torch.optim.Adam([{"params": groups["backbone"], "lr": 3e-4},
                            {"params": groups["head"], "lr": 1e-3}], weight_decay=2e-4)
    losses = []
    for _ in range(6):
        out = model(batch["image"])
        assert out["emotions"].shape == (8, 6)
        loss = crit(out, batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.8 * losses[0], losses


def test_prepare_builds_relations_and_class_means(tmp_path):
    torch.manual_seed(0)
    data = Blended(n=20, seed=1)
    model = create_model("svml_rgcn", 6, feature_cache=str(tmp_path / "fc.pt"), **SMALL)
    model.prepare(data, {"emotion_labels": data.labels()["emotions"]})
    y = data.y.numpy()
    p = (y.T @ y) / np.maximum(y.sum(0), 1)[:, None]  # Eq. 3
    off = ~np.eye(6, dtype=bool)
    seen = y.sum(0)[:, None] > 0
    np.testing.assert_array_equal(model.relations[0].numpy(), (off & seen & (p > 0.4)))
    np.testing.assert_array_equal(model.relations[1].numpy(), (off & seen & (p < 0.15)))
    assert model.relations[0].sum() > 0 and model.relations[1].sum() > 0
    # Eq. 5 by hand: mean pooled backbone feature over single-expression images of each class
    model.eval()
    with torch.no_grad():
        feats = model.backbone(data.x).mean(1)
    single = data.y.sum(1) == 1
    for c in range(6):
        sel = single & (data.y[:, c] == 1)
        if sel.any():
            torch.testing.assert_close(model.visual_features[c], feats[sel].mean(0), atol=1e-3, rtol=1e-3)
    assert model.label_names == NAMES
    # the cache is read back instead of recomputed
    torch.save(torch.ones(6, 512), tmp_path / "fc.pt")
    cached = class_mean_features(model.backbone, DataLoader(data, batch_size=8), 6,
                                 cache_path=tmp_path / "fc.pt")
    assert torch.equal(cached, torch.ones(6, 512))


def test_prepare_synthetic_subset_uses_expression_names(synth):
    data, _ = synth
    sub = Subset(data, list(range(0, 32, 2)))
    model = create_model("svml_rgcn", 6, variant="vml_rgcn", **SMALL)
    with pytest.warns(RuntimeWarning, match="no image"):  # some emotions have no pure image here
        model.prepare(sub)  # no stats: labels of the subset only
    y = data.labels()["emotions"][::2]
    from afg.graphs import label_relations

    rel = label_relations(y, 0.15, 0.4)
    np.testing.assert_array_equal(model.relations[0].numpy(), rel["positive"])
    np.testing.assert_array_equal(model.relations[1].numpy(), rel["negative"])
    # f_c of "Happy" = mean feature of subset images whose 7-class expression is Happy
    happy = [i for i in range(0, 32, 2) if int(data[i]["expression"]) == data.expression_names.index("Happy")]
    assert happy
    model.eval()
    with torch.no_grad():
        f = model.backbone(torch.stack([data[i]["image"] for i in happy])).mean(1).mean(0)
    c = model.label_names.index("Happy")
    torch.testing.assert_close(model.visual_features[c], f, atol=1e-4, rtol=1e-4)


@pytest.mark.filterwarnings("ignore:class_mean_features")
def test_class_mean_features_multihot_and_label_map():
    data = Blended(n=16, seed=2)
    net = torch.nn.Sequential(torch.nn.Flatten(1), torch.nn.LazyLinear(5))
    net(data.x[:1])
    loader = DataLoader(data, batch_size=5)
    with torch.no_grad():
        feats = net(data.x)
    a = class_mean_features(net, loader, 6, label_key="emotions", on_empty="global_mean")
    b = class_mean_features(net, loader, 6, label_key="expression", label_map={c + 1: c for c in range(6)},
                            on_empty="global_mean")
    torch.testing.assert_close(a, b)
    single = data.y.sum(1) == 1
    c = int(data.y[single][0].argmax())
    sel = single & (data.y[:, c] == 1)
    torch.testing.assert_close(a[c], feats[sel].mean(0))


@pytest.mark.filterwarnings("ignore:class_mean_features")
def test_param_groups_checkpoint_and_intermediates():
    torch.manual_seed(0)
    data = Blended(n=12)
    model = create_model("svml_rgcn", 6, **SMALL)
    model.prepare(data, {"emotion_labels": data.labels()["emotions"]})
    groups = model.param_groups()
    assert {id(p) for p in groups["backbone"]} == {id(p) for p in model.backbone.parameters()}
    assert len(groups["backbone"]) + len(groups["head"]) == len(list(model.parameters()))
    assert any(p is model.graph[0].self_weight for p in groups["head"])
    model.eval()
    x = data.x[:2]
    out = model(x, return_intermediates=True)
    assert out["nodes"].shape == (2, 6, 64) and out["adjacency"].shape == (2, 6, 6)
    torch.testing.assert_close(out["emotions"], out["features"] @ out["classifier"].T)
    clone = model_from_config(model.model_config)
    clone.load_state_dict(model.state_dict())  # relations, e_c, f_c travel as buffers
    clone.eval()
    torch.testing.assert_close(clone(x)["emotions"], out["emotions"])
    with pytest.raises(ValueError):
        create_model("svml_rgcn", 6, variant="nope", **SMALL)


@pytest.mark.filterwarnings("ignore:class_mean_features")
def test_gradcam_targets_classifier_outputs():
    from afg.viz.cam import gradcam

    torch.manual_seed(0)
    data = Blended(n=8)
    model = create_model("svml_rgcn", 6, **SMALL)
    model.prepare(data, {"emotion_labels": data.labels()["emotions"]})
    maps = gradcam(model, data.x[:2], model.backbone.target_layer, targets=[0, 4])
    assert maps.shape == (2, 2, 64, 64)
    assert np.isfinite(maps).all() and maps.max() > 0
    assert not np.allclose(maps[:, 0], maps[:, 1])  # different emotions, different evidence
