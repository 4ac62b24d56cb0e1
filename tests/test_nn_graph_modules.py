"""Shared graph toolkit (ME-GraphAU issue): hand-computed cases and straightforward oracles."""
from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from afg.graphs import knn_adjacency, normalize_digraph
from afg.nn import (
    MEFL,
    CrossAttention,
    EdgeClassifier,
    FGGLayer,
    GatedGCN,
    GatedGCNLayer,
    LinearBlock,
    PerNodeLinear,
    SimilarityHead,
)


def test_linear_block_matches_manual_formula():
    torch.manual_seed(0)
    blk = LinearBlock(6, 4).double().train()
    x = torch.randn(3, 5, 6, dtype=torch.double)
    y = blk.fc(x)  # (B, D, C): BN statistics over batch *and* tokens
    mu = y.mean(dim=(0, 1))
    var = y.var(dim=(0, 1), unbiased=False)
    ref = F.relu((y - mu) / torch.sqrt(var + 1e-5))
    torch.testing.assert_close(blk(x), ref)
    torch.testing.assert_close(blk.bn.running_mean, 0.1 * mu)
    assert blk(torch.randn(7, 6, dtype=torch.double)).shape == (7, 4)  # (B, C) inputs too


def test_linear_block_init_std():
    torch.manual_seed(0)
    blk = LinearBlock(256, 512)
    assert abs(blk.fc.weight.std().item() - math.sqrt(2 / 512)) < 0.002


def test_per_node_linear_equals_separate_blocks():
    torch.manual_seed(0)
    n, c = 5, 8
    blocks = torch.nn.ModuleList(LinearBlock(c, c) for _ in range(n)).double()
    pnl = PerNodeLinear(n, c).double()
    pnl.load_from_blocks(blocks)
    x = torch.randn(3, 7, c, dtype=torch.double, requires_grad=True)
    ref = torch.stack([b(x) for b in blocks], dim=1)  # (B, N, D, C)
    out = pnl(x)
    torch.testing.assert_close(out, ref)
    g1, = torch.autograd.grad((out ** 3).sum(), x)
    g2, = torch.autograd.grad((ref ** 3).sum(), x)
    torch.testing.assert_close(g1, g2)
    torch.testing.assert_close(pnl.bn.running_var[c:2 * c], blocks[1].bn.running_var)
    assert PerNodeLinear.nodes(out).shape == (3, n, c)
    pnl.eval(), blocks.eval()
    torch.testing.assert_close(pnl(x), torch.stack([b(x) for b in blocks], dim=1))


def test_knn_adjacency_keeps_ties_and_detaches():
    # dots similarity rows: node 0 = [1,0], node 1 = [1,0], node 2 = [0,1], node 3 = [1,1]
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], requires_grad=True)
    a = knn_adjacency(x, 2, "dots")
    # S row 0 = [1, 1, 0, 1]; 2nd largest = 1 -> three ties kept
    assert a[0].tolist() == [1, 1, 0, 1]
    # S row 3 = [1, 1, 1, 2]; 2nd largest = 1 -> all four
    assert a[3].tolist() == [1, 1, 1, 1]
    assert a[2].tolist() == [0, 0, 1, 1]
    assert not a.requires_grad
    # cosine: node 3 normalised -> S row 0 = [1, 1, 0, .707]; K=2 -> nodes 0, 1
    assert knn_adjacency(x, 2, "cosine")[0].tolist() == [1, 1, 0, 0]
    # l1 distances row 2 = [2, 2, 0, 1]; K=2 smallest -> nodes 2, 3
    assert knn_adjacency(x, 2, "l1")[2].tolist() == [0, 0, 1, 1]
    # batched
    assert knn_adjacency(x.detach().expand(3, 4, 2), 1).shape == (3, 4, 4)
    with pytest.raises(ValueError):
        knn_adjacency(x, 5)
    with pytest.raises(ValueError):
        knn_adjacency(x, 2, "l2")


def test_normalize_digraph_row_degrees():
    a = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    d = torch.tensor([2.0, 1.0, 3.0]).pow(-0.5)  # row degrees on both sides
    torch.testing.assert_close(normalize_digraph(a), d[:, None] * a * d[None, :])


