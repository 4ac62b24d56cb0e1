"""``recipe.amp`` on the CPU: bf16 autocast where the CPU has native bf16 (training and evaluation,
losses and metrics in float32), float32 with a warning for fp16 and for a CPU without bf16;
``auto``: bf16 where native, float32 without a warning elsewhere; the precision a run computed in
enters its cache key, its evaluation record and every ablation table's note."""
from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from afg.models import create_model
from afg.train import evaluate, fit
from afg.train.evaluate import autocast_dtype, float_outputs, precision_name

#: the module (``afg.train.evaluate`` is also the name of the function afg.train exports)
evaluate_module = importlib.import_module("afg.train.evaluate")
needs_bf16 = pytest.mark.skipif(not evaluate_module.cpu_has_bf16(),
                                reason="this CPU has no native bfloat16 (AVX512-BF16/AMX)")


class Faces(torch.utils.data.Dataset):
    """Random 32x32 images whose 3 AU labels are the signs of the channel means (learnable)."""

    au_names = ("AU01", "AU02", "AU04")

    def __init__(self, n: int = 16, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, 32, 32, generator=g) + torch.randn(n, 3, 1, 1, generator=g)
        self.y = (self.x.mean((2, 3)) > 0).float()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.x[i], "au": self.y[i]}


def _model(name: str = "baseline", **kw) -> nn.Module:
    torch.manual_seed(0)
    return create_model(name, num_classes=3, backbone="resnet_tiny", pretrained=False, img_size=32, **kw)


def _conv_dtypes(model: nn.Module) -> list[torch.dtype]:
    """Output dtypes of the model's first convolution, one per call (a forward hook)."""
    seen: list[torch.dtype] = []
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    conv.register_forward_hook(lambda mod, args, out: seen.append(out.dtype))
    return seen


def _recipe(amp: str, **kw) -> dict:
    return {"epochs": 6, "batch_size": 8, "amp": amp, "device": "cpu", "progress": False,
            "optimizer": {"lr": 1e-2}, "schedule": {"name": "constant"}, **kw}


def test_autocast_dtype_per_device_and_cpu(monkeypatch):
    monkeypatch.setattr(evaluate_module, "cpu_has_bf16", lambda: True)
    assert autocast_dtype("bf16", "cpu") is torch.bfloat16
    assert autocast_dtype("fp16", "cpu") is None
    assert autocast_dtype("none", "cpu") is None
    assert autocast_dtype("fp16", "cuda") is torch.float16
    assert autocast_dtype("bf16", "mps") is None
    monkeypatch.setattr(evaluate_module, "cpu_has_bf16", lambda: False)
    assert autocast_dtype("bf16", "cpu") is None
    assert autocast_dtype("bf16", "cuda") is torch.bfloat16


@pytest.mark.parametrize("cpu,cuda,want_cpu,want_cuda", [
    (True, True, torch.bfloat16, torch.bfloat16),
    (False, True, None, torch.bfloat16),
    (True, False, torch.bfloat16, None),   # a GPU before compute capability 8.0: float32, never fp16
])
def test_auto_is_bf16_exactly_where_the_device_has_it(monkeypatch, cpu, cuda, want_cpu, want_cuda):
    monkeypatch.setattr(evaluate_module, "cpu_has_bf16", lambda: cpu)
    monkeypatch.setattr(evaluate_module, "cuda_has_bf16", lambda: cuda)
    assert autocast_dtype("auto", "cpu") is want_cpu
    assert autocast_dtype("auto", "cuda") is want_cuda
    assert autocast_dtype("auto", "mps") is None
    assert precision_name("auto", "cpu") == ("bfloat16 autocast" if cpu else "float32")
    assert precision_name("none", "cuda") == "float32"
    assert precision_name("fp16", "cuda") == "float16 autocast"


def test_amp_must_be_one_of_the_four_modes():
    from afg.config import ConfigError
    from afg.train.recipe import Recipe

    assert Recipe(amp="auto").amp == "auto"
    with pytest.raises(ConfigError, match="amp: 'bf32' is not one of none, bf16, fp16, auto"):
        Recipe(amp="bf32")


