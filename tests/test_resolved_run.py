"""``ResolvedRun``: a run's config resolved once (config, hash, run folder, stages' model configs,
selection) and passed down by ``run``, the parallel and the submitit paths."""
from __future__ import annotations

from pathlib import Path

from test_experiments import _cfg

from afg.experiments import ExperimentConfig, config_hash, run, run_dir_for, runner
from afg.experiments.runner import ResolvedRun, final_model_config, is_complete, resolve_runs
from afg.runs import RunFolder


def _two_stage(tmp_path: Path) -> ExperimentConfig:
    d = _cfg(width=4).to_dict()
    d["recipe"]["stages"] = [{"name": "s1", "model": {"width": 8}},
                             {"name": "s2", "model": {"name": "other"}}]
    d["recipe"]["selection"] = "last"
    return ExperimentConfig.from_dict(d)


def test_resolved_fields_are_those_of_the_single_step_functions(tmp_path):
    cfg = _two_stage(tmp_path)
    r = ResolvedRun.resolve(cfg, tmp_path)
    assert r.config is cfg and r.hash == config_hash(cfg) and len(r.hash) == 12
    assert r.run_dir == run_dir_for(cfg, tmp_path) == tmp_path / f"test_tiny_au-{r.hash}"
    base = {"name": "test_tiny_au", "num_classes": 3}
    # hand-computed: each stage's model overrides applied in order on top of `model`
    assert r.stage_models == (("s1", {**base, "width": 8}), ("s2", {**base, "width": 8, "name": "other"}))
    assert r.final_model == {**base, "width": 8, "name": "other"} == final_model_config(cfg)
    assert r.model_config("s1") == {**base, "width": 8} == final_model_config(cfg, "s1")
    assert r.model_config("nope") == r.final_model
    assert r.selection == "last" and r.folder == RunFolder(r.run_dir)
    assert final_model_config(r, "s1") == r.model_config("s1")
    assert not r.is_complete() and not is_complete(r)


def test_resolving_again_keeps_the_object_or_applies_the_changes(tmp_path):
    cfg = _cfg()
    r = ResolvedRun.resolve(cfg, tmp_path)
    assert ResolvedRun.resolve(r) is r and ResolvedRun.resolve(r, tmp_path) is r
    moved = ResolvedRun.resolve(r, tmp_path / "other")
    assert moved.hash == r.hash and moved.run_dir == tmp_path / "other" / r.run_dir.name
    lr = ResolvedRun.resolve(r, overrides={"recipe.optimizer.lr": 0.01})
    assert lr.hash == config_hash(cfg.override({"recipe.optimizer.lr": 0.01})) != r.hash
    assert lr.run_dir.parent == tmp_path  # keeps its runs folder
    dev = ResolvedRun.resolve(cfg, tmp_path, device="cpu")
    assert dev.config.recipe.device == "cpu"
    pairs = resolve_runs([("a", cfg), ("b", cfg)], tmp_path, {"recipe.optimizer.lr": 0.01})
    assert [(lab, x.run_dir) for lab, x in pairs] == [("a", lr.run_dir), ("b", lr.run_dir)]


def test_a_cached_run_reads_and_hashes_its_config_once(tmp_path, monkeypatch):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(_cfg().to_yaml())
    first = run(cfg, root=tmp_path)
    calls = {"load": 0, "hash": 0}
    load, hash_ = runner.load_experiment, runner.config_hash

    def counted_load(c):
        calls["load"] += 1
        return load(c)

    def counted_hash(c, length=12):
        calls["hash"] += 1
        return hash_(c, length)

    monkeypatch.setattr(runner, "load_experiment", counted_load)
    monkeypatch.setattr(runner, "config_hash", counted_hash)
    again = run(cfg, root=tmp_path, load_model=True)
    assert again.cached and again.run_dir == first.run_dir and again.model is not None
    assert again.metrics == first.metrics
    assert calls == {"load": 1, "hash": 1}  # before ResolvedRun: 4 loads (run, run_dir_for, config_hash,
    # final_model_config) and the config re-resolved at each step
