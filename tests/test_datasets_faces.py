"""FaceDataset over prepared faces: batch-convention items, labels joined from the adapter or the
manifest, cache, and AffectNet's shipped landmarks replacing MTCNN (no detector runs here)."""
from __future__ import annotations

import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from afg.data.datasets import DISFA, AffectNet, FaceDataset
from afg.data.faces import FaceAligner, face_template
from afg.data.image_io import as_rgb_uint8
from afg.data.prepare import prepare_dataset
from afg.data.stats import training_statistics

AUS12 = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)


class StubAligner(FaceAligner):
    """Pretends the face fills the frame: fixed points, no MTCNN."""

    def align(self, images):
        out = []
        for im in images:
            im = as_rgb_uint8(im)
            h, w = im.shape[:2]
            pts = face_template(w, 0.0) * np.array([1.0, h / w])
            r = self.align_points(im, pts)
            r.update(box=np.array([0, 0, w - 1, h - 1], float), score=0.99, faces=1, reason="")
            out.append(r)
        return out


class NoDetector(FaceAligner):
    def align(self, images):  # pragma: no cover - must not be reached
        raise AssertionError("MTCNN must not run when the release ships landmarks")


def _rgb(path: Path, size: int = 32) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # seeded by a stable digest of the name (str hash() changes with PYTHONHASHSEED)
    arr = np.random.default_rng(zlib.crc32(path.name.encode())).integers(0, 255, (size, size, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)


def make_disfa(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for subj, n in (("SN001", 4), ("SN003", 3)):
        (root / "ActionUnit_Labels" / subj).mkdir(parents=True)
        for a in AUS12:
            (root / "ActionUnit_Labels" / subj / f"{subj}_au{a}.txt").write_text(
                "".join(f"{t + 1},{v}\n" for t, v in enumerate(rng.integers(0, 6, n))))
        for t in range(n):
            _rgb(root / "frames" / subj / f"{t}.png")
    return root


def test_face_dataset_items_labels_and_reuse(tmp_path):
    raw = make_disfa(tmp_path / "raw")
    ds2 = DISFA(raw)
    out = tmp_path / "prepared"
    s = prepare_dataset(ds2, out, size=32, batch_size=3, aligner=StubAligner(size=32), progress=False)
    assert s["ok"] == 7
    faces = ds2.dataset(out)
    assert len(faces) == 7 and faces.au_names == ds2.au_names
    item = faces[0]
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert item["au"].shape == (8,) and item["au_mask"].dtype == torch.bool and item["au_mask"].all()
    assert item["subject"] == "SN001"
    batch = next(iter(DataLoader(faces, batch_size=4)))
    assert batch["au"].shape == (4, 8) and batch["image"].shape == (4, 3, 32, 32)
    assert np.array_equal(faces.labels()["au"], ds2.labels()["au"])
    stats = training_statistics(faces)
    assert stats["au_class_weights"].shape == (8,)
    # the manifest alone carries the same labels, names and folds
    from_manifest = FaceDataset(out)
    assert from_manifest.au_names == ds2.au_names
    assert np.array_equal(from_manifest.labels()["au"], faces.labels()["au"])
    assert [len(te) for _, te in from_manifest.folds()] == [3, 4]  # fold 1 = SN003, fold 3 = SN001
    # another threshold / AU set reuses the same prepared faces
    ds3 = DISFA(raw, threshold=4, aus=(5, 15))
    f3 = FaceDataset(ds3, out, indices=np.flatnonzero(ds3.records.subject == "SN003"))
    assert len(f3) == 3 and f3[0]["au"].shape == (2,)
    assert np.array_equal(f3.labels()["au"], ds3.labels()["au"][4:])
    # decoded-image cache: items survive deleting the files once read
    cached = ds2.dataset(out, cache=True)
    first = cached[1]["image"]
    for p in (out / "faces").rglob("*.jpg"):
        p.unlink()
    assert torch.equal(cached[1]["image"], first)
    with pytest.raises(FileNotFoundError):
        faces[1]


def make_affectnet(root: Path) -> tuple[Path, np.ndarray]:
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    # 5 key points = an exact similarity image of the template; eye rings around them
    tpl = face_template(112, 0.0)
    pts5 = (tpl - 56) * 0.4 + np.array([30.0, 34.0])
    lm = np.random.default_rng(0).uniform(10, 50, (68, 2))
    ring = np.array([[-2, 0], [-1, -1], [1, -1], [2, 0], [1, 1], [-1, 1]], float)
    lm[36:42] = pts5[0] + ring
    lm[42:48] = pts5[1] + ring
    lm[30], lm[48], lm[54] = pts5[2], pts5[3], pts5[4]
    lm_s = ";".join(f"{v:.4f}" for v in lm.reshape(-1))
    rows = [f"1/a{i}.jpg,0,0,60,60,{lm_s},{c},0.{i},-0.{i}" for i, c in enumerate([1, 3, 7])]
    for i in range(3):
        _rgb(root / "Manually_Annotated_Images" / "1" / f"a{i}.jpg", size=64)
    (lists / "training.csv").write_text("\n".join(rows) + "\n")
    (lists / "validation.csv").write_text(rows[0] + "\n")
    return root, lm


def test_affectnet_landmarks_replace_mtcnn(tmp_path):
    root, _ = make_affectnet(tmp_path / "raw")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ad = AffectNet(root)
    out = tmp_path / "prep"
    s = prepare_dataset(ad, out, size=48, aligner=NoDetector(size=48), progress=False)
    assert s["ok"] == 3 and s["total"] == 3
    faces = ad.dataset(out)
    assert len(faces) == 4  # the validation row shares a0.jpg with training
    it = faces[1]
    assert it["expression"].dtype == torch.long and int(it["expression"]) == 3
    assert torch.allclose(it["va"], torch.tensor([0.1, -0.1]))
    tpl = face_template(48, 0.1)
    crop_lm = it["landmarks"].numpy()
    assert crop_lm.shape == (68, 2)
    assert np.abs(crop_lm[36:42].mean(0) - tpl[0]).max() < 0.01  # stored to 0.01 px
    assert np.abs(crop_lm[[30, 48, 54]] - tpl[2:]).max() < 0.01
    # resizing the faces rescales the landmarks with them
    small = ad.dataset(out, size=24)[1]["landmarks"].numpy()
    assert np.allclose((small + 0.5) * 2 - 0.5, crop_lm, atol=1e-3)
