"""Every config that names a real dataset, end to end on the miniature of its official release
(:mod:`afg.data.fake_release`): ``afg prepare`` → ``afg train CONFIG --set data.root=…`` (one short
step per stage, a tiny backbone) → ``afg eval``, asserting the protocol.

The faces each run trains and scores on are computed here from the release's own files, not through
the adapters: the official validation / test faces where the release defines a split (AffectNet,
Aff-Wild2, RAF-DB basic and compound, RAF-ML), the subject-disjoint parts of ME-GraphAU's lists for
BP4D / DISFA, the authors' ``KFold(shuffle=True, random_state=42)`` folds for EmotioNet and JAFFE.
Then the class names and count of the checkpoint, every metric finite (CCC included), a complete
run folder, and ``afg eval`` on the held-out faces giving the run's own numbers.
"""
from __future__ import annotations

import csv
import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import KFold

from afg.cli import main
from afg.data.datasets import BP4D_PARTS, DISFA_PARTS
from afg.data.fake_release import make_fake_release
from afg.data.manifest import read_manifest
from afg.data.wrappers import base_positions

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.xdist_group("real_configs")


# ------------------------------------------------------------------ the faces of each protocol
def _ok_sources(root: Path) -> set[str]:
    """Sources ``afg prepare`` aligned a face for (relative to the release root)."""
    manifest, _ = read_manifest(root / "prepared")
    return set(manifest.loc[manifest["status"] == "ok", "source"])


def _bp4d(root: Path, fold: int) -> tuple[set, set]:
    test_subjects = set(BP4D_PARTS[3 - fold])  # fold 1 tests part 3 (ME-GraphAU's lists)
    train, test = set(), set()
    for f in sorted((root / "AUCoding" / "AU_OCC").glob("*.csv")):
        subj, task = f.stem.split("_")
        with open(f) as fh:
            frames = [int(r["0"]) for r in csv.DictReader(fh)]
        (test if subj in test_subjects else train).update(
            f"Sequences/{subj}/{task}/{t:04d}.jpg" for t in frames)
    return train, test


def _disfa(root: Path, fold: int) -> tuple[set, set]:
    test_subjects = set(DISFA_PARTS[3 - fold])
    train, test = set(), set()
    for d in sorted((root / "ActionUnit_Labels").iterdir()):
        frames = [int(ln.split(",")[0]) for ln in (d / f"{d.name}_au1.txt").read_text().split()]
        (test if d.name in test_subjects else train).update(
            f"Images_LeftCamera/{d.name}/{t - 1}.png" for t in frames)  # frame 1 ↔ 0.png
    return train, test


def _kfold(names: list[str], k: int, fold: int) -> tuple[set, set]:
    tr, te = list(KFold(k, shuffle=True, random_state=42).split(np.arange(len(names))))[fold - 1]
    return {names[i] for i in tr}, {names[i] for i in te}


def _emotionet(root: Path, fold: int) -> tuple[set, set]:
    (f,) = root.glob("*.csv")
    urls = [ln.split(",")[0].strip("'\"") for ln in f.read_text().splitlines()[1:] if ln.strip(",")]
    return _kfold([f"images/{u.rsplit('/', 1)[1]}" for u in urls], 3, fold)


def _jaffe(root: Path, fold: int) -> tuple[set, set]:
    """The authors' KFold over every picture; a picture without a row in the rating table (the
    ``with_failures`` miniature) keeps its fold but is neither trained on nor scored."""
    train, test = _kfold(sorted(f"jaffe/{p.name}" for p in (root / "jaffe").glob("*.tiff")), 5, fold)
    rated = {ln.split()[-1] for ln in (root / "README_FIRST.txt").read_text().splitlines()[3:] if ln.strip()}
    keep = {f for f in train | test if "-".join(Path(f).name.split(".")[:2]) in rated}
    return train & keep, test & keep


def _affectnet(root: Path, fold: int) -> tuple[set, set]:
    out = []
    for split in ("training", "validation"):
        rows = (root / "Manually_Annotated_file_lists" / f"{split}.csv").read_text().splitlines()
        out.append({f"Manually_Annotated_Images/{r.split(',')[0]}" for r in rows
                    if not r.startswith("subDirectory") and int(r.split(",")[-3]) <= 6})  # 7 classes
    return out[0], out[1]


def _affwild2(root: Path, fold: int) -> tuple[set, set]:
    """Frames with an expression of the 7 basic classes *and* valid valence/arousal."""
    ann = root / "annotations"
    out = []
    for split in ("Train_Set", "Validation_Set"):
        keep = set()
        for f in sorted((ann / "EXPR_Classification_Challenge" / split).glob("*.txt")):
            va = ann / "VA_Estimation_Challenge" / split / f.name
            if not va.is_file():
                continue
            expr = f.read_text().split()[1:]
            vals = va.read_text().split()[1:]
            keep |= {f"cropped_aligned/{f.stem}/{j + 1:05d}.jpg" for j, (e, v) in enumerate(zip(expr, vals))
                     if 0 <= int(e) <= 6 and "-5" not in v.split(",")}
        out.append(keep)
    return out[0], out[1]


