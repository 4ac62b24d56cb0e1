"""Replication on fresh seeds (#45): replication_table on hand-made runs, Ablation.replicate and
``afg ablate --replicate`` on a tiny ablation."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import yaml

from afg.experiments.analysis import paired_comparison, replication_table


def _runs(offsets: dict[str, list[float]], seeds: tuple[int, ...]) -> pd.DataFrame:
    """Rows A (reference), B, C on folds 1-2 × ``seeds``: value = 0.5 + 0.05·fold + offset."""
    keys = [(f, s) for f in (1, 2) for s in seeds]
    return pd.DataFrame([{"variant": v, "fold": f, "seed": s, "metric": "f1_mean",
                          "value": 0.5 + 0.05 * f + off[k]}
                         for v, off in offsets.items() for k, (f, s) in enumerate(keys)])


BEFORE = _runs({"A": [0] * 4, "B": [0.02, 0.03, 0.025, 0.02], "C": [0.02, 0.025, 0.03, 0.02]}, (0, 1))
AFTER = _runs({"A": [0] * 4, "B": [0.03, 0.02, 0.02, 0.025], "C": [0.01, -0.02, 0.02, -0.015]}, (2, 3))


def test_replication_table_on_hand_made_runs():
    """B is higher on both seed sets (replicated); C is higher on seeds 0-1 but its fresh-seed
    interval holds 0 (not replicated); the pooled verdict rests on all 8 pairs."""
    rep = replication_table(BEFORE, AFTER, "A", "f1_mean", scale=100.0)
    assert list(rep["verdict before"]) == ["higher", "higher"]
    assert list(rep["verdict after"]) == ["higher", "unresolved"]
    assert list(rep["replicated"]) == ["yes", "no"] and rep.attrs["counts"] == {"yes": 1, "no": 1}
    assert rep.attrs["seeds_before"] == [0, 1] and rep.attrs["seeds_after"] == [2, 3]
    pooled = paired_comparison(pd.concat([BEFORE, AFTER]), "A", "f1_mean")
    assert pooled.loc["C", "n"] == 8
    lo, hi = 100 * pooled.loc["C", ["ci_low", "ci_high"]]
    assert rep.loc["C", "Δ pooled [CI]"].endswith(f"[{lo:+.1f}, {hi:+.1f}]")
    assert set(rep["n before"]) == set(rep["n after"]) == {4}
    with pytest.raises(ValueError, match="share seeds"):
        replication_table(BEFORE, BEFORE, "A", "f1_mean")


def test_replication_table_with_the_papers_verdicts():
    """With a paper table the verdicts are the paper's (reproduced / contradicted / unresolved)."""
    names = {"A": "Backbone (WBCE)", "B": "+AFG (WBCE)", "C": "+AFG, L_WA"}
    rep = replication_table(BEFORE.replace(names), AFTER.replace(names), names["A"], "f1_mean",
                            table="me_graphau/table3", column="ResNet-50")
    assert list(rep["verdict before"]) == ["reproduced", "reproduced"]
    assert list(rep["verdict after"]) == ["reproduced", "unresolved"]
    assert list(rep["replicated"]) == ["yes", "no"]


def _tiny(tmp_path, seeds=None):
    cfg = {"model": {"name": "baseline", "backbone": "resnet18", "pretrained": False, "img_size": 64},
           "data": {"dataset": "synthetic", "profile": "disfa", "n_subjects": 3, "images_per_subject": 2,
                    "size": 64, "folds": 3, "fold": 1},
           "recipe": {"epochs": 1, "batch_size": 2, "max_steps_per_epoch": 1, "device": "cpu",
                      "progress": False, "seed": 3}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    spec = {"base": "tiny.yaml", "folds": [1], "metrics": ["f1_mean"],
            "variants": {"plain": {}, "dropout": {"model.dropout": 0.5}}}
    if seeds:
        spec["seeds"] = seeds
    (tmp_path / "abl.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return tmp_path / "abl.yaml"


def test_ablate_replicate_reruns_on_fresh_seeds(tmp_path, capsys, monkeypatch):
    """``afg ablate --replicate 4 5`` trains the two rows on seeds 4 and 5 (the table used seed 3),
    prints each row's verdict before / after, and refuses a seed the table already used."""
    from afg.cli import load_ablation, main

    monkeypatch.setenv("AFG_RUNS_DIR", str(tmp_path / "runs"))
    p = _tiny(tmp_path)
    assert main(["ablate", str(p), "--replicate", "4", "5"]) == 0
    out = capsys.readouterr().out
    assert "replication on seeds [4, 5] (the table: seeds [3])" in out
    rep_lines = out.split("replication on seeds")[1].splitlines()
    row = next(ln for ln in rep_lines if ln.startswith("dropout"))
    assert re.search(r"\[n<2\]\s+unresolved", row)  # one pair before: no interval
    assert "replicated:" in out
    seeds = sorted(yaml.safe_load((d / "config.yaml").read_text())["recipe"]["seed"]
                   for d in (tmp_path / "runs").glob("baseline-*"))
    assert seeds == [3, 3, 4, 4, 5, 5]
    assert main(["ablate", str(p), "--replicate", "3"]) == 2
    assert "seeds this table has not used" in capsys.readouterr().err
    # the Python API gives the same table from the cache (nothing trained)
    abl, _ = load_ablation(p, str(tmp_path / "runs"))
    rep = abl.replicate([4, 5])
    assert all(r.cached for *_, r in abl.replication.results) and len(abl.replication.results) == 4
    after = paired_comparison(abl.replication.tidy, "plain", "f1_mean")
    assert rep.loc["dropout", "n after"] == 2 == after.loc["dropout", "n"]
    assert np.isfinite(after.loc["dropout", "ci_low"])
