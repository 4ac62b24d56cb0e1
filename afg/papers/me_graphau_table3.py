"""ME-GraphAU's two-stage recipe for a notebook setup, and its Table 3 as an ablation.

Table 3's rows are written once, as the ``overrides`` of ``me_graphau/table3`` in
:mod:`afg.reference` (read as :data:`afg.models.me_graphau.TABLE3_ROWS`). :func:`table3_variants`
turns them into overrides of a two-stage recipe in which rows 1–4 train stage 1 only and rows 5–7
train stage 2 initialised from the *same fold's* stage-1 run of row 3 or 4 (as in the paper), so
each stage-1 model is trained once and shared (:class:`StageAblation`).
"""
from __future__ import annotations

import copy
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..experiments.ablation import Ablation
from ..experiments.analysis import noise_note, ordering
from ..experiments.config import ExperimentConfig, load_experiment
from ..experiments.runner import run_dir_for
from ..models.me_graphau import TABLE3_ROWS
from ..runs import RunFolder
from .notebook_setup import CONFIGS_DIR, NotebookSetup

__all__ = ["StageAblation", "me_graphau_config", "table3_report", "table3_variants"]

_INIT_PREFIX = "@variant:"


def me_graphau_config(setup: Any, overrides: Mapping[str, Any] | None = None,
                      backbone: str = "resnet50") -> ExperimentConfig:
    """ME-GraphAU's two-stage recipe for a :class:`~afg.papers.notebook_setup.NotebookSetup`.

    Synthetic data: ``configs/me_graphau_synthetic.yaml`` scaled by the setup (quick/default),
    exactly as the other notebooks scale their recipes (so runs are shared through the cache).
    Real data (``bp4d``/``disfa``): ``configs/me_graphau_<dataset>_<backbone>.yaml`` with
    ``data.root``, ``recipe.device``, ``recipe.seed`` and, when given, every stage's epochs.
    """
    if setup.synthetic:
        return setup.config("me_graphau", overrides)
    bb = {"resnet50": "resnet50", "swin_base": "swin_base", "swin": "swin_base"}[backbone]
    path = CONFIGS_DIR / f"me_graphau_{setup.dataset}_{bb}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no ME-GraphAU recipe {path.name} (datasets: bp4d, disfa)")
    d = load_experiment(path).to_dict()
    d["data"]["root"] = str(setup.data_root)
    d["recipe"].update(device=setup.device, seed=setup.seed, progress=False)
    if setup.epochs is not None:
        for st in d["recipe"]["stages"]:
            st["epochs"] = int(setup.epochs)
    if setup.quick:
        d["recipe"].update(max_steps_per_epoch=2)
        for st in d["recipe"]["stages"]:
            st["epochs"] = 1
    cfg = ExperimentConfig.from_dict(d)
    return cfg.override(dict(overrides)) if overrides else cfg


def table3_variants(base: ExperimentConfig | dict | str, stage2_lr: float | None = None) -> dict[str, dict[str, Any]]:
    """ME-GraphAU Table 3 rows (:data:`afg.models.me_graphau.TABLE3_ROWS`, names as in
    ``me_graphau/table3``) as overrides of a two-stage recipe (stage 1 ANFL, stage 2 MEFL; e.g.
    ``configs/me_graphau_*.yaml``).

    Stage-1 rows keep stage 1 only, with the row's model options; stage-2 rows keep stage 2 only,
    with the ``me_graphau`` model and ``init_from`` pointing at their stage-1 row — resolved to that
    row's run directory for the same fold by :class:`StageAblation`. ``stage2_lr`` overrides the
    recipe's stage-2 learning rate.
    """
    stages = load_experiment(base).to_dict()["recipe"]["stages"]
    if len(stages) != 2:
        raise ValueError("table3_variants needs a two-stage recipe (stage 1 ANFL, stage 2 MEFL)")
    s1 = copy.deepcopy(stages[0])
    s1.update(init_from=None, model={})
    labels = {r["row"]: r["label"] for r in TABLE3_ROWS}
    out = {}
    for r in TABLE3_ROWS:
        opts = {f"model.{k}": v for k, v in r["options"].items()}
        if r["model"] == "me_graphau_stage1":
            out[r["label"]] = {"recipe.stages": [copy.deepcopy(s1)], **opts}
            continue
        st = copy.deepcopy(stages[1])
        st.update(model={}, init_from=_INIT_PREFIX + labels[r["init_from"]], init_checkpoint="best")
        if stage2_lr is not None:
            st["optimizer"] = {**st.get("optimizer", {}), "lr": float(stage2_lr)}
        out[r["label"]] = {"model.name": "me_graphau", **opts, "recipe.stages": [st]}
    return out


