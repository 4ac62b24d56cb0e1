"""prepare_dataset: a folder with faces, a corrupt file, a face-less and a grayscale image;
failures are reported, outputs are atomic, and a rerun redoes only deleted outputs."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import skimage.data
from PIL import Image

from afg.data.datasets import FaceDataset, ImageFolder
from afg.data.faces import FaceAligner
from afg.data.prepare import JOURNAL_NAME, prepare_dataset, prepare_main, read_manifest

HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


class CountingAligner(FaceAligner):
    """The real aligner, counting how many images reach detection."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.seen = 0

    def align(self, images):
        images = list(images)
        self.seen += len(images)
        return super().align(images)


@pytest.fixture()
def photo_folder(tmp_path) -> Path:
    root = tmp_path / "raw"
    (root / "p1").mkdir(parents=True)
    (root / "p2").mkdir()
    astro = skimage.data.astronaut()
    hopper = np.asarray(Image.open(HOPPER).convert("RGB").resize((205, 240)))
    Image.fromarray(astro[20:220, 125:325]).save(root / "p1" / "astronaut.jpg", quality=92)
    Image.fromarray(astro[20:220, 125:325][:, ::-1]).save(root / "p1" / "mirrored.png")
    Image.fromarray(hopper).convert("L").save(root / "p2" / "hopper_gray.tiff")
    Image.fromarray(hopper).save(root / "p2" / "hopper.jpg")
    Image.fromarray(skimage.data.chelsea()[::2, ::2]).save(root / "p2" / "cat.png")
    (root / "p2" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00garbage" * 20)
    return root


def test_prepare_folder_reports_failures_and_resumes(photo_folder, tmp_path):
    adapter = ImageFolder(photo_folder)
    assert len(adapter) == 6
    out = tmp_path / "prepared"
    aligner = CountingAligner(size=96, batch_size=4)
    s = prepare_dataset(adapter, out, size=96, batch_size=4, aligner=aligner, progress=False)
    assert (s["total"], s["ok"], s["no_face"], s["unreadable"]) == (6, 4, 1, 1)
    assert aligner.seen == 5  # the corrupt file never reaches the detector

    manifest, meta = read_manifest(out)
    assert len(manifest) == 6 and meta["size"] == 96
    status = dict(zip(manifest["source"], manifest["status"]))
    assert status["p2/cat.png"] == "no_face" and status["p2/corrupt.jpg"] == "unreadable"
    assert status["p2/hopper_gray.tiff"] == "ok"
    ok = manifest[manifest["status"] == "ok"]
    for _, row in ok.iterrows():
        img = np.asarray(Image.open(out / row["aligned"]))
        assert img.shape == (96, 96, 3)
        assert 0 < row["box_x1"] < row["box_x2"] and 0 <= row["score"] <= 1
        assert np.isfinite(row[[f"lm{k}_x" for k in range(5)]].astype(float)).all()
    assert manifest.loc[manifest["status"] != "ok", "aligned"].fillna("").eq("").all()
    failures = pd.read_csv(out / "failures.csv")
    assert sorted(failures["source"]) == ["p2/cat.png", "p2/corrupt.jpg"]
    assert set(failures["status"]) == {"no_face", "unreadable"}
    assert failures["reason"].str.len().min() > 0
    assert not list(out.rglob("*.tmp"))  # atomic writes leave no temporaries

    # delete half of the aligned faces; a rerun redoes exactly those (failures are not retried)
    gone = ok["aligned"].iloc[:2].tolist()
    before = {a: (out / a).stat().st_mtime_ns for a in ok["aligned"].iloc[2:]}
    for a in gone:
        (out / a).unlink()
    with open(out / JOURNAL_NAME, "a") as fh:
        fh.write('{"source": "p1/astro')  # a line cut by a kill is ignored
    aligner2 = CountingAligner(size=96, batch_size=4)
    s2 = prepare_dataset(adapter, out, size=96, batch_size=4, aligner=aligner2, progress=False)
    assert s2["processed"] == 2 and s2["skipped"] == 4 and aligner2.seen == 2
    assert (s2["ok"], s2["no_face"], s2["unreadable"]) == (4, 1, 1)
    assert all((out / a).is_file() for a in gone)
    assert all((out / a).stat().st_mtime_ns == t for a, t in before.items())

    # the torch dataset over the prepared faces
    ds = FaceDataset(out)
    assert len(ds) == 4
    item = ds[0]
    assert item["image"].shape == (3, 96, 96) and isinstance(item["subject"], str)
    assert FaceDataset(out, size=64)[1]["image"].shape == (3, 64, 64)


def test_prepare_main_by_name(photo_folder, tmp_path):
    s = prepare_main("folder", photo_folder, tmp_path / "o", size=64, batch_size=8, device="cpu",
                     progress=False, limit=2)
    assert s["total"] == 2 and s["ok"] == 2
    meta = json.loads((tmp_path / "o" / "prepare.json").read_text())
    assert meta["dataset"] == "folder" and meta["summary"]["ok"] == 2


def test_rerun_with_another_size_or_margin_realigns_the_crops(photo_folder, tmp_path, capsys):
    """The journal records each crop's size and margin: a rerun with a different ``--size`` or
    margin re-aligns (and says so) instead of keeping the old crops under a new prepare.json."""
    adapter = ImageFolder(photo_folder)
    out = tmp_path / "prepared"

    def prep(size, margin=0.1, **kw):
        aligner = CountingAligner(size=size, margin=margin, batch_size=4)
        s = prepare_dataset(adapter, out, size=size, margin=margin, batch_size=4, aligner=aligner,
                            progress=False, limit=3, **kw)
        return s, aligner.seen

    s, _ = prep(64)
    assert s["ok"] == 2 and s["processed"] == 3  # astronaut, its mirror image; a cat (no face)
    faces = read_manifest(out)[0].query("status == 'ok'")["aligned"].tolist()
    assert len(faces) == 2
    first = np.asarray(Image.open(out / faces[0]))
    capsys.readouterr()

    s, seen = prep(96)
    assert (s["processed"], s["skipped"], seen) == (2, 1, 2)  # the two faces; the cat stays a failure
    assert "re-aligning them at size 96" in capsys.readouterr().out
    assert all(np.asarray(Image.open(out / f)).shape == (96, 96, 3) for f in faces)
    manifest, meta = read_manifest(out)
    assert meta["size"] == 96 and (manifest.query("status == 'ok'")["aligned"].tolist() == faces)

    s, seen = prep(96)  # same geometry: nothing to do
    assert (s["processed"], seen) == (0, 0)

    s, seen = prep(96, margin=0.3)  # a wider margin: a smaller face in the crop
    assert (s["processed"], seen) == (2, 2)
    assert read_manifest(out)[1]["margin"] == pytest.approx(0.3)
    wide = np.asarray(Image.open(out / faces[0]))
    tight = np.asarray(Image.open(out / faces[0]).resize((64, 64)))
    assert wide.shape == (96, 96, 3) and first.shape == (64, 64, 3)
    assert np.abs(tight.astype(float) - first.astype(float)).mean() > 5  # really re-aligned

    # a journal of an older afg (entries without size/margin) falls back on prepare.json
    journal = out / JOURNAL_NAME
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    for e in lines:
        e.pop("size", None)
        e.pop("margin", None)
    journal.write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    s, seen = prep(96, margin=0.3)
    assert (s["processed"], seen) == (0, 0)
    s, seen = prep(80, margin=0.3)
    assert (s["processed"], seen) == (2, 2)
