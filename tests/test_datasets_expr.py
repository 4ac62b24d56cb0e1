"""Expression release adapters on small fake releases in the official formats (AffectNet,
Aff-Wild2, RAF-DB, RAF-Compound, RAF-ML, JAFFE) with their quirks."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from afg.data.datasets import (
    JAFFE,
    RAFDB,
    RAFML,
    AffectNet,
    AffWild2,
    RAFCompound,
    ReleaseFormatError,
    get_adapter,
)


def _img(path: Path, gray: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(len(str(path))).integers(0, 255, (8, 8) if gray else (8, 8, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


# ---------------------------------------------------------------- AffectNet
def _lm(seed: int) -> str:
    return ";".join(f"{v:.2f}" for v in np.random.default_rng(seed).uniform(10, 90, 136))


def make_affectnet(root: Path) -> Path:
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    header = ("subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,"
              "expression,valence,arousal")
    train = [header]
    codes = [0, 1, 7, 8, 9, 10, 6, 3]
    for i, c in enumerate(codes):
        va = "-2,-2" if i == 1 else f"{0.1 * i:.1f},{-0.05 * i:.2f}"
        train.append(f"{i}/img{i}.jpg,10,12,80,80,{_lm(i)},{c},{va}")
        if c < 8 and i != 6:
            _img(root / "Manually_Annotated_Images" / str(i) / f"img{i}.jpg")
    (lists / "training.csv").write_text("\n".join(train) + "\n")
    val = [f"v/val{i}.png,0,0,50,50,{_lm(100 + i)},{c},0.5,0.5" for i, c in enumerate([2, 5, 4])]
    for i in range(3):
        _img(root / "Manually_Annotated_Images" / "v" / f"val{i}.png")
    (lists / "validation.csv").write_text("\n".join(val))  # header-less
    return root


def test_affectnet_codes_sentinels_header_and_landmarks(tmp_path):
    root = make_affectnet(tmp_path)
    with pytest.warns(UserWarning, match="1 of 8"):
        ds = AffectNet(root)
    r = ds.records
    assert ds.expression_names[-1] == "Contempt" and len(ds.expression_names) == 8
    assert len(r) == 7 and len(ds.missing) == 1  # codes 8, 9, 10 excluded, img6 missing
    assert r["expression"].tolist() == [0, 1, 7, 3, 2, 5, 4]
    assert r["expression_name"].tolist()[:3] == ["Neutral", "Happy", "Contempt"]
    assert r["split"].tolist() == ["train"] * 4 + ["validation"] * 3
    assert np.isnan(r.loc[1, "valence"]) and np.isnan(r.loc[1, "arousal"])  # -2 = invalid
    assert r.loc[2, "valence"] == pytest.approx(0.2)
    lm = ds.source_landmarks(r.iloc[:2])
    assert lm[0].shape == (68, 2) and np.allclose(lm[0].reshape(-1)[:3],
                                                  [float(v) for v in _lm(0).split(";")[:3]])
    lab = ds.labels()
    assert lab["expression"].dtype == np.int64 and lab["va"].shape == (7, 2)
    (tr, te), = ds.folds()
    assert len(tr) == 4 and len(te) == 3
    seven = _quiet(AffectNet, root, num_classes=7)
    assert 7 not in seven.records["expression"].tolist() and len(seven.records) == 6


def test_affectnet_malformed_row(tmp_path):
    root = make_affectnet(tmp_path)
    p = root / "Manually_Annotated_file_lists" / "validation.csv"
    lines = p.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0]  # 8 fields
    p.write_text("\n".join(lines))
    with pytest.raises(ReleaseFormatError, match=r"validation\.csv:2: expected 9 fields"):
        _quiet(AffectNet, root)
    lines[1] = lines[1] + ",abc"
    p.write_text("\n".join(lines))
    with pytest.raises(ReleaseFormatError, match=r"validation\.csv:2: non-numeric"):
        _quiet(AffectNet, root)


# ---------------------------------------------------------------- Aff-Wild2
SCHEMES = {
    "set": ("EXPR_Set", "VA_Set", "AU_Set"),
    "challenge": ("EXPR_Classification_Challenge", "VA_Estimation_Challenge", "AU_Detection_Challenge"),
}
AU_HDR = "AU1,AU2,AU4,AU6,AU7,AU10,AU12,AU15,AU23,AU24,AU25,AU26"


def make_affwild2(root: Path, scheme: str) -> Path:
    e, v, a = SCHEMES[scheme]
    ann = root / "annotations"
    exprs = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other"
    (ann / e / "Train_Set").mkdir(parents=True)
    (ann / e / "Validation_Set").mkdir(parents=True)
    (ann / e / "Train_Set" / "video1.txt").write_text(exprs + "\n0\n4\n-1\n7\n")
    (ann / e / "Validation_Set" / "12-24-1920x1080_left.txt").write_text(exprs + "\n2\n2\n")
    (ann / v / "Train_Set").mkdir(parents=True)
    (ann / v / "Train_Set" / "video1.txt").write_text("valence,arousal\n0.1,0.2\n-5,-5\n0.3,-0.4\n")
    (ann / v / "Train_Set" / "12-24-1920x1080_right.txt").write_text("valence,arousal\n0.5,0.5\n")
    (ann / a / "Train_Set").mkdir(parents=True)
    ones = ",".join(["1"] * 12)
    mixed = ",".join(["-1"] + ["0"] * 11)
    (ann / a / "Train_Set" / "video1.txt").write_text(f"{AU_HDR}\n{ones}\n{mixed}\n")
    for vid, frames in (("video1", (1, 2, 4)), ("12-24-1920x1080_left", (1, 2)),
                        ("12-24-1920x1080_right", (1,))):
        for j in frames:
            _img(root / "cropped_aligned" / vid / f"{j:05d}.jpg")
    return root


@pytest.mark.parametrize("scheme", ["set", "challenge"])
def test_affwild2_both_folder_schemes(tmp_path, scheme):
    root = make_affwild2(tmp_path, scheme)
    with pytest.warns(UserWarning, match="1 of 7"):
        ds = AffWild2(root)
    r = ds.records.set_index(["subject", "frame"])
    assert len(ds.records) == 6 and ds.missing["image"].iloc[0].endswith("video1/00003.jpg")
    assert ds.expression_names[-1] == "Other" and ds.au_names[:3] == ["AU01", "AU02", "AU04"]
    assert r.loc[("video1", 1), "image"].endswith("cropped_aligned/video1/00001.jpg")
    assert r.loc[("video1", 1), "expression"] == 0 and r.loc[("video1", 2), "expression"] == 4
    assert r.loc[("video1", 4), "expression"] == 7
    assert np.isnan(r.loc[("video1", 2), "valence"])  # -5 = invalid
    assert r.loc[("video1", 1), "AU26"] == 1 and np.isnan(r.loc[("video1", 2), "AU01"])
    assert np.isnan(r.loc[("video1", 4), "AU01"])  # beyond the AU file: no label
    left = r.loc[("12-24-1920x1080_left", 1)]
    assert left["expression"] == 2 and np.isnan(left["valence"]) and left["split"] == "validation"
    assert left["video"] == "12-24-1920x1080"
    assert r.loc[("12-24-1920x1080_right", 1), "valence"] == 0.5
    lab = ds.labels()
    assert set(lab) == {"au", "expression", "va"} and lab["expression"].tolist().count(-1) == 1
    only = _quiet(AffWild2, root, tasks=("VA",))
    assert only.tasks == ["va"] and "expression" not in only.records


def test_affwild2_bad_row(tmp_path):
    root = make_affwild2(tmp_path, "set")
    (root / "annotations" / "EXPR_Set" / "Train_Set" / "video1.txt").write_text(
        "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other\n0\n9\n")
    with pytest.raises(ReleaseFormatError, match=r"video1\.txt:3: class 9"):
        _quiet(AffWild2, root)


# ---------------------------------------------------------------- RAF
def make_raf_basic(root: Path, compound: bool = False) -> Path:
    (root / "EmoLabel").mkdir(parents=True)
    labels = [("train_00001.jpg", 5), ("train_00002.jpg", 1), ("test_0001.jpg", 7),
              ("test_0002.jpg", 4)] if not compound else [
        ("train_0001.jpg", 1), ("train_0002.jpg", 11), ("test_0001.jpg", 7)]
    (root / "EmoLabel" / "list_patition_label.txt").write_text(
        "".join(f"{n} {c}\n" for n, c in labels))
    for n, _ in labels[:-1]:
        _img(root / "Image" / "aligned" / f"{Path(n).stem}_aligned.jpg")
    for n, _ in labels:
        _img(root / "Image" / "original" / n)
    return root


def test_rafdb_misspelled_partition_and_prefix_split(tmp_path):
    root = make_raf_basic(tmp_path)
    with pytest.warns(UserWarning, match="1 of 4"):
        ds = RAFDB(root)
    r = ds.records
    assert r["expression_name"].tolist() == ["Sadness", "Surprise", "Neutral"]
    assert r["expression"].tolist() == [4, 0, 6] and r["split"].tolist() == ["train", "train", "test"]
    assert r["image"].iloc[0].endswith("Image/aligned/train_00001_aligned.jpg")
    assert len(RAFDB(root, aligned=False).records) == 4
    assert [len(x) for x in ds.folds()[0]] == [2, 1]
    (root / "EmoLabel" / "list_patition_label.txt").write_text("train_1.jpg 3\ntrain_2.jpg 8\n")
    with pytest.raises(ReleaseFormatError, match=r"list_patition_label\.txt:2: label 8"):
        _quiet(RAFDB, root)


def test_raf_compound_to_basic_multilabel(tmp_path):
    root = make_raf_basic(tmp_path, compound=True)
    ds = RAFCompound(root, aligned=False)
    r = ds.records
    assert ds.emotion_names == ["Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger"]
    em = ds.labels()["emotions"]
    assert em.tolist() == [[1, 0, 0, 1, 0, 0], [1, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0, 1]]
    assert r["expression_name"].tolist() == ["Happily Surprised", "Disgustedly Surprised", "Fearfully Angry"]
    assert get_adapter("raf-compound", root, aligned=False).records.shape == r.shape


def make_rafml(root: Path, partition: bool) -> Path:
    (root / "EmoLabel").mkdir(parents=True)
    order = ["Happiness", "Surprise", "Fear", "Disgust", "Sadness", "Anger"]  # a copy's own order
    names = [f"{i:04d}.jpg" for i in range(1, 11)]
    rng = np.random.default_rng(1)
    dist, binary = [], []
    for n in names:
        d = rng.dirichlet(np.ones(6))
        dist.append(f"{n} " + " ".join(f"{v:.4f}" for v in d))
        binary.append(f"{n} " + " ".join(str(int(v > 0.2)) for v in d))
        _img(root / "Image" / "original" / n)
    (root / "EmoLabel" / "distribution.txt").write_text("\n".join(dist))
    (root / "EmoLabel" / "multilabel.txt").write_text("\n".join(binary))
    if partition:
        (root / "EmoLabel" / "partition_label.txt").write_text(
            "".join(f"{n} {int(i >= 7)}\n" for i, n in enumerate(names)))
    return root, order


def test_rafml_column_order_and_splits(tmp_path):
    root, order = make_rafml(tmp_path / "a", partition=False)
    ds = RAFML(root, emotion_order=order, aligned=False)
    r = ds.records
    raw = np.loadtxt(root / "EmoLabel" / "distribution.txt", usecols=range(1, 7))
    assert np.allclose(r["dist_Happiness"], raw[:, 0]) and np.allclose(r["dist_Anger"], raw[:, 5])
    assert np.array_equal(r["Surprise"].to_numpy(), (raw[:, 1] > 0.2).astype(float))
    split = r["split"].tolist()
    assert split.count("test") == 2 and split == RAFML(root, emotion_order=order, aligned=False).records["split"].tolist()
    dist_only = RAFML(root, emotion_order=order, aligned=False, multilabel=None, threshold=0.3)
    assert np.array_equal(dist_only.records["Fear"].to_numpy(), (raw[:, 2] >= 0.3).astype(float))
    root2, _ = make_rafml(tmp_path / "b", partition=True)
    ds2 = RAFML(root2, emotion_order=order, aligned=False)
    assert ds2.records["split"].tolist() == ["train"] * 7 + ["test"] * 3


# ---------------------------------------------------------------- JAFFE
JAFFE_IMAGES = ["KA.AN1.39.tiff", "KA.HA2.30.tiff", "KL.SU1.158.tiff", "KM.NE1.1.tiff",
                "NA.DI3.216.tiff", "NM.FE1.104.tiff", "TM.SA2.191.tiff", "UY.AN2.147.tiff",
                "YM.HA1.52.tiff", "KR.FE3.135.tiff"]


def make_jaffe(root: Path) -> Path:
    for n in JAFFE_IMAGES:
        _img(root / "jaffe" / n, gray=True)
    rng = np.random.default_rng(7)
    lines = ["Semantic ratings of the JAFFE images (60 subjects, 5-level scale)", "",
             "#   HAP  SAD  SUR  ANG  DIS  FEA  PIC"]
    ratings = {}
    for i, n in enumerate(JAFFE_IMAGES[:-1], 1):  # the last image has no rating row
        subj, code = n.split(".")[:2]
        vals = rng.uniform(1, 5, 6).round(2)
        vals[0] = 3.0 if i == 1 else vals[0]  # exactly the threshold counts as present
        ratings[f"{subj}-{code}"] = vals
        lines.append(f"{i:<3} " + " ".join(f"{v:.2f}" for v in vals) + f" {subj}-{code}")
    lines += ["", "Fear Excluded", "#   HAP  SAD  SUR  ANG  DIS  PIC"]
    lines += [f"{i} 5.00 5.00 5.00 5.00 5.00 {k}" for i, k in enumerate(ratings, 1)]
    (root / "A_README_FIRST.txt").write_text("\n".join(lines) + "\n")
    return root, ratings


def test_jaffe_ratings_first_table_threshold_and_folds(tmp_path):
    root, ratings = make_jaffe(tmp_path)
    ds = JAFFE(root)
    r = ds.records.set_index("pic")
    assert len(r) == 10 and set(ds.records["subject"]) >= {"KA", "KM", "NM"}
    assert ds.emotion_names == ["Happiness", "Sadness", "Surprise", "Anger", "Disgust", "Fear"]
    for pic, vals in ratings.items():
        assert np.allclose(r.loc[pic, [f"rating_{a}" for a in ("HAP", "SAD", "SUR", "ANG", "DIS", "FEA")]], vals)
        assert r.loc[pic, ds.emotion_names].tolist() == (vals >= 3).astype(float).tolist()
    assert r.loc["KA-AN1", "Happiness"] == 1.0  # rating 3.0 ≥ threshold 3
    assert r.loc["KR-FE3", ds.emotion_names].isna().all()  # no rating row
    assert r.loc["KA-AN1", "expression_name"] == "Anger" and r.loc["KM-NE1", "expression_name"] == "Neutral"
    folds = ds.folds()
    assert len(folds) == 5 and sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(10))
    strict = JAFFE(root, threshold=4.5)
    assert strict.labels()["emotions"][~np.isnan(strict.labels()["emotions"])].sum() < \
        ds.labels()["emotions"][~np.isnan(ds.labels()["emotions"])].sum()
    # a malformed row of the first table
    p = root / "A_README_FIRST.txt"
    text = p.read_text().replace(" KA-AN1", " 2.0 KA-AN1", 1)
    p.write_text(text)
    with pytest.raises(ReleaseFormatError, match=r"A_README_FIRST\.txt:4: expected 8 fields"):
        JAFFE(root)