def test_fgg_layer_manual():
    torch.manual_seed(0)
    layer = FGGLayer(4, 5, neighbor_num=2).double().train()
    x = torch.rand(3, 5, 4, dtype=torch.double)
    s = x @ x.transpose(1, 2)
    adj = (s >= s.topk(2, dim=-1).values[..., -1:]).double()
    deg = adj.sum(-1).pow(-0.5)
    a_hat = deg[..., :, None] * adj * deg[..., None, :]
    z = a_hat @ layer.V(x) + layer.U(x)  # (B, N, C); BN over the node axis: stats over B and C
    mu = z.mean(dim=(0, 2), keepdim=True)
    var = z.var(dim=(0, 2), unbiased=False, keepdim=True)
    ref = F.relu(x + (z - mu) / torch.sqrt(var + 1e-5))
    out, a = layer(x, return_adjacency=True)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(a, adj)
    # explicit adjacency overrides the K-NN graph
    eye = torch.eye(5, dtype=torch.double).expand(3, 5, 5)
    assert not torch.allclose(layer(x, adjacency=eye), ref)


def test_cross_attention_manual():
    torch.manual_seed(0)
    ca = CrossAttention(8).double()
    q_in, ctx = torch.randn(2, 3, 8, dtype=torch.double), torch.randn(2, 5, 8, dtype=torch.double)
    q, k, v = ca.linear_q(q_in), ca.linear_k(ctx), ca.linear_v(ctx)
    assert q.shape[-1] == 4 and v.shape[-1] == 8
    att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(4), dim=-1)
    torch.testing.assert_close(ca(q_in, ctx), att @ v)


def _saved_numel(fn):
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, max(sizes)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mefl_moments_equal_dense(dtype):
    torch.manual_seed(1)
    b, n, d, c = 3, 4, 6, 16
    fast = MEFL(c, n).to(dtype).train()
    dense = copy.deepcopy(fast)
    maps = torch.randn(b, n, d, c, dtype=dtype, requires_grad=True)
    x = torch.randn(b, d, c, dtype=dtype, requires_grad=True)
    out, peak_fast = _saved_numel(lambda: fast(maps, x))
    ref, peak_dense = _saved_numel(lambda: dense(maps, x, efficient=False))
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}
    torch.testing.assert_close(out, ref, **tol)
    assert out.shape == (b, n * n, c)
    # the (B, N², D, C) tensor is never saved by the moment path; the dense one needs it
    assert peak_dense >= b * n * n * d * c > peak_fast
    w = torch.arange(1, c + 1, dtype=dtype)
    g1 = torch.autograd.grad(((out * w) ** 2).sum(), (maps, x))
    g2 = torch.autograd.grad(((ref * w) ** 2).sum(), (maps, x))
    for a_, b_ in zip(g1, g2):  # relative to the gradient's scale
        torch.testing.assert_close(a_, b_, rtol=0, atol=tol["rtol"] * b_.abs().max().item())
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(fast.bn, name), getattr(dense.bn, name), **tol)
    fast.eval(), dense.eval()
    torch.testing.assert_close(fast(maps, x), dense(maps, x, efficient=False), **tol)


def test_mefl_pair_index():
    """Edge p = i*N + j: F_j queries F_i (ARM), then projection; check one pair by hand."""
    torch.manual_seed(2)
    b, n, d, c = 2, 3, 5, 8
    m = MEFL(c, n).double().eval()
    m.bn.running_mean.uniform_(-1, 1), m.bn.running_var.uniform_(0.5, 2)
    maps, x = torch.randn(b, n, d, c, dtype=torch.double), torch.randn(b, d, c, dtype=torch.double)
    f = torch.stack([m.FAM(maps[:, i], x) for i in range(n)], 1)
    i, j = 2, 0
    z = m.ARM(f[:, j], f[:, i])  # query F_j, key/value F_i
    p = i * n + j
    y = m.edge_proj(z).mean(1)
    ref = (y - m.bn.running_mean[p]) / torch.sqrt(m.bn.running_var[p] + 1e-5) * m.bn.weight[p] + m.bn.bias[p]
    torch.testing.assert_close(m(maps, x)[:, p], ref)


def _gated_layer_incidence(layer: GatedGCNLayer, h, e):
    """The authors' formulation with one-hot incidence matrices end (N², N), start (N², N)."""
    n = layer.num_nodes
    end = torch.zeros(n * n, n, dtype=h.dtype)
    start = torch.zeros(n * n, n, dtype=h.dtype)
    for i in range(n):
        for j in range(n):
            end[i * n + j, i] = 1
            start[i * n + j, j] = 1
    e = e + F.relu(layer.bne(torch.einsum("ev,bvc->bec", end, layer.A(h))
                             + torch.einsum("ev,bvc->bec", start, layer.B(h)) + layer.E(e)))
    g = torch.softmax(torch.sigmoid(e).view(h.shape[0], n, n, -1), dim=2).view(h.shape[0], n * n, -1)
    msg = torch.einsum("ve,bec->bvc", end.t(), g * torch.einsum("ev,bvc->bec", start, layer.V(h))) / n
    return F.relu(h + layer.bnv(layer.U(h) + msg)), e


