"""CUDA paths: every paper's model trains through ``fit`` on the GPU in float32, bf16 and fp16
autocast (channels-last), its forward matches the CPU's, a GPU checkpoint evaluates the same on
the CPU, DDP runs two ranks on CUDA tensors, and ``torch.compile`` matches eager.

The GPU tests (marked ``cuda``) are skipped on a machine without CUDA (CI has none);
``AFG_TEST_CUDA_DEVICE=cpu`` runs them on the CPU (AMP then falls back to float32 with a warning),
to check the tests themselves. The float32 case of "each paper trains through ``fit`` with its own
config and its loss falls" also runs on the CPU by default, with a tiny budget (marked ``slow``).
"""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import torch

DEVICE = os.environ.get("AFG_TEST_CUDA_DEVICE", "cuda")
needs_cuda = pytest.mark.skipif(DEVICE.startswith("cuda") and not torch.cuda.is_available(),
                                reason="needs CUDA")

PAPERS = ["me_graphau", "mafg_ccfg", "au_gcn", "emotion_gcn", "svml_rgcn"]
AMPS = ["none", "bf16", "fp16"]
#: learning rates that move the loss within 12 steps (AU-GCN uses the paper's SGD)
LR = {"au_gcn": 0.05}
#: the stage whose training loss is checked (ME-GraphAU stage 1 trains the backbone and ANFL;
#: AU-GCN's stage 1 only pre-trains the auto-encoders)
CHECKED_STAGE = {"me_graphau": "stage1", "au_gcn": "full"}


def _config(paper: str, device: str = DEVICE, **recipe):
    from afg.config import apply_overrides
    from afg.papers.notebook_setup import NotebookSetup, _set_epochs

    setup = NotebookSetup(quick=True, device=device, threads=2)
    d = setup.config(paper).to_dict()
    # fold 1 of 3 subjects x 4 faces, batch 4: the same 8 training faces every epoch, so the loss must fall
    d["data"].update(n_subjects=3, images_per_subject=4)
    d["recipe"].update(max_steps_per_epoch=None, **recipe)
    d = apply_overrides(_set_epochs(d, 6), {"recipe.optimizer.lr": LR.get(paper, 1e-3)})
    from afg.experiments import ExperimentConfig

    return ExperimentConfig.from_dict(d)


def _stage_losses(history: list[dict], paper: str) -> list[float]:
    return [h["train_loss"] for h in history if h.get("stage") == CHECKED_STAGE.get(paper)]


@pytest.mark.parametrize("paper", PAPERS)
@pytest.mark.slow
def test_fit_on_the_cpu_lowers_the_loss(paper, tmp_path):
    """float32 on the CPU, tiny budget: 8 faces (SVML-RGCN 16), batch 4, 4 epochs of the checked
    stage (the other stage of a two-stage recipe: 1 epoch). The loss must fall below 0.8 x its
    first epoch's."""
    from afg.experiments import ExperimentConfig, run

    d = _config(paper, device="cpu").to_dict()
    d["recipe"]["epochs"] = 4
    for st in d["recipe"].get("stages") or []:
        st["epochs"] = 4 if st["name"] == CHECKED_STAGE.get(paper) else 1
    d["recipe"]["selection"] = "last"  # train on all 8 faces (no selection split carved out)
    if paper == "au_gcn":  # SGD as the paper; a larger step to fall within 4 short epochs
        d["recipe"]["optimizer"]["lr"] = 0.2
    if paper == "svml_rgcn":  # Eq. 5 averages single-label faces of every class: 16 faces
        d["data"]["images_per_subject"] = 8
    res = run(ExperimentConfig.from_dict(d), root=tmp_path)
    losses = _stage_losses(res.history, paper)
    assert len(losses) == 4 and all(np.isfinite(losses)), losses
    assert min(losses[-2:]) < 0.8 * losses[0], losses


