"""``afg check DATASET --root RAW`` on the miniature of every release (complete → exit 0, with
the planted failures → exit 1 and each one listed) and on broken copies (one line naming the
file, exit 2)."""
from __future__ import annotations

import inspect
import shutil

import pytest

from afg.cli import main
from afg.data.check import PUBLISHED, check_release
from afg.data.fake_release import MINIATURES, make_fake_release


def _check(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["check", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("name", sorted(MINIATURES))
def test_a_complete_miniature_checks_clean(name, tmp_path, capsys):
    kw = {"with_failures": False} if "with_failures" in inspect.signature(MINIATURES[name]).parameters else {}
    root = make_fake_release(name, tmp_path / name, **kw)
    rc, out, err = _check(capsys, name, "--root", str(root))
    assert (rc, err) == (0, ""), out
    assert "verdict: complete (exit 0)" in out and "missing images" not in out and "anomalies" not in out
    report = check_release(name, root)
    groups = report.groups
    # every labelled row is counted once, in the groups of its split / fold
    assert groups["labelled"].sum() == len(report.adapter.records)
    assert (groups["on disk"] == groups["labelled"]).all()
    assert list(groups["split/fold"])[: len(PUBLISHED[name].groups)] == list(PUBLISHED[name].groups)
    # the paper configs on this dataset are planned on the copy
    assert "paper configs (train / test):" in out


def test_planted_failures_are_each_reported_with_exit_1(tmp_path, capsys):
    root = make_fake_release("disfa", tmp_path / "DISFA")  # SN013's last frame was never extracted
    rc, out, _ = _check(capsys, "disfa", "--root", str(root))
    assert rc == 1
    assert "missing images (1, listed in the labels, not on disk):\n    Images_LeftCamera/SN013/2.png" in out
    assert "8 on disk, 1 missing" in out
    # the published counts of the authors' lists sit next to the copy's
    assert "43605" in out and "43604" in out
    # the ME-GraphAU configs train on parts 1 + 2 and test part 3 (SN003) in fold 1
    assert "me_graphau_disfa_resnet50.yaml: fold 1 of the 3 folds disfa's protocol defines: train 5 / test 3, 8 labels" in out

    root = make_fake_release("affwild2", tmp_path / "AW2")
    rc, out, _ = _check(capsys, "affwild2", "--root", str(root))
    assert rc == 1 and "cropped_aligned/118-30-640x480/00003.jpg" in out
    assert "valence, arousal: 1 of 18 rows without a value" in out  # the -5 row


def test_label_anomalies(tmp_path, capsys):
    root = make_fake_release("bp4d", tmp_path / "BP4D", with_failures=False)
    occ = root / "AUCoding" / "AU_OCC"
    # every AU24 of every file: 9 (not coded) → an all-missing column
    for f in occ.glob("*.csv"):
        lines = f.read_text().splitlines()
        j = lines[0].split(",").index("24")
        rows = [lines[0]] + [",".join("9" if k == j else v for k, v in enumerate(ln.split(","))) for ln in lines[1:]]
        f.write_text("\n".join(rows) + "\n")
    # a subject of no ME-GraphAU part: never trained or tested
    shutil.copy(occ / "F001_T1.csv", occ / "F099_T1.csv")
    shutil.copytree(root / "Sequences" / "F001", root / "Sequences" / "F099")
    rc, out, _ = _check(capsys, "bp4d", "--root", str(root))
    assert rc == 1
    assert "AU24: no row has a value (every entry not coded / invalid)" in out
    assert "3 rows of subjects in no protocol fold (never trained or tested): F099" in out

    # a class with no training example; an AU never present
    root = make_fake_release("rafdb", tmp_path / "RAF")
    p = root / "EmoLabel" / "list_patition_label.txt"
    p.write_text("".join(ln.replace(" 2", " 1") + "\n" for ln in p.read_text().splitlines()
                         if ln.startswith("train")) + "".join(
        ln + "\n" for ln in p.read_text().splitlines() if ln.startswith("test")))
    rc, out, _ = _check(capsys, "rafdb", "--root", str(root))
    assert rc == 1 and "expression: no train example of Fear" in out


def _edit_line(path, index: int, edit) -> None:
    lines = path.read_text().splitlines()
    lines[index] = edit(lines[index])
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("name, break_it, where", [
    ("bp4d", lambda r: _edit_line(r / "AUCoding/AU_OCC/F001_T1.csv", 1, lambda ln: ln + ",1"),
     "F001_T1.csv:2: expected 28 fields, found 29"),
    ("disfa", lambda r: shutil.rmtree(r / "Images_LeftCamera"), "none of the 9 labelled images exists"),
    ("emotionet", lambda r: _edit_line(r / "EmotioNet_manually_annotated.csv", 1,
                                       lambda ln: ln.rsplit(",", 2)[0] + ",5,0"),
     "EmotioNet_manually_annotated.csv:2: AU43 value 5 is not 0, 1 or 999"),
    ("affectnet", lambda r: (r / "Manually_Annotated_file_lists/validation.csv").unlink(),
     "validation.csv is missing"),
    ("rafdb", lambda r: (r / "EmoLabel/list_patition_label.txt").write_text("train_00001.jpg 8\n"),
     "list_patition_label.txt:1: label 8 outside 1..7"),
    ("affwild2", lambda r: (r / "annotations/VA_Estimation_Challenge/Train_Set/1-30-1280x720.txt").write_text(
        "valence,arousal\n0.1\n"), "1-30-1280x720.txt:2: expected 2 fields, found 1"),
    ("jaffe", lambda r: [p.unlink() for p in (r / "jaffe").glob("*.tiff")], "no KA.AN1.39.tiff-style images"),
])
def test_a_broken_copy_is_one_line_naming_the_file_and_exit_2(name, break_it, where, tmp_path, capsys):
    root = make_fake_release(name, tmp_path / name)
    break_it(root)
    rc, out, err = _check(capsys, name, "--root", str(root))
    lines = err.strip().splitlines()
    assert rc == 2 and out == "", out
    assert len(lines) == 1 and lines[0].startswith(f"afg: error: check {name}: "), lines
    assert where in lines[0], lines[0]


def test_unknown_dataset_and_missing_root(tmp_path, capsys):
    rc, _, err = _check(capsys, "ckplus", "--root", str(tmp_path))
    assert rc == 2 and "unknown dataset 'ckplus'" in err
    rc, _, err = _check(capsys, "disfa", "--root", str(tmp_path / "nowhere"))
    assert rc == 2 and "release folder not found" in err


def test_the_plan_names_the_official_split_and_flags_cross_validation_on_it(tmp_path, capsys):
    root = make_fake_release("rafml", tmp_path / "RAF-ML")
    rc, out, _ = _check(capsys, "rafml", "--root", str(root))
    assert rc == 0
    assert "svml_rgcn_rafml.yaml: the official split of rafml" in out and "train 6 / test 6, 6 labels" in out
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "cv.yaml").write_text("model: {name: baseline, task: multilabel, num_classes: 6}\n"
                                     "data: {dataset: rafml, root: x, folds: 3, fold: 2}\n")
    rc, out, _ = _check(capsys, "rafml", "--root", str(root), "--configs", str(configs))
    (line,) = [ln for ln in out.splitlines() if "cv.yaml" in ln]
    assert "OFF-PROTOCOL" in line and "fold 2" in line