def test_gated_gcn_matches_incidence_formulation():
    torch.manual_seed(3)
    b, n, c = 3, 4, 6
    layer = GatedGCNLayer(c, n).double()
    ref_layer = copy.deepcopy(layer)
    h, e = torch.randn(b, n, c, dtype=torch.double), torch.randn(b, n * n, c, dtype=torch.double)
    h1, e1 = layer(h, e)
    h2, e2 = _gated_layer_incidence(ref_layer, h, e)
    torch.testing.assert_close(h1, h2)
    torch.testing.assert_close(e1, e2)
    # gate: softmax over the source nodes j, per receiver i and channel
    g = layer.gate(e1)
    torch.testing.assert_close(g.sum(dim=2), torch.ones(b, n, c, dtype=torch.double))
    assert not torch.allclose(g.sum(dim=1), torch.ones(b, n, c, dtype=torch.double))
    assert all(lin.bias is None for lin in (layer.U, layer.V, layer.A, layer.B, layer.E))
    stack = GatedGCN(c, n, 2).double()
    hs, es = stack(h, e)
    assert hs.shape == (b, n, c) and es.shape == (b, n * n, c) and (hs >= 0).all()


def test_similarity_head_hand_case():
    head = SimilarityHead(2, 2)
    with torch.no_grad():
        head.sc.copy_(torch.tensor([[1.0, 0.0], [1.0, -5.0]]))  # ReLU -> [1,0], [1,0]
    v = torch.tensor([[[3.0, 4.0], [-1.0, 2.0]]])  # ReLU -> [3,4], [0,2]
    torch.testing.assert_close(head(v), torch.tensor([[0.6, 0.0]]))


def test_edge_classifier_shape():
    assert EdgeClassifier(8)(torch.randn(2, 9, 8)).shape == (2, 9, 4)


def test_gram_quadratic_gradcheck():
    """MEFL's Σ_{e,e'} A G A for a symmetric G, whose backward recomputes G A: torch's numerical
    gradient check in float64 (both inputs, G kept symmetric), and the value against the formula."""
    from afg.nn.mefl import _gram_quadratic

    torch.manual_seed(4)
    x = torch.randn(2, 3, 5, 4, dtype=torch.double, requires_grad=True)
    a = torch.softmax(torch.randn(2, 3, 5, 6, dtype=torch.double), dim=2).requires_grad_(True)
    ref = torch.einsum("bnek,bnef,bnfk->bnk", a, x @ x.transpose(-1, -2), a)
    torch.testing.assert_close(_gram_quadratic(x @ x.transpose(-1, -2), a), ref)
    assert torch.autograd.gradcheck(lambda x_, a_: _gram_quadratic(x_ @ x_.transpose(-1, -2), a_), (x, a))


def test_mefl_facial_cues_any_layout():
    """FAM gives the same F for maps stored (B, N, D, C) and for PerNodeLinear's (B, D, N, C) view."""
    torch.manual_seed(5)
    m = MEFL(8, 3).double()
    buf = torch.randn(2, 5, 3, 8, dtype=torch.double)  # (B, D, N, C)
    view, contiguous = buf.transpose(1, 2), buf.transpose(1, 2).contiguous()
    x = torch.randn(2, 5, 8, dtype=torch.double)
    ref = torch.stack([m.FAM(contiguous[:, i], x) for i in range(3)], 1)
    torch.testing.assert_close(m.facial_cues(view, x), ref)
    torch.testing.assert_close(m.facial_cues(contiguous, x), ref)


def test_gated_gcn_gradients_match_incidence_formulation():
    torch.manual_seed(6)
    b, n, c = 3, 4, 6
    layer = GatedGCNLayer(c, n).double()
    ref_layer = copy.deepcopy(layer)
    h = torch.randn(b, n, c, dtype=torch.double, requires_grad=True)
    e = torch.randn(b, n * n, c, dtype=torch.double, requires_grad=True)
    w = torch.randn(c, dtype=torch.double)
    g1 = torch.autograd.grad(sum(((t * w) ** 2).sum() for t in layer(h, e)), (h, e, *layer.parameters()))
    g2 = torch.autograd.grad(sum(((t * w) ** 2).sum() for t in _gated_layer_incidence(ref_layer, h, e)),
                             (h, e, *ref_layer.parameters()))
    for a_, b_ in zip(g1, g2):
        torch.testing.assert_close(a_, b_)
