"""The miniatures of :mod:`afg.data.fake_release` carry their release's exact names and quirks
(read here from the files, not through the adapters), and each adapter reads its miniature."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from afg.data.datasets import get_adapter
from afg.data.faces import FaceAligner, landmarks68_to_5
from afg.data.fake_release import MINIATURES, make_fake_release
from afg.data.fake_release._faces import face
from afg.data.fake_release._labels import vary_within


def test_bp4d_header_of_au_numbers_not_coded_9_and_frames_far_from_1(tmp_path):
    root = make_fake_release("bp4d", tmp_path)
    lines = (root / "AUCoding/AU_OCC/F001_T1.csv").read_text().splitlines()
    assert lines[0] == ",".join(str(c) for c in range(28))
    rows = [list(map(int, ln.split(","))) for ln in lines[1:]]
    assert rows[1][24] == 9 and min(r[0] for r in rows) >= 100
    frames = sorted(p.name for p in (root / "Sequences/F001/T1").iterdir())
    assert frames == [f"{rows[0][0] + t:04d}.jpg" for t in range(4)]  # one uncoded frame on disk


def test_emotionet_quoted_header_stray_quotes_999_and_empty_row(tmp_path):
    root = make_fake_release("emotionet", tmp_path)
    lines = (root / "EmotioNet_manually_annotated.csv").read_text().splitlines()
    assert lines[0].startswith("URL,'AU 1','AU 2','AU 4'") and lines[0].endswith("'AU 43','AU 10'")
    assert lines[2].startswith("'http") and lines[3].split(",")[12] == "999" and set(lines[4]) == {","}
    assert len(list((root / "images").iterdir())) == 8  # one dead link


def test_affectnet_header_only_in_training_and_codes_8_to_10(tmp_path):
    root = make_fake_release("affectnet", tmp_path)
    train = (root / "Manually_Annotated_file_lists/training.csv").read_text().splitlines()
    val = (root / "Manually_Annotated_file_lists/validation.csv").read_text().splitlines()
    assert train[0].startswith("subDirectory_filePath,face_x") and not val[0].startswith("subDirectory")
    codes = [int(r.split(",")[-3]) for r in val]
    assert codes == list(range(11))  # balanced: every category once
    non_face = val[10].split(",")
    assert non_face[-2:] == ["-2.000000", "-2.000000"] and len(non_face[5].split(";")) == 136


def test_affectnet_landmarks_are_on_the_face(tmp_path):
    """The shipped 68 points give the 5 points MTCNN finds on the same photograph (within a few px)."""
    f = face(3, 128)  # the astronaut, mirrored and shifted
    ((_, _, pts),) = FaceAligner(size=64).detect([f.image])
    assert np.abs(landmarks68_to_5(f.landmarks) - pts[0]).max() < 6


def test_affwild2_per_video_files_invalid_codes_and_a_video_without_expressions(tmp_path):
    root = make_fake_release("affwild2", tmp_path)
    ann = root / "annotations"
    expr = (ann / "EXPR_Classification_Challenge/Train_Set/1-30-1280x720.txt").read_text().split()
    assert expr == ["Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other", "0", "-1", "4"]
    va = (ann / "VA_Estimation_Challenge/Train_Set/118-30-640x480.txt").read_text().split()
    assert va[:2] == ["valence,arousal", "-5,-5"]
    assert not (ann / "EXPR_Classification_Challenge/Train_Set/118-30-640x480.txt").exists()
    assert sorted(p.name for p in (root / "cropped_aligned/118-30-640x480").iterdir()) == ["00001.jpg", "00002.jpg"]


def test_raf_misspelled_partition_file_prefixes_and_aligned_names(tmp_path):
    root = make_fake_release("rafdb", tmp_path / "basic")
    lines = (root / "EmoLabel/list_patition_label.txt").read_text().splitlines()
    assert lines[0] == "train_00001.jpg 1" and lines[-1] == "test_00007.jpg 7"
    assert (root / "Image/aligned/test_00007_aligned.jpg").is_file() and (root / "Image/original/train_00001.jpg").is_file()
    comp = make_fake_release("rafcompound", tmp_path / "compound")
    names = [ln.split()[0] for ln in (comp / "EmoLabel/list_patition_label.txt").read_text().splitlines()]
    assert names[0] == "train_0001.jpg"  # 4 digits in compound/
    ml = make_fake_release("rafml", tmp_path / "ml")
    dist = np.loadtxt(ml / "EmoLabel/distribution.txt", usecols=range(1, 7))
    assert np.allclose(dist.sum(1), 1, atol=1e-3)


def test_jaffe_tiff_names_grayscale_and_the_fear_excluded_table(tmp_path):
    root = make_fake_release("jaffe", tmp_path)
    names = sorted(p.name for p in (root / "jaffe").iterdir())
    assert "KA.AN1.5.tiff" in names and len(names) == 14
    assert Image.open(root / "jaffe" / names[0]).mode == "L"
    text = (root / "README_FIRST.txt").read_text()
    assert "#   HAP  SAD  SUR  ANG  DIS  FEA  PIC" in text and "Fear excluded" in text


@pytest.mark.parametrize("name", sorted(MINIATURES))
def test_the_adapter_reads_its_miniature(name, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = get_adapter(name, make_fake_release(name, tmp_path))
    assert len(a.records) >= 8 and a.label_columns
    assert a.folds() and all(len(tr) and len(te) for tr, te in a.folds())


def test_vary_within_gives_each_label_both_values_in_each_group_and_leaves_the_rest():
    y = np.array([[0, 1, 1], [0, 1, 0], [0, 1, 1], [1, 0, 0]])
    out = vary_within(y, [[0, 1, 2], [3]])
    assert out[:3, 0].tolist() == [1, 0, 0] and out[:3, 1].tolist() == [1, 1, 0]
    assert out[:3, 2].tolist() == [1, 0, 1] and out[3].tolist() == [1, 0, 0]  # already varied; 1 row
    gone = np.zeros_like(y, bool)
    gone[0, 0] = True  # a cell that will be missing is no witness
    assert vary_within(y, [[0, 1, 2]], gone)[:3, 0].tolist() == [0, 1, 0]
