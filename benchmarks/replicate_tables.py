"""Replicate every default notebook's verdict table on fresh seeds (#45).

For each paper notebook (02 ME-GraphAU Table 3, 03 MAFG+CCFG Table 4, 04 AU-GCN Table 4,
05 Emotion-GCN Table I, 06 SVML-RGCN Tables 2/3) the table is built exactly as the notebook builds
it (same :class:`~afg.papers.notebook_setup.NotebookSetup`, so the same run-cache entries),
run on its seeds (``SEEDS = [0, 1]``) and rerun on fresh seeds (default 2 and 3) with
:meth:`afg.experiments.Ablation.replicate`. Two results files are written after every notebook
(progressively: a killed run keeps what finished, and the run cache keeps every trained run):

* ``replication`` — rows: notebook, table, row, Δ and verdict on the table's seeds, on the fresh
  seeds and pooled, and whether the verdict replicated;
* ``pairs_needed`` — rows: each verdict row's paired sd, the pairs needed to resolve the paper's Δ
  and our own at 80 % power, the magnitude check, and per table what resolving the unresolved rows
  would cost in runs and minutes at the recorded run times.

    python benchmarks/replicate_tables.py                      # 06 04 02 05 03, seeds 2 3
    python benchmarks/replicate_tables.py --notebooks 02 --seeds 2 3 4
    python benchmarks/replicate_tables.py --quick --results-dir /tmp/rep   # smoke test

Run the default in the background (``nohup … &``): on a quiet 2-core CPU each notebook's table
takes 6–20 min per seed pair. The landmark-pretrained backbone must be in the cache first (the
script waits for it rather than start a second pretraining).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

from afg import reference
from afg.docs import PAPER_ROWS
from afg.experiments.analysis import (
    paper_verdicts,
    recorded_seconds,
    replication_table,
    resolution_cost,
    resolution_note,
)
from afg.measured import write_results
from afg.papers.me_graphau_table3 import StageAblation, me_graphau_config, table3_variants
from afg.papers.notebook_setup import NotebookSetup

#: notebook -> (paper, [(table, paper column)], our metric); cheapest first
NOTEBOOKS: dict[str, tuple[str, list[tuple[str, str]], str]] = {
    "06": ("svml_rgcn", [("svml_rgcn/table2_rafml", "AP"), ("svml_rgcn/table3_rafml", "AP")], "average_precision"),
    "04": ("au_gcn", [("au_gcn/table4", "F1-score")], "f1_mean"),
    "02": ("me_graphau", [("me_graphau/table3", "ResNet-50")], "f1_mean"),
    "05": ("emotion_gcn", [("emotion_gcn/table1", "AffectNet")], "accuracy"),
    "03": ("mafg_ccfg", [("mafg_ccfg/table4", "F1")], "f1_mean"),
}


#: notebook -> the paper's name in the README's per-paper table (its one definition: afg.docs.PAPER_ROWS)
_PAPER_NAMES = {p["notebook"][:2]: p["paper"] for p in PAPER_ROWS}


def build_table(nb: str, setup: NotebookSetup, seeds: list[int] | None, root: str | None):
    """The notebook's table as an ablation (the notebook's own construction)."""
    paper, tables, _ = NOTEBOOKS[nb]
    if nb == "02":
        cfg = me_graphau_config(setup)
        variants = table3_variants(cfg, stage2_lr=cfg.recipe.optimizer.lr)
        return StageAblation(cfg, variants, folds=setup.fold_list("me_graphau"),
                             seeds=setup.run_seeds(seeds), root=root)
    variants: dict[str, Any] = {}
    for t, _ in tables:
        variants.update(reference.variants(t))
    return setup.ablation(paper, variants, seeds=seeds, root=root)


def reference_row(table: str, variants) -> str:
    """The row the notebook's ``ordering`` compares with: the table's first row that was run."""
    return next(r for r in reference.load_table(table).index if r in variants)


def wait_for_pretraining(setup: NotebookSetup, paper: str, limit_min: float = 90.0) -> None:
    """Wait (polling) until the landmark-pretrained backbone the configs use is cached; never
    start a second pretraining. Exits after ``limit_min`` minutes without it."""
    from afg.pretrain import cache_dir, preset_spec, weights_key

    m = setup.config(paper).model
    spec = preset_spec(m.get("weights"))
    if spec is None:
        return
    name, size = m.get("backbone"), int(m.get("img_size", 224))
    path = cache_dir() / "backbones" / f"synthetic_{name}_{size}px_{weights_key(name, size, spec)}.pt"
    t0 = time.time()
    while not path.is_file():
        if time.time() - t0 > 60 * limit_min:
            sys.exit(f"replicate_tables: {path} did not appear within {limit_min:g} min")
        print(f"waiting for the pretrained backbone {path} ...", flush=True)
        time.sleep(30)


def _num(x: Any) -> Any:
    """JSON-safe number: NaN -> None, inf -> "inf", numpy scalars -> Python."""
    if isinstance(x, str) or x is None:
        return x
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf"
    return round(x, 4)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notebooks", nargs="+", default=list(NOTEBOOKS), choices=list(NOTEBOOKS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[2, 3], help="fresh seeds (default 2 3)")
    ap.add_argument("--table-seeds", nargs="+", type=int, default=[0, 1], help="the notebooks' SEEDS")
    ap.add_argument("--quick", action="store_true", help="QUICK setup (smoke test; numbers mean nothing)")
    ap.add_argument("--runs", default=None, help="run cache (default $AFG_RUNS_DIR or ./runs)")
    ap.add_argument("--results-dir", default=None, help="results folder (default docs/results)")
    args = ap.parse_args(argv)
    if args.quick and args.results_dir is None:
        ap.error("--quick writes meaningless numbers: give --results-dir")
    command = "python benchmarks/replicate_tables.py " + " ".join(sys.argv[1:] if argv is None else argv)
    setup = NotebookSetup(quick=args.quick)
    rep_rows: list[dict[str, Any]] = []
    need_rows: list[dict[str, Any]] = []
    costs: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []

    def write(status: str) -> None:
        meta = {"status": status, "seeds_before": args.table_seeds, "seeds_after": args.seeds,
                "notebooks_done": done, "notebooks_planned": args.notebooks, "quick": args.quick}
        summary = [{"paper": _PAPER_NAMES[nb], "verdicts replicated on fresh seeds":
                    f"{sum(r['replicated'] == 'yes' for r in rep_rows if r['notebook'] == nb)}"
                    f" of {sum(r['replicated'] in ('yes', 'no') for r in rep_rows if r['notebook'] == nb)}"
                    " rows with a claim (seeds "
                    f"{'–'.join(map(str, args.seeds))})"}
                   for nb in dict.fromkeys(r["notebook"] for r in rep_rows)]
        write_results("replication", {**meta, "rows": rep_rows, "summary": summary}, command=command,
                      precision=setup.precision() or None, folder=args.results_dir)
        write_results("pairs_needed", {**meta, "rows": need_rows, "costs": costs}, command=command,
                      precision=setup.precision() or None, folder=args.results_dir)

    for nb in args.notebooks:
        paper, tables, metric = NOTEBOOKS[nb]
        if not args.quick:
            wait_for_pretraining(setup, paper)
        t0 = time.time()
        abl = build_table(nb, setup, args.table_seeds, args.runs)
        print(f"[{nb}] {paper}: {len(list(abl.configs()))} runs on seeds {abl.seeds}", flush=True)
        first = build_table(nb, setup, args.table_seeds[:1], args.runs)  # the runs the notebook draws
        first.folds = first.folds[:1]  # its figures from (fold 1, first seed) come first
        first.run()
        abl.run()
        seconds = recorded_seconds(abl)
        for table, column in tables:
            ref = reference_row(table, abl.variants)
            ver = paper_verdicts(abl.tidy, table, ref, column=column, metric=metric)
            for row, r in ver.iterrows():
                need_rows.append({"notebook": nb, "table": table, "row": row, "reference": ref,
                                  **{k: _num(r[k]) for k in ("Δ ours", "CI low", "CI high", "Δ paper", "sd", "n",
                                                             "pairs needed (Δ paper)", "pairs needed (Δ ours)")},
                                  "verdict": r["verdict"], "magnitude": r["magnitude"]})
            cost = resolution_cost(ver, seconds)
            costs.append({"notebook": nb, "table": table,
                          **{k: {kk: _num(vv) for kk, vv in v.items()} for k, v in cost.attrs["totals"].items()},
                          "unresolved": len(cost), "note": resolution_note(ver, seconds)})
            print(ver.round(2).to_string(), "\n", resolution_note(ver, seconds), flush=True)
        write("running")
        before_minutes = (time.time() - t0) / 60
        table, column = tables[0]
        rep = abl.replicate(args.seeds if not args.quick else args.seeds[:1], table=table,
                            reference=reference_row(table, abl.variants), metric=metric, column=column)
        reps = [(table, rep)]
        for table, column in tables[1:]:  # the other tables of the same runs
            pooled_ref = reference_row(table, abl.variants)
            reps.append((table, replication_table(abl.tidy, abl.replication.tidy, pooled_ref, metric,
                                                  table=table, column=column)))
        for table, r in reps:
            print(f"[{nb}] {table}: replicated {r.attrs['counts']}\n{r.to_string()}", flush=True)
            for row, x in r.iterrows():
                rep_rows.append({"notebook": nb, "table": table, "row": row, "reference": r.attrs["reference"],
                                 "Δ seeds before": x["Δ before [CI]"], "verdict seeds before": x["verdict before"],
                                 "Δ seeds after": x["Δ after [CI]"], "verdict seeds after": x["verdict after"],
                                 "replicated": x["replicated"], "Δ pooled": x["Δ pooled [CI]"],
                                 "verdict pooled": x["verdict pooled"]})
        done.append({"notebook": nb, "minutes": round((time.time() - t0) / 60, 1),
                     "minutes_table_seeds": round(before_minutes, 1)})
        write("running" if nb != args.notebooks[-1] else "complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
