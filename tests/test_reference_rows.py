"""Every ablation row of the papers' tables (``afg.reference``) can be trained.

Each row with ``overrides`` is built from its paper's base config (``configs/<paper>_<dataset>.yaml``,
the file a user trains on real data) plus the row's overrides (and the column's, where a table
varies a parameter by column), shrunk to tiny synthetic data (a few faces of the same label
profile, ``resnet_tiny`` at 64 px), and trained for one step of every stage through
:func:`afg.experiments.run`. A row that cannot be built carries ``unsupported: <reason>`` instead
of overrides, and docs/protocol.md names it.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from afg import reference as ref
from afg.config import apply_overrides
from afg.data.synth import PROFILES
from afg.experiments import run
from afg.experiments.config import load_experiment
from afg.experiments.runner import final_model_config

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SIZE = 64


def _dataset_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def base_config_path(table: str, column: int = 0) -> Path:
    """The paper's base config of ``table``'s column ``column`` (its dataset / backbone)."""
    paper = table.split("/")[0]
    info = ref.table_info(table)
    if "column_backbones" in info:  # ME-GraphAU Table 3: one column per backbone, BP4D
        bb = {"resnet50": "resnet50", "swin_base_patch4_window7_224": "swin_base"}[info["column_backbones"][column]]
        return CONFIGS / f"{paper}_{_dataset_key(info['dataset'])}_{bb}.yaml"
    dataset = info["column_datasets"][column] if "column_datasets" in info else info["dataset"]
    return CONFIGS / f"{paper}_{_dataset_key(dataset)}.yaml"


def _cases() -> list[Any]:
    cases = []
    for table in ref.list_tables():
        info = ref.table_info(table)
        n_cols = len(info.get("column_datasets") or info.get("column_backbones") or [None])
        col_over = info.get("column_overrides") or [{}]
        for row in info["rows"]:
            if "unsupported" in row or "overrides" not in row:
                continue
            # every dataset/backbone column's base config; for parameter columns (Emotion-GCN
            # Table II) the first and the last value
            columns = [(c, {}) for c in range(n_cols)] if len(col_over) == 1 else \
                [(0, col_over[0]), (0, col_over[-1])]
            for c, extra in columns:
                tag = f"{table}:{row['name']}:col{c}" + (f":{next(iter(extra.values()))}" if extra else "")
                cases.append(pytest.param(table, row["name"], c, dict(extra), id=tag))
    return cases


def shrink(d: dict[str, Any], paper: str, tmp: Path) -> dict[str, Any]:
    """A real-data config on a handful of synthetic faces, one step per stage, on the CPU."""
    synth = load_experiment(CONFIGS / f"{paper}_synthetic.yaml").to_dict()["data"]
    ds = _dataset_key(d["data"]["dataset"])
    # SVML-RGCN's class means (Eq. 5) need a single-label face of every emotion in training
    per_subject = 30 if paper == "svml_rgcn" else 4
    data = {"dataset": "synthetic", "profile": ds if ds in PROFILES else synth["profile"],
            "options": dict(synth.get("options") or {}), "n_subjects": 3, "images_per_subject": per_subject,
            "size": SIZE, "img_size": SIZE, "folds": 3, "fold": 1, "seed": 0,
            "hflip": bool(d["data"].get("hflip", False)),
            "frame_sampling": dict(d["data"].get("frame_sampling") or {})}
    d["data"] = data
    m = d["model"]
    m["img_size"] = SIZE
    if "backbone" in m:
        m.update(backbone="resnet_tiny", pretrained=False, weights=None)
    if "feature_cache" in m:
        m["feature_cache"] = str(tmp / "feature_cache")
        # SVML-RGCN: the real configs average f_c over data.basic (RAF-DB basic); a handful of
        # synthetic faces lacks single-label images of some classes, which raises by default
        m["missing_class"] = "global_mean"
    r = d["recipe"]
    r.update(epochs=1, max_steps_per_epoch=1, batch_size=4, eval_batch_size=4, device="cpu",
             progress=False, num_workers=0)
    for st in r.get("stages") or []:
        st["epochs"] = 1
    return d


def test_every_ablation_row_is_covered_or_unsupported() -> None:
    readme = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")  # the list of unsupported rows
    n_rows = 0
    for table in ref.list_tables():
        for row in ref.table_info(table)["rows"]:
            if "unsupported" in row:
                reason = str(row["unsupported"]).strip()
                assert reason, (table, row["name"])
                assert "overrides" not in row, (table, row["name"])
                assert f"{table}" in readme and row["name"] in readme, \
                    f"docs/protocol.md does not list the unsupported row {table} / {row['name']}"
            elif "overrides" in row:
                n_rows += 1
                assert base_config_path(table).is_file(), (table, base_config_path(table))
    assert n_rows >= 40  # ME-GraphAU 7, MAFG+CCFG 12, AU-GCN 6, Emotion-GCN and SVML-RGCN tables


def test_me_graphau_table3_rows_train_the_papers_stages() -> None:
    """Rows 1-4: the stage-1 model alone; rows 5-7: the row's stage-1 model, then stage 2."""
    base = load_experiment(base_config_path("me_graphau/table3")).to_dict()
    rows = ref.variants("me_graphau/table3")
    for i, (name, over) in enumerate(rows.items()):
        cfg = load_experiment(apply_overrides(base, over))
        final = final_model_config(cfg)
        if i < 4:
            assert not cfg.recipe.stages and final["name"] == "me_graphau_stage1", name
        else:
            assert [st.name for st in cfg.recipe.stages] == ["stage1", "stage2"], name
            assert cfg.model["name"] == "me_graphau_stage1" and final["name"] == "me_graphau", name
            assert final.get("lam", 0.05) == (0.05 if i == 6 else 0.0), name  # L_E only in row 7
            assert cfg.model.get("use_fgg", True) == (i != 4), name  # row 5 starts from row 3


@pytest.mark.slow
@pytest.mark.parametrize("table,row,column,column_overrides", _cases())
def test_row_builds_from_base_config_and_trains_one_step(table, row, column, column_overrides,
                                                         tmp_path) -> None:
    paper = table.split("/")[0]
    base = load_experiment(base_config_path(table, column)).to_dict()
    overrides = {**ref.variants(table)[row], **column_overrides}
    d = shrink(apply_overrides(base, overrides), paper, tmp_path)
    res = run(d, root=tmp_path / "runs")
    assert not res.cached
    stages = d["recipe"].get("stages") or [{}]
    assert len(res.history) >= len(stages)  # one epoch (of one step) per stage
    losses = [h["train_loss"] for h in res.history if "train_loss" in h]
    assert losses and all(math.isfinite(v) for v in losses)  # a finite training loss in every stage
