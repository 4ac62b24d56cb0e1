"""ME-GraphAU models: registry, outputs, Table 3 switches, stage-1 -> stage-2 initialisation,
official checkpoint import, criterion, baseline model, and a tiny end-to-end run of both stages."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from afg.compat.me_graphau import model_from_official_checkpoint, ours_to_official
from afg.models import create_model, list_models
from afg.models.me_graphau import TABLE3_ROWS, MEGraphAU

BB = {"backbone": "resnet18", "img_size": 64}


def test_registered_and_outputs():
    assert {"me_graphau_stage1", "me_graphau", "baseline"} <= set(list_models())
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    s1 = create_model("me_graphau_stage1", 6, **BB).eval()
    out = s1(x, return_intermediates=True)
    assert out["au"].shape == (2, 6) and ((out["au"] >= 0) & (out["au"] <= 1)).all()
    assert out["nodes"].shape == (2, 6, 128)  # ResNet: C/4 = 512/4
    assert out["adjacency"].shape == (2, 6, 6) and (out["adjacency"].sum(-1) >= 4).all()
    s2 = create_model("me_graphau", 6, neighbor_num=3, **BB).eval()
    out = s2(x, return_intermediates=True)
    assert out["au"].shape == (2, 6) and out["edge"].shape == (2, 36, 4)
    assert out["edge_features"].shape == (2, 36, 128)
    assert s2.lam == 0.05 and s1.stage == 1 and s2.stage == 2


def test_table3_rows_build():
    for row in TABLE3_ROWS:
        m = create_model(row["model"], 4, **BB, **row["options"])
        assert isinstance(m, MEGraphAU)
    head = create_model("me_graphau_stage1", 4, use_afg=False, **BB).head
    assert type(head).__name__ == "LinearAUHead"
    assert create_model("me_graphau_stage1", 4, use_fgg=False, **BB).head.fgg is None
    with pytest.raises(ValueError):
        create_model("me_graphau", 4, use_afg=False, **BB)


def test_stage2_options_accept_stage1_config():
    """A trainer switching models by merging options must be able to rebuild stage 2."""
    cfg = create_model("me_graphau_stage1", 4, use_fgg=False, **BB).model_config
    cfg = {**cfg, "name": "me_graphau"}
    name = cfg.pop("name")
    m = create_model(name, cfg.pop("num_classes"), **cfg)
    assert m.stage == 2


def test_init_from_stage1_copies_shared_parts():
    torch.manual_seed(0)
    s1 = create_model("me_graphau_stage1", 5, **BB)
    s2 = create_model("me_graphau", 5, **BB)
    keys = s2.init_from_stage1(s1)
    sd1, sd2 = s1.state_dict(), s2.state_dict()
    assert any(k.startswith("backbone.") for k in keys) and "head.similarity.sc" in keys
    for k in ("head.afg.weight", "head.afg.bn.running_var", "global_linear.fc.weight", "head.similarity.sc"):
        assert torch.equal(sd1[k], sd2[k])
    assert not any(k.startswith("head.fgg.") for k in keys)


def test_official_checkpoint_round_trip():
    torch.manual_seed(0)
    s2 = create_model("me_graphau", 4, **BB).eval()
    official = {"module." + k: v for k, v in ours_to_official(s2.state_dict()).items()}
    assert "module.head.edge_extractor.FAM.linear_q.weight" in official
    assert "module.head.class_linears.3.bn.running_mean" in official
    assert "module.backbone.layer4.1.conv2.weight" in official
    m = model_from_official_checkpoint(official, img_size=64).eval()
    assert m.stage == 2 and m.model_config["backbone"] == "resnet18"
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, b = s2(x), m(x)
    torch.testing.assert_close(a["au"], b["au"])
    torch.testing.assert_close(a["edge"], b["edge"])


def test_criterion_terms_and_mask():
    torch.manual_seed(0)
    m = create_model("me_graphau", 3, **BB)
    out = {"au": torch.rand(4, 3, requires_grad=True), "edge": torch.randn(4, 9, 4, requires_grad=True)}
    y = torch.randint(0, 2, (4, 3)).float()
    crit = m.build_criterion({"au_class_weights": [0.5, 1.0, 1.5]})
    res = crit(out, {"au": y, "au_mask": torch.ones(4, 3, dtype=torch.bool)})
    assert set(res) == {"loss", "wa", "edge"}
    torch.testing.assert_close(res["loss"], res["wa"] + 0.05 * res["edge"])
    # a masked-out entry does not influence the loss
    y2 = y.clone()
    y2[0, 1] = 1 - y2[0, 1]
    mask = torch.ones(4, 3, dtype=torch.bool)
    mask[0, 1] = False
    r1 = crit(out, {"au": y, "au_mask": mask})
    r2 = crit(out, {"au": y2, "au_mask": mask})
    torch.testing.assert_close(r1["loss"], r2["loss"])
    r0 = m.build_criterion(None, lam=0.0)(out, {"au": y})
    torch.testing.assert_close(r0["loss"], r0["wa"])
    s1 = create_model("me_graphau_stage1", 3, **BB)
    r = s1.build_criterion(None)({"au": out["au"]}, {"au": y})
    assert r["edge"].item() == 0.0 and r["loss"].item() == r["wa"].item()


@pytest.mark.parametrize("task,key,shape", [("au", "au", (2, 5)), ("expression", "expression", (2, 5)),
                                            ("multilabel", "emotions", (2, 5))])
def test_baseline_tasks(task, key, shape):
    torch.manual_seed(0)
    m = create_model("baseline", 5, task=task, va=(task == "expression"), **BB)
    out = m(torch.randn(2, 3, 64, 64))
    assert out[key].shape == shape
    batch = {"au": torch.tensor([[1.0, 0, float("nan"), 1, 0]] * 2), "expression": torch.tensor([1, -1]),
             "va": torch.tensor([[0.1, float("nan")], [0.2, 0.3]]), "emotions": torch.ones(2, 5)}
    res = m.build_criterion(None)(out, batch)
    assert torch.isfinite(res["loss"]) and res["loss"] > 0
    res["loss"].backward()
    if task == "au":
        assert ((out["au"] > 0) & (out["au"] < 1)).all()
    if task == "expression":
        assert out["va"].shape == (2, 2) and "va" in res


def _tiny_batch():
    """Eight synthetic DISFA-profile faces (8 AUs) at 64 px."""
    from afg.data.synth import SynthFaces

    ds = SynthFaces(profile="disfa", n_subjects=2, images_per_subject=4, size=64, seed=0)
    items = [ds[i] for i in range(8)]
    img = torch.stack([it["image"] for it in items]).float()
    au = torch.stack([torch.as_tensor(it["au"]) for it in items]).float()
    return {"image": img, "au": au, "au_mask": ~torch.isnan(au)}


def test_tiny_two_stage_run_lowers_losses():
    torch.manual_seed(0)
    batch = _tiny_batch()
    n = batch["au"].shape[1]
    stats = {"au_labels": batch["au"].numpy()}

    def run(model, steps):
        crit = model.build_criterion(stats)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-4)
        model.train()
        hist = []
        for _ in range(steps):
            out = model(batch["image"])
            res = crit(out, batch)
            opt.zero_grad()
            res["loss"].backward()
            opt.step()
            m = batch["au_mask"]  # AU accuracy on the training batch
            acc = ((out["au"] > 0.5).float() == torch.nan_to_num(batch["au"]))[m].float().mean()
            hist.append({"acc": acc.item(), **{k: v.item() for k, v in res.items()}})
        return hist

    s1 = create_model("me_graphau_stage1", n, **BB)
    h1 = run(s1, 5)
    assert h1[-1]["wa"] < 0.8 * h1[0]["wa"] and h1[-1]["acc"] > h1[0]["acc"]
    s2 = create_model("me_graphau", n, **BB)
    s2.init_from_stage1(s1)
    h2 = run(s2, 5)
    assert h2[-1]["wa"] < 0.8 * h2[0]["wa"] and h2[-1]["edge"] < 0.8 * h2[0]["edge"]
    assert h2[-1]["acc"] > h2[0]["acc"]


@pytest.mark.slow
def test_official_swin_checkpoint_keys_map_to_timm():
    """Their Swin backbone uses Microsoft's layout (patch merging at the end of each stage);
    timm's converter moves it to the start of the next one."""
    import re

    from afg.compat.me_graphau import ours_head_to_official

    torch.manual_seed(0)
    ours = create_model("me_graphau_stage1", 12, backbone="swin_tiny_patch4_window7_224", img_size=224)
    sd = ours.state_dict()
    official = {}
    for k, v in sd.items():
        if k.startswith("backbone.model."):
            kk = k[len("backbone.model."):]
            if kk.endswith(("relative_position_index", "attn_mask")):
                continue
            kk = re.sub(r"layers\.(\d+)\.downsample", lambda g: f"layers.{int(g.group(1)) - 1}.downsample", kk)
            official["module.backbone." + kk] = v
        elif k.startswith("global_linear."):
            official["module." + k] = v
    head = {k[len("head."):]: v for k, v in sd.items() if k.startswith("head.")}
    official.update({"module.head." + k: v for k, v in ours_head_to_official(head).items()})
    assert "module.backbone.layers.0.downsample.reduction.weight" in official
    m = model_from_official_checkpoint(official)
    assert m.model_config["backbone"] == "swin_tiny_patch4_window7_224" and m.stage == 1
    assert m.global_linear.fc.out_features == 768 // 2  # Swin: C/2
    sd2 = m.state_dict()
    assert all(torch.equal(sd[k], sd2[k]) for k in sd)


def test_benchmark_straightforward_head_agrees(capsys):
    """benchmarks/mefl_head.py's literal (repeat + one-hot incidence) head equals ours."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "mefl_head.py"
    spec = importlib.util.spec_from_file_location("mefl_head_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = bench.main(["--batch", "3", "--tokens", "9", "--channels", "16", "--nodes", "5", "--reps", "1",
                      "--no-results"])
    assert res["equal"] and res["max_rel_error"]["grad_input"] < 1e-4
    assert res["peak_mem_straightforward_MiB"] > res["peak_mem_ours_MiB"] > 0
    assert "ratio" in capsys.readouterr().out