@pytest.mark.parametrize("amp", AMPS)
@pytest.mark.parametrize("paper", PAPERS)
@pytest.mark.cuda
@needs_cuda
def test_fit_on_cuda_lowers_the_loss(paper, amp, tmp_path):
    from afg.experiments import run
    from afg.runs import load_checkpoint

    cfg = _config(paper, amp=amp, channels_last=amp != "none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if not DEVICE.startswith("cuda") else "default")
        res = run(cfg, root=tmp_path)
    losses = _stage_losses(res.history, paper)
    assert len(losses) == 6 and all(np.isfinite(losses)), losses
    assert min(losses[-2:]) < 0.9 * losses[0], losses
    ck = load_checkpoint(next(res.run_dir.rglob("last.pt")))
    # autocast keeps float32 master weights; the fp16 scaler state is saved for resuming
    assert all(v.dtype != torch.bfloat16 and v.dtype != torch.float16 for v in ck["model"].values())
    if amp == "fp16" and DEVICE.startswith("cuda"):
        assert ck["scaler"].get("scale", 0) > 0


@pytest.mark.parametrize("paper", PAPERS)
@pytest.mark.cuda
@needs_cuda
def test_forward_and_checkpoint_match_the_cpu(paper, tmp_path, monkeypatch):
    """The same weights give the same outputs on the GPU and the CPU after a GPU run whose
    checkpoint is loaded on the CPU. TF32 is off, so both sides compute in float32 and agree to
    float32 rounding (1e-4), not to TF32's 10-bit mantissa."""
    from afg.data.build import build_data
    from afg.experiments import run
    from afg.predict import load_model_checkpoint
    from afg.train.evaluate import collate, model_inputs, to_device

    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    cfg = _config(paper)
    res = run(cfg, root=tmp_path)
    _, val = build_data(cfg.data)
    batch = collate([val[i] for i in range(4)])
    outs = {}
    for dev in ("cpu", DEVICE):
        model, _ = load_model_checkpoint(res.run_dir, map_location="cpu")
        model = model.to(dev).eval()
        b = to_device(batch, torch.device(dev))
        images, extra = model_inputs(model, b)
        with torch.no_grad():
            outs[dev] = {k: v.float().cpu() for k, v in model(images, **extra).items()
                         if torch.is_tensor(v) and v.is_floating_point()}
    assert outs["cpu"].keys() == outs[DEVICE].keys() and outs["cpu"]
    for k in outs["cpu"]:
        torch.testing.assert_close(outs[DEVICE][k], outs["cpu"][k], atol=1e-4, rtol=1e-4, msg=k)


@pytest.mark.slow
@pytest.mark.cuda
@needs_cuda
def test_ddp_two_ranks_on_cuda_match_one_process(tmp_path):
    """Two gloo ranks with CUDA tensors (ranks share the GPUs round-robin) equal one process."""
    import torch.multiprocessing as mp
    from test_train import TinyData, _model, _recipe, _strip
    from test_train_ddp import RECIPE, _free_port, _worker

    from afg.train import fit

    recipe = {**RECIPE, "device": DEVICE}  # the gloo test's recipe, on the GPU
    ref = fit(_model(norm="none", dropout=0.0), TinyData(32, 0), TinyData(13, 1), _recipe(**recipe))
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path), recipe), nprocs=2, join=True,
                       start_method="spawn")
    got = json.loads((tmp_path / "ddp.json").read_text())
    assert got["device"].startswith(DEVICE.split(":")[0])
    for a, b in zip(got["history"], _strip(ref.history), strict=True):
        for k in b:
            assert a[k] == pytest.approx(b[k], rel=2e-3, abs=1e-4), k


@pytest.mark.slow
@pytest.mark.cuda
@needs_cuda
def test_compiled_model_matches_eager():
    from afg.models import create_model

    torch.manual_seed(0)
    model = create_model("me_graphau_stage1", 8, backbone="resnet_tiny", pretrained=False, img_size=64,
                         neighbor_num=3).to(DEVICE).eval()
    x = torch.randn(4, 3, 64, 64, device=DEVICE)
    with torch.no_grad():
        eager = model(x)["au"]
        compiled = torch.compile(model)(x)["au"]
    torch.testing.assert_close(compiled, eager, atol=1e-3, rtol=1e-3)
