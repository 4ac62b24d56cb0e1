"""The `afg` command line: smoke tests of every command on tiny synthetic data (seconds each), the
one-line `afg: error: ...` + exit code 2 for bad inputs, and --help documenting every option."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from afg.cli import build_parser, load_ablation, main

REPO = Path(__file__).resolve().parents[1]


def tiny_config(**data) -> dict:
    """Baseline ResNet-18 at 64 px on 3 synthetic identities x 2 images: one step per epoch."""
    return {
        "model": {"name": "baseline", "backbone": "resnet18", "pretrained": False, "img_size": 64},
        "data": {"dataset": "synthetic", "profile": "disfa", "n_subjects": 3, "images_per_subject": 2,
                 "size": 64, "folds": 3, "fold": 1, **data},
        "recipe": {"epochs": 1, "batch_size": 2, "max_steps_per_epoch": 1, "device": "cpu",
                   "progress": False},
    }


@pytest.fixture
def cfg_file(tmp_path, monkeypatch):
    monkeypatch.setenv("AFG_RUNS_DIR", str(tmp_path / "runs"))
    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(tiny_config()))
    return p


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny finished run (its folder, config and checkpoint), shared by the eval/predict tests."""
    root = tmp_path_factory.mktemp("cli_runs")
    cfg = root / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config()))
    assert main(["train", str(cfg), "--runs", str(root / "runs"), "--no-progress"]) == 0
    (run_dir,) = (root / "runs").glob("baseline-*")
    return {"config": cfg, "run": run_dir, "ckpt": run_dir / "best.pt", "root": root}


def one_line_error(capsys, argv: list[str], match: str) -> str:
    """Run ``afg argv``: exit code 2 and exactly one stderr line ``afg: error: ...``."""
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, (rc, err)
    assert len(err) == 1 and err[0].startswith("afg: error: "), err
    assert match in err[0], err[0]
    return err[0]


# ------------------------------------------------------------------------------ help
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_help_documents_every_option(capsys):
    parser = build_parser()
    subs = _subparsers(parser)
    assert set(subs) == {"train", "cv", "ablate", "eval", "check", "prepare", "predict", "export", "demo"}
    for name, sub in subs.items():
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        text = capsys.readouterr().out
        for action in sub._actions:
            assert action.help, f"{name}: {action.dest} has no help text"
            for opt in action.option_strings:
                assert opt in text, f"{name} --help lacks {opt}"
            if not action.option_strings:
                assert (action.metavar or action.dest) in text


