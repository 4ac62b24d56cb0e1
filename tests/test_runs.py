"""afg.runs: the run folder's layout and records, the input spec in every checkpoint, and loading a
run folder and checkpoint written by the code before afg.runs existed (tests/fixtures/old_run)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from afg.export import export_safetensors
from afg.inference import CheckpointInfo, load_model_checkpoint
from afg.predict import Predictor
from afg.runs import (
    EVALUATION_RECORD,
    LEGACY_RECORD,
    TRAINING_RECORD,
    InputSpec,
    RunFolder,
    load_checkpoint,
)

OLD = Path(__file__).parent / "fixtures" / "old_run"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((OLD / "expected.json").read_text())


def _old_inputs() -> np.ndarray:
    """The fixed inputs of tests/fixtures/old_run/make_old_run.py."""
    return np.random.default_rng(0).integers(0, 256, size=(4, 48, 48, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------ layout
def _touch(p: Path, text: str = "") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_final_weights_are_the_last_stages_best_else_last(tmp_path):
    rf = RunFolder(tmp_path)
    assert rf.stages == [] and rf.final_stage == tmp_path and rf.find_weights() is None
    assert rf.final_weights == tmp_path / "last.pt"  # predicted before it exists
    _touch(tmp_path / "stage1-a" / "best.pt")
    _touch(tmp_path / "stage2-b" / "last.pt")
    _touch(tmp_path / "stage2-b.txt")  # a file, not a stage folder
    assert rf.stages == [tmp_path / "stage1-a", tmp_path / "stage2-b"]
    assert rf.final_weights == tmp_path / "stage2-b" / "last.pt"
    _touch(tmp_path / "stage2-b" / "best.pt")
    assert rf.final_weights == rf.find_weights() == tmp_path / "stage2-b" / "best.pt"
    assert rf.weights(tmp_path / "stage1-a") == tmp_path / "stage1-a" / "best.pt"
    assert rf.stage("b") == tmp_path / "stage2-b" and rf.stage("c") is None
    assert rf.resumable() == [tmp_path / "stage2-b" / "last.pt"]


def test_stage_dir_is_where_fit_writes(tmp_path):
    rf = RunFolder(tmp_path)
    assert rf.stage_dir(0, "x", multi=False) == tmp_path
    assert rf.stage_dir(1, "stage2", multi=True) == tmp_path / "stage2-stage2"
    assert rf.stage_dir(0, None, multi=True) == tmp_path / "stage1-main"


def test_records_have_their_own_names_and_old_result_json_is_read(tmp_path):
    rf = RunFolder(tmp_path)
    train = {"status": "complete", "metrics": {"f1_mean": 0.5}, "last_metrics": {}, "best_epoch": 2, "history": []}
    assert rf.training_record() is None and rf.evaluation_record() is None and not rf.is_complete()
    rf.write_training_record(train)
    assert (tmp_path / TRAINING_RECORD).is_file() and rf.training_record() == train
    assert rf.evaluation_record() is None and not rf.is_complete()  # training alone is not a finished run
    rf.write_evaluation_record({"status": "complete", "selection": "val", "metrics": {}})
    assert (tmp_path / EVALUATION_RECORD).is_file() and rf.is_complete()
    # an old folder: one result.json, the runner's (it names the selection) or the training loop's
    old = RunFolder(tmp_path / "old")
    _touch(old.path / LEGACY_RECORD, json.dumps(train))
    assert old.training_record() == train and old.evaluation_record() is None and not old.is_complete()
    _touch(old.path / LEGACY_RECORD, json.dumps({**train, "selection": "last"}))
    assert old.is_complete() and old.evaluation_record()["selection"] == "last"
    assert old.training_record()["best_epoch"] == 2  # the runner's record holds the training's keys


def test_incomplete_or_unreadable_training_record_resumes(tmp_path):
    rf = RunFolder(tmp_path)
    _touch(tmp_path / TRAINING_RECORD, json.dumps({"status": "complete", "metrics": {}}))
    assert rf.training_record() is None  # keys missing
    _touch(tmp_path / TRAINING_RECORD, "{not json")
    with pytest.warns(UserWarning, match="unreadable; the stage is resumed"):
        assert rf.training_record() is None


def test_of_checkpoint_finds_the_folder_holding_config_yaml(tmp_path):
    _touch(tmp_path / "run" / "config.yaml", "data: {dataset: synthetic, resize: 40}\n")
    ck = _touch(tmp_path / "run" / "stage2-b" / "best.pt")
    rf = RunFolder.of_checkpoint(ck)
    assert rf == RunFolder(tmp_path / "run") and rf.data_config() == {"dataset": "synthetic", "resize": 40}
    assert RunFolder.of_checkpoint(_touch(tmp_path / "lone" / "x.pt")) is None


# ------------------------------------------------------------------------------ input spec
def test_input_spec_round_trip_through_a_checkpoint_file(tmp_path):
    spec = InputSpec(img_size=32, mean=(0.5, 0.4, 0.3), std=(0.2, 0.2, 0.1), task="expression", resize=40,
                     label_names=("happy", "sad"), dataset="synthetic")
    torch.save({"model": {}, "input_spec": spec.to_dict()}, tmp_path / "a.pt")
    assert InputSpec.of_checkpoint(load_checkpoint(tmp_path / "a.pt")) == spec
    assert InputSpec.of_checkpoint({"model": {}}) is None
    assert InputSpec.from_dict({**spec.to_dict(), "a_newer_field": 1}) == spec


def test_a_run_writes_the_input_spec_into_every_checkpoint_and_predictor_uses_it(tmp_path):
    """The runner passes data.resize / data.dataset to fit, which writes the spec into each
    checkpoint; the Predictor takes resize from it even with no config.yaml beside the weights."""
    from afg.experiments import run

    cfg = {"model": {"name": "baseline", "num_classes": 8, "backbone": "test_efficientnet", "pretrained": False,
                     "img_size": 32},
           "data": {"dataset": "synthetic", "profile": "disfa", "n_subjects": 4, "images_per_subject": 4,
                    "size": 32, "resize": 40, "folds": 2, "fold": 1},
           "recipe": {"epochs": 1, "batch_size": 8, "max_steps_per_epoch": 1, "device": "cpu", "progress": False,
                      "num_workers": 0, "selection": "last"}}
    res = run(cfg, root=tmp_path)
    rf = RunFolder(res.run_dir)
    assert rf.stages == [] and rf.is_complete() and rf.training_record()["status"] == "complete"
    assert not (rf.path / LEGACY_RECORD).exists()
    for f in (rf.best(rf.path), rf.last(rf.path)):
        spec = InputSpec.of_checkpoint(load_checkpoint(f))
        assert spec.img_size == 32 and spec.resize == 40 and spec.dataset == "synthetic" and spec.task == "au"
        assert spec.label_names is not None and len(spec.label_names) == 8 and spec.mean == (0.485, 0.456, 0.406)
    rf.config_file.unlink()
    p = Predictor(rf.path, device="cpu", detect=False)
    assert (p.resize, p.img_size, p.trained_on) == (40, 32, "synthetic")
    assert p.info.input_spec == InputSpec.of_checkpoint(load_checkpoint(rf.final_weights))
    assert run(cfg, root=tmp_path).cached  # the evaluation record marks the run complete
    out = export_safetensors(rf.path, tmp_path / "model.safetensors")  # the spec travels with the export
    _, info = load_model_checkpoint(out)
    assert info.input_spec == p.info.input_spec and info.resize == 40


# ------------------------------------------------------------------------------ old folders
def test_old_run_folder_layout_is_read(expected):
    rf = RunFolder(OLD / "run")
    assert [d.name for d in rf.stages] == ["stage1-stage1", "stage2-stage2"]
    assert rf.final_weights == OLD / "run" / expected["checkpoint"]
    assert rf.is_complete() and rf.evaluation_record()["metrics"]["f1_mean"] == expected["metrics"]["f1_mean"]
    assert rf.training_record(rf.stage("stage1"))["status"] == "complete"
    assert rf.data_config()["resize"] == expected["resize"]
    assert InputSpec.of_checkpoint(load_checkpoint(rf.final_weights)) is None  # written before the spec


def test_old_checkpoint_gives_todays_predictions(expected):
    """The checkpoint without an input spec: CheckpointInfo and Predictor take ``data.resize`` from
    the config.yaml beside it and give the predictions the old code gave."""
    _, info = load_model_checkpoint(OLD / "run")
    assert isinstance(info, CheckpointInfo)
    for k in ("kind", "task", "label_names", "stage", "resize", "model_config"):
        assert info[k] == expected["info"][k], k
    assert info.input_spec.resize == 40 and info.input_spec.dataset == expected["trained_on"]
    p = Predictor(OLD / "run", device="cpu", detect=False)
    assert (p.resize, p.img_size, p.task, p.trained_on) == (expected["resize"], expected["img_size"],
                                                           expected["task"], expected["trained_on"])
    df = p.predict(list(_old_inputs()))
    assert p.label_names == expected["columns"]
    np.testing.assert_allclose(df[p.label_names].to_numpy(float), expected["probabilities"], rtol=0, atol=1e-6)


def test_old_checkpoint_moved_away_from_its_folder_loses_only_the_resize(tmp_path, expected):
    """Without config.yaml beside it an old checkpoint cannot know its resize (so the new field)."""
    shutil.copy(OLD / "run" / expected["checkpoint"], tmp_path / "best.pt")
    p = Predictor(tmp_path / "best.pt", device="cpu", detect=False)
    assert p.resize is None and p.img_size == expected["img_size"] and p.trained_on is None


def test_afg_eval_on_the_old_run_folder_gives_the_old_metrics(tmp_path, expected):
    from afg.cli import main

    out = tmp_path / "eval.json"
    assert main(["eval", str(OLD / "run"), "--device", "cpu", "--no-progress", "--json", str(out)]) == 0
    got = json.loads(out.read_text())["metrics"]
    for k, v in expected["eval_metrics"].items():
        assert got[k] == pytest.approx(v, nan_ok=True, abs=1e-9), k
