"""Parity with the authors' OpenGraphAU heads (../shared/reference/parity/opengraphau_heads_parity.pt).

Their weights are loaded through our key mapping (afg.compat.opengraphau) into the shared ME-GraphAU
heads with the sub-AU option of the similarity head; then train-mode outputs (B, 41), input
gradients of sum(out**2), every BatchNorm running statistic after that pass and the eval outputs
must agree to 1e-4 relative — in float32 and float64, MEFL moments and straightforward.
"""
from __future__ import annotations

import pytest
import torch
from parity_checks import assert_state_matches, rel

from afg.compat import head_from_official
from afg.compat.opengraphau import (
    OPENGRAPHAU_COLUMNS,
    OPENGRAPHAU_SUB_NODES,
    official_head_to_ours_ogau,
    ours_head_to_official_ogau,
)

CASES = {
    "opengraphau_anfl_head_N27_S14_K4_dots": ("opengraphau_stage1", {"neighbor_num": 4, "metric": "dots"}),
    "opengraphau_mefl_head_N27_S14": ("opengraphau_stage2", {}),
}
REL = 1e-4


@pytest.fixture(scope="module")
def parity(reference_dir):
    return torch.load(reference_dir / "parity" / "opengraphau_heads_parity.pt", map_location="cpu",
                      weights_only=True)


def _cast(sd, dtype):
    return {k: (v.to(dtype) if v.is_floating_point() else v.clone()) for k, v in sd.items()}


_rel = rel


def test_fixture_layout_matches_our_constants(parity):
    for c in parity.values():
        assert list(c["sub_list"]) == sorted(set(OPENGRAPHAU_SUB_NODES))
        assert c["train_outputs"].shape == (4, len(OPENGRAPHAU_COLUMNS)) == (4, 41)


@pytest.mark.parametrize("efficient", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_head_parity(parity, case, dtype, efficient):
    kind, opts = CASES[case]
    if kind == "opengraphau_stage1" and not efficient:
        pytest.skip("the moments option concerns MEFL only")
    if kind == "opengraphau_stage2":
        opts = {**opts, "efficient": efficient}
    c = parity[case]
    head = head_from_official(kind, _cast(c["state_dict_init"], dtype), 41, **opts).to(dtype).train()
    x = c["input"].to(dtype).clone().requires_grad_(True)
    out = head(x)
    assert out.shape == (4, 41) and out.dtype == dtype
    assert _rel(out, c["train_outputs"]) < REL
    grad, = torch.autograd.grad((out ** 2).sum(), x)  # the case's loss_def: sum(output**2)
    assert _rel(grad, c["grad_input"]) < REL
    after = head.official_state_dict()
    ref = c["state_dict_after_train_step"]
    buffers = [k for k in ref if "running_" in k]
    # 27 AFG blocks + (stage 1) FGG bnv | (stage 2) MEFL bn + 2 x (bnv, bne)
    assert len(buffers) == 2 * (27 + (1 if kind == "opengraphau_stage1" else 5))
    assert_state_matches(after, ref, REL)
    head.eval()
    with torch.no_grad():
        assert _rel(head(x), c["eval_outputs"]) < REL


def test_sub_aus_are_scored_from_their_main_nodes(parity):
    """Swapping the sub-AU vectors of a pair swaps exactly the two sub-AU outputs."""
    c = parity["opengraphau_anfl_head_N27_S14_K4_dots"]
    sd = dict(c["state_dict_init"])
    head = head_from_official("opengraphau_stage1", sd, 41).eval()
    sd["sub_sc"] = sd["sub_sc"][[1, 0, *range(2, 14)]]
    swapped = head_from_official("opengraphau_stage1", sd, 41).eval()
    with torch.no_grad():
        a, b = head(c["input"]), swapped(c["input"])
    torch.testing.assert_close(a[:, :27], b[:, :27])
    torch.testing.assert_close(a[:, [27, 28]], b[:, [28, 27]])
    torch.testing.assert_close(a[:, 29:], b[:, 29:])


def test_the_outer_residual_is_what_makes_stage2_match(parity):
    """ME-GraphAU's GatedGCN residual (ReLU after the sum) does not reproduce OpenGraphAU."""
    from afg.models.me_graphau import MEFLHead

    c = parity["opengraphau_mefl_head_N27_S14"]
    head = MEFLHead(64, 27, sub_nodes=OPENGRAPHAU_SUB_NODES, gnn_residual="inner", edge_classifier=False)
    head.load_state_dict(official_head_to_ours_ogau(c["state_dict_init"]), strict=True)
    with torch.no_grad():
        out = head.train()(c["input"])["au"]
    assert _rel(out, c["train_outputs"]) > 1e-3


@pytest.mark.parametrize("case", sorted(CASES))
def test_key_mapping_round_trip(parity, case):
    sd = parity[case]["state_dict_init"]
    back = ours_head_to_official_ogau(official_head_to_ours_ogau(sd))
    assert set(back) == set(sd)
    for k in sd:
        assert torch.equal(back[k], sd[k]), k