def test_float_outputs_casts_half_precision_only():
    out = {"au": torch.ones(2, dtype=torch.bfloat16), "va": torch.ones(2, dtype=torch.float16),
           "x": torch.ones(2), "idx": torch.ones(2, dtype=torch.long), "name": "n"}
    got = float_outputs(out)
    assert {k: v.dtype for k, v in got.items() if torch.is_tensor(v)} == {
        "au": torch.float32, "va": torch.float32, "x": torch.float32, "idx": torch.long}
    assert got["x"] is out["x"] and got["name"] == "n"


@needs_bf16
def test_bf16_training_runs_under_autocast_and_learns():
    model = _model()
    seen = _conv_dtypes(model)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="amp=")
        res = fit(model, Faces(), None, _recipe("bf16", channels_last=True))
    assert seen and set(seen) == {torch.bfloat16}
    losses = [row["train_loss"] for row in res.history]
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.8 * losses[0]


@needs_bf16
def test_bf16_evaluation_gives_float32_probabilities_close_to_float32():
    model, data = _model(), Faces(n=24, seed=1)
    crit = model.build_criterion(None)
    seen = _conv_dtypes(model)
    ref = evaluate(model, data, batch_size=8, criterion=crit, return_predictions=True)
    assert set(seen) == {torch.float32}
    seen.clear()
    got = evaluate(model, data, batch_size=8, criterion=crit, amp="bf16", channels_last=True,
                   return_predictions=True)
    assert set(seen) == {torch.bfloat16}
    p, q = ref["_predictions"]["au"], got["_predictions"]["au"]
    assert q.dtype == np.float32
    assert 0 < np.abs(p - q).max() < 0.01  # bf16 keeps 8 significant bits
    assert got["val_loss"] == pytest.approx(ref["val_loss"], rel=0.03)
    assert got["auc_mean"] == pytest.approx(ref["auc_mean"], abs=0.1)


@pytest.mark.parametrize("name,options", [
    ("me_graphau_stage1", {"neighbor_num": 2}),
    ("me_graphau_stage1", {"use_afg": False}),
    ("me_graphau", {"neighbor_num": 2}),
    ("mafg_ccfg", {"neighbor_num": 2}),
    ("mafg_ccfg", {"head": "linear", "use_mafg": False, "use_gnn": False, "use_ccfg": False}),
    ("baseline", {}),
])
@needs_bf16
def test_au_probabilities_and_losses_are_float32_under_bf16(name, options):
    """The AU heads apply their sigmoid / cosine similarity in float32, so probabilities close to
    0 or 1 keep their resolution (bf16 rounds 0.999 to 1.0, where log(1 - p) saturates)."""
    model, data = _model(name, **options), Faces(n=4)
    batch = {"image": data.x, "au": data.y, "au_mask": torch.ones_like(data.y, dtype=torch.bool)}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch["image"])
    assert out["au"].dtype == torch.float32
    terms = model.build_criterion(None)(float_outputs(out), batch)
    assert terms["loss"].dtype == torch.float32 and torch.isfinite(terms["loss"])
    terms["loss"].backward()


def test_au_gcn_probabilities_are_float32_under_bf16():
    torch.manual_seed(0)
    model = create_model("au_gcn", num_classes=8, dataset="disfa", img_size=64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.randn(2, 3, 64, 64))
    assert out["au"].dtype == torch.float32


