import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from afg import viz


class PatchNet(nn.Module):
    """Tiny net: conv features -> (target layer) -> cosine head; returns a tuple like the authors'."""

    def __init__(self, n_out=3, cosine=True):
        super().__init__()
        self.cosine = cosine
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        nn.init.constant_(self.conv.weight, 0.1)
        nn.init.zeros_(self.conv.bias)
        self.feat = nn.Conv2d(8, 8, 1)
        nn.init.eye_(self.feat.weight.view(8, 8))
        nn.init.zeros_(self.feat.bias)
        self.sc = nn.Parameter(torch.rand(n_out, 8) + 0.1)

    def forward(self, x):
        f = F.relu(self.feat(F.relu(self.conv(x))))  # (B, 8, H, W)
        v = f.mean((2, 3))
        if self.cosine:  # cosine head, raw scores (no softmax)
            return F.normalize(v, dim=-1) @ F.normalize(self.sc, dim=-1).t(), v
        return v @ self.sc.t(), v


def _patch_images(b=2, size=32):
    x = torch.zeros(b, 3, size, size)
    x[:, :, 4:12, 18:28] = 3.0
    return x


def test_gradcam_tuple_cosine_head_one_map_per_image_and_target():
    torch.manual_seed(0)
    net = PatchNet(cosine=True).train()
    x = torch.zeros(2, 3, 32, 32)
    x[:, 0, 4:12, 18:23] = 3.0  # two-coloured patch: a scale-invariant head needs two patterns
    x[:, 1, 4:12, 23:28] = 3.0
    with torch.no_grad():
        net.conv.weight.copy_(torch.rand_like(net.conv.weight))
    cams = viz.gradcam(net, x, net.feat, targets=[0, 1, 2])
    assert cams.shape == (2, 3, 32, 32)
    assert net.training
    mask = np.zeros((32, 32), bool)
    mask[2:14, 16:30] = True
    assert cams.sum() > 0
    assert cams[..., mask].sum() / cams.sum() > 0.99  # nothing outside the patch


def test_gradcam_bright_patch_frozen_layer_restores_mode_and_localises():
    torch.manual_seed(0)
    net = PatchNet(cosine=False).train()
    for p in net.feat.parameters():  # frozen target layer
        p.requires_grad_(False)
    x = _patch_images()
    cams = viz.gradcam(net, x, net.feat, targets=[0, 2])
    assert cams.shape == (2, 2, 32, 32)
    assert net.training and net.conv.training  # train mode restored
    assert not any(p.requires_grad for p in net.feat.parameters())  # flags restored
    mask = np.zeros((32, 32), bool)
    mask[2:14, 16:30] = True  # the patch plus the 3x3 receptive-field border
    for b in range(2):
        for t in range(2):
            cam = cams[b, t]
            assert cam.sum() > 0
            assert cam[mask].sum() / cam.sum() > 0.8


def test_gradcam_dict_output_and_names():
    class DictNet(PatchNet):
        def forward(self, x):
            return {"au": torch.sigmoid(super().forward(x)[0])}

    net = DictNet().eval()
    cams = viz.gradcam(net, _patch_images(1), net.feat, targets=["AU02"], names=["AU01", "AU02", "AU04"])
    assert cams.shape == (1, 1, 32, 32)
    assert not net.training
    with pytest.raises(KeyError):
        viz.gradcam(net, _patch_images(1), net.feat, targets=["AU99"], names=["AU01"])


def test_gradcam_grid_figure(tmp_path):
    imgs = (np.random.rand(2, 16, 16, 3) * 255).astype(np.uint8)
    cams = np.random.rand(2, 3, 16, 16)
    fig = viz.plot_gradcam_grid(imgs, cams, row_titles=["a", "b"], col_titles=["face", "1", "2", "4"])
    assert len(fig.axes) == 2 * 4
    paths = viz.save_figure(fig, "cam_grid", folder=tmp_path)
    assert all(p.stat().st_size > 0 for p in paths)


