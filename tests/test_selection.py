"""recipe.selection: the subject-disjoint selection split (val), the final epoch (last), the
authors' protocol (test); the held-out fold is read once, after training; the cache keeps the
modes apart."""
from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pytest
import torch
from test_train import TinyAU
from torch.utils.data import Dataset, Subset

from afg.config import ConfigError
from afg.data.augment import AugmentedSubset, FaceAugment
from afg.experiments import (
    ExperimentConfig,
    config_hash,
    item_subjects,
    register_dataset,
    run,
    runner,
    selection_split,
)
from afg.models.registry import _REGISTRY, register_model
from afg.runs import load_checkpoint


def _tiny_factory(num_classes, backbone=None, pretrained=False, weights=None, img_size=16, **options):
    return TinyAU(**options)


if "test_tiny_au" not in _REGISTRY:
    register_model("test_tiny_au")(_tiny_factory)


class Faces(Dataset):
    """48 random 16x16 'faces' of 8 subjects (6 each); AU labels = thresholded channel means."""

    au_names = ("AU01", "AU02", "AU04")

    def __init__(self, n: int = 48, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, 16, 16, generator=g)
        self.y = (self.x.mean((2, 3)) > 0).float()
        self.subject = np.array([f"S{i % 8}" for i in range(n)])

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return {"image": self.x[i], "au": self.y[i], "subject": self.subject[i]}

    def labels(self):
        return {"au": self.y.numpy(), "subject": self.subject.copy()}


class HeldOut(Dataset):
    """The held-out fold with its labels replaced (``garbage``: flipped 0/1, ``nan``: missing) and
    a guard: reading an item or the labels before :data:`OPEN` is set fails the test."""

    OPEN: ClassVar[dict[str, bool]] = {"value": True}

    def __init__(self, base: Faces, idx: list[int], labels: str):
        self.base, self.idx, self.mode = base, idx, labels
        self.au_names = base.au_names

    def __len__(self) -> int:
        return len(self.idx)

    def _check(self):
        if not HeldOut.OPEN["value"]:
            raise AssertionError("held-out data read before the final evaluation")

    def __getitem__(self, i):
        self._check()
        item = dict(self.base[self.idx[i]])
        y = item["au"]
        item["au"] = {"clean": y, "garbage": 1.0 - y, "nan": torch.full_like(y, float("nan"))}[self.mode]
        return item

    def labels(self):
        self._check()
        return {"au": np.stack([self[i]["au"].numpy() for i in range(len(self))])}


@register_dataset("test_selection_faces")
def _faces(spec):
    ds = Faces()
    test = [i for i in range(len(ds)) if int(ds.subject[i][1:]) % 4 == spec.fold - 1]  # 2 subjects
    train = [i for i in range(len(ds)) if i not in set(test)]
    return Subset(ds, train), HeldOut(ds, test, spec.options.get("labels", "clean"))


def _cfg(selection="val", labels="clean", **recipe) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "model": {"name": "test_tiny_au", "num_classes": 3},
        "data": {"dataset": "test_selection_faces", "folds": 4, "fold": 1, "options": {"labels": labels}},
        "recipe": {"epochs": 3, "batch_size": 8, "optimizer": {"lr": 0.05}, "deterministic": True,
                   "progress": False, "schedule": {"name": "constant"}, "selection": selection,
                   "selection_fraction": 1 / 6, **recipe},
    })


def test_selection_split_is_subject_disjoint_and_seeded():
    ds = Faces()
    train = Subset(ds, list(range(36)))  # subjects S0..S7, 4-5 faces each
    a, sel = selection_split(train, fraction=0.25, seed=3)
    subj_a, subj_s = set(item_subjects(a)), set(item_subjects(sel))
    assert len(subj_s) == 2 and not subj_a & subj_s and len(a) + len(sel) == 36
    assert sorted(a.indices + sel.indices) == list(range(36))  # indices into the base dataset
    train.basic_data = "attached by a builder"
    assert selection_split(train, 0.25, 3)[0].basic_data == "attached by a builder"
    again = selection_split(train, fraction=0.25, seed=3)[1]
    assert again.indices == sel.indices
    others = {tuple(selection_split(train, 0.25, seed=s)[1].indices) for s in range(6)}
    assert len(others) > 1
    # at least one subject, never all of them
    assert len(set(item_subjects(selection_split(train, 0.01, 0)[1]))) == 1
    assert len(set(item_subjects(selection_split(train, 0.99, 0)[0]))) == 1
    # no subject ids: a random split of the items
    plain = torch.utils.data.TensorDataset(torch.zeros(16, 1))
    assert item_subjects(plain) is None
    a, sel = selection_split(plain, fraction=0.25, seed=0)
    assert len(sel) == 4 and not set(a.indices) & set(sel.indices)
    # augmented training items: the selection split sees them as at validation time
    aug = AugmentedSubset(ds, list(range(36)), FaceAugment(crop=12, hflip=True, train=True))
    a, sel = selection_split(aug, 0.25, 0)
    assert a.transform.train and not sel.transform.train and sel.transform.crop == 12
    with pytest.raises(ConfigError, match="selection_fraction"):
        _cfg(selection_fraction=1.0)
    with pytest.raises(ConfigError, match="selection: 'best'"):
        _cfg(selection="best")


