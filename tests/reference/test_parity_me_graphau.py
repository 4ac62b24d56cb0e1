"""Parity with the authors' ME-GraphAU heads (../shared/reference/parity/graph_heads_parity.pt).

Their weights are loaded through our key mapping (afg.compat), then: train-mode outputs, input
gradients of sum_k (k+1)*||out_k||^2, BatchNorm running statistics after that pass, and eval
outputs must agree to 1e-4 relative — in float32 and float64.
"""
from __future__ import annotations

import pytest
import torch
from parity_checks import assert_state_matches, rel

from afg.compat import head_from_official
from afg.compat.me_graphau import official_head_to_ours, ours_head_to_official

CASES = {
    "anfl_head_N12_K4_dots": ("me_graphau_stage1", 12, {"neighbor_num": 4, "metric": "dots"}),
    "mefl_head_N8": ("me_graphau_stage2", 8, {}),
}
REL = 1e-4


@pytest.fixture(scope="module")
def parity(reference_dir):
    return torch.load(reference_dir / "parity" / "graph_heads_parity.pt", map_location="cpu", weights_only=False)


def _cast(sd, dtype):
    return {k: (v.to(dtype) if v.is_floating_point() else v.clone()) for k, v in sd.items()}


_rel = rel


@pytest.mark.parametrize("efficient", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_head_parity(parity, case, dtype, efficient):
    kind, n, opts = CASES[case]
    if kind == "me_graphau_stage1" and not efficient:
        pytest.skip("the moments option concerns MEFL only")
    if kind == "me_graphau_stage2":
        opts = {**opts, "efficient": efficient}
    c = parity[case]
    head = head_from_official(kind, _cast(c["state_dict_init"], dtype), n, **opts).to(dtype).train()
    x = c["input"].to(dtype).clone().requires_grad_(True)
    out = head(x)
    out = out if isinstance(out, tuple) else (out,)
    assert len(out) == len(c["train_outputs"])
    for o, r in zip(out, c["train_outputs"]):
        assert o.shape == r.shape and o.dtype == dtype
        assert _rel(o, r) < REL
    loss = sum((k + 1) * (o ** 2).sum() for k, o in enumerate(out))  # the case's loss_def
    grad, = torch.autograd.grad(loss, x)
    assert _rel(grad, c["grad_input"]) < REL
    after = head.official_state_dict()
    ref = c["state_dict_after_train_step"]
    assert_state_matches(after, ref, REL)
    head.eval()
    with torch.no_grad():
        out = head(x)
    out = out if isinstance(out, tuple) else (out,)
    for o, r in zip(out, c["eval_outputs"]):
        assert _rel(o, r) < REL


@pytest.mark.parametrize("case", sorted(CASES))
def test_key_mapping_round_trip(parity, case):
    sd = parity[case]["state_dict_init"]
    back = ours_head_to_official(official_head_to_ours(sd))
    assert set(back) == set(sd)
    for k in sd:
        assert torch.equal(back[k], sd[k]), k


def test_stage2_head_runs_on_cpu(parity):
    """The authors' stage-2 GNN raises UnboundLocalError on CPU; ours runs there."""
    c = parity["mefl_head_N8"]
    head = head_from_official("me_graphau_stage2", c["state_dict_init"], 8).eval()
    cl, edge = head(c["input"])
    assert cl.device.type == "cpu" and edge.shape == (4, 64, 4)
