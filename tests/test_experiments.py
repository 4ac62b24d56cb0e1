"""Run cache (hash of the resolved config), resume of incomplete runs, ablations, sweeps, export."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_train import Kill, TinyAU, TinyData, _strip
from torch.utils.data import Subset

import afg.experiments.runner as runner_module  # run() calls the fit it imported: patch it there
from afg.data.build import build_data
from afg.experiments import (
    Ablation,
    ExperimentConfig,
    Sweep,
    config_hash,
    register_dataset,
    run,
    to_latex,
    to_markdown,
)
from afg.models.registry import _REGISTRY, register_model


def _tiny_factory(num_classes, backbone=None, pretrained=False, weights=None, img_size=16, **options):
    return TinyAU(**options)


if "test_tiny_au" not in _REGISTRY:
    register_model("test_tiny_au")(_tiny_factory)


@register_dataset("tiny")
def _tiny_data(spec):
    ds = TinyData(36, spec.seed)
    tr, te = ds.folds(spec.folds)[spec.fold - 1], None
    te = np.setdiff1d(np.arange(len(ds)), tr)  # TinyData.folds gives test ids; train on the rest
    return Subset(ds, te.tolist()), Subset(ds, tr.tolist())


def _cfg(**model_opts) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "name": "tiny",
        "model": {"name": "test_tiny_au", "num_classes": 3, **model_opts},
        "data": {"dataset": "tiny", "folds": 3, "fold": 1},
        "recipe": {"epochs": 2, "batch_size": 6, "optimizer": {"lr": 0.05}, "deterministic": True,
                   "progress": False, "schedule": {"name": "constant"},
                   "selection_fraction": 0.5},  # 12 of the 24 training items select (AUC defined)
    })


def test_run_cache_hits_and_misses(tmp_path, monkeypatch):
    cfg = _cfg()
    first = run(cfg, root=tmp_path)
    assert not first.cached and (first.run_dir / "config.yaml").exists()
    assert first.run_dir.name == f"test_tiny_au-{config_hash(cfg)}"

    def boom(*a, **k):
        raise AssertionError("retrained a cached run")

    monkeypatch.setattr(runner_module, "fit", boom)
    again = run(cfg, root=tmp_path)
    assert again.cached and again.metrics == first.metrics and again.run_dir == first.run_dir
    # cosmetic fields do not change the hash; any real field does
    assert run(cfg.override({"recipe.progress": True, "name": "other"}), root=tmp_path).cached
    monkeypatch.undo()
    changed = run(cfg, root=tmp_path, overrides=["recipe.optimizer.lr=0.01"])
    assert not changed.cached and changed.run_dir != first.run_dir
    assert run(cfg, root=tmp_path, overrides={"data.fold": 2}).run_dir not in (first.run_dir, changed.run_dir)
    assert config_hash(cfg) != config_hash(cfg.override({"recipe.seed": 1}))


def test_force_retrains_and_replaces_the_directory(tmp_path, monkeypatch):
    cfg = _cfg()
    first = run(cfg, root=tmp_path)
    (first.run_dir / "stale.txt").write_text("from the old run")
    calls = []
    real_fit = runner_module.fit
    monkeypatch.setattr(runner_module, "fit", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    again = run(cfg, root=tmp_path, force=True)
    assert calls == [1] and not again.cached and again.run_dir == first.run_dir
    assert not (first.run_dir / "stale.txt").exists()
    assert _strip(again.history) == _strip(first.history)  # deterministic: the same run again


def test_package_and_generator_versions_are_in_the_hash(monkeypatch):
    import afg.data.synth
    import afg.experiments.runner

    tiny = _cfg()
    synth = ExperimentConfig.from_dict({
        "model": {"name": "baseline", "backbone": "resnet_tiny", "pretrained": False, "img_size": 32},
        "data": {"dataset": "synthetic", "profile": "disfa", "n_subjects": 3, "images_per_subject": 2,
                 "size": 32, "folds": 3, "fold": 1},
    })
    h_tiny, h_synth = config_hash(tiny), config_hash(synth)
    monkeypatch.setattr(afg.data.synth, "GENERATOR_VERSION", afg.data.synth.GENERATOR_VERSION + 1)
    assert config_hash(synth) != h_synth  # new faces: no reuse of runs made on the old ones
    assert config_hash(tiny) == h_tiny  # other datasets do not depend on the generator
    monkeypatch.setattr(afg.experiments.runner, "__version__", "999.0")
    assert config_hash(tiny) != h_tiny


def test_corrupt_evaluation_record_is_not_a_cache_hit(tmp_path, monkeypatch):
    cfg = _cfg()
    first = run(cfg, root=tmp_path)
    for f in ("evaluation.json", "training.json"):  # both records cut by a kill / a full disk
        (first.run_dir / f).write_text("{not json")
    stamp = (first.run_dir / "last.pt").stat().st_mtime_ns
    with pytest.warns(UserWarning, match="unreadable"):
        again = run(cfg, root=tmp_path)
    assert not again.cached and again.metrics == first.metrics
    assert _strip(again.history) == _strip(first.history)
    assert (first.run_dir / "last.pt").stat().st_mtime_ns == stamp  # resumed at the end: no epoch rerun
    assert run(cfg, root=tmp_path).cached  # evaluation.json rewritten


def test_incomplete_run_resumes(tmp_path):
    ref = run(_cfg(kill_at=10_000), root=tmp_path / "a")
    with pytest.raises(Kill):  # dies at the 4th training forward (2 batches an epoch): step 2 of epoch 2
        run(_cfg(kill_at=4), root=tmp_path / "b")
    run_dir = next((tmp_path / "b").iterdir())
    assert (run_dir / "last.pt").exists() and not (run_dir / "evaluation.json").exists()
    # same config again: the directory is incomplete, so it resumes from last.pt (end of epoch 1);
    # the rebuilt model's call counter restarts, so it gets through epoch 2 this time
    resumed = run(_cfg(kill_at=4), root=tmp_path / "b")
    assert not resumed.cached and resumed.run_dir == run_dir
    assert _strip(resumed.history) == _strip(ref.history)
    assert run(_cfg(kill_at=4), root=tmp_path / "b").cached


def test_ablation_tidy_and_table(tmp_path):
    abl = Ablation(_cfg(), {"BN": {}, "no norm": {"model.norm": "none"}}, folds=3, root=tmp_path)
    tidy = abl.run()
    assert set(tidy.columns) >= {"variant", "fold", "metric", "value"}
    f1 = tidy[tidy.metric == "f1_mean"]
    assert len(f1) == 6 and sorted(f1.fold.unique()) == [1, 2, 3]
    summ = abl.summary(["f1_mean"])
    mean = f1[f1.variant == "no norm"]["value"].mean()
    std = f1[f1.variant == "no norm"]["value"].std(ddof=1)
    assert summ.loc["no norm", ("f1_mean", "mean")] == pytest.approx(mean)
    table = abl.table(["f1_mean", "auc_mean"])
    assert list(table.index) == ["BN", "no norm"]
    assert table.loc["no norm", "f1_mean"] == f"{100 * mean:.1f} ± {100 * std:.1f}"
    # second run: everything cached
    assert abl.run()["cached"].all()
    tex = to_latex(table, caption="Tiny ablation", label="tab:tiny")
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex and r"$\pm$" in tex
    assert tex.count(r"\textbf") == 2
    md = to_markdown(table)
    assert md.splitlines()[0].startswith("| variant | f1_mean") and "**" in md


def test_sweep_names_and_values(tmp_path):
    sw = Sweep(_cfg(), "recipe.optimizer.lr", [0.01, 0.05], folds=[1], root=tmp_path)
    assert list(sw.variants) == ["lr=0.01", "lr=0.05"]
    cfgs = list(sw.configs())
    assert [c.recipe.optimizer.lr for *_, c in cfgs] == [0.01, 0.05]
    tidy = sw.run()
    assert set(tidy.variant) == {"lr=0.01", "lr=0.05"}


def test_synthetic_data_spec_and_baseline_smoke(tmp_path):
    cfg = ExperimentConfig.from_dict({
        "model": {"name": "baseline", "backbone": "resnet18", "pretrained": False, "img_size": 64},
        "data": {"dataset": "synthetic", "profile": "disfa", "n_subjects": 3, "images_per_subject": 4,
                 "size": 64, "folds": 3, "fold": 2},
        "recipe": {"epochs": 1, "batch_size": 4, "progress": False, "max_steps_per_epoch": 2},
    })
    train, val = build_data(cfg.data)
    assert len(train) == 8 and len(val) == 4
    res = run(cfg, root=tmp_path)
    assert "f1_mean" in res.metrics and "f1/AU01" in res.metrics and len(res.history) == 1
    assert isinstance(pd.read_csv(res.run_dir / "metrics.csv"), pd.DataFrame)


def test_a_cached_two_stage_run_loads_its_last_stage_model(tmp_path):
    """Re-running a cell on a cached ME-GraphAU run (stage 2 switches to `me_graphau`) rebuilds the
    stage-2 model and loads its weights (it used to build the stage-1 model and fail)."""
    import torch

    from afg.experiments import run
    from afg.experiments.runner import final_model_config
    from afg.models.me_graphau import MEGraphAU
    from afg.papers.notebook_setup import NotebookSetup

    cfg = NotebookSetup(quick=True).config("me_graphau")
    assert final_model_config(cfg)["name"] == "me_graphau" and cfg.model["name"] == "me_graphau_stage1"
    first = run(cfg, root=tmp_path, load_model=True)
    again = run(cfg, root=tmp_path, load_model=True)
    assert again.cached and isinstance(again.model, MEGraphAU)
    assert next(again.model.parameters()).device == next(first.model.parameters()).device
    a, b = first.model.state_dict(), again.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