class StageAblation(Ablation):
    """An :class:`Ablation` whose stage ``init_from: "@variant:<name>"`` is replaced, fold by fold,
    by the best checkpoint of variant ``<name>``'s run on the same fold (and seed).

    List the referenced variants first: they are trained (or fetched) before the rows that use them.
    """

    def configs(self):
        made: dict[tuple[str, int, Any], ExperimentConfig] = {}
        for name, fold, seed, cfg in super().configs():
            made[(name, fold, seed)] = cfg
            stages = cfg.recipe.stages
            for st in stages:
                if isinstance(st.init_from, str) and st.init_from.startswith(_INIT_PREFIX):
                    ref = st.init_from[len(_INIT_PREFIX):]
                    if (ref, fold, seed) not in made:
                        raise KeyError(f"variant {name!r} initialises from {ref!r}, which must come first")
                    rd = run_dir_for(made[(ref, fold, seed)], self.root)
                    st.init_from = str(_final_checkpoint(made[(ref, fold, seed)], rd))
            yield name, fold, seed, cfg

    def run(self, **run_kwargs: Any) -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*initialised from previous stage.*")
            return super().run(**run_kwargs)


def _final_checkpoint(cfg: ExperimentConfig, rd: Path) -> Path:
    """Where the run of ``cfg`` in ``rd`` keeps the best weights of its last stage (predicted
    before it exists: single-stage runs keep them in the run directory itself)."""
    stages = cfg.recipe.stages
    return RunFolder.best(RunFolder(rd).stage_dir(len(stages) - 1, stages[-1].name if stages else None,
                                                  len(stages) > 1))


def table3_report(folds: Sequence[int] = (1, 2), seeds: Sequence[int] = (0, 1), quick: bool = False,
                  column: str = "ResNet-50", root: str | os.PathLike | None = None,
                  selection: str | None = None) -> dict[str, Any]:
    """ME-GraphAU Table 3 on the synthetic default (notebook 02's configs, so its runs are shared)
    over ``folds`` × ``seeds``, printed with each row's paired Δ F1 [95 % CI] against the backbone
    row, its verdict against the paper's Δ (``column``), the verdict counts, Kendall's τ and the
    wall time. ``selection`` overrides ``recipe.selection`` (default ``val``; ``test`` reproduces
    the authors' optimistic protocol). The closing-note measurement of issue #25::

        python -c "from afg.papers.me_graphau_table3 import table3_report; table3_report()"

    Returns ``{"ablation", "table", "ordering", "seconds"}``.
    """
    t0 = time.perf_counter()
    setup = NotebookSetup(quick=quick, folds=max(folds))
    cfg = me_graphau_config(setup, {"recipe.selection": selection} if selection else None)
    variants = table3_variants(cfg, stage2_lr=cfg.recipe.optimizer.lr if setup.synthetic else None)
    abl = StageAblation(cfg, variants, folds=list(folds), seeds=list(seeds), root=root)
    tidy = abl.run()
    reference = next(iter(variants))
    table = abl.table(["f1_mean", "auc_mean"], reference=reference)
    order = ordering(abl.summary(["f1_mean"]), "me_graphau/table3", column, reference=reference)
    seconds = time.perf_counter() - t0
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(f"ME-GraphAU Table 3, {setup.describe('me_graphau')}, folds {list(folds)} x seeds {list(seeds)}")
        print(table.to_string())
        print(table.attrs["note"])
        print()
        print(order.to_string())
        print(order.attrs.get("note", ""))
        print(noise_note(tidy, "f1_mean"))
    trained = int((~tidy.drop_duplicates(["variant", "fold"] + (["seed"] if "seed" in tidy else []))["cached"]).sum())
    print(f"wall time {seconds / 60:.1f} min ({trained} runs trained, the rest from the cache)")
    return {"ablation": abl, "table": table, "ordering": order, "seconds": seconds}
