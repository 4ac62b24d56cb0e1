"""Parity with the authors' MAFG+CCFG head (case ``macg_head_official_N8_K3``).

One training-mode forward, the input gradient of ``Σ_k (k+1)·||out_k||²``, every BatchNorm
running statistic after that step (the CCFG shared block updated N = 8 times) and the eval-mode
forward afterwards, all within 1e-4 relative.
"""
from __future__ import annotations

import pytest
import torch

from afg.compat import head_from_official
from afg.compat.mafg_ccfg import official_to_ours

CASE = "macg_head_official_N8_K3"


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4) -> bool:
    a, b = a.double(), b.double()
    return bool(((a - b).abs() <= rtol * b.abs().max().clamp_min(1e-12) + 1e-7).all())


@pytest.fixture(scope="module")
def case(reference_dir):
    data = torch.load(reference_dir / "parity" / "graph_heads_parity.pt", weights_only=False)
    return data[CASE]


def test_official_head_matches_authors_code(case) -> None:
    torch.manual_seed(0)
    n = case["train_outputs"][0].shape[1]
    head = head_from_official("mafg_ccfg", case["state_dict_init"], n, neighbor_num=3)
    head.train()
    x = case["input"].clone().requires_grad_(True)
    out = head(x)
    assert _close(out, case["train_outputs"][0])
    loss = sum((k + 1) * o.pow(2).sum() for k, o in enumerate([out]))
    loss.backward()
    assert _close(x.grad, case["grad_input"])

    expected = official_to_ours(case["state_dict_after_train_step"], n)
    ours = head.head.state_dict()
    buffers = [k for k in expected if "running" in k or "num_batches" in k]
    assert len(buffers) == 4 * 3  # MAFG per-node BN, gnn.bnv, CCFG shared BN, post BN
    for k in buffers:
        assert torch.allclose(ours[k].double(), expected[k].double(), rtol=1e-4, atol=1e-6), k
    assert int(ours["ccfg.shared_linear.bn.num_batches_tracked"]) == n  # the N-fold update

    head.eval()
    with torch.no_grad():
        assert _close(head(case["input"]), case["eval_outputs"][0])


def test_loader_accepts_unused_official_entries(case) -> None:
    sd = dict(case["state_dict_init"])
    assert any(k.startswith("class_linear.") for k in sd)  # their unused Head.class_linear
    full = {f"module.head.{k}": v for k, v in sd.items()}
    full["module.backbone.conv1.weight"] = torch.zeros(1)
    head = head_from_official("mafg_ccfg", full, 8, neighbor_num=3)
    assert head.head.ccfg.official
    sd["bogus.weight"] = torch.zeros(1)
    with pytest.raises(KeyError):
        head_from_official("mafg_ccfg", sd, 8, neighbor_num=3)
