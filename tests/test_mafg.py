"""MAFG (Li et al. 2025, Eq. 1–4) and the EfficientViT linear attention of the Table 4 row."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from afg.nn.mafg import (
    MAFG,
    MultiScaleAxialAttention,
    MultiScaleLinearAttention,
    relu_linear_attention,
    tokens_to_map,
)


@pytest.mark.parametrize("side", [7, 4])  # 224 px and 112 px ResNet grids
def test_mafg_shapes_on_any_grid(side: int) -> None:
    torch.manual_seed(0)
    m = MAFG(32, 8)
    nodes = m(torch.randn(3, side * side, 32))
    assert nodes.shape == (3, 8, 32)
    assert m.attention(torch.randn(2, 32, side, side)).shape == (2, 32, side, side)
    # non-square grids work when the grid is given
    assert m(torch.randn(2, 12, 32), grid=(3, 4)).shape == (2, 8, 32)
    with pytest.raises(ValueError):
        m(torch.randn(2, 12, 32))


def test_tokens_to_map_layout() -> None:
    x = torch.arange(2 * 6 * 3, dtype=torch.float32).reshape(2, 6, 3)  # (B, D, C)
    fmap = tokens_to_map(x, (2, 3))
    # token index d = row * w + col, as produced by flatten(2).transpose(1, 2)
    assert torch.equal(fmap[1, 2, 1, 0], x[1, 3, 2])
    assert torch.equal(fmap.flatten(2).transpose(1, 2), x)


def _identity_depthwise(conv: nn.Conv2d) -> None:
    with torch.no_grad():
        conv.weight.zero_()
        kh, kw = conv.kernel_size
        conv.weight[:, 0, kh // 2, kw // 2] = 1.0
        conv.bias.zero_()


def test_attention_hand_case_gives_x_squared() -> None:
    """5×5 conv = identity, axial branches = 0, 1×1 mix = identity ⇒ Attn = X, Attn ⊙ X = X²."""
    torch.manual_seed(0)
    c = 4
    att = MultiScaleAxialAttention(c)
    _identity_depthwise(att.local)
    with torch.no_grad():
        for br in att.branches:
            for conv in br:
                conv.weight.zero_()
                conv.bias.zero_()
        att.mix.weight.copy_(torch.eye(c).view(c, c, 1, 1))
        att.mix.bias.zero_()
    x = torch.randn(2, c, 5, 5)
    assert torch.allclose(att(x), x)
    # and each axial branch adds exactly what its 1×k → k×1 pair computes
    with torch.no_grad():
        for br in att.branches:
            _identity_depthwise(br[0])
            _identity_depthwise(br[1])
    assert torch.allclose(att(x), 4 * x, atol=1e-6)  # L + 3 identity branches


def _receptive_field(att: nn.Module, side: int = 7) -> torch.Tensor:
    x = torch.zeros(1, 2, side, side, requires_grad=True)
    att(x)[0, :, 0, 0].sum().backward()
    return x.grad.abs().sum(0).sum(0) > 0  # (side, side) which inputs reach output (0, 0)


def test_axial_branches_cover_the_whole_grid() -> None:
    torch.manual_seed(0)
    full = _receptive_field(MultiScaleAxialAttention(2))
    assert full.all()  # 1×21 / 21×1 on a 7×7 grid reach every position
    local_only = _receptive_field(MultiScaleAxialAttention(2, kernel_sizes=()))
    assert local_only[:3, :3].all() and not local_only[3:, :].any() and not local_only[:, 3:].any()


def test_nodes_are_mean_of_per_au_blocks_and_differ() -> None:
    torch.manual_seed(0)
    m = MAFG(16, 5)
    x = torch.randn(4, 9, 16)
    nodes = m(x)
    assert (nodes < 0).any()  # Eq. 4: phi_i = FC -> BN, no ReLU (paper mode)
    assert not torch.allclose(nodes[:, 0], nodes[:, 1])
    official = MAFG(16, 5, official=True)  # the authors' LinearBlocks: FC -> BN -> ReLU, then a mean
    official.load_state_dict(m.state_dict())
    assert (official(x) >= 0).all()
    assert torch.allclose(official(x), torch.relu(m.node_linears(m.modulated(
        m.attention(tokens_to_map(x)) * tokens_to_map(x)).flatten(2).transpose(1, 2))).mean(-2), atol=1e-5)


def test_modulated_hook_sees_attention_times_input() -> None:
    torch.manual_seed(0)
    m = MAFG(8, 3).eval()
    seen = {}
    m.attention.register_forward_hook(lambda mod, i, o: seen.__setitem__("attn", o))
    m.modulated.register_forward_hook(lambda mod, i, o: seen.__setitem__("mod", o))
    x = torch.randn(2, 16, 8)
    m(x)
    assert torch.allclose(seen["mod"], seen["attn"] * tokens_to_map(x))


def test_no_attention_mode_is_plain_per_au_blocks() -> None:
    torch.manual_seed(0)
    m = MAFG(8, 3, attention="none").eval()
    x = torch.randn(2, 16, 8)
    assert torch.allclose(m(x), m.node_linears(x).mean(-2))
    assert sum(p.numel() for p in m.attention.parameters()) == 0


def test_relu_linear_attention_equals_quadratic_form() -> None:
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 10, 4), torch.randn(2, 3, 10, 4), torch.randn(2, 3, 10, 5)
    scores = torch.relu(q) @ torch.relu(k).transpose(-1, -2)  # (…, n, n) unnormalised
    expected = (scores @ v) / (scores.sum(-1, keepdim=True) + 1e-15)
    assert torch.allclose(relu_linear_attention(q, k, v), expected, atol=1e-5)


def test_evit_variant_trains() -> None:
    torch.manual_seed(0)
    m = MAFG(16, 4, attention="evit")
    assert isinstance(m.attention, MultiScaleLinearAttention)
    x = torch.randn(3, 16, 16, requires_grad=True)
    m(x).pow(2).sum().backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in m.attention.parameters())
