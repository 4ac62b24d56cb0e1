from dataclasses import dataclass, field

import pytest
import torch

from afg.config import Config, ConfigError
from afg.utils import atomic_save_json, resolve_device, seed_everything


def test_resolve_device_auto_and_explicit():
    d = resolve_device("auto")
    assert d.type in {"cpu", "cuda", "mps"}
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert d.type in {"cpu", "mps"}
        with pytest.raises(RuntimeError, match="CUDA"):
            resolve_device("cuda")


def test_seed_everything_reproducible():
    seed_everything(3)
    a = torch.randn(4)
    seed_everything(3)
    assert torch.equal(a, torch.randn(4))


@dataclass
class Opt(Config):
    name: str = "adamw"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)


@dataclass
class Recipe(Config):
    epochs: int = 2
    optimizer: Opt = field(default_factory=Opt)
    losses: dict[str, float] = field(default_factory=lambda: {"wa": 1.0})
    note: str | None = None


def test_config_yaml_round_trip(tmp_path):
    r = Recipe(epochs=5, optimizer=Opt(lr=3e-4), losses={"wa": 1.0, "edge": 0.05}, note="x")
    path = tmp_path / "r.yaml"
    r.to_yaml(path)
    back = Recipe.from_yaml(path)
    assert back == r
    assert Recipe.from_json(r.to_json()) == r


def test_config_unknown_key_named():
    with pytest.raises(ConfigError, match=r"optimizer\.lrr"):
        Recipe.from_dict({"optimizer": {"lrr": 1}})
    with pytest.raises(ConfigError, match="epoch"):
        Recipe.from_yaml("epoch: 3\n")


def test_config_type_error_and_override():
    with pytest.raises(ConfigError, match="epochs"):
        Recipe.from_dict({"epochs": "many"})
    r = Recipe().override(["optimizer.lr=0.5", "epochs=7"])
    assert r.optimizer.lr == 0.5 and r.epochs == 7


def test_atomic_json(tmp_path):
    p = atomic_save_json(tmp_path / "a" / "m.json", {"x": torch.tensor(1.5)})
    assert p.read_text().strip().startswith("{")
    assert not [f for f in p.parent.iterdir() if f.name.endswith(".tmp")]


def test_resolve_device_names_a_missing_gpu_index(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(RuntimeError, match=r"'cuda:7'.*1 CUDA device"):
        resolve_device("cuda:7")