def _raf_partition(root: Path, fold: int) -> tuple[set, set]:
    names = [ln.split()[0] for ln in (root / "EmoLabel" / "list_patition_label.txt").read_text().splitlines()]
    face = {n: f"Image/aligned/{n[:-4]}_aligned.jpg" for n in names}
    return ({face[n] for n in names if n.startswith("train_")},
            {face[n] for n in names if n.startswith("test_")})


def _rafml(root: Path, fold: int) -> tuple[set, set]:
    rows = [ln.split() for ln in (root / "EmoLabel" / "partition_label.txt").read_text().splitlines()]
    face = {n: f"Image/aligned/{n[:-4]}_aligned.jpg" for n, _ in rows}
    return {face[n] for n, p in rows if p == "0"}, {face[n] for n, p in rows if p == "1"}


AUS_BP4D = ["AU01", "AU02", "AU04", "AU06", "AU07", "AU10", "AU12", "AU14", "AU15", "AU17", "AU23", "AU24"]
AUS_DISFA = ["AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26"]
AUS_EMOTIONET = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU09", "AU12", "AU17", "AU20", "AU25", "AU26", "AU43"]
AFFECTNET_7 = ["Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger"]
AFFWILD2_7 = ["Neutral", "Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise"]
RAF_7 = ["Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral"]
RAF_6 = RAF_7[:6]
JAFFE_6 = ["Happiness", "Sadness", "Surprise", "Anger", "Disgust", "Fear"]


@dataclass(frozen=True)
class Case:
    config: str
    dataset: str
    faces: object  # (root, fold) -> (train faces, test faces), from the release's files
    classes: list
    split: str  # what the table says: official split / protocol fold
    xfail: str | None = None
    slow: bool = True
    extra: tuple = ()  # further overrides (none changes the protocol)
    name: str = ""
    release: tuple = ()  # options of the miniature, e.g. (("with_failures", True),)


CASES = [
    Case("me_graphau_bp4d_resnet50", "bp4d", _bp4d, AUS_BP4D, "subject fold 1/3 (ME-GraphAU parts)", slow=False),
    Case("me_graphau_bp4d_swin_base", "bp4d", _bp4d, AUS_BP4D, "subject fold 1/3 (ME-GraphAU parts)"),
    Case("au_gcn_bp4d", "bp4d", _bp4d, AUS_BP4D, "subject fold 1/3 (ME-GraphAU parts)"),
    Case("me_graphau_disfa_resnet50", "disfa", _disfa, AUS_DISFA, "subject fold 1/3 (ME-GraphAU parts)"),
    Case("me_graphau_disfa_swin_base", "disfa", _disfa, AUS_DISFA, "subject fold 1/3 (ME-GraphAU parts)"),
    Case("au_gcn_disfa", "disfa", _disfa, AUS_DISFA, "subject fold 1/3 (ME-GraphAU parts)"),
    Case("au_gcn_disfa", "disfa", _disfa, AUS_DISFA, "subject fold 1/3 (ME-GraphAU parts)",
         extra=("model.landmarks=template",), name="au_gcn_disfa[template landmarks]"),
    Case("mafg_ccfg_disfa", "disfa", _disfa, AUS_DISFA, "subject fold 1/3 (ME-GraphAU parts)"),
    Case("mafg_ccfg_emotionet", "emotionet", _emotionet, AUS_EMOTIONET, "random fold 1/3 (KFold, seed 42)"),
    Case("emotion_gcn_affectnet", "affectnet", _affectnet, AFFECTNET_7, "official: training / validation"),
    Case("emotion_gcn_affectnet_bregnext", "affectnet", _affectnet, AFFECTNET_7,
         "official: training / validation"),
    Case("emotion_gcn_affwild2", "affwild2", _affwild2, AFFWILD2_7, "official: Train_Set / Validation_Set"),
    Case("svml_rgcn_jaffe", "jaffe", _jaffe, JAFFE_6, "random fold 1/5 (KFold, seed 42)"),
    Case("svml_rgcn_jaffe", "jaffe", _jaffe, JAFFE_6, "random fold 1/5 (KFold, seed 42)",
         release=(("with_failures", True),), name="svml_rgcn_jaffe[picture without ratings]"),
    Case("svml_rgcn_rafml", "rafml", _rafml, RAF_6, "official: partition 0 / 1"),
    Case("svml_rgcn_rafcompound", "rafcompound", _raf_partition, RAF_6, "official: train_ / test_"),
    Case("resnet50_raf_basic", "rafdb", _raf_partition, RAF_7, "official: train_ / test_", slow=False),
]

#: the overrides that make a paper config run in seconds (nothing about the protocol changes)
TINY = ["model.backbone=resnet_tiny", "model.pretrained=false", "model.img_size=32", "data.img_size=32",
        "data.resize=48", "recipe.epochs=1", "recipe.batch_size=4", "recipe.max_steps_per_epoch=1",
        "recipe.num_workers=0"]


