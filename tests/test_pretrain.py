"""afg.pretrain: landmark pretraining on synthetic faces, its cache, and loading the weights."""
from __future__ import annotations

import hashlib
import json

import pytest
import torch

from afg.backbones import create_backbone
from afg.pretrain import (
    PRETRAIN_PRESETS,
    SHIPPED_DIR,
    PretrainSpec,
    preset_spec,
    pretrain_landmarks,
    resolve_weights,
    synthetic_weights,
)

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
    sd = torch.load(path, weights_only=True)
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


def test_named_pretraining_recipes_resolve_to_their_own_weights_and_runs(tmp_path, monkeypatch):
    from afg.config import ConfigError
    from afg.experiments import build_model
    from afg.experiments.checks import check_model
    from afg.experiments.runner import config_hash

    assert preset_spec("synthetic") == PretrainSpec()
    long = preset_spec("synthetic-long")
    assert (long.n_subjects, long.epochs) == (120, 16)  # 4x the default's steps
    assert preset_spec("/weights/resnet_tiny.pt") is None and preset_spec(None) is None
    # resolve_weights trains and caches each name's own recipe (tiny stand-ins here)
    monkeypatch.setenv("AFG_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(PRETRAIN_PRESETS, "synthetic", TINY)
    monkeypatch.setitem(PRETRAIN_PRESETS, "synthetic-long", PretrainSpec(**{**TINY.__dict__, "epochs": 4}))
    a = create_backbone("resnet_tiny", img_size=64, weights=resolve_weights("synthetic", "resnet_tiny", 64))
    b = create_backbone("resnet_tiny", img_size=64, weights=resolve_weights("synthetic-long", "resnet_tiny", 64))
    metas = sorted(json.loads(p.read_text())["spec"]["epochs"] for p in (tmp_path / "backbones").glob("*.json"))
    assert metas == [3, 4]
    assert not torch.equal(a.model.conv1.weight, b.model.conv1.weight)
    # the experiment layer resolves a config's name before the model is built (from the cache now)
    built = build_model({"name": "baseline", "backbone": "resnet_tiny", "img_size": 64, "weights": "synthetic-long",
                         "num_classes": 8})
    assert torch.equal(built.backbone.model.conv1.weight, b.model.conv1.weight)
    assert built.model_config["weights"] == "synthetic-long"  # what its checkpoint records
    # the run cache tells the two apart; the config check accepts both names
    cfg = {"model": {"name": "baseline", "backbone": "resnet_tiny", "img_size": 64, "weights": "synthetic",
                     "num_classes": 8}, "data": {"dataset": "synthetic"}, "recipe": {}}
    longer = {**cfg, "model": {**cfg["model"], "weights": "synthetic-long"}}
    assert config_hash(cfg) != config_hash(longer)
    check_model(longer["model"])
    with pytest.raises(ConfigError, match=r"model\.weights: file not found: synthetic-lng .*synthetic, synthetic-long"):
        check_model({**cfg["model"], "weights": "synthetic-lng"})


def test_the_model_layer_cannot_start_a_pretraining(monkeypatch):
    import afg.pretrain
    from afg.models import create_model

    monkeypatch.setattr(afg.pretrain, "synthetic_weights", _no_training)
    for build in (lambda w: create_backbone("resnet_tiny", img_size=64, weights=w),
                  lambda w: create_model("baseline", 8, backbone="resnet_tiny", img_size=64, weights=w)):
        with pytest.raises(ValueError, match=r"weights='synthetic-long' names a pretraining.*resolve_weights"):
            build("synthetic-long")
    assert resolve_weights(None, "resnet_tiny", 64) is None
    assert resolve_weights("/w/resnet_tiny.pt", "no_such_net", 64) == "/w/resnet_tiny.pt"
    with pytest.raises(ValueError, match="unknown backbone 'resnet_tinny'"):  # checked before any training
        resolve_weights("synthetic", "resnet_tinny", 64)


# ------------------------------------------------------------------------------ shipped weights
def _no_training(*args, **kwargs):
    raise AssertionError("pretrained although the weights are shipped")


def test_export_ships_bit_identical_float32_weights_with_checksum_and_provenance(tmp_path, monkeypatch):
    import safetensors.torch

    from afg.pretrain import export_weights, shipped_weights, weights_key

    monkeypatch.setenv("AFG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(PRETRAIN_PRESETS, "tiny", TINY)
    cached = synthetic_weights("resnet_tiny", 64, TINY, progress=False)
    out = export_weights("resnet_tiny", 64, "tiny", folder=tmp_path / "shipped", progress=False)
    meta = json.loads(out.with_suffix(".json").read_text())
    sd = torch.load(cached, weights_only=True)
    got = safetensors.torch.load_file(out)
    assert got.keys() == sd.keys() and all(torch.equal(got[k], v) for k, v in sd.items())  # no cast
    assert meta["dtype"] == "float32" and meta["weights_key"] == weights_key("resnet_tiny", 64, TINY)
    assert meta["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert meta["epoch_losses"] == json.loads(cached.with_suffix(".json").read_text())["epoch_losses"]
    assert meta["trained"]["machine"] and meta["trained"]["seconds"] > 0
    assert meta["command"] == "python -m afg.pretrain export --backbone resnet_tiny --img-size 64 --pretraining tiny"
    assert shipped_weights("resnet_tiny", 64, TINY, folder=out.parent) == out
    assert shipped_weights("resnet_tiny", 96, TINY, folder=out.parent) is None  # another size: not shipped


def test_shipped_weights_are_used_when_their_key_and_checksum_match(tmp_path, monkeypatch):
    import warnings

    import safetensors.torch

    import afg.pretrain
    from afg.pretrain import export_weights

    monkeypatch.setenv("AFG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(PRETRAIN_PRESETS, "tiny", TINY)
    out = export_weights("resnet_tiny", 64, "tiny", folder=tmp_path / "shipped", progress=False)
    monkeypatch.setattr(afg.pretrain, "SHIPPED_DIR", out.parent)
    monkeypatch.setenv("AFG_CACHE_DIR", str(tmp_path / "empty_cache"))  # a cold start
    monkeypatch.setattr(afg.pretrain, "pretrain_landmarks", _no_training)
    bb = create_backbone("resnet_tiny", img_size=64, weights=resolve_weights("tiny", "resnet_tiny", 64))
    assert torch.equal(bb.model.conv1.weight, safetensors.torch.load_file(out)["conv1.weight"])
    assert not (tmp_path / "empty_cache").exists()
    # a file that does not match its checksum is refused (warned), and the backbone is trained instead
    raw = bytearray(out.read_bytes())
    raw[-1] ^= 0xFF
    out.write_bytes(bytes(raw))
    with warnings.catch_warnings(record=True) as seen, pytest.raises(AssertionError, match="pretrained although"):
        warnings.simplefilter("always")
        create_backbone("resnet_tiny", img_size=64, weights=resolve_weights("tiny", "resnet_tiny", 64))
    assert any("sha256 differs" in str(w.message) for w in seen)


@pytest.mark.xfail(not any(SHIPPED_DIR.glob("*.safetensors")), strict=True,
                   reason="afg/weights/ is empty until `python -m afg.pretrain export` has run once")
def test_the_default_pretraining_is_shipped_and_loads_without_training(tmp_path, monkeypatch):
    """The package carries the default mode's backbone (resnet_tiny, 112 px, DEFAULT_PRETRAINING):
    a cold start trains nothing. Fails when the pretraining or the generator changes its version:
    regenerate the file with `python -m afg.pretrain export`."""
    import safetensors.torch

    import afg.pretrain
    from afg.experiments.runner import config_hash
    from afg.pretrain import DEFAULT_PRETRAINING, shipped_weights, weights_key

    spec = PRETRAIN_PRESETS[DEFAULT_PRETRAINING]
    path = shipped_weights("resnet_tiny", 112, spec)
    assert path is not None, "no shipped weights for the default pretraining: run `python -m afg.pretrain export`"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert path.parent == SHIPPED_DIR and meta["weights_key"] == weights_key("resnet_tiny", 112, spec)
    assert meta["dtype"] == "float32" and 4e6 < meta["bytes"] < 6e6
    monkeypatch.setenv("AFG_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(afg.pretrain, "pretrain_landmarks", _no_training)
    bb = create_backbone("resnet_tiny", img_size=112, weights=resolve_weights(DEFAULT_PRETRAINING, "resnet_tiny", 112))
    sd = safetensors.torch.load_file(path)
    assert all(torch.equal(v, sd[k]) for k, v in bb.model.state_dict().items() if k in sd)
    # the run key names the recipe, not the file: runs cached before the weights were shipped are reused
    cfg = {"model": {"name": "baseline", "backbone": "resnet_tiny", "img_size": 112,
                     "weights": DEFAULT_PRETRAINING, "num_classes": 8}, "data": {"dataset": "synthetic"}, "recipe": {}}
    h = config_hash(cfg)
    monkeypatch.setattr(afg.pretrain, "SHIPPED_DIR", tmp_path / "nothing_shipped")
    assert config_hash(cfg) == h
