"""afg.pretrain: landmark pretraining on synthetic faces, its cache, and loading the weights."""
from __future__ import annotations

import json

import torch

from afg.backbones import create_backbone
from afg.pretrain import PretrainSpec, pretrain_landmarks, synthetic_weights

TINY = PretrainSpec(n_subjects=2, images_per_subject=8, epochs=3, batch_size=8, lr=3e-3)


def test_pretraining_lowers_the_landmark_loss_and_keeps_the_callers_rng():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    sd, losses = pretrain_landmarks("resnet_tiny", 64, TINY, progress=False)
    assert torch.rand(1) == before  # fork_rng: the caller's stream is untouched
    assert len(losses) == 3 and losses[-1] < 0.8 * losses[0], losses
    assert not any(k.startswith("fc.") for k in sd)


def test_synthetic_weights_are_cached_and_load_through_create_backbone(tmp_path, monkeypatch):
    monkeypatch.setenv("AFG_CACHE_DIR", str(tmp_path))
    path = synthetic_weights("resnet_tiny", 64, TINY, progress=False)
    assert path.parent == tmp_path / "backbones" and path.is_file()
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["spec"]["epochs"] == 3 and len(meta["epoch_losses"]) == 3
    mtime = path.stat().st_mtime_ns
    assert synthetic_weights("resnet_tiny", 64, TINY, progress=False) == path  # cache hit, no retraining
    assert path.stat().st_mtime_ns == mtime
    other = synthetic_weights("resnet_tiny", 64, PretrainSpec(**{**TINY.__dict__, "seed": 1}), progress=False)
    assert other != path  # the recipe is part of the key
    bb = create_backbone("resnet_tiny", img_size=64, weights=str(path))
    sd = torch.load(path)
    assert torch.equal(bb.model.conv1.weight, sd["conv1.weight"])


def test_run_hash_follows_the_pretraining_recipe(monkeypatch):
    from afg.experiments.runner import config_hash

    cfg = {"model": {"name": "baseline", "backbone": "resnet_tiny", "img_size": 64, "weights": "synthetic",
                     "num_classes": 8}, "data": {"dataset": "synthetic"}, "recipe": {}}
    scratch = {**cfg, "model": {**cfg["model"], "weights": None}}
    h, h0 = config_hash(cfg), config_hash(scratch)
    monkeypatch.setattr("afg.pretrain.PRETRAIN_VERSION", 99)
    assert config_hash(cfg) != h  # new pretraining recipe: the run is not reused
    assert config_hash(scratch) == h0  # runs from scratch do not depend on it
