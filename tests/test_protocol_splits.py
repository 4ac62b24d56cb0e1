"""Evaluation protocols of the real-data configs: a dataset with an official split is scored on it
by default (train on the training set, score exactly the official validation / test faces);
k-fold CV on such data only when asked, and then it is warned and recorded as off-protocol.
Also: AffectNet's configs ask for the paper's 7 classes; Aff-Wild2's joint subset, partition
conflicts and task folders.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_datasets_expr import make_affectnet, make_affwild2, make_raf_basic, make_rafml

from afg.config import ConfigError
from afg.data.build import data_protocol, release_protocol
from afg.data.datasets import AffWild2, get_adapter
from afg.data.spec import DataSpec
from afg.experiments import ExperimentConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
OFFICIAL_SPLIT_CONFIGS = ["emotion_gcn_affectnet.yaml", "emotion_gcn_affectnet_bregnext.yaml",
                          "emotion_gcn_affwild2.yaml", "svml_rgcn_rafml.yaml", "svml_rgcn_rafcompound.yaml",
                          "resnet50_raf_basic.yaml"]


def quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


@pytest.mark.parametrize("name", OFFICIAL_SPLIT_CONFIGS)
def test_official_split_configs_do_not_default_to_cross_validation(name):
    cfg = ExperimentConfig.from_yaml(CONFIGS / name)
    assert cfg.data.folds in (None, 0), f"{name}: data.folds {cfg.data.folds} is k-fold CV"


def test_synthetic_configs_keep_their_three_folds():
    assert DataSpec().folds == 3 and DataSpec(dataset="synthetic").folds == 3
    assert DataSpec(dataset="affectnet").folds is None
    with pytest.raises(ConfigError, match=r"data\.folds: 1"):
        DataSpec(dataset="affectnet", folds=1)


def _listed(csv: Path) -> list[str]:
    """The image paths of an AffectNet list with a usable code (0-6 under 7 classes)."""
    out = []
    for line in csv.read_text().splitlines():
        parts = line.split(",")
        if parts[0] == "subDirectory_filePath":
            continue
        if int(parts[-3]) < 7:
            out.append(parts[0])
    return out


def test_affectnet_scores_exactly_the_validation_faces(tmp_path):
    root = make_affectnet(tmp_path)
    spec = DataSpec(dataset="affectnet", root=str(root), options={"num_classes": 7})
    adapter = quiet(get_adapter, "affectnet", root, num_classes=7)
    tr, te, proto = release_protocol(spec, adapter)
    images = adapter.records["image"].to_numpy()
    lists = root / "Manually_Annotated_file_lists"
    scored = sorted(str(Path(p).relative_to(root / "Manually_Annotated_Images")) for p in images[te])
    assert scored == sorted(_listed(lists / "validation.csv"))
    trained = {str(Path(p).relative_to(root / "Manually_Annotated_Images")) for p in images[tr]}
    assert trained <= set(_listed(lists / "training.csv")) and not trained & set(scored)
    assert proto.kind == "official" and proto.official and proto.k == 1
    assert "score on 'validation'" in proto.text
    assert int(adapter.records["expression"].max()) <= 6  # no Contempt under the paper's 7


def test_rafdb_scores_exactly_the_test_faces(tmp_path):
    root = make_raf_basic(tmp_path)
    name = "rafdb"
    adapter = quiet(get_adapter, name, root)
    tr, te, proto = release_protocol(DataSpec(dataset=name, root=str(root)), adapter)
    stems = [Path(p).name.split("_aligned")[0] for p in adapter.records["image"]]
    assert all(stems[i].startswith("test") for i in te) and all(stems[i].startswith("train") for i in tr)
    assert len(te) == sum(s.startswith("test") for s in stems) and proto.kind == "official"


def test_rafml_scores_exactly_the_partition_test_faces(tmp_path):
    root, order = make_rafml(tmp_path, partition=True)
    adapter = get_adapter("rafml", root, emotion_order=order, aligned=False)
    spec = DataSpec(dataset="rafml", root=str(root), options={"emotion_order": order, "aligned": False})
    tr, te, _ = release_protocol(spec, adapter)
    part = dict(line.split() for line in (root / "EmoLabel" / "partition_label.txt").read_text().splitlines())
    names = [Path(p).name for p in adapter.records["image"]]
    assert sorted(names[i] for i in te) == sorted(n for n, s in part.items() if s == "1")
    assert sorted(names[i] for i in tr) == sorted(n for n, s in part.items() if s == "0")


def test_asked_for_cross_validation_is_warned_and_recorded_as_off_protocol(tmp_path):
    root = make_affectnet(tmp_path)
    adapter = quiet(get_adapter, "affectnet", root, num_classes=7)
    spec = DataSpec(dataset="affectnet", root=str(root), folds=2, fold=2, options={"num_classes": 7})
    with pytest.warns(UserWarning, match="NOT the official split"):
        tr, te, proto = release_protocol(spec, adapter)
    assert proto.kind == "subject-cv" and proto.official is False and proto.k == 2
    assert not set(adapter.records["subject"].iloc[tr]) & set(adapter.records["subject"].iloc[te])
    record = proto.as_dict(2)
    assert record["official"] is False and record["text"].startswith("fold 2 of 2-fold")

    class Held:
        protocol = record

    assert data_protocol(Held(), spec)["official"] is False


def test_official_split_has_one_fold_and_fold_data_have_no_official_split(tmp_path):
    root = make_affectnet(tmp_path)
    adapter = quiet(get_adapter, "affectnet", root, num_classes=7)
    with pytest.raises(ConfigError, match=r"data.fold: 2 is not in 1..1"):
        release_protocol(DataSpec(dataset="affectnet", root=str(root), fold=2), adapter)
    from afg.data.fake_release import make_fake_disfa_release

    disfa_root = make_fake_disfa_release(tmp_path / "disfa")
    disfa = quiet(get_adapter, "disfa", disfa_root)
    tr, te, proto = release_protocol(DataSpec(dataset="disfa", root=str(disfa_root), fold=2), disfa)
    assert proto.kind == "folds" and proto.k == 3
    assert set(disfa.records["fold"].iloc[te]) == {2} and 2 not in set(disfa.records["fold"].iloc[tr])
    with pytest.warns(UserWarning, match="no official train/test split"):
        _, te0, proto0 = release_protocol(DataSpec(dataset="disfa", root=str(disfa_root), folds=0, fold=2), disfa)
    assert proto0.kind == "folds" and np.array_equal(te0, te)
    with pytest.raises(ConfigError, match="no official train/test split"):
        release_protocol(DataSpec(dataset="disfa", root=str(disfa_root), split="test"), disfa)


def test_a_seven_class_model_refuses_eight_class_data(tmp_path):
    from afg.experiments.config import build_model

    class Data:
        expression_names = ("Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger", "Contempt")

    with pytest.raises(ConfigError, match="8 expression classes"):
        build_model({"name": "baseline", "task": "expression", "num_classes": 7, "backbone": "resnet_tiny",
                     "pretrained": False, "img_size": 32}, Data())


@pytest.mark.parametrize("name", ["emotion_gcn_affectnet.yaml", "emotion_gcn_affectnet_bregnext.yaml"])
def test_affectnet_configs_ask_for_the_papers_seven_classes(tmp_path, name):
    cfg = ExperimentConfig.from_yaml(CONFIGS / name)
    root = make_affectnet(tmp_path)
    adapter = quiet(get_adapter, "affectnet", root, **cfg.data.options)
    assert adapter.expression_names == ["Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger"]
    assert len(adapter.expression_names) == cfg.model["num_classes"]


# ---------------------------------------------------------------- Aff-Wild2
def _affwild2_joint(root: Path) -> Path:
    """Video A: EXPR and VA in Train_Set (frames 1-4; frame 2 has no V/A, frame 3 no expression,
    frame 4 is 'Other'); video B: EXPR Validation_Set but VA Train_Set (a partition conflict);
    video C: both in Validation_Set. No AU folder."""
    from test_datasets_expr import _img

    hdr = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other"
    files = {("EXPR_Set", "Train_Set", "A"): f"{hdr}\n1\n2\n-1\n7\n",
             ("VA_Set", "Train_Set", "A"): "valence,arousal\n0.1,0.2\n-5,-5\n0.3,0.4\n0.5,0.6\n",
             ("EXPR_Set", "Validation_Set", "B"): f"{hdr}\n3\n4\n",
             ("VA_Set", "Train_Set", "B"): "valence,arousal\n0.1,0.1\n0.2,0.2\n",
             ("EXPR_Set", "Validation_Set", "C"): f"{hdr}\n5\n6\n",
             ("VA_Set", "Validation_Set", "C"): "valence,arousal\n-0.1,0.1\n-0.2,0.2\n"}
    for (task, split, video), text in files.items():
        p = root / "annotations" / task / split / f"{video}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for video, n in (("A", 4), ("B", 2), ("C", 2)):
        for j in range(1, n + 1):
            _img(root / "cropped_aligned" / video / f"{j:05d}.jpg")
    return root


def test_affwild2_config_keeps_only_frames_with_both_labels(tmp_path):
    cfg = ExperimentConfig.from_yaml(CONFIGS / "emotion_gcn_affwild2.yaml")
    root = _affwild2_joint(tmp_path)
    with pytest.warns(UserWarning, match=r"1 video\(s\).*B: EXPR validation, VA train"):
        ds = get_adapter("affwild2", root, **cfg.data.options)  # no AU folder: fine
    r = ds.records
    assert r[["expression", "valence", "arousal"]].notna().all().all()
    assert list(zip(r["subject"], r["frame"])) == [("A", 1), ("B", 1), ("B", 2), ("C", 1), ("C", 2)]
    assert ds.expression_names[-1] == "Surprise" and len(ds.expression_names) == cfg.model["num_classes"]
    tr, te, proto = release_protocol(DataSpec(dataset="affwild2", root=str(root), options=cfg.data.options), ds)
    assert list(r["subject"].iloc[tr]) == ["A"] and list(r["subject"].iloc[te]) == ["C", "C"]
    assert "score on 'validation'" in proto.text  # B (the conflict) is neither trained nor scored


def test_affwild2_partition_conflict_policies(tmp_path):
    root = _affwild2_joint(tmp_path)
    with pytest.raises(ValueError, match="video B is in different partitions"):
        quiet(AffWild2, root, partition_conflict="error")
    with pytest.warns(UserWarning, match="given the EXPR partition"):
        ds = AffWild2(root, partition_conflict="EXPR")
    assert set(ds.records.loc[ds.records["subject"] == "B", "split"]) == {"validation"}


def test_affwild2_default_tasks_do_not_need_the_au_folder(tmp_path):
    root = _affwild2_joint(tmp_path)
    ds = quiet(AffWild2, root)
    assert ds.tasks == ["expression", "va"] and ds.au_names == []
    with pytest.raises(FileNotFoundError, match="AU_Set"):
        quiet(AffWild2, root, tasks=("EXPR", "AU"))
    full = quiet(AffWild2, make_affwild2(tmp_path / "full", "set"))
    assert full.tasks == ["au", "expression", "va"]


def test_protocol_is_in_result_records():
    spec = DataSpec()
    rec = data_protocol(None, spec)
    assert rec["kind"] == "subject-cv" and rec["text"] == "fold 1 of 3 subject-disjoint folds of synthetic"
    old = data_protocol(None, DataSpec(dataset="affectnet"))
    assert old["kind"] == "unrecorded" and old["official"] is None
    assert isinstance(pd.DataFrame([rec]), pd.DataFrame) and np.isfinite(rec["k"])


# ---------------------------------------------------------------- through the run cache
def _tiny_affectnet_config(root: Path, **data) -> dict:
    return {"model": {"name": "baseline", "task": "expression", "num_classes": 7, "backbone": "resnet_tiny",
                      "pretrained": False, "img_size": 32},
            "data": {"dataset": "affectnet", "root": str(root), "img_size": 32, "options": {"num_classes": 7},
                     **data},
            "recipe": {"epochs": 1, "batch_size": 4, "device": "cpu", "progress": False,
                       "selection": "last", "num_workers": 0}}


@pytest.fixture(scope="module")
def prepared_affectnet(tmp_path_factory) -> Path:
    from afg.data.prepare import prepare_dataset

    root = make_affectnet(tmp_path_factory.mktemp("affectnet"))
    prepare_dataset(quiet(get_adapter, "affectnet", root, num_classes=7), root / "prepared", size=32,
                    progress=False, verbose=False)
    return root


def test_a_run_scores_the_validation_faces_and_records_the_protocol(prepared_affectnet, tmp_path):
    import json

    from afg.experiments import build_data, run

    cfg = ExperimentConfig.from_dict(_tiny_affectnet_config(prepared_affectnet))
    _, held_out = quiet(build_data, cfg.data)
    assert sorted(Path(p).name for p in held_out.table["image"]) == ["val0.png", "val1.png", "val2.png"]
    res = quiet(run, cfg, root=tmp_path)
    record = json.loads((res.run_dir / "evaluation.json").read_text())
    assert record["protocol"]["kind"] == "official" and record["protocol"]["official"] is True
    assert record["sizes"]["held_out"] == 3 and res.protocol == record["protocol"]
    assert np.isfinite(res.metrics["accuracy"])


def test_cross_validation_on_affectnet_says_off_protocol_in_the_table(prepared_affectnet, tmp_path):
    from afg.experiments import Ablation

    cfg = _tiny_affectnet_config(prepared_affectnet)
    abl = Ablation(cfg, {"base": {}}, folds=2, root=tmp_path)
    with pytest.warns(UserWarning, match="NOT the official split"):
        abl.run()
    assert "OFF-PROTOCOL: scored on 2-fold subject-disjoint cross-validation" in abl.note()
    assert all(r.protocol["official"] is False for *_, r in abl.results)


def test_rafml_without_its_partition_file_is_not_called_official(tmp_path):
    root, order = make_rafml(tmp_path, partition=False)
    with pytest.warns(UserWarning, match="no partition file"):
        adapter = get_adapter("rafml", root, emotion_order=order, aligned=False)
    _, _, proto = release_protocol(DataSpec(dataset="rafml", root=str(root)), adapter)
    assert proto.official is False and "NOT the official split" in proto.text


def test_rafml_images_missing_from_the_partition_file_are_never_trained_on(tmp_path):
    root, order = make_rafml(tmp_path, partition=True)
    part = root / "EmoLabel" / "partition_label.txt"
    part.write_text("".join(part.read_text().splitlines(keepends=True)[1:]))  # drop 0001.jpg
    with pytest.warns(UserWarning, match="1 labelled images are not in"):
        adapter = get_adapter("rafml", root, emotion_order=order, aligned=False)
    tr, te, proto = release_protocol(DataSpec(dataset="rafml", root=str(root)), adapter)
    names = [Path(p).name for p in adapter.records["image"]]
    assert "0001.jpg" not in {names[i] for i in np.concatenate([tr, te])} and proto.official


def test_several_evaluation_splits_are_an_ambiguity_data_split_resolves():
    from afg.data.datasets.records import protocol_folds

    table = pd.DataFrame({"subject": list("abcdef"),
                          "split": ["train", "train", "validation", "validation", "test", "test"]})
    with pytest.warns(UserWarning, match="several evaluation splits"):
        (tr, te), = protocol_folds(table, None, "toy")[0]
    assert tr.tolist() == [0, 1] and te.tolist() == [4, 5]
    (tr, te), = protocol_folds(table, None, "toy", scored="validation")[0]
    assert te.tolist() == [2, 3]
    with pytest.raises(ValueError, match=r"data\.split 'val' is not one"):
        protocol_folds(table, None, "toy", scored="val")
    with pytest.raises(ValueError, match="no official split"):
        protocol_folds(table.drop(columns="split"), None, "toy", scored="test")


def test_fold_counts_and_cli_fold_follow_the_protocol(prepared_affectnet, tmp_path):
    from afg.cli.configs import load_config
    from afg.cli.errors import UsageError
    from afg.data.build import protocol_fold_count

    spec = DataSpec(dataset="affectnet", root=str(prepared_affectnet), options={"num_classes": 7})
    assert quiet(protocol_fold_count, spec) == 1  # the official split: one (train, test) pair
    assert protocol_fold_count(DataSpec(dataset="affectnet", folds=5)) == 5
    assert protocol_fold_count(DataSpec()) == 3
    root = f"data.root={prepared_affectnet}"
    cfg = load_config(str(CONFIGS / "emotion_gcn_affectnet.yaml"), [root], 1)  # unset folds: --fold allowed
    assert cfg.data.folds is None and cfg.data.fold == 1
    with pytest.raises(UsageError, match="official split"):
        load_config(str(CONFIGS / "emotion_gcn_affectnet.yaml"), [root, "data.folds=0"], 2)


def test_notebook_setup_on_a_release_runs_its_protocol_and_describes_it(prepared_affectnet):
    from afg.papers.notebook_setup import NotebookSetup

    setup = NotebookSetup(dataset="affectnet", data_root=str(prepared_affectnet), device="cpu")
    assert quiet(setup.fold_list, "emotion_gcn") == [1]  # the official split: one pair
    text = quiet(setup.describe, "emotion_gcn")
    assert "protocol=[the official split of affectnet" in text and "score on 'validation'" in text
    asked = NotebookSetup(dataset="affectnet", data_root=str(prepared_affectnet), device="cpu", folds=2)
    abl = asked.ablation("emotion_gcn", {"base": {}})
    assert abl.folds == [1, 2] and {c.data.folds for *_, c in abl.configs()} == {2}  # CV, as asked
