"""No pickle ever executes: every public loader of weights refuses a booby-trapped checkpoint with
one clear line and nothing in the file runs; damaged files get "not a PyTorch checkpoint" /
"truncated or corrupt (N bytes)"; safetensors export/import round-trips a model exactly."""
from __future__ import annotations

import ast
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from afg import compat
from afg.backbones import create_backbone
from afg.cli import main
from afg.compat.me_graphau import model_from_official_checkpoint
from afg.compat.opengraphau import model_from_official_checkpoint as ogau_from_official
from afg.export import FORMAT, export_safetensors
from afg.models import create_model
from afg.predict import CheckpointError, Predictor, load_model_checkpoint
from afg.runs import load_checkpoint
from afg.train.checkpoint import save_checkpoint

REPO = Path(__file__).resolve().parents[1]
DISFA = ["AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26"]
REFUSED = "refuses pickled objects"


class _Trap:
    """Unpickling this object creates the folder ``path`` (a stand-in for arbitrary code)."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (os.makedirs, (self.path,))


@pytest.fixture
def trap(tmp_path) -> dict:
    """Three booby-trapped files (zip and legacy torch.save of an afg-looking checkpoint, a plain
    pickle), all creating ``marker`` if ever unpickled; plus a tiny config that trains nothing."""
    marker = tmp_path / "PWNED"
    bait = {"model": {"w": torch.zeros(2)}, "model_config": {"name": "baseline", "num_classes": 8},
            "state_dict": {"head.sc": torch.zeros(8, 4)}, "trap": _Trap(marker)}
    files = {"zip": tmp_path / "evil.pt", "legacy": tmp_path / "evil_legacy.pt",
             "pickle": tmp_path / "evil.pkl"}
    torch.save(bait, files["zip"])
    torch.save(bait, files["legacy"], _use_new_zipfile_serialization=False)
    files["pickle"].write_bytes(pickle.dumps(bait, protocol=4))
    # the trap works: plain unpickling creates the marker (then it is removed again)
    pickle.loads(files["pickle"].read_bytes())
    assert marker.is_dir()
    marker.rmdir()
    return {"marker": marker, "files": files, "tmp": tmp_path}


def _tiny_config(**recipe) -> dict:
    return {
        "model": {"name": "me_graphau_stage1", "backbone": "resnet_tiny", "img_size": 64, "neighbor_num": 3},
        "data": {"dataset": "synthetic", "profile": "disfa", "n_subjects": 3, "images_per_subject": 2,
                 "size": 64, "folds": 3, "fold": 1},
        "recipe": {"epochs": 1, "batch_size": 2, "max_steps_per_epoch": 1, "device": "cpu",
                   "progress": False, **recipe},
    }


def _one_line(capsys, argv: list[str]) -> str:
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("afg: error: "), (rc, err)
    return err[0]


@pytest.mark.parametrize("kind", ["zip", "legacy", "pickle"])
def test_every_public_loader_refuses_a_pickle_trap(trap, kind, capsys, monkeypatch):
    path = trap["files"][kind]
    tmp = trap["tmp"]
    monkeypatch.setenv("AFG_RUNS_DIR", str(tmp / "runs"))
    python_loaders = {
        "load_checkpoint": lambda: load_checkpoint(path),
        "Predictor": lambda: Predictor(path, device="cpu"),
        "load_model_checkpoint": lambda: load_model_checkpoint(path),
        "model_from_official_checkpoint": lambda: model_from_official_checkpoint(path),
        "compat.model_from_official_checkpoint": lambda: compat.model_from_official_checkpoint(path),
        "opengraphau.model_from_official_checkpoint": lambda: ogau_from_official(path),
        "init_from_stage1": lambda: create_model("me_graphau", 8, backbone="resnet_tiny", img_size=64,
                                                 neighbor_num=3).init_from_stage1(path),
        "init_from_stage1(str)": lambda: create_model("me_graphau", 8, backbone="resnet_tiny", img_size=64,
                                                      neighbor_num=3).init_from_stage1(str(path)),
        "create_backbone(weights=)": lambda: create_backbone("resnet_tiny", weights=path, img_size=64),
        "export_safetensors": lambda: export_safetensors(path, tmp / "out.safetensors"),
    }
    for name, load in python_loaders.items():
        with pytest.raises(CheckpointError, match=REFUSED):
            load()
        assert not trap["marker"].exists(), name
    # the command line: one line, exit 2, nothing trained
    cfg = tmp / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(_tiny_config()))
    stage_cfg = tmp / "stages.yaml"
    stage_cfg.write_text(yaml.safe_dump(_tiny_config(stages=[
        {"name": "s1", "init_from": str(path)}])))
    weights_cfg = tmp / "weights.yaml"
    d = _tiny_config()
    d["model"]["weights"] = str(path)
    weights_cfg.write_text(yaml.safe_dump(d))
    (tmp / "face.png").write_bytes(b"")
    for argv in (["eval", str(path), "--data", str(cfg)],
                 ["predict", str(path), str(tmp / "face.png"), "--no-detect"],
                 ["export", str(path), str(tmp / "out.safetensors")],
                 ["train", str(stage_cfg)],
                 ["train", str(weights_cfg)]):
        line = _one_line(capsys, argv)
        assert REFUSED in line and str(path) in line, line
        assert not trap["marker"].exists(), argv
    assert not (tmp / "runs").exists() and not (tmp / "out.safetensors").exists()


def test_weights_only_false_never_appears_in_the_package():
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "afg").rglob("*.py")
                 if "weights_only=False" in p.read_text().replace(" ", "")]
    assert offenders == []


def test_every_torch_load_call_passes_weights_only_true():
    """AST scan: each ``torch.load(...)`` in afg/ has the keyword ``weights_only=True``."""
    calls = []
    for p in (REPO / "afg").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "load" and getattr(node.func.value, "id", None) == "torch":
                kw = {k.arg: k.value for k in node.keywords}
                ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                calls.append((str(p.relative_to(REPO)), node.lineno, ok))
    assert calls, "no torch.load found: the scan is broken"
    assert [c for c in calls if not c[2]] == []


def test_damaged_files_get_one_clear_reason(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"w": torch.arange(1000.0)}, good)
    raw = good.read_bytes()
    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.arange(1000.0)}, legacy, _use_new_zipfile_serialization=False)
    cases = {
        "text.pt": (b"hello, not a checkpoint", "not a PyTorch checkpoint"),
        "empty.pt": (b"", "truncated or corrupt (0 bytes)"),
        "half.pt": (raw[: len(raw) // 2], f"truncated or corrupt ({len(raw) // 2} bytes)"),
        "half_legacy.pt": (legacy.read_bytes()[:2000], "truncated or corrupt (2000 bytes)"),
        "stub.pt": (raw[:3], "not a PyTorch checkpoint"),  # too short for any format's header
    }
    np.savez(tmp_path / "arrays.npz", w=np.zeros(3))  # a zip archive, but not torch.save's
    cases["arrays.pt"] = ((tmp_path / "arrays.npz").read_bytes(), "not a PyTorch checkpoint")
    for name, (data, reason) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError) as exc:
            load_checkpoint(tmp_path / name)
        msg = str(exc.value)
        assert msg == f"{tmp_path / name}: {reason}" or msg.startswith(f"{tmp_path / name}: {reason} ("), msg
        assert "\n" not in msg
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    assert torch.equal(load_checkpoint(good)["w"], torch.arange(1000.0))


# ------------------------------------------------------------------------------ safetensors
def _afg_checkpoint(path: Path) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model("me_graphau_stage1", 8, backbone="resnet_tiny", img_size=64, neighbor_num=3).eval()
    for buf in model.buffers():  # non-trivial BatchNorm statistics
        if buf.dtype.is_floating_point:
            buf.uniform_(0.5, 1.5)
    save_checkpoint(path, {"model": model.state_dict(), "model_config": model.model_config, "task": "au",
                           "label_names": DISFA, "stage": 1, "optimizer": {"state": {}}})
    return model


def test_safetensors_export_round_trip(tmp_path, capsys):
    from safetensors import safe_open

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump({"data": {"resize": 80}}))
    ck = tmp_path / "run" / "best.pt"
    model = _afg_checkpoint(ck)
    out = tmp_path / "hub" / "afg" / "model.safetensors"  # far from the run's config.yaml
    out.parent.mkdir(parents=True)
    assert main(["export", str(ck), str(out)]) == 0
    assert "afg export:" in capsys.readouterr().out
    with safe_open(str(out), "pt") as f:  # a plain safetensors file: any reader opens it
        meta = f.metadata()
        keys = set(f.keys())
    assert keys == set(model.state_dict())
    assert meta["format"] == FORMAT and json.loads(meta["label_names"]) == DISFA
    assert json.loads(meta["model_config"]) == json.loads(json.dumps(model.model_config))
    assert meta["task"] == "au" and json.loads(meta["stage"]) == 1 and json.loads(meta["resize"]) == 80
    # read back by the loaders: same tensors, same predictions, same labels
    back, info = load_model_checkpoint(out)
    for k, v in model.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k
    assert info["label_names"] == DISFA and info["task"] == "au" and info["stage"] == 1
    faces = np.random.default_rng(0).integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)
    pred_pt, pred_st = Predictor(ck, device="cpu"), Predictor(out, device="cpu")
    assert pred_pt.resize == pred_st.resize == 80  # faces at 80 px, centre 64 px crop, as in training
    p_pt = pred_pt.predict(list(faces), detect=False)
    p_st = pred_st.predict(list(faces), detect=False)
    np.testing.assert_allclose(p_st[DISFA].to_numpy(float), p_pt[DISFA].to_numpy(float), atol=0)
    # a stage-1 safetensors initialises stage 2, and its backbone a create_backbone
    s2 = create_model("me_graphau", 8, backbone="resnet_tiny", img_size=64, neighbor_num=3)
    copied = s2.init_from_stage1(out)
    assert any(k.startswith("head.afg.") for k in copied)
    assert torch.equal(s2.state_dict()["head.afg.weight"], model.state_dict()["head.afg.weight"])
    bb = {k[len("backbone.model."):]: v for k, v in model.state_dict().items() if k.startswith("backbone.model.")}
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in bb.items()}, str(tmp_path / "backbone.safetensors"))
    net = create_backbone("resnet_tiny", weights=tmp_path / "backbone.safetensors", img_size=64)
    for k, v in bb.items():
        assert torch.equal(net.model.state_dict()[k], v), k


def test_export_input_errors(tmp_path, capsys):
    ck = tmp_path / "best.pt"
    _afg_checkpoint(ck)
    assert "must end in .safetensors" in _one_line(capsys, ["export", str(ck), str(tmp_path / "m.pt")])
    assert "checkpoint not found" in _one_line(capsys, ["export", str(tmp_path / "no.pt"),
                                                        str(tmp_path / "m.safetensors")])
    cut = tmp_path / "cut.safetensors"
    export_safetensors(ck, cut)
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) - 100])
    assert f"truncated or corrupt ({len(data) - 100} bytes" in _one_line(
        capsys, ["export", str(cut), str(tmp_path / "again.safetensors")])
    with pytest.raises(CheckpointError, match=f"truncated or corrupt \\({len(data) - 100} bytes"):
        load_checkpoint(cut)
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "meta.safetensors"),
              metadata={"format": FORMAT, "model_config": "{not json"})
    with pytest.raises(CheckpointError, match="safetensors metadata 'model_config' is not JSON"):
        load_checkpoint(tmp_path / "meta.safetensors")