def test_adjacency_heatmap_data_equals_input():
    m = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 1]])
    fig = viz.plot_adjacency(m, ["AU01", "AU02", "AU04"])
    np.testing.assert_array_equal(fig.matrix, m)
    mesh = fig.axes[0].collections[0]
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(3, 3), m)
    s = np.array([[0.0, -1.0], [1.0, 0.0]])
    fig = viz.plot_adjacency(s, signed=True)
    np.testing.assert_array_equal(np.asarray(fig.axes[0].collections[0].get_array()).reshape(2, 2), s)


def test_cooccurrence_conditional():
    y = np.array([[1, 1], [1, 0], [0, 0], [1, np.nan]])
    fig = viz.plot_cooccurrence(y, ["a", "b"])
    # P(b|a) = 1/2 (the NaN row does not count for the pair), P(a|b) = 1
    np.testing.assert_allclose(fig.matrix, [[1.0, 0.5], [1.0, 1.0]])


def test_knn_graph_edges():
    torch.manual_seed(0)
    x = torch.randn(6, 5)
    fig = viz.plot_knn_graph(x, k=2, activations=np.linspace(0, 1, 6), names=[f"AU{i:02d}" for i in range(6)])
    g = fig.graphs[0]
    assert g.number_of_nodes() == 6
    sim = (x @ x.t()).numpy()
    expected = set()
    for i in range(6):
        kth = np.sort(sim[i])[::-1][1]
        expected |= {(i, j) for j in range(6) if sim[i, j] >= kth and i != j}
    assert set(g.edges()) == expected


def test_knn_graph_several_faces_with_images():
    feats = torch.randn(3, 5, 4)
    imgs = (np.random.rand(3, 20, 20, 3) * 255).astype(np.uint8)
    fig = viz.plot_knn_graph(feats, k=2, activations=np.random.rand(3, 5), images=imgs, titles=["a", "b", "c"])
    assert len(fig.graphs) == 3 and len(fig.axes) == 6


def test_cosine_similarity_side_by_side():
    v = np.random.rand(9, 16)
    fig = viz.plot_cosine_similarity({"A": v, "B": -v}, names=list("abcdefghi"))
    np.testing.assert_allclose(np.diag(fig.matrices["A"]), 1.0, atol=1e-6)
    np.testing.assert_allclose(fig.matrices["A"], fig.matrices["B"], atol=1e-6)  # sign-flip invariant
    assert len(fig.matrices) == 2


def test_confusion_f1_sweep_figures(tmp_path):
    cm = np.array([[5, 1], [2, 2]])
    fig = viz.plot_confusion_matrix(cm, ["x", "y"])
    np.testing.assert_allclose(fig.matrix.sum(1), 1.0)
    fig = viz.plot_au_f1({"baseline": [0.5, 0.6], "ours": [0.55, 0.7]}, ["AU01", "AU02"],
                         paper={"ME-GraphAU": [54.6, 47.1]})
    assert len(fig.axes[0].patches) == 4
    import pandas as pd

    df = pd.DataFrame({"K": [1, 1, 2, 2, 3, 3], "fold": [0, 1] * 3, "value": [0.4, 0.5, 0.6, 0.5, 0.55, 0.5]})
    fig = viz.plot_sweep(df, "K", paper={1: 0.5, 2: 0.6, 3: 0.55})
    paths = viz.save_figure(fig, "sweep", folder=tmp_path)
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_bytes()[:4] == b"%PDF"


def test_figures_dir_from_the_notebooks_folder_is_the_repositorys(tmp_path, monkeypatch):
    from afg.viz.export import figures_dir

    (tmp_path / "figures").mkdir()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.delenv("AFG_FIGURES_DIR", raising=False)
    monkeypatch.chdir(tmp_path / "notebooks")
    assert figures_dir().resolve() == (tmp_path / "figures").resolve()
    monkeypatch.chdir(tmp_path)
    assert figures_dir() == figures_dir("figures")
    monkeypatch.setenv("AFG_FIGURES_DIR", str(tmp_path / "x"))
    assert figures_dir() == tmp_path / "x"
