"""RGCNLayer (SVML-RGCN Eq. 7) against PyTorch Geometric's RGCNConv, and MFB (Eq. 6)."""
from __future__ import annotations

import pytest
import torch

from afg.nn import MFB, RGCNLayer


def _random_graph(n: int, r: int, p: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dense (R, N, N) receiver-row adjacency and the matching PyG edge_index / edge_type."""
    adj = (torch.rand(r, n, n, generator=gen) < p).float()
    adj[0, 1, :] = 0  # node 1 has no neighbours in relation 0 (empty mean must give 0)
    rel, tgt, src = adj.nonzero(as_tuple=True)  # adj[r, i, j] = 1: message j -> i
    edge_index = torch.stack([src, tgt])  # PyG: row 0 = source, row 1 = target
    return adj, edge_index, rel


@pytest.mark.parametrize("num_relations,num_bases", [(2, None), (3, None), (2, 2), (3, 2)])
def test_rgcn_matches_pyg(monkeypatch, num_relations, num_bases):
    pyg_conv = pytest.importorskip("torch_geometric.nn").RGCNConv
    import torch_geometric

    monkeypatch.setattr(torch_geometric.backend, "use_segment_matmul", False)  # per-relation path
    gen = torch.Generator().manual_seed(num_relations * 10 + (num_bases or 0))
    n, fin, fout = 7, 5, 4
    adj, edge_index, edge_type = _random_graph(n, num_relations, 0.4, gen)
    torch.manual_seed(0)
    ref = pyg_conv(fin, fout, num_relations, num_bases=num_bases, aggr="mean", root_weight=True, bias=True)
    with torch.no_grad():
        ref.bias.normal_()
    ours = RGCNLayer(fin, fout, num_relations, num_bases=num_bases, bias=True)
    with torch.no_grad():
        ours.weight.copy_(ref.weight)
        if num_bases is not None:
            ours.coefficients.copy_(ref.comp)
        ours.self_weight.copy_(ref.root)
        ours.bias.copy_(ref.bias)

    x1 = torch.randn(n, fin, generator=gen, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    y_ref = ref(x1, edge_index, edge_type)
    y = ours(x2, adj)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)

    w = torch.randn(n, fout, generator=gen)
    (y_ref * w).sum().backward()
    (y * w).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.self_weight.grad, ref.root.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.bias.grad, ref.bias.grad, atol=1e-5, rtol=1e-5)
    if num_bases is not None:
        torch.testing.assert_close(ours.coefficients.grad, ref.comp.grad, atol=1e-5, rtol=1e-5)


def test_rgcn_batched_and_both_contraction_orders():
    torch.manual_seed(0)
    n, r = 6, 2
    adj = (torch.rand(r, n, n) < 0.5).float()
    for fin, fout in [(8, 3), (3, 8)]:  # the two code paths (transform-first / aggregate-first)
        layer = RGCNLayer(fin, fout, r, bias=False)
        x = torch.randn(4, n, fin)
        y = layer(x, adj)
        assert y.shape == (4, n, fout)
        torch.testing.assert_close(y[2], layer(x[2], adj))
        # by hand, Eq. 7 with c_ir = |N_i^r|
        exp = x[1] @ layer.self_weight
        for rr in range(r):
            for i in range(n):
                nb = adj[rr, i].nonzero().flatten()
                if len(nb):
                    exp[i] += x[1, nb].mean(0) @ layer.weight[rr]
        torch.testing.assert_close(y[1], exp, atol=1e-5, rtol=1e-5)
        # batched adjacency (B, R, N, N)
        torch.testing.assert_close(layer(x, adj.expand(4, r, n, n)), y)


def test_rgcn_activation_and_relation_check():
    layer = RGCNLayer(4, 4, 2, activation=torch.nn.ReLU())
    y = layer(torch.randn(5, 4), torch.ones(2, 5, 5))
    assert (y >= 0).all()
    with pytest.raises(ValueError):
        layer(torch.randn(5, 4), torch.ones(3, 5, 5))


def test_mfb_steps_by_hand():
    torch.manual_seed(0)
    m = MFB(6, 5, out_dim=3, k=4, dropout=0.0).eval()
    f, e = torch.randn(2, 6), torch.randn(2, 5)
    z = (f @ m.proj1.weight.T) * (e @ m.proj2.weight.T)  # (2, 12)
    z = torch.stack([z[:, 4 * i : 4 * i + 4].sum(1) for i in range(3)], 1)  # windows of k
    z = torch.sign(z) * z.abs().sqrt()
    z = z / z.norm(dim=1, keepdim=True)
    out = m(f, e)
    torch.testing.assert_close(out, z, atol=1e-5, rtol=1e-5)
    assert out.shape == (2, 3)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))


def test_mfb_gradients_finite_at_zero():
    m = MFB(3, 3, out_dim=2, k=2, dropout=0.0)
    f = torch.zeros(1, 3, requires_grad=True)
    e = torch.randn(1, 3)
    m(f, e).sum().backward()
    assert torch.isfinite(f.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters())
