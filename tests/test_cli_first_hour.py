"""What a newcomer meets first on the command line, each as one clear line (#44): `afg predict` on
a folder without images or with its arguments swapped, `--help` of the commands that take no
config, a YAML syntax error, and what the `--plot` overlay says about the model behind it."""
from __future__ import annotations

import numpy as np
import pytest
import yaml
from PIL import Image
from test_cli import one_line_error, trained  # noqa: F401 - `trained` is a fixture

import afg.viz.au
from afg.cli import build_parser, main
from afg.config import ConfigError
from afg.experiments import load_experiment


def _help(command: str) -> str:
    parser = build_parser()
    (action,) = [a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict)]
    return action.choices[command].format_help()


def test_predict_on_a_folder_without_images_is_one_line_and_writes_nothing(trained, tmp_path, capsys):  # noqa: F811
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no faces here")
    for folder in ("empty", "notes"):
        csv = tmp_path / f"{folder}.csv"
        line = one_line_error(capsys, ["predict", str(trained["ckpt"]), str(tmp_path / folder), "-o", str(csv)],
                              "no image or video file in this folder")
        assert str(tmp_path / folder) in line and not csv.exists()


def test_swapped_arguments_get_a_hint(trained, tmp_path, capsys):  # noqa: F811
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "face.png")
    ck, face = str(trained["ckpt"]), str(tmp_path / "face.png")
    line = one_line_error(capsys, ["predict", face, ck], "not a PyTorch checkpoint")
    assert "did you swap CHECKPOINT and INPUTS?" in line and face in line
    # a run folder given as the input
    line = one_line_error(capsys, ["predict", str(tmp_path), str(trained["run"])], "did you swap")
    # the hint only where a swap is likely
    (tmp_path / "notes.txt").write_text("x")
    line = one_line_error(capsys, ["predict", ck, str(tmp_path / "notes.txt")], "not an image or video file")
    assert "did you swap" not in line


def test_commands_without_a_config_do_not_mention_its_device():
    for command in ("prepare", "predict"):
        text = " ".join(_help(command).split())
        assert "recipe.device" not in text and "default: auto: CUDA, else MPS, else the CPU" in text, command
    assert "the config's recipe.device" in " ".join(_help("train").split())


def test_a_yaml_syntax_error_names_the_file_line_and_column(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  name: baseline\n  opts: [1, 2\nrecipe: {}\n")
    line = one_line_error(capsys, ["train", str(bad)], "not valid YAML")
    assert line.startswith(f"afg: error: {bad}, line 4, column 7: not valid YAML: expected ',' or ']'")
    assert "<unicode string>" not in line and line.count(str(bad)) == 1
    assert "flow sequence started at line 3, column 9" in line
    with pytest.raises(ConfigError, match=rf"^{bad}, line 4, column 7: "):
        load_experiment(bad)
    abl = tmp_path / "abl.yaml"
    abl.write_text("base: x.yaml\nvariants:\n\ta: {}\n")
    line = one_line_error(capsys, ["ablate", str(abl)], f"{abl}, line 3, column 1: not valid YAML")


def test_plot_overlay_names_the_checkpoint_shows_the_crop_and_the_synthetic_caveat(trained, tmp_path, capsys,  # noqa: F811
                                                                                   monkeypatch):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)).save(tmp_path / "face.png")
    drawn = []
    real = afg.viz.au.plot_au_overlay

    def spy(*args, **kwargs):
        fig = real(*args, **kwargs)
        drawn.append((kwargs, fig.footer))
        return fig

    monkeypatch.setattr(afg.viz.au, "plot_au_overlay", spy)
    assert main(["predict", str(trained["ckpt"]), str(tmp_path / "face.png"), "--no-detect", "--device", "cpu",
                 "--plot", str(tmp_path / "figs"), "-o", str(tmp_path / "p.csv"), "--no-progress"]) == 0
    assert (tmp_path / "figs" / "face_au_overlay.png").is_file()
    ((kwargs, footer),) = drawn
    assert footer == [f"model: {trained['run'].name}/best.pt", afg.viz.au.SYNTHETIC_CAVEAT]
    img_size = yaml.safe_load(trained["config"].read_text())["model"]["img_size"]
    assert kwargs["crop"].shape == (img_size, img_size, 3) and kwargs["crop"].dtype == np.uint8
    # the crop is the photograph resized to what the model takes (--no-detect: the image is the face)
    want = np.asarray(Image.open(tmp_path / "face.png").resize((img_size, img_size), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(kwargs["crop"], want)


def test_no_caveat_for_a_model_of_unknown_training_data():
    fig = afg.viz.au.plot_au_overlay(np.zeros((40, 40, 3), np.uint8), {"AU01": 0.7, "AU12": 0.2},
                                     model="/home/u/runs/me_graphau-1a2b/best.pt")
    assert fig.footer == ["model: me_graphau-1a2b/best.pt"]