@pytest.mark.slow  # two cold interpreter starts
def test_python_dash_m_afg_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "afg", "--version"], check=False, capture_output=True,
                         text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("afg ")
    bad = subprocess.run([sys.executable, "-m", "afg", "train", "missing.yaml"], check=False,
                         capture_output=True,
                         text=True, cwd=REPO, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["afg: error: config file not found: missing.yaml"]


# ------------------------------------------------------------------------------ train / cv / ablate
def test_train_runs_once_then_hits_the_cache(cfg_file, capsys, tmp_path):
    assert main(["train", str(cfg_file), "--fold", "2", "--set", "recipe.seed=1"]) == 0
    out = capsys.readouterr().out
    assert "fold 2/3" in out and "trained in" in out and "f1_mean=" in out and "checkpoint:" in out
    assert " s (float32): " in out  # what the forward passes ran in
    (run,) = (tmp_path / "runs").glob("baseline-*")
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["fold"] == 2 and saved["recipe"]["seed"] == 1
    assert main(["train", str(cfg_file), "--fold", "2", "--set", "recipe.seed=1"]) == 0
    assert "cached in" in capsys.readouterr().out
    assert len(list((tmp_path / "runs").glob("baseline-*"))) == 1


@pytest.mark.parametrize("argv, match", [
    (["train", "nope.yaml"], "config file not found: nope.yaml"),
    (["train", "{cfg}", "--set", "recipe.epochz=2"], "unknown config key 'recipe.epochz'"),
    (["train", "{cfg}", "--set", "data.profil=bp4d"], "unknown config key 'data.profil'"),
    (["train", "{cfg}", "--set", "model.neighbours=3"], "model 'baseline' has no option 'neighbours'"),
    (["train", "{cfg}", "--set", "model.name=me_graphau_v3"], "unknown model 'me_graphau_v3'"),
    (["train", "{cfg}", "--set", "data.profile=ck+"], "unknown synthetic profile 'ck+'"),
    (["train", "{cfg}", "--set", "recipe.epochs"], "not of the form key=value"),
    (["train", "{cfg}", "--fold", "4"], "data.fold: 4 is not in 1..3"),
    (["train", "{cfg}", "--fold", "x"], "invalid int value"),
    (["train", "{cfg}", "--device", "cuda:7"], "--device"),
    (["train", "{cfg}", "--set", "data.dataset=bp4d", "data.root=/no/such/dir"], "release folder not found"),
    (["train", "{cfg}", "--set", "data.dataset=ckplus"], "unknown dataset 'ckplus'"),
    (["train"], "required: CONFIG.yaml"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["cv", "{cfg}", "--set", "data.folds=0"], "cross-validation needs data.folds >= 2"),
])
def test_train_and_cv_input_errors(cfg_file, capsys, argv, match):
    import torch

    if "cuda:7" in argv and torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    argv = [a.replace("{cfg}", str(cfg_file)) for a in argv]
    one_line_error(capsys, argv, match)


def test_config_that_is_a_folder_or_bad_yaml(tmp_path, capsys):
    one_line_error(capsys, ["train", str(tmp_path)], "is a folder")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    one_line_error(capsys, ["train", str(bad)], "bad.yaml")


def test_cv_runs_every_fold(cfg_file, capsys, tmp_path):
    assert main(["cv", str(cfg_file), "--folds", "2", "--format", "markdown",
                 "-o", str(tmp_path / "cv.md")]) == 0
    out = capsys.readouterr().out
    assert "2 folds" in out and "f1_mean" in out and "±" in out
    assert len(list((tmp_path / "runs").glob("baseline-*"))) == 2
    assert (tmp_path / "cv.md").read_text().startswith("| variant |")


def _ablation_file(tmp_path: Path, **extra) -> Path:
    (tmp_path / "cfg").mkdir(exist_ok=True)
    (tmp_path / "cfg" / "tiny.yaml").write_text(yaml.safe_dump(tiny_config()))
    spec = {"base": "tiny.yaml", "set": {"recipe.seed": 3}, "folds": [1],
            "metrics": ["f1_mean", "auc_mean"],
            "variants": {"plain": {}, "dropout": {"model.dropout": 0.5}}, **extra}
    p = tmp_path / "cfg" / "abl.yaml"
    p.write_text(yaml.safe_dump(spec, sort_keys=False))
    return p


def test_ablate_runs_through_the_cache_and_prints_the_table(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AFG_RUNS_DIR", str(tmp_path / "runs"))
    p = _ablation_file(tmp_path)
    assert main(["ablate", str(p), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 variants x 1 folds = 2 runs" in out and out.count("to run") == 2
    assert main(["ablate", str(p)]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.startswith(("plain", "dropout"))]
    assert len(lines) == 2 and "f1_mean" in out and "auc_mean" in out
    assert main(["ablate", str(p), "--dry-run"]) == 0
    assert capsys.readouterr().out.count("cached") == 2
    seeds = {yaml.safe_load((d / "config.yaml").read_text())["recipe"]["seed"]
             for d in (tmp_path / "runs").glob("baseline-*")}
    assert seeds == {3}


@pytest.mark.parametrize("extra, match", [
    ({"varients": {}}, "unknown key 'varients'"),
    ({"variants": {"bad": {"model.dropuot": 0.1}}}, "variant 'bad': model.dropuot: model 'baseline' has no option 'dropuot'"),
    ({"variants": {"bad": {"recipe.lrr": 0.1}}}, "variant 'bad': unknown config key 'recipe.lrr'"),
    ({"variants": {}}, "'variants' must be a non-empty mapping"),
    ({"base": "missing.yaml"}, "base config not found: missing.yaml"),
    ({"folds": "three"}, "'folds' must be an integer"),
    ({"folds": [1, 5]}, "data.fold: 5 is not in 1..3"),
    ({"reference": "me_graphau/table9"}, "reference: me_graphau has no table 'table9'"),
])
def test_ablate_input_errors(tmp_path, capsys, extra, match):
    p = _ablation_file(tmp_path, **extra)
    one_line_error(capsys, ["ablate", str(p)], match)


def test_example_ablation_files_validate():
    files = sorted((REPO / "configs" / "ablations").glob("*.yaml"))
    assert files, "configs/ablations/ holds no example"
    for f in files:
        abl, _ = load_ablation(f)
        assert len(list(abl.configs())) >= 2


# ------------------------------------------------------------------------------ eval
def test_eval_default_data_is_the_runs_config(trained, capsys, tmp_path, monkeypatch):
    import json

    import numpy as np
    import torch

    import afg.train
    from afg.data.build import build_data
    from afg.experiments.config import build_model, load_experiment
    from afg.experiments.runner import final_model_config
    from afg.runs import load_checkpoint

    seen = {}
    real_evaluate = afg.train.evaluate

    def spy(model, data, **kw):  # the CLI's evaluation, keeping its probabilities
        out = real_evaluate(model, data, **{**kw, "return_predictions": True})
        seen.update(model=model, preds=out.pop("_predictions"), labels=out.pop("_labels"))
        return out

    monkeypatch.setattr(afg.train, "evaluate", spy)
    assert main(["eval", str(trained["run"]), "--json", str(tmp_path / "m.json"), "--no-progress"]) == 0
    monkeypatch.undo()
    out = capsys.readouterr().out
    assert "baseline (afg checkpoint) on synthetic fold 1 val: 2 samples" in out and "f1_mean=" in out
    # same model, same held-out data: the CLI's probabilities are the run's best.pt on the held-out
    # faces of the run's config (F1 on two samples is 0 for almost any model, so it cannot tell)
    result = json.loads((trained["run"] / "evaluation.json").read_text())["metrics"]
    cfg = load_experiment(trained["run"] / "config.yaml")
    train, held_out = build_data(cfg.data)
    model = build_model(final_model_config(cfg), train)
    model.load_state_dict(load_checkpoint(trained["run"] / "best.pt")["model"])
    with torch.no_grad():
        ref = model.eval()(torch.stack([held_out[i]["image"] for i in range(len(held_out))]))["au"]
    np.testing.assert_allclose(seen["preds"]["au"], ref.numpy(), atol=1e-6)
    assert seen["preds"]["au"].std() > 1e-4  # not a constant output
    saved = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert saved["f1_mean"] == pytest.approx(result["f1_mean"])
    assert main(["eval", str(trained["ckpt"]), "--data", str(trained["config"]), "--split", "train",
                 "--no-progress"]) == 0
    assert "train: 4 samples" in capsys.readouterr().out


def test_eval_refuses_checkpoints_of_another_model_or_label_set(trained, capsys, tmp_path):
    other = tiny_config()
    other["model"] = {"name": "me_graphau_stage1", "backbone": "resnet18", "img_size": 64}
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    one_line_error(capsys, ["eval", str(trained["ckpt"]), "--data", str(tmp_path / "other.yaml")],
                   "holds model 'baseline' but")
    (tmp_path / "bp4d.yaml").write_text(yaml.safe_dump({"dataset": "synthetic", "profile": "bp4d",
                                                         "n_subjects": 3, "images_per_subject": 1}))
    one_line_error(capsys, ["eval", str(trained["ckpt"]), "--data", str(tmp_path / "bp4d.yaml")],
                   "predicts 8 labels (baseline) but the data has 12")
    one_line_error(capsys, ["eval", str(tmp_path / "none.pt")], "checkpoint not found")
    (tmp_path / "junk.pt").write_bytes(b"\x00junk")
    one_line_error(capsys, ["eval", str(tmp_path / "junk.pt"), "--data", str(trained["config"])],
                   "not a PyTorch checkpoint")
    one_line_error(capsys, ["eval", str(trained["ckpt"]), "--data", str(tmp_path / "nodata.yaml")],
                   "data config not found")


# ------------------------------------------------------------------------------ prepare
def test_prepare_a_folder_of_photos(tmp_path, capsys):
    skdata = pytest.importorskip("skimage.data")
    from PIL import Image

    raw = tmp_path / "raw" / "person1"
    raw.mkdir(parents=True)
    Image.fromarray(skdata.astronaut()).save(raw / "astronaut.jpg")
    Image.fromarray(skdata.chelsea()).save(raw / "cat.jpg")
    out = tmp_path / "prepared"
    assert main(["prepare", "folder", "--root", str(tmp_path / "raw"), "--out", str(out), "--size", "64",
                 "--device", "cpu", "--no-progress"]) == 0
    assert "written:" in capsys.readouterr().out
    manifest = pd.read_csv(out / "manifest.csv")
    assert sorted(zip(manifest["source"].map(lambda s: s.rsplit("/", 1)[-1]), manifest["status"])) == [
        ("astronaut.jpg", "ok"), ("cat.jpg", "no_face")]
    assert len(list((out / "faces").rglob("*.jpg"))) == 1


@pytest.mark.parametrize("argv, match", [
    (["prepare", "ckplus", "--root", "{tmp}", "--out", "{tmp}/o"], "unknown dataset 'ckplus'"),
    (["prepare", "disfa", "--root", "{tmp}/nope", "--out", "{tmp}/o"], "release folder not found"),
    (["prepare", "disfa", "--root", "{tmp}", "--out", "{tmp}/o"], "disfa: "),
    (["prepare", "folder", "--root", "{tmp}"], "required: --out"),
    (["prepare", "folder", "--root", "{tmp}", "--out", "{tmp}/o", "--option", "flag"], "key=value"),
])
def test_prepare_input_errors(tmp_path, capsys, argv, match):
    one_line_error(capsys, [a.replace("{tmp}", str(tmp_path)) for a in argv], match)


# ------------------------------------------------------------------------------ predict
def test_predict_writes_the_table(trained, tmp_path, capsys):
    skdata = pytest.importorskip("skimage.data")
    from PIL import Image

    Image.fromarray(skdata.astronaut()).save(tmp_path / "astronaut.png")
    Image.fromarray(skdata.chelsea()).save(tmp_path / "cat.png")
    csv = tmp_path / "out" / "pred.csv"
    assert main(["predict", str(trained["ckpt"]), str(tmp_path / "astronaut.png"), str(tmp_path / "cat.png"),
                 "-o", str(csv), "--device", "cpu", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "2 inputs, 1 faces, 1 without a face, 0 unreadable" in out
    df = pd.read_csv(csv)
    assert list(df["status"]) == ["ok", "no_face"]
    assert [c for c in df.columns if c.startswith("AU")] == [
        "AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26"]
    assert df.loc[0, ["AU01", "AU26"]].between(0, 1).all()
    # stdout CSV when -o is omitted
    assert main(["predict", str(trained["run"]), str(tmp_path / "cat.png"), "--no-detect", "--device", "cpu",
                 "--no-progress"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("input,frame,face,FaceRectX") and len(lines) == 2


def test_predict_input_errors(trained, tmp_path, capsys):
    (tmp_path / "img.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    ck = str(trained["ckpt"])
    one_line_error(capsys, ["predict", ck, str(tmp_path / "missing.jpg")], "input not found")
    one_line_error(capsys, ["predict", ck, str(tmp_path / "notes.txt")], "not an image or video file")
    one_line_error(capsys, ["predict", str(tmp_path / "notes.txt"), str(tmp_path / "img.png")],
                   "not a PyTorch checkpoint")
    import torch

    torch.save({"backbone.conv1.weight": torch.zeros(1)}, tmp_path / "resnet.pt")
    one_line_error(capsys, ["predict", str(tmp_path / "resnet.pt"), str(tmp_path / "img.png")],
                   "neither an afg checkpoint")
    one_line_error(capsys, ["predict", ck, str(tmp_path / "img.png"), "-o", str(tmp_path)], "is a folder")
    one_line_error(capsys, ["predict", ck, str(tmp_path / "img.png"), "--fps", "0"], "--fps 0")
    one_line_error(capsys, ["predict", ck], "required: INPUT")