def test_auto_on_a_cpu_without_bf16_trains_float32_without_a_warning(monkeypatch):
    monkeypatch.setattr(evaluate_module, "cpu_has_bf16", lambda: False)
    model = _model()
    seen = _conv_dtypes(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fit(model, Faces(n=8), None, _recipe("auto", epochs=1))
    assert seen and set(seen) == {torch.float32}
    assert np.isfinite(res.history[0]["train_loss"])


def _au_config(amp: str) -> dict:
    return {"model": {"name": "baseline", "backbone": "resnet_tiny", "pretrained": False, "img_size": 32},
            "data": {"dataset": "synthetic", "n_subjects": 3, "images_per_subject": 4, "size": 32,
                     "folds": 3, "fold": 1},
            "recipe": {"epochs": 1, "batch_size": 4, "max_steps_per_epoch": 1, "device": "cpu",
                       "progress": False, "amp": amp}}


def test_the_precision_a_run_computes_in_is_part_of_its_cache_key(monkeypatch):
    """``auto`` on a CPU with bf16 and on one without must not share a run folder (the numbers
    differ); float32 recipes keep the keys they had (no ``precision`` entry)."""
    from afg.experiments import config_hash, run_precision
    from afg.experiments.config import ExperimentConfig
    from afg.experiments.runner import _hash_payload

    monkeypatch.setattr(evaluate_module, "cpu_has_bf16", lambda: True)
    native = config_hash(_au_config("auto"))
    assert run_precision(ExperimentConfig.from_dict(_au_config("auto"))) == "bfloat16 autocast"
    monkeypatch.setattr(evaluate_module, "cpu_has_bf16", lambda: False)
    emulated = config_hash(_au_config("auto"))
    assert run_precision(ExperimentConfig.from_dict(_au_config("auto"))) == "float32"
    assert native != emulated
    assert "precision" not in _hash_payload(ExperimentConfig.from_dict(_au_config("none")))
    # a bf16 recipe that fell back to float32 is the float32 run's twin in numbers, not in key
    assert config_hash(_au_config("bf16")) != config_hash(_au_config("none"))


def test_result_json_and_the_ablation_note_say_what_the_forward_passes_ran_in(monkeypatch, tmp_path):
    import json

    from afg.experiments import Ablation, run

    monkeypatch.setattr(evaluate_module, "cpu_has_bf16", lambda: True)
    res = run(_au_config("auto"), root=tmp_path)
    assert res.precision == "bfloat16 autocast"
    assert json.loads((res.run_dir / "evaluation.json").read_text())["precision"] == "bfloat16 autocast"
    assert run(_au_config("auto"), root=tmp_path).precision == "bfloat16 autocast"  # from the cache
    abl = Ablation(_au_config("auto"), {"a": {}}, folds=[1], root=tmp_path)
    assert "forward passes in bfloat16 autocast (losses and metrics in float32)" in abl.note()
    abl.run()
    assert "bfloat16 autocast" in abl.table(["f1_mean"]).attrs["note"]
    monkeypatch.setattr(evaluate_module, "cpu_has_bf16", lambda: False)
    plain = Ablation(_au_config("auto"), {"a": {}}, folds=[1], root=tmp_path)
    assert "forward passes" not in plain.note()


@pytest.mark.parametrize("amp,has_bf16,message", [
    ("fp16", True, "amp='fp16' needs CUDA"),
    ("bf16", False, "amp='bf16' needs CUDA or a CPU with native bfloat16"),
])
def test_cpu_without_autocast_warns_and_trains_float32(monkeypatch, amp, has_bf16, message):
    monkeypatch.setattr(evaluate_module, "cpu_has_bf16", lambda: has_bf16)
    model = _model()
    seen = _conv_dtypes(model)
    with pytest.warns(UserWarning, match=message):
        res = fit(model, Faces(n=8), None, _recipe(amp, epochs=1))
    assert seen and set(seen) == {torch.float32}
    assert np.isfinite(res.history[0]["train_loss"])


@pytest.mark.parametrize("amp", ["none", "auto"])
def test_figure_predictions_score_the_model_as_the_runs_table_did(monkeypatch, tmp_path, amp):
    """``afg.papers.results.predictions`` (the confusion matrices, Fig. 6) evaluates the held-out fold
    in the run's own precision and batch size: its metrics equal the run's evaluation record's."""
    from afg.experiments import run
    from afg.papers.results import predictions

    monkeypatch.setattr(evaluate_module, "cpu_has_bf16", lambda: True)
    res = run(_au_config(amp), root=tmp_path)
    seen = _conv_dtypes(res.model)
    pr = predictions(res)
    assert set(seen) == {torch.bfloat16 if amp == "auto" else torch.float32}
    for key in ("f1_mean", "auc_mean"):
        assert pr["metrics"][key] == res.metrics[key], key
