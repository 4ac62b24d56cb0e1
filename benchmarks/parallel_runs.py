"""Parallel runs vs. one run after the other: the wall time of an ablation on a CPU.

Run: ``python benchmarks/parallel_runs.py [--paper mafg_ccfg] [--runs 4] [--jobs 2] [--steps 15]``.

Trains ``--runs`` copies (different seeds) of the notebooks' synthetic default config of
``--paper`` for one epoch of ``--steps`` steps plus the full validation pass, first one after the
other in this process with every core as a torch thread, then through
:func:`afg.experiments.parallel.train_parallel` with ``--jobs`` worker processes of
``cpu_count // jobs`` threads each. Prints both wall times and their ratio; the speed-up is what
``Ablation.run(jobs=N)`` / ``AFG_JOBS=N`` buys (worker start-up and the synthetic faces each
worker renders once are included).

Measured on 2 idle cores, ``--paper mafg_ccfg --runs 4 --jobs 2``: 25.4 s vs 26.0 s (0.97×) with
``--steps 15``, 52.4 s vs 52.5 s (1.00×) with ``--steps 50`` — no gain there, as two threads
already keep both cores busy. Run it on a many-core machine before choosing ``AFG_JOBS``.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paper", default="mafg_ccfg")
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=15)
    args = ap.parse_args()

    import torch

    from afg.experiments import run
    from afg.experiments.parallel import train_parallel
    from afg.papers.notebook_setup import NotebookSetup

    cores = os.cpu_count() or 1
    setup = NotebookSetup(quick=False, threads=cores)
    cfgs = [setup.config(args.paper, {"recipe.epochs": 1, "recipe.max_steps_per_epoch": args.steps,
                                      "recipe.stages": [], "recipe.seed": s})
            for s in range(args.runs)]
    with tempfile.TemporaryDirectory() as tmp:
        torch.set_num_threads(cores)
        t0 = time.perf_counter()
        for c in cfgs:
            run(c, root=os.path.join(tmp, "sequential"))
        seq = time.perf_counter() - t0
        t0 = time.perf_counter()
        train_parallel([(f"seed {i}", c) for i, c in enumerate(cfgs)], args.jobs,
                       root=os.path.join(tmp, "parallel"), progress=False)
        par = time.perf_counter() - t0
    print(f"{args.runs} x {args.paper} (1 epoch of {args.steps} steps + validation), {cores} cores")
    print(f"one after the other, {cores} threads: {seq:.1f} s")
    print(f"{args.jobs} at a time, {max(1, cores // args.jobs)} thread(s) each: {par:.1f} s")
    print(f"speed-up: {seq / par:.2f}x")


if __name__ == "__main__":
    main()
