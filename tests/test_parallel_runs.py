"""Ablation.run(jobs=N): runs trained in worker processes land in the same cache as sequential ones."""
from __future__ import annotations

import pytest

from afg.experiments import ExperimentConfig
from afg.experiments.parallel import resolve_jobs, train_parallel
from afg.papers.me_graphau_table3 import StageAblation, table3_variants
from afg.papers.notebook_setup import NotebookSetup

ROWS = ["+AFG, L_WA", "+AFG+MEFL, L_WA", "Backbone (WBCE)"]  # the second starts from the first


def _ablation(root):
    setup = NotebookSetup(quick=True)
    cfg = setup.config("me_graphau")
    rows = table3_variants(cfg)
    variants = {k: rows[k] for k in ROWS}
    return StageAblation(cfg, variants, folds=[1], root=root)


@pytest.mark.slow
def test_parallel_stage_ablation_fills_the_cache_like_a_sequential_one(tmp_path):
    par = _ablation(tmp_path / "par")
    par.run(jobs=2)
    # every run was trained by a worker (the row starting from another row waited for it) and
    # fetched here from the cache
    assert [name for name, *_ in par.results] == ROWS
    assert all(res.cached for *_, res in par.results)
    assert all((res.run_dir / "evaluation.json").exists() for *_, res in par.results)
    seq = _ablation(tmp_path / "seq")
    seq.run()
    assert not any(res.cached for *_, res in seq.results)
    for (name, _, _, a), (_, _, _, b) in zip(par.results, seq.results):
        if name != "+AFG+MEFL, L_WA":  # its hash holds the other root's checkpoint path
            assert a.run_dir.name == b.run_dir.name
        assert [round(h["val_loss"], 4) for h in a.history] == [round(h["val_loss"], 4) for h in b.history], name
    # a second parallel call trains nothing
    again = _ablation(tmp_path / "par")
    again.run(jobs=2)
    assert all(res.cached for *_, res in again.results)


@pytest.mark.slow
def test_a_failing_run_is_named(tmp_path):
    good = NotebookSetup(quick=True).config("me_graphau", {"recipe.stages": [], "model.name": "me_graphau_stage1"})
    bad = ExperimentConfig.from_dict({**good.to_dict(), "model": {**good.model, "name": "no_such_model"}})
    with pytest.raises(RuntimeError, match="broken fold 1"):
        train_parallel([("broken fold 1", bad)], jobs=2, root=tmp_path, progress=False)


def test_resolve_jobs(monkeypatch):
    monkeypatch.delenv("AFG_JOBS", raising=False)
    assert resolve_jobs(None) == 1 and resolve_jobs(3) == 3 and resolve_jobs(0) == 1
    monkeypatch.setenv("AFG_JOBS", "2")
    assert resolve_jobs(None) == 2 and resolve_jobs(1) == 1
    monkeypatch.setenv("AFG_JOBS", "many")
    with pytest.raises(ValueError, match="AFG_JOBS"):
        resolve_jobs(None)

