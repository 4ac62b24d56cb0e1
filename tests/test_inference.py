"""afg.inference: the typed record of what a checkpoint holds (afg, .safetensors, module)."""
from __future__ import annotations

import pytest
import torch
import yaml
from torch import nn

from afg.export import export_safetensors
from afg.inference import CheckpointInfo, load_model_checkpoint
from afg.models import create_model
from afg.runs import CheckpointError
from afg.train import save_checkpoint


def _model() -> nn.Module:
    torch.manual_seed(0)
    return create_model("me_graphau_stage1", 3, backbone="resnet_tiny", img_size=32, neighbor_num=2)


def test_columns_by_task_and_descriptions():
    cfg = {"name": "x", "num_classes": 2}
    assert CheckpointInfo("module", None, "au", None, cfg).columns == ["AU00", "AU01"]
    assert CheckpointInfo("module", None, "expression", None, cfg).columns == ["class0", "class1"]
    assert CheckpointInfo("module", None, "multilabel", None, cfg).columns == ["label0", "label1"]
    sub = CheckpointInfo("module", None, "au", None, {**cfg, "sub_nodes": [[0, "L"]]})  # + one sub-AU
    assert sub.columns == ["AU00", "AU01", "AU02"]
    info = CheckpointInfo("afg", "x.pt", "au", ["AU01", "AU12", "AUL1", "happy"], cfg,
                          label_descriptions={"AUL1": "left one"})
    assert info.column_descriptions() == {"AU01": "Inner brow raiser", "AU12": "Lip corner puller",
                                          "AUL1": "left one", "happy": "happy"}


def test_from_module_reads_attributes_and_fields_win():
    model = nn.Linear(2, 2)
    model.model_config, model.label_names = {"name": "lin", "num_classes": 2}, ("a", "b")
    model.eval_resize, model.label_descriptions = 40, {"a": "A"}
    info = CheckpointInfo.from_module(model)
    assert (info.kind, info.path, info.task, info.stage, info.source) == ("module", None, "au", None, None)
    assert info.label_names == ["a", "b"] and info.resize == 40 and info.label_descriptions == {"a": "A"}
    assert info.model_config == {"name": "lin", "num_classes": 2}
    over = CheckpointInfo.from_module(model, kind="afg", path="m.pt", task="multilabel", stage=2, resize=None)
    assert (over.kind, over.path, over.task, over.stage, over.resize) == ("afg", "m.pt", "multilabel", 2, 40)
    # the dict it replaces keeps answering for one release
    assert info["task"] == "au" and info.get("resize") == 40 and info.get("stage", 1) == 1
    with pytest.raises(KeyError):
        info["nope"]


def test_afg_checkpoint_run_resize_and_safetensors_carry_the_same_record(tmp_path):
    model = _model()
    run = tmp_path / "run"
    (run / "stage1-stage1").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"data": {"resize": 40}}))
    ck = run / "stage1-stage1" / "best.pt"
    save_checkpoint(ck, {"model": model.state_dict(), "model_config": model.model_config, "task": "au",
                         "stage": 1, "metrics": {"f1/AU01": 0.5, "f1/AU02": 0.1, "f1/AU04": 0.2}})
    back, info = load_model_checkpoint(run)  # the run folder → its last stage's best.pt
    assert not back.training and info.kind == "afg" and info.path == str(ck)
    assert info.label_names == ["AU01", "AU02", "AU04"]  # from the per-AU F1 metrics (no label_names)
    assert (info.task, info.stage, info.resize, info.source) == ("au", 1, 40, None)  # resize: config.yaml
    out = export_safetensors(ck, tmp_path / "hub" / "m.safetensors")
    back2, info2 = load_model_checkpoint(out)  # far from the config.yaml: the export carries resize
    assert info2 == CheckpointInfo(**{**info.as_dict(), "path": str(out)})
    for k, v in back.state_dict().items():
        assert torch.equal(back2.state_dict()[k], v), k


def test_neither_format_is_one_line(tmp_path):
    torch.save({"weight": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"other\.pt: neither an afg checkpoint .*\(MEFARG\) state dict$"):
        load_model_checkpoint(tmp_path / "other.pt")
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match=r"list\.pt: expected a dict checkpoint, got list"):
        load_model_checkpoint(tmp_path / "list.pt")
