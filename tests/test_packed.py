"""Packed faces (afg.data.packed): one memory-mapped uint8 array that gives the same items as the
JPEG folder, bit for bit; packing resumes; a pack of an older manifest is refused."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from afg.data.datasets.face_dataset import FaceDataset
from afg.data.packed import PackedFaces, StalePackError, pack_dir, pack_prepared, packed_dataset
from afg.utils import atomic_save_json


def make_prepared(root: Path, n: int = 7, size: int = 40) -> Path:
    """A folder as ``afg prepare`` leaves it: JPEG faces, manifest.csv (one failed row), prepare.json."""
    rng = np.random.default_rng(0)
    (root / "faces" / "s1").mkdir(parents=True)
    rows = []
    for i in range(n):
        img = (rng.random((size, size, 3)) * 255).astype(np.uint8)
        aligned = f"faces/s1/{i:03d}.jpg"
        Image.fromarray(img).save(root / aligned, quality=90)
        rows.append({"record": i, "source": f"s1/{i:03d}.png", "aligned": aligned, "status": "ok", "reason": "",
                     "subject": f"S{i % 3}", "AU01": float(i % 2), "AU02": float((i + 1) % 2), "mask": "11"})
    rows.insert(3, {"record": n, "source": "s1/bad.png", "aligned": "", "status": "no_face",
                    "reason": "no face detected", "subject": "S0", "AU01": 1.0, "AU02": 0.0, "mask": "11"})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    atomic_save_json(root / "prepare.json", {"size": size, "au_names": ["AU01", "AU02"], "expression_names": [],
                                             "emotion_names": [], "has_va": False})
    return root


@pytest.mark.parametrize("size", [None, 32])  # as prepared, and resized as data.resize asks
def test_pack_round_trips_faces_bit_exactly(tmp_path, size):
    prep = make_prepared(tmp_path / "prep")
    out = pack_prepared(prep, size=size, chunk=3, progress=False)
    assert out == pack_dir(prep, size) == prep / f"packed-{size or 40}"
    jpeg = FaceDataset(prep, size=size)
    pack = PackedFaces(out)
    assert pack.faces.dtype == np.uint8 and pack.faces.shape == (7, size or 40, size or 40, 3)
    assert not pack.faces.flags.writeable  # read-only map
    for i in range(len(jpeg)):
        assert np.array_equal(pack.faces[pack.row_of(jpeg.table["aligned"].iat[i])], jpeg._load(i))
    # the training items are the same tensors
    ds = packed_dataset(prep, prep, True, size=size)
    assert len(ds) == len(jpeg) == 7
    for i in (0, 3, 6):
        a, b = ds[i], jpeg[i]
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["au"], b["au"])
    # workers get the path, not a copy of the array
    assert len(pickle.dumps(ds)) < pack.faces.nbytes


def test_packing_resumes_where_it_stopped(tmp_path, monkeypatch):
    prep = make_prepared(tmp_path / "prep")
    calls = []
    real = FaceDataset._load

    def flaky(self, i):
        calls.append(i)
        if len(calls) == 5:
            raise KeyboardInterrupt  # killed while decoding the fifth face
        return real(self, i)

    monkeypatch.setattr(FaceDataset, "_load", flaky)
    with pytest.raises(KeyboardInterrupt):
        pack_prepared(prep, chunk=2, progress=False)
    with pytest.raises(FileNotFoundError, match="packing stopped at 4 of 7 faces"):
        PackedFaces(pack_dir(prep))
    calls.clear()
    monkeypatch.setattr(FaceDataset, "_load", lambda self, i: calls.append(i) or real(self, i))
    pack_prepared(prep, chunk=2, progress=False)
    assert calls == [4, 5, 6]  # only what was missing
    pack, jpeg = PackedFaces(pack_dir(prep)), FaceDataset(prep)
    assert all(np.array_equal(pack.faces[i], real(jpeg, i)) for i in range(7))


def test_a_pack_of_an_older_manifest_is_refused(tmp_path):
    prep = make_prepared(tmp_path / "prep")
    out = pack_prepared(prep, progress=False)
    m = pd.read_csv(prep / "manifest.csv")
    m.loc[0, "AU01"] = 1 - m.loc[0, "AU01"]  # prepared again: the manifest changed
    m.to_csv(prep / "manifest.csv", index=False)
    for attempt in (lambda: PackedFaces(out), lambda: pack_prepared(prep, progress=False),
                    lambda: packed_dataset(prep, prep, True)):
        with pytest.raises(StalePackError) as exc:
            attempt()
        msg = str(exc.value)
        assert "\n" not in msg and "packed from an older" in msg and "overwrite=True" in msg
    pack_prepared(prep, overwrite=True, progress=False)
    assert len(PackedFaces(out)) == 7



def test_data_packed_gives_the_release_path_the_same_items(tmp_path):
    """``data.packed: true`` in an experiment config: the DISFA folds read from the pack (packed on
    first use, at ``data.resize``) give the items the JPEG path gives."""
    from test_datasets_faces import StubAligner, make_disfa

    from afg.data.build import build_data
    from afg.data.datasets import DISFA
    from afg.data.prepare import prepare_dataset
    from afg.data.spec import DataSpec

    raw = make_disfa(tmp_path / "raw")
    prep = tmp_path / "prepared"
    prepare_dataset(DISFA(raw), prep, size=32, aligner=StubAligner(size=32), progress=False)
    common = {"dataset": "disfa", "root": str(raw), "prepared": str(prep), "folds": 2, "fold": 1, "resize": 28,
              "img_size": 24, "cache": False}
    jpeg_tr, jpeg_va = build_data(DataSpec(**common))
    pack_tr, pack_va = build_data(DataSpec(**common, packed=True))
    assert (prep / "packed-28" / "pack.json").is_file()
    for a, b in ((jpeg_tr, pack_tr), (jpeg_va, pack_va)):
        assert len(a) == len(b) > 0
        for i in range(len(a)):  # the same random crop on both sides
            torch.manual_seed(i)
            x = a[i]
            torch.manual_seed(i)
            y = b[i]
            assert torch.equal(x["image"], y["image"]) and torch.equal(x["au"], y["au"])
