"""AU release adapters on small fake releases in the official formats (BP4D, DISFA, EmotioNet,
ListDataset), including their quirks; malformed rows name file and line."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from afg.data.datasets import (
    BP4D,
    BP4D_PARTS,
    DISFA,
    DISFA_PARTS,
    EmotioNet,
    ListDataset,
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


# ---------------------------------------------------------------- BP4D
BP4D_ALL = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)


def make_bp4d(root: Path) -> Path:
    occ = root / "AUCoding" / "AU_OCC"
    occ.mkdir(parents=True)
    cols = list(range(28))  # "0" = frame, then AU numbers incl. ones the protocol ignores
    header = ",".join(str(c) for c in cols)

    def row(frame, on=(), uncoded=()):
        vals = [frame] + [9 if c in uncoded else int(c in on) for c in cols[1:]]
        return ",".join(str(v) for v in vals)

    (occ / "F001_T1.csv").write_text("\n".join([
        header, row(1, on=(1, 2)), row(2, on=(12,)), row(3, on=(24,), uncoded=(2, 5)), row(4)]) + "\n")
    (occ / "M011_T2.csv").write_text("\n".join([header, row(10, on=(4, 6)), row(11, on=(23,))]))
    (occ / "F007_T8.csv").write_text(header + "\n" + row(7, on=(17,)) + "\n")
    for f in range(1, 5):
        _img(root / "Sequences" / "F001" / "T1" / f"{f:04d}.jpg")  # zero-padded
    _img(root / "Sequences" / "M011" / "T2" / "10.jpg")  # unpadded; frame 11 is missing
    _img(root / "Sequences" / "F007" / "T8" / "7.jpg")
    return root


def test_bp4d_parses_official_layout(tmp_path):
    with pytest.warns(UserWarning, match="1 of 7 labelled images are missing"):
        ds = BP4D(make_bp4d(tmp_path))
    r = ds.records
    assert len(r) == 6 and len(ds.missing) == 1
    assert ds.missing["image"].iloc[0].endswith("M011/T2/11.jpg")
    assert ds.au_names == [f"AU{a:02d}" for a in BP4D_ALL]
    f1 = r[r.subject == "F001"].set_index("frame")
    assert f1.loc[1, ["AU01", "AU02", "AU04"]].tolist() == [1, 1, 0]
    assert np.isnan(f1.loc[3, "AU02"]) and f1.loc[3, "AU24"] == 1  # 9 = not coded
    assert f1["image"].iloc[0].endswith("F001/T1/0001.jpg")
    assert r.loc[r.subject == "M011", "image"].iloc[0].endswith("M011/T2/10.jpg")
    mask = ds.label_mask()
    assert mask.shape == (6, 12) and mask.sum() == 6 * 12 - 1
    # standard parts: fold 1 tests part 3 (F007), fold 2 part 2 (M011), fold 3 part 1 (F001)
    assert dict(zip(r.subject, r.fold)) == {"F001": 3, "M011": 2, "F007": 1}
    folds = ds.folds()
    assert len(folds) == 3
    for (train, test), subj in zip(folds, ["F007", "M011", "F001"]):
        assert set(r.subject.iloc[test]) == {subj}
        assert not set(r.subject.iloc[train]) & set(r.subject.iloc[test])
        assert len(train) + len(test) == len(r)
    assert len(BP4D_PARTS[0]) + len(BP4D_PARTS[1]) + len(BP4D_PARTS[2]) == 41
    lab = ds.labels()
    assert lab["au"].shape == (6, 12) and np.isnan(lab["au"]).sum() == 1
    with pytest.raises(ValueError):
        ds.folds(5)


def test_bp4d_malformed_row_names_file_and_line(tmp_path):
    root = make_bp4d(tmp_path)
    p = root / "AUCoding" / "AU_OCC" / "F001_T1.csv"
    lines = p.read_text().splitlines()
    lines[2] += ",1"
    p.write_text("\n".join(lines))
    with pytest.raises(ReleaseFormatError, match=r"F001_T1\.csv:3: expected 28 fields"):
        _quiet(BP4D, root)
    parts = lines[2].split(",")[:-1]
    parts[1] = "7"  # AU1 = 7: neither 0, 1 nor 9
    lines[2] = ",".join(parts)
    p.write_text("\n".join(lines))
    with pytest.raises(ReleaseFormatError, match=r"F001_T1\.csv:3: AU1 value 7"):
        _quiet(BP4D, root)


# ---------------------------------------------------------------- DISFA
DISFA_ALL = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)


def make_disfa(root: Path) -> Path:
    lab = root / "ActionUnit_Labels"
    rng = np.random.default_rng(0)
    spec = {"SN001": (5, 0, ""), "SN003": (3, 1, "04d"), "SN013": (4, 0, "")}  # frames, 1st image, pad
    for subj, (n, first, pad) in spec.items():
        (lab / subj).mkdir(parents=True)
        for a in DISFA_ALL:
            vals = rng.integers(0, 6, n)
            (lab / subj / f"{subj}_au{a}.txt").write_text(
                "".join(f"{t + 1},{v}\n" for t, v in enumerate(vals)))
        for t in range(n):
            if subj == "SN001" and t == 4:
                continue  # a missing frame image
            _img(root / "Images_LeftCamera" / subj / f"{t + first:{pad}}.png")
    return root


def _intensity(root: Path, subj: str, au: int) -> np.ndarray:
    return np.loadtxt(root / "ActionUnit_Labels" / subj / f"{subj}_au{au}.txt", delimiter=",")[:, 1]


def test_disfa_thresholds_frames_and_folds(tmp_path):
    root = make_disfa(tmp_path)
    ds = _quiet(DISFA, root)
    r = ds.records
    assert ds.au_names == ["AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26"]
    assert len(r) == 11 and len(ds.missing) == 1  # 5 + 3 + 4 frames, one image missing
    sn1 = r[r.subject == "SN001"]
    assert np.array_equal(sn1["AU06"].to_numpy(), (_intensity(root, "SN001", 6)[:4] >= 2).astype(float))
    # 0-based unpadded images for SN001, 1-based padded ones for SN003: both found
    assert sn1["image"].iloc[0].endswith("SN001/0.png")
    assert r.loc[r.subject == "SN003", "image"].iloc[0].endswith("SN003/0001.png")
    hi = _quiet(DISFA, root, threshold=3, aus=(5, 15, 20), keep_intensity=True)
    assert hi.au_names == ["AU05", "AU15", "AU20"]
    sn3 = hi.records[hi.records.subject == "SN003"]
    assert np.array_equal(sn3["AU15"].to_numpy(), (_intensity(root, "SN003", 15) >= 3).astype(float))
    assert np.array_equal(sn3["AU15_intensity"].to_numpy(), _intensity(root, "SN003", 15))
    with pytest.raises(ValueError, match="codes AUs"):
        DISFA(root, aus=(1, 3))
    # SN001 is in part 1 (fold 3 tests it), SN013 part 2, SN003 part 3 (fold 1)
    assert dict(zip(r.subject, r.fold)) == {"SN001": 3, "SN013": 2, "SN003": 1}
    tests = [set(r.subject.iloc[te]) for _, te in ds.folds(3)]
    assert tests == [{"SN003"}, {"SN013"}, {"SN001"}]
    assert {"SN003", "SN013", "SN001"} <= set(DISFA_PARTS[2]) | set(DISFA_PARTS[1]) | set(DISFA_PARTS[0])
    assert get_adapter("DISFA", root, check_images=False).records.shape[0] == 12


def test_disfa_malformed_row_names_file_and_line(tmp_path):
    root = make_disfa(tmp_path)
    p = root / "ActionUnit_Labels" / "SN003" / "SN003_au4.txt"
    lines = p.read_text().splitlines()
    lines[1] = "2;x"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReleaseFormatError, match=r"SN003_au4\.txt:2"):
        _quiet(DISFA, root)
    lines[1] = "2,7"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReleaseFormatError, match=r"SN003_au4\.txt:2: intensity 7 outside"):
        _quiet(DISFA, root)


# ---------------------------------------------------------------- EmotioNet
EMO_AUS = (1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26, 43)


def _emotionet_rows():
    rng = np.random.default_rng(3)
    rows = []
    for i in range(7):
        vals = rng.integers(0, 2, len(EMO_AUS)).tolist()
        if i == 2:
            vals[3] = 999
        rows.append((f"http://img.example.com/{i}/face_{i}.jpg", vals))
    return rows


def make_emotionet(root: Path, kind: str = "csv") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = _emotionet_rows()
    header = ["URL"] + [f"'AU {a}'" for a in EMO_AUS] + ["'AU 7'"]
    if kind == "csv":
        lines = [",".join(header)]
        for i, (url, vals) in enumerate(rows):
            u = {0: f"'{url}'", 1: f"{url}'", 3: f' "{url}"', 4: f'"{url}'}.get(i, url)  # stray quotes
            lines.append(",".join([u] + [str(v) for v in vals] + ["0"]))
            if i == 3:
                lines.append("," * len(EMO_AUS) + ",")  # an empty (NaN) row
        (root / "EmotioNet_manual.csv").write_text("\n".join(lines) + "\n")
    elif kind == "xlsx":
        data = [[url] + vals + [0] for url, vals in rows]
        data.insert(4, [None] * (len(EMO_AUS) + 2))
        pd.DataFrame(data, columns=header).to_excel(root / "manual.xlsx", index=False)
    else:
        with open(root / "dataFile_1001.txt", "w") as fh:
            for url, vals in rows:
                full = [0] * 60
                for a, v in zip(EMO_AUS, vals):
                    full[a - 1] = v
                fh.write("\t".join([url, url + "?orig"] + [str(v) for v in full]) + "\n")
    for url, _ in rows[:-1]:  # the last image is missing
        _img(root / "images" / url.rsplit("/", 1)[1])
    return root


@pytest.mark.parametrize("kind", ["csv", "xlsx", "auto"])
def test_emotionet_formats(tmp_path, kind):
    root = make_emotionet(tmp_path / kind, kind)
    with pytest.warns(UserWarning, match="1 of 7"):
        ds = EmotioNet(root)
    r = ds.records
    assert len(r) == 6 and ds.missing["image"].iloc[0].endswith("face_6.jpg")
    assert ds.au_names == [f"AU{a:02d}" for a in EMO_AUS]
    rows = _emotionet_rows()
    assert [Path(p).name for p in r["image"]] == [f"face_{i}.jpg" for i in range(6)]
    expect = np.array([v for _, v in rows[:6]], dtype=float)
    expect[expect == 999] = np.nan
    assert np.array_equal(ds.labels()["au"], expect, equal_nan=True)
    assert np.isnan(r.loc[2, "AU05"])
    # random 3 folds = KFold(3, shuffle=True, random_state=42) over the 7 annotation rows
    from sklearn.model_selection import KFold

    fold = np.zeros(7, int)
    for j, (_, te) in enumerate(KFold(3, shuffle=True, random_state=42).split(np.arange(7))):
        fold[te] = j + 1
    assert r["fold"].tolist() == fold[:6].tolist()
    assert sum(len(te) for _, te in ds.folds()) == 6


def test_emotionet_malformed_rows(tmp_path):
    root = make_emotionet(tmp_path / "m", "csv")
    p = root / "EmotioNet_manual.csv"
    lines = p.read_text().splitlines()
    lines[3] = lines[3] + ",1"
    p.write_text("\n".join(lines))
    with pytest.raises(ReleaseFormatError, match=r"EmotioNet_manual\.csv:4: expected 14 fields"):
        _quiet(EmotioNet, root)
    parts = lines[3].split(",")[:-1]
    parts[1] = "5"  # AU 1 = 5
    lines[3] = ",".join(parts)
    p.write_text("\n".join(lines))
    with pytest.raises(ReleaseFormatError, match=r"EmotioNet_manual\.csv:4: AU01 value 5"):
        _quiet(EmotioNet, root)
    auto = make_emotionet(tmp_path / "a", "auto")
    f = auto / "dataFile_1001.txt"
    lines = f.read_text().splitlines()
    lines[1] = "\t".join(lines[1].split("\t")[:30])
    f.write_text("\n".join(lines))
    with pytest.raises(ReleaseFormatError, match=r"dataFile_1001\.txt:2"):
        _quiet(EmotioNet, auto)


# ---------------------------------------------------------------- ListDataset
def test_list_dataset_and_missing_values(tmp_path):
    (tmp_path / "paths.txt").write_text("BP4D/F001/T1/1.jpg\nBP4D/M003/T2/5.jpg\nx/y.jpg\n")
    (tmp_path / "labels.txt").write_text("1 0 9\n0 1 1\n0 0 0\n")
    ds = ListDataset(tmp_path / "paths.txt", tmp_path / "labels.txt", au_names=[1, 2, 4],
                     missing_values=(9,))
    assert ds.au_names == ["AU01", "AU02", "AU04"]
    assert ds.records["subject"].tolist() == ["F001", "M003", "x"]
    assert np.isnan(ds.labels()["au"][0, 2]) and ds.labels()["au"][1].tolist() == [0, 1, 1]
    assert len(ds.folds(3)) == 3  # no fold files: subject-disjoint folds
    (tmp_path / "labels.txt").write_text("1 0 9\n0 1\n0 0 0\n")
    with pytest.raises(ReleaseFormatError, match=r"labels\.txt:2: expected 3 labels"):
        ListDataset(tmp_path / "paths.txt", tmp_path / "labels.txt")
    (tmp_path / "labels.txt").write_text("1 0 9\n0 1 1\n")
    with pytest.raises(ReleaseFormatError, match="2 label rows but 3 paths"):
        ListDataset(tmp_path / "paths.txt", tmp_path / "labels.txt")


def test_per_subject_counts_hand_computed():
    from afg.data.stats import per_subject_counts

    y = np.array([[1, 0], [1, np.nan], [0, 1], [1, 1]])
    c = per_subject_counts(y, ["b", "b", "a", "b"], ["AU01", "AU02"])
    assert c.index.tolist() == ["a", "b"]
    assert c.loc["a"].tolist() == [1, 0, 1] and c.loc["b"].tolist() == [3, 3, 1]


def test_disfa_extract_frames_from_left_camera_video(tmp_path):
    cv2 = pytest.importorskip("cv2")
    root = tmp_path / "disfa"
    (root / "Videos_LeftCamera").mkdir(parents=True)
    writer = cv2.VideoWriter(str(root / "Videos_LeftCamera" / "LeftVideoSN002_comp.avi"),
                             cv2.VideoWriter_fourcc(*"MJPG"), 20, (32, 24))
    for t in range(5):
        frame = np.zeros((24, 32, 3), np.uint8)
        frame[..., 2] = 40 * t  # red ramp (OpenCV writes BGR)
        writer.write(frame)
    writer.release()
    lab = root / "ActionUnit_Labels" / "SN002"
    lab.mkdir(parents=True)
    for a in DISFA_ALL:
        (lab / f"SN002_au{a}.txt").write_text("".join(f"{t + 1},{t % 6}\n" for t in range(5)))
    ds = _quiet(DISFA, root, check_images=False)
    assert ds.extract_frames() == {"SN002": 5}
    names = sorted((root / "frames" / "SN002").iterdir(), key=lambda p: int(p.stem))
    assert [p.name for p in names] == [f"{t}.png" for t in range(5)]
    reds = [np.asarray(Image.open(p))[..., 0].mean() for p in names]
    assert np.all(np.diff(reds) > 20)  # frame order kept, RGB order right
    ds2 = DISFA(root)  # frame 1 ↔ 0.png, all images now present
    assert len(ds2) == 5 and len(ds2.missing) == 0
    assert ds2.records["image"].iloc[0].endswith("SN002/0.png")