@pytest.fixture(scope="session")
def miniature(tmp_path_factory):
    """``miniature(name, **options)``: the release built (``make_fake_release`` options) and
    prepared (``afg prepare``, 64 px) once per session."""
    made: dict[tuple, Path] = {}

    def get(name: str, **options) -> Path:
        key = (name, *sorted(options.items()))
        if key not in made:
            root = make_fake_release(name, tmp_path_factory.mktemp("releases") / name, **options)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert main(["prepare", name, "--root", str(root), "--out", str(root / "prepared"),
                             "--size", "64", "--device", "cpu", "--no-progress"]) == 0
            made[key] = root
        return made[key]

    return get


def _faces(data, root: Path) -> list[str]:
    """The release-relative source images of a dataset's items (through its Subset wrappers)."""
    base, pos = base_positions(data)
    images = base.table["image"].astype(str).to_numpy()
    images = images if pos is None else images[pos]
    return [str(Path(p).relative_to(root)) for p in images]


def _finite_metrics(metrics: dict) -> dict:
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    bad = {k: v for k, v in scalars.items() if not math.isfinite(v)}
    assert not bad, f"non-finite metrics: {bad}"
    return scalars


def run_case(case: Case, miniature, tmp_path, capsys) -> dict:
    """The user's path on the case's miniature; returns what the table of the report shows."""
    from afg.experiments import build_data, load_experiment
    from afg.predict import load_model_checkpoint, resolve_checkpoint

    root = miniature(case.dataset, **dict(case.release))
    sets = [f"data.root={root}", *TINY, *case.extra]
    if case.config.startswith("svml"):
        sets += [f"data.basic.root={miniature('rafdb')}", f"model.feature_cache={tmp_path / 'fc'}"]
    runs = tmp_path / "runs"
    capsys.readouterr()
    assert main(["train", str(REPO / "configs" / f"{case.config}.yaml"), "--runs", str(runs), "--no-progress",
                 "--device", "cpu", "--set", *sets]) == 0
    (run_dir,) = [d for d in runs.iterdir() if (d / "evaluation.json").is_file()]
    # a complete run folder
    for name in ("config.yaml", "recipe.yaml", "evaluation.json", "metrics.json", "metrics.csv"):
        assert (run_dir / name).is_file(), name
    ckpt = resolve_checkpoint(run_dir)
    result = json.loads((run_dir / "evaluation.json").read_text())
    assert result["status"] == "complete"

    # the protocol: the faces the run's own config builds are exactly the release's
    cfg = load_experiment(run_dir / "config.yaml")
    train, test = build_data(cfg.data)
    want_train, want_test = case.faces(root, cfg.data.fold or 1)
    ok = _ok_sources(root)
    want_train, want_test = want_train & ok, want_test & ok
    got_train, got_test = _faces(train, root), _faces(test, root)
    assert len(got_test) == len(set(got_test)) and set(got_test) == want_test
    if not cfg.data.frame_sampling:
        assert set(got_train) == want_train
    assert not set(got_train) & set(got_test)
    if case.config.startswith("au_gcn"):  # BP4D / DISFA ship no 68 points: the five-point fit
        assert base_positions(test)[0].landmarks_source == "five-point fit"
    sizes = result["sizes"]
    assert sizes["held_out"] == len(want_test)
    assert sizes["train"] + sizes.get("selection", 0) == len(got_train)

    # class names and count, label mapping
    _, info = load_model_checkpoint(ckpt)
    assert list(info.label_names) == case.classes
    assert int(info.model_config["num_classes"]) == len(case.classes)

    metrics = _finite_metrics(result["metrics"])
    if case.dataset == "jaffe":  # unrated pictures never reach the evaluation (dropped at build)
        assert metrics["incomplete_rows"] == 0
    if case.dataset in ("affectnet", "affwild2"):
        assert {"ccc_valence", "ccc_arousal", "ccc_mean"} <= set(metrics), metrics

    # afg eval on the held-out faces: the run's numbers
    out = tmp_path / "eval.json"
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--no-progress", "--device", "cpu", "--json", str(out)]) == 0
    assert f"val: {len(want_test)} samples" in capsys.readouterr().out
    evaluated = _finite_metrics(json.loads(out.read_text())["metrics"])
    monitor = cfg.recipe.monitor if hasattr(cfg.recipe, "monitor") else None
    if monitor in evaluated and result.get("selection") != "val":
        assert evaluated[monitor] == pytest.approx(metrics[monitor], abs=1e-6)
    return {"config": case.name or case.config, "split": case.split, "train": len(got_train), "test": len(got_test),
            "classes": len(case.classes), "finite": len(metrics)}


def _param(case: Case):
    marks = [pytest.mark.slow] if case.slow else []
    if case.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=case.xfail))
    return pytest.param(case, id=case.name or case.config, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_paper_config_end_to_end_on_its_miniature(case, miniature, tmp_path, capsys):
    row = run_case(case, miniature, tmp_path, capsys)
    table = os.environ.get("AFG_REAL_CONFIGS_TABLE")  # the table: one JSON line per config
    if table:
        with open(table, "a") as fh:
            fh.write(json.dumps(row) + "\n")