def _untimed(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("time_s", "data_wait_share")}


def test_val_selection_never_reads_held_out_labels(tmp_path, monkeypatch):
    """Garbage or missing held-out labels leave training, selection and best.pt unchanged, and no
    held-out item or label is read before the final evaluation."""
    opened = []
    original = runner._evaluate_held_out

    def final_evaluation(model, held_out, cfg):
        HeldOut.OPEN["value"] = True
        opened.append(len(held_out))
        return original(model, held_out, cfg)

    monkeypatch.setattr(runner, "_evaluate_held_out", final_evaluation)
    results = {}
    try:
        for labels in ("clean", "garbage", "nan"):
            HeldOut.OPEN["value"] = False
            results[labels] = run(_cfg(labels=labels), root=tmp_path)
    finally:
        HeldOut.OPEN["value"] = True
    assert opened == [12, 12, 12]
    clean = results["clean"]
    best = load_checkpoint(clean.run_dir / "best.pt")["model"]
    for labels in ("garbage", "nan"):
        other = results[labels]
        assert other.run_dir != clean.run_dir
        assert [_untimed(h) for h in other.history] == [_untimed(h) for h in clean.history]
        assert _untimed(other.selection_metrics) == _untimed(clean.selection_metrics)
        theirs = load_checkpoint(other.run_dir / "best.pt")["model"]
        assert all(torch.equal(best[k], theirs[k]) for k in best)
    # the held-out evaluation did read the labels it was given
    # (flipped 0/1 labels flip every per-AU accuracy at the 0.5 threshold)
    assert results["garbage"].metrics["acc_mean"] == pytest.approx(1.0 - clean.metrics["acc_mean"])
    assert np.isnan(results["nan"].metrics["acc_mean"]) and not np.isnan(clean.metrics["acc_mean"])
    saved = json.loads((clean.run_dir / "evaluation.json").read_text())
    assert saved["selection"] == "val" and saved["metrics"]["f1_mean"] == clean.metrics["f1_mean"]
    assert saved["sizes"] == {"train": 30, "selection": 6, "held_out": 12}


def test_cache_separates_selection_modes(tmp_path):
    hashes = {m: config_hash(_cfg(m)) for m in ("val", "last", "test")}
    assert len(set(hashes.values())) == 3
    # the carve-out fraction matters only where a split is carved out
    assert config_hash(_cfg("val", selection_fraction=0.5)) != hashes["val"]
    assert config_hash(_cfg("test", selection_fraction=0.5)) == hashes["test"]
    res = {m: run(_cfg(m), root=tmp_path) for m in hashes}
    assert len({r.run_dir for r in res.values()}) == 3 and not any(r.cached for r in res.values())
    again = {m: run(_cfg(m), root=tmp_path) for m in hashes}
    assert all(r.cached and r.selection == m and r.metrics == res[m].metrics for m, r in again.items())
    # test: the held-out fold chose the epoch (metrics = that epoch's validation metrics)
    t = res["test"]
    assert t.metrics == t.selection_metrics
    assert t.metrics["f1_mean"] == max(h["f1_mean"] for h in t.history)
    # last: no validation during training; best.pt holds the final weights
    last = res["last"]
    assert "f1_mean" not in last.history[-1]
    b, ll = (load_checkpoint(last.run_dir / f)["model"] for f in ("best.pt", "last.pt"))
    assert all(torch.equal(b[k], ll[k]) for k in b)
    assert json.loads((last.run_dir / "evaluation.json").read_text())["best_epoch"] == 3
    # a run stopped after training, before the held-out evaluation (only fit's training record)
    # is finished without training again
    (res["val"].run_dir / "evaluation.json").unlink()
    assert not runner.is_complete(res["val"].run_dir)
    redo = run(_cfg("val"), root=tmp_path)
    assert not redo.cached and runner.is_complete(redo.run_dir)
    assert redo.metrics == res["val"].metrics and redo.selection_metrics == res["val"].selection_metrics


def test_selection_split_of_device_decoded_training_faces_reads_decoded_images(tmp_path):
    """``data.decode_on: device``: the training items carry JPEG bytes for the trainer; the
    selection split is evaluated like validation data, so its items are decoded faces."""
    from test_datasets_faces import StubAligner, make_disfa

    from afg.data.build import build_data
    from afg.data.datasets import DISFA
    from afg.data.device_augment import EncodedFaceDataset
    from afg.data.prepare import prepare_dataset
    from afg.data.spec import DataSpec

    raw = make_disfa(tmp_path / "raw")
    prepare_dataset(DISFA(raw), tmp_path / "prep", size=32, aligner=StubAligner(size=32), progress=False)
    common = {"dataset": "disfa", "root": str(raw), "prepared": str(tmp_path / "prep"), "folds": 2, "fold": 1,
              "cache": False, "augment_on": "device"}
    plain, _ = build_data(DataSpec(**common))
    enc, _ = build_data(DataSpec(**common, decode_on="device"))
    assert isinstance(enc, EncodedFaceDataset)
    fit_train, sel = selection_split(enc, 0.5, seed=0)
    assert "jpeg" in fit_train[0] and "image" not in fit_train[0]
    for k, i in enumerate(sel.indices):
        assert torch.equal(sel[k]["image"], plain[i]["image"]) and "jpeg" not in sel[k]
