"""The first hour of a new user: each command-line mistake gives exit code 2, one stderr line and
no run folder; overrides that stages would shadow reach them and say so; a DISFA release without
its frames names the extraction step; warnings a user cannot act on stay off the console;
notebooks name the "Python (afg)" kernel; `make lab` works as root; widgets for progress bars."""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
import torch
import yaml

import afg.cli.demo
from afg.cli import build_parser, load_ablation, load_config, main

REPO = Path(__file__).resolve().parents[1]
SYNTH_ME = REPO / "configs" / "me_graphau_synthetic.yaml"


def tiny(**model) -> dict:
    return {
        "model": {"name": "baseline", "backbone": "resnet_tiny", "img_size": 64, **model},
        "data": {"dataset": "synthetic", "profile": "disfa", "n_subjects": 3, "images_per_subject": 2,
                 "size": 64, "folds": 3, "fold": 1},
        "recipe": {"epochs": 1, "batch_size": 2, "max_steps_per_epoch": 1, "device": "cpu"},
    }


def run_cli(capsys, argv: list[str]) -> tuple[int, str, list[str]]:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    cap = capsys.readouterr()
    return rc, cap.out, cap.err.strip().splitlines()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("AFG_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "junk.pt").write_bytes(b"\x00 not weights")
    torch.save({"w": torch.arange(100.0)}, tmp_path / "w.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "w.pt").read_bytes()[:300])
    files = {
        "empty": "",
        "nomodel": yaml.safe_dump({k: v for k, v in tiny().items() if k != "model"}),
        "noname": yaml.safe_dump({**tiny(), "model": {"backbone": "resnet18"}}),
        "ok": yaml.safe_dump(tiny()),
        "badmodel": yaml.safe_dump({**tiny(), "model": {"name": "me_grapau"}}),
        "badbackbone": yaml.safe_dump(tiny(backbone="resnet5O")),
        "weights_missing": yaml.safe_dump(tiny(weights="nope.pth")),
        "weights_junk": yaml.safe_dump(tiny(weights=str(tmp_path / "junk.pt"))),
        "init_cut": yaml.safe_dump({**tiny(), "recipe": {**tiny()["recipe"], "stages": [
            {"name": "s1", "init_from": str(tmp_path / "cut.pt")}]}}),
        "init_missing": yaml.safe_dump({**tiny(), "recipe": {**tiny()["recipe"], "stages": [
            {"name": "s1", "init_from": "gone/best.pt"}]}}),
    }
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return tmp_path


@pytest.mark.parametrize("argv, pattern", [
    (["train", "empty.yaml"], r"^afg: error: empty\.yaml: model\.name is required \(one of .*baseline"),
    (["train", "nomodel.yaml"], r"^afg: error: nomodel\.yaml: model\.name is required"),
    (["cv", "noname.yaml"], r"^afg: error: noname\.yaml: model\.name is required"),
    (["train", "badmodel.yaml"], r"unknown model 'me_grapau'; closest: me_graphau\b"),
    (["train", "badbackbone.yaml"], r"model\.backbone: unknown backbone 'resnet5O' .*closest: resnet50\b"),
    (["train", "ok.yaml", "--set", "model.backbone=resnet_tny"], r"closest: resnet_tiny\b"),
    (["train", "--set", "recipe.epochs=1", "ok.yaml"],
     (r"--set took 'ok\.yaml' as one of its KEY=VALUE items .*CONFIG\.yaml is missing: put ok\.yaml "
      r"before --set, or end the --set list with --")),
    (["cv", "--set", "recipe.epochs=1", "ok.yaml"], r"--set took 'ok\.yaml'"),
    (["cv", "--metrics", "f1_mean", "ok.yaml"], r"--metrics took 'ok\.yaml' as one of its metric names"),
    (["eval", "--set", "data.fold=2", "w.pt"], r"--set took 'w\.pt' .*CHECKPOINT is missing"),
    (["train", "weights_missing.yaml"], r"model\.weights: file not found: nope\.pth"),
    (["train", "weights_junk.yaml"], r"model\.weights: .*junk\.pt: not a PyTorch checkpoint"),
    (["train", "init_cut.yaml"], r"recipe\.stages\[0\]\.init_from: .*cut\.pt: truncated or corrupt \(300 bytes\)"),
    (["train", "init_missing.yaml"], r"recipe\.stages\[0\]\.init_from: checkpoint not found: gone/best\.pt"),
])
def test_each_mistake_is_one_line_exit_2_and_no_run_folder(env, capsys, argv, pattern):
    rc, _, err = run_cli(capsys, argv)
    assert rc == 2 and len(err) == 1 and err[0].startswith("afg: error: "), (rc, err)
    assert re.search(pattern, err[0]), err[0]
    assert not (env / "runs").exists()


def test_ablation_base_without_model_name_is_refused(env, capsys):
    (env / "abl.yaml").write_text(yaml.safe_dump({"base": "nomodel.yaml", "variants": {"a": {}}}))
    (env / "abl2.yaml").write_text(yaml.safe_dump({"base": {"data": {"dataset": "synthetic"}},
                                                   "variants": {"a": {}}}))
    for name, match in (("abl.yaml", "nomodel.yaml: model.name is required"),
                        ("abl2.yaml", "abl2.yaml: base.model.name is required")):
        rc, _, err = run_cli(capsys, ["ablate", name])
        assert rc == 2 and len(err) == 1 and match in err[0], err
    assert not (env / "runs").exists()


def test_set_list_ended_with_double_dash_keeps_the_config(env, capsys):
    args = build_parser().parse_args(["train", "--set", "recipe.epochs=2", "--", "ok.yaml"])
    assert args.config == "ok.yaml" and args.set == ["recipe.epochs=2"]


# ------------------------------------------------------------------------------ stage overrides
def _two_stage(tmp_path: Path) -> Path:
    cfg = tiny()
    cfg["model"] = {"name": "me_graphau_stage1", "backbone": "resnet_tiny", "img_size": 64, "neighbor_num": 3}
    cfg["recipe"]["stages"] = [{"name": "stage1", "init_from": None, "epochs": 2},
                               {"name": "stage2", "model": {"name": "me_graphau", "neighbor_num": 3}, "epochs": 3,
                                "optimizer": {"lr": 1.0e-6}}]
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "two.yaml"


def test_recipe_override_reaches_every_stage_that_sets_the_field(tmp_path, capsys):
    path = str(_two_stage(tmp_path))
    assert [r.epochs for r in load_config(path).recipe.resolved_stages()] == [2, 3]
    capsys.readouterr()
    cfg = load_config(path, ["recipe.epochs=1", "recipe.optimizer.lr=0.5", "recipe.batch_size=4"])
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "afg: recipe.epochs=1 also applied to stages stage1, stage2 (they set their own epochs)",
        "afg: recipe.optimizer.lr=0.5 also applied to stage stage2 (they set their own optimizer)",
    ]
    flat = cfg.recipe.resolved_stages()
    assert [r.epochs for r in flat] == [1, 1]
    assert [r.optimizer.lr for r in flat] == [0.5, 0.5]  # stage 1 inherits, stage 2 was set
    assert [r.batch_size for r in flat] == [4, 4]  # no stage sets it: plain inheritance, no note
    # a model option that a stage's model: sets; the stage's model switch itself is left alone
    cfg = load_config(path, ["model.neighbor_num=2", "model.name=me_graphau_stage1"])
    assert capsys.readouterr().out.splitlines() == [
        "afg: model.neighbor_num=2 also applied to stage stage2 (they set their own model.neighbor_num)"]
    assert cfg.model["neighbor_num"] == 2
    assert cfg.recipe.stages[1].model == {"name": "me_graphau", "neighbor_num": 2}


def test_the_train_help_example_does_what_it_says(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = capsys.readouterr().out
    example = re.search(r"Example: afg train (\S+) --fold 2 --set (\S+)", help_text)
    assert example and example.group(2) == "recipe.epochs=1"
    assert yaml.safe_load((REPO / example.group(1)).read_text())["recipe"]["stages"]  # stages set epochs
    cfg = load_config(str(REPO / example.group(1)), [example.group(2)], fold=2)
    assert {r.epochs for r in cfg.recipe.resolved_stages()} == {1} and cfg.data.fold == 2
    assert "also applied to stages" in capsys.readouterr().out


def test_ablation_set_reaches_the_stages(tmp_path, capsys):
    spec = {"base": str(SYNTH_ME), "set": {"recipe.epochs": 1}, "variants": {"a": {}, "b": {"model.lam": 0.0}}}
    (tmp_path / "abl.yaml").write_text(yaml.safe_dump(spec))
    abl, _ = load_ablation(tmp_path / "abl.yaml", runs=str(tmp_path / "runs"))
    assert [r.epochs for r in abl.base.recipe.resolved_stages()] == [1, 1]
    assert "also applied to stages stage1, stage2" in capsys.readouterr().out


# ------------------------------------------------------------------------------ releases
def _disfa_labels_only(root: Path) -> None:
    for subj in ("SN002", "SN003"):
        lab = root / "ActionUnit_Labels" / subj
        lab.mkdir(parents=True)
        for a in (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26):
            (lab / f"{subj}_au{a}.txt").write_text("".join(f"{t + 1},{t % 4}\n" for t in range(4)))
    (root / "Videos_LeftCamera").mkdir()


def test_disfa_without_frames_names_the_folder_and_the_extraction_step(tmp_path, capsys):
    from afg.data.datasets import DISFA, MissingImagesError

    root = tmp_path / "DISFA"
    _disfa_labels_only(root)
    with pytest.raises(MissingImagesError) as exc:
        DISFA(root)
    msg = str(exc.value)
    assert f"none of the 8 labelled images exists under {root / 'frames'}" in msg
    assert "extract_frames()" in msg and "Videos_LeftCamera" in msg
    assert len(DISFA(root, check_images=False)) == 8  # the way to reach extract_frames
    out = tmp_path / "prepared"
    rc, _, err = run_cli(capsys, ["prepare", "disfa", "--root", str(root), "--out", str(out), "--device", "cpu"])
    assert rc == 2 and len(err) == 1 and "extract_frames" in err[0] and str(root / "frames") in err[0]
    assert not out.exists()


# ------------------------------------------------------------------------------ console
def test_warnings_a_user_cannot_act_on_stay_off_the_console(monkeypatch, capsys):
    def noisy(args):
        warnings.warn("torch.foo is deprecated", FutureWarning, stacklevel=2)
        warnings.warn("old API", DeprecationWarning, stacklevel=2)
        from sklearn.exceptions import UndefinedMetricWarning

        warnings.warn("Precision is ill-defined and being set to 0.0 in labels with no predicted "
                      "samples.", UndefinedMetricWarning, stacklevel=2)
        warnings.warn("stage 'stage2': initialised from previous stage; 46 fresh tensors, 0 skipped for shape", stacklevel=2)
        warnings.warn("disfa: 3 of 10 labelled images are missing under /data/DISFA\n(see .missing)", stacklevel=2)
        return 0

    monkeypatch.setattr(afg.cli.demo, "cmd_demo", noisy)
    rc, _, err = run_cli(capsys, ["demo"])
    assert rc == 0
    assert err == ["afg: warning: disfa: 3 of 10 labelled images are missing under /data/DISFA (see .missing)"]


def test_a_loader_error_in_the_middle_of_a_run_is_one_line(monkeypatch, capsys):
    from afg.data.datasets import MissingImagesError
    from afg.predict import CheckpointError

    for exc in (CheckpointError("runs/x/stage1-a/last.pt: truncated or corrupt (12 bytes)"),
                MissingImagesError("disfa: none of the 8 labelled images exists under /d/frames")):
        def boom(args, exc=exc):
            raise exc

        monkeypatch.setattr(afg.cli.demo, "cmd_demo", boom)
        rc, _, err = run_cli(capsys, ["demo"])
        assert rc == 2 and err == [f"afg: error: {exc}"]


def test_two_stage_training_shows_progress_and_no_warning(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AFG_RUNS_DIR", str(tmp_path / "runs"))
    rc, out, err = run_cli(capsys, ["train", str(_two_stage(tmp_path)), "--set", "recipe.epochs=1"])
    assert rc == 0 and "trained in" in out
    text = "\n".join(err)
    assert "stage1 epoch 1/1" in text and "stage2 epoch 1/1" in text  # tqdm bars by default
    assert "Warning" not in text and "warning" not in text and "initialised from previous" not in text


# ------------------------------------------------------------------------------ notebooks & tools
def test_notebooks_name_the_afg_kernel():
    books = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert books
    for nb in books:
        spec = json.loads(nb.read_text())["metadata"]["kernelspec"]
        assert (spec["name"], spec["display_name"]) == ("afg", "Python (afg)"), nb.name
        pair = nb.parent / "py" / f"{nb.stem}.py"
        header = pair.read_text().split("# ---", 2)[1]
        meta = yaml.safe_load("\n".join(line[2:] for line in header.splitlines() if line.startswith("# ")))
        assert meta["jupyter"]["kernelspec"]["name"] == "afg", pair.name
        assert meta["jupyter"]["kernelspec"]["display_name"] == "Python (afg)", pair.name


def test_make_lab_allows_root_and_registers_no_kernel_user_wide():
    make = (REPO / "Makefile").read_text()
    lab = make.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert '--allow-root' in lab and 'id -u' in lab
    assert "ipykernel install" not in make  # the package ships the kernel (test_notebooks_open_clean.py)


def test_progress_widgets_and_synthetic_configs_show_progress():
    import tomllib

    dev = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert any(re.match(r"ipywidgets\b", d) for d in dev)
    import ipywidgets  # noqa: F401 - installed with the notebook extras

    synthetic = sorted((REPO / "configs").glob("*_synthetic.yaml"))
    assert len(synthetic) >= 5
    for f in synthetic:
        assert yaml.safe_load(f.read_text())["recipe"].get("progress", True) is True, f.name
