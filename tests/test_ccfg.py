"""CCFG (Li et al. 2025, Eq. 10–12): Eq. 11 shortcut, per-AU vectors, the official N-fold BN."""
from __future__ import annotations

import torch

from afg.nn.ccfg import CCFG, ChannelTopology


def test_eq11_einsum_matches_explicit_loops() -> None:
    torch.manual_seed(0)
    topo = ChannelTopology(16, 8).eval()
    x = torch.randn(2, 16, 3, 4)
    rel = topo.relation(x)  # (B, C, u, v)
    local = topo.beta_local(x)  # (B, C, t, v)
    e = topo(x)
    b, c, t, u = 1, 5, 2, 3
    expected = sum(rel[b, c, u, v] * local[b, c, t, v] for v in range(4))
    assert torch.allclose(e[b, c, t, u], expected, atol=1e-5)
    assert e.shape == (2, 8, 3, 4)


def test_eq11_shortcut_equals_full_computation() -> None:
    torch.manual_seed(0)
    topo = ChannelTopology(32, 24, lam=0.7)
    x = torch.randn(3, 32, 5, 6, requires_grad=True)  # non-square on purpose
    full = topo(x).mean(dim=(-2, -1))
    short = topo.pooled(x)
    assert torch.allclose(full, short, rtol=1e-5, atol=1e-6)
    g_full = torch.autograd.grad(full.pow(2).sum(), x)[0]
    g_short = torch.autograd.grad(short.pow(2).sum(), x)[0]
    assert torch.allclose(g_full, g_short, rtol=1e-4, atol=1e-6)
    # the CCFG module gives the same result either way
    ccfg_full = CCFG(32, 4, shortcut=False).eval()
    ccfg_short = CCFG(32, 4, shortcut=True).eval()
    ccfg_short.load_state_dict(ccfg_full.state_dict())
    tokens = torch.randn(2, 49, 32)
    assert torch.allclose(ccfg_full(tokens), ccfg_short(tokens), atol=1e-5)


def test_relation_is_antisymmetric_when_both_alphas_agree() -> None:
    torch.manual_seed(0)
    topo = ChannelTopology(16, 16)
    topo.alpha_rel2.load_state_dict(topo.alpha_rel1.state_dict())  # conv_f bias is zero-initialised
    rel = topo.relation(torch.randn(2, 16, 4, 4))
    assert torch.allclose(rel, -rel.transpose(-1, -2), atol=1e-6)
    assert torch.allclose(torch.diagonal(rel, dim1=-2, dim2=-1), torch.zeros(2, 16, 4), atol=1e-6)


def test_paper_mode_gives_each_au_its_own_vector() -> None:
    torch.manual_seed(0)
    ccfg = CCFG(32, 6)  # paper default
    v = ccfg(torch.randn(4, 16, 32))
    assert v.shape == (4, 6, 32)
    for i in range(6):
        for j in range(i + 1, 6):
            assert not torch.allclose(v[:, i], v[:, j], atol=1e-3), (i, j)


def test_official_mode_gives_identical_vectors_and_n_bn_updates() -> None:
    torch.manual_seed(0)
    n = 8
    ccfg = CCFG(32, n, official=True).train()
    tokens = torch.randn(4, 49, 32)
    v = ccfg(tokens)
    assert v.shape == (4, n, 32)
    assert torch.allclose(v, v[:, :1].expand_as(v))
    bn = ccfg.shared_linear.bn
    assert int(bn.num_batches_tracked) == n
    # N identical updates from (0, 1): running = (1 - 0.9^N) * batch stat (+ 0.9^N * 1 for var)
    with torch.no_grad():
        z = ccfg.shared_linear.fc(ccfg.pooled(tokens))  # (B, C) pre-BN
    eff = 1 - 0.9**n
    assert torch.allclose(bn.running_mean, eff * z.mean(0), atol=1e-5)
    assert torch.allclose(bn.running_var, 0.9**n + eff * z.var(0, unbiased=True), atol=1e-4)


def test_paper_mode_phi_is_pooling_then_fc_without_bn_or_relu() -> None:
    """Eq. 12: v_i = FC_i(AvgPool(E)) — no BatchNorm, no ReLU (those are the authors' shared
    LinearBlock, official=True); a batch of one image therefore trains in paper mode."""
    torch.manual_seed(0)
    n, c = 5, 16
    paper = CCFG(c, n).train()
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in paper.modules())
    tokens = torch.randn(4, 9, c)
    e = paper.topology(tokens.transpose(1, 2).reshape(4, c, 3, 3)).mean(dim=(-2, -1))  # AvgPool(E)
    w, b = paper.node_linears.weight, paper.node_linears.bias  # (N, C, C), (N, C)
    expected = torch.stack([e @ w[i].T + b[i] for i in range(n)], dim=1)  # (B, N, C)
    assert torch.allclose(paper(tokens), expected, atol=1e-5)
    assert (expected < 0).any()  # no ReLU in front of Post
    assert paper(tokens[:1]).shape == (1, n, c)  # no BatchNorm over a batch of one
    official = CCFG(c, n, official=True).train()
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in official.modules())
