"""``afg train``, ``afg cv`` and ``afg ablate``: runs through the run cache of
:func:`afg.experiments.run`, and the tables they make (``--executor`` & co.: where they train)."""
from __future__ import annotations

import argparse

from ..config import ConfigError
from ..data.build import protocol_fold_count
from ..experiments import (
    Ablation,
    cross_validation,
    paper_verdicts,
    recorded_seconds,
    resolution_note,
    run,
    run_dir_for,
    verdict_note,
)
from ..experiments.executors import ExecutorSpec, resolve_executor
from ..predict import CheckpointError, resolve_checkpoint
from ..reference import compare
from ..runs import RunFolder
from .common import check_device, metric_summary, print_table
from .configs import load_ablation, load_config
from .errors import UsageError, one_line

__all__ = ["cmd_ablate", "cmd_cv", "cmd_train"]


def cmd_train(args: argparse.Namespace) -> int:
    """One cached run: train unless the identical run is in the cache; print its metrics."""
    cfg = load_config(args.config, args.set, args.fold, args.device)
    if args.no_progress:
        cfg = cfg.override({"recipe.progress": False})
    of = f"/{cfg.data.folds}" if cfg.data.folds is not None else " of its protocol"
    print(f"afg train: {cfg.model['name']} on {cfg.data.dataset} fold {cfg.data.fold}{of} "
          f"-> {run_dir_for(cfg, args.runs)}", flush=True)
    res = run(cfg, root=args.runs, force=args.force)
    print(f"{'cached' if res.cached else 'trained'} in {res.seconds:.1f} s ({res.precision}): {res.run_dir}")
    for line in metric_summary(res.metrics):
        print(line)
    try:
        print(f"checkpoint: {resolve_checkpoint(res.run_dir)}")
    except CheckpointError:
        pass
    return 0


def cmd_cv(args: argparse.Namespace) -> int:
    """Every fold of the config's k-fold protocol; the per-fold metrics and the mean ± std table."""
    cfg = load_config(args.config, args.set, None, args.device)
    if args.no_progress:
        cfg = cfg.override({"recipe.progress": False})
    k = args.folds or protocol_fold_count(cfg.data)
    if not k or k < 2:
        raise UsageError(f"{args.config}: cross-validation needs data.folds >= 2 (or --folds K)")
    print(f"afg cv: {cfg.model['name']} on {cfg.data.dataset}, {k} folds", flush=True)
    tidy, table = cross_validation(cfg, folds=k, root=args.runs, metrics=args.metrics,
                                   executor=executor_from_args(args))
    if not len(tidy):
        print("afg cv: no fold has finished yet; run the same command again to collect them")
        return 0
    per_fold = tidy.pivot_table(index="fold", columns="metric", values="value")
    keep = [c for c in (args.metrics or ["f1_mean", "auc_mean", "accuracy", "average_precision"])
            if c in per_fold.columns]
    if keep:
        print(per_fold[keep].round(4).to_string())
    print_table(table, args.format, args.output)
    return 0


def cmd_ablate(args: argparse.Namespace) -> int:
    """An ablation file's variants × folds (× seeds): the table with each row's paired Δ against the
    first, and the paper's table and verdicts when the file names a ``reference``."""
    check_device(args.device)
    abl, spec = load_ablation(args.ablation, args.runs)
    ov = {**({"recipe.device": args.device} if args.device is not None else {}),
          **({"recipe.progress": False} if args.no_progress else {})}
    if ov:
        abl.base = abl.base.override(ov)
    runs = list(abl.configs())
    print(f"afg ablate: {len(abl.variants)} variants x {len(abl.folds)} folds"
          f"{f' x {len(abl.seeds)} seeds' if abl.seeds else ''} = {len(runs)} runs", flush=True)
    if args.dry_run:
        for name, fold, seed, c in runs:
            rd = run_dir_for(c, args.runs)
            print(f"  {name} | fold {fold}{'' if seed is None else f' | seed {seed}'} | "
                  f"{'cached' if RunFolder(rd).has_record() else 'to run'} | {rd}")
        return 0
    executor = executor_from_args(args, spec.executor)
    abl.run(executor=executor, progress=not args.no_progress)
    if abl.tidy is None or not len(abl.tidy):
        print("afg ablate: no run has finished yet; run the same command again to collect them")
        return 0
    first = next(iter(abl.variants))  # Δ [95 % CI]: paired differences against the paper's first row
    print_table(abl.table(args.metrics or abl.metrics, reference=first if len(abl.variants) > 1 else None),
                args.format, args.output)
    if spec.reference:
        _print_paper_comparison(abl, spec.reference, first, (args.metrics or abl.metrics or [None])[0])
    if args.replicate:
        _print_replication(abl, args, spec.reference, first, executor)
    return 0


def _print_replication(abl: Ablation, args: argparse.Namespace, reference: str | None, first: str,
                       executor: ExecutorSpec) -> None:
    """``--replicate SEEDS``: the table again on fresh seeds, each row's verdict before / after."""
    if len(abl.variants) < 2:
        raise UsageError("--replicate needs at least two variants (rows are compared with the first)")
    try:
        rep = abl.replicate(args.replicate, table=reference, reference=first,
                            metric=(args.metrics or abl.metrics or [None])[0],
                            executor=executor)
    except ValueError as exc:
        raise UsageError(one_line(exc)) from None
    a = rep.attrs
    print(f"\nreplication on seeds {a['seeds_after']} (the table: seeds {a['seeds_before']}), "
          f"{a['metric']} vs {first!r}:")
    print(rep.to_string())
    print(f"replicated: {a['counts']['yes']} of {a['counts']['yes'] + a['counts']['no']} rows")


def _print_paper_comparison(abl: Ablation, reference: str, first: str, metric: str | None) -> None:
    """The paper's table next to ours, and each row's Δ against ``first`` next to the paper's Δ."""
    try:
        cmp = compare(abl.summary(), reference)
        print(f"\npaper ({reference}) vs ours:")
        print(cmp.round(1).to_string())
        ver = paper_verdicts(abl.tidy, reference, first, metric=metric)
        print(f"\neach row's Δ vs {first!r} against the paper's Δ:")
        print(ver.round(2).to_string())
        print(verdict_note(ver))
        print(resolution_note(ver, recorded_seconds(abl)))
    except (KeyError, ValueError) as exc:
        print(f"(no comparison with {reference}: {one_line(exc)})")


def executor_from_args(args: argparse.Namespace, from_file: ExecutorSpec | None = None) -> ExecutorSpec:
    """The executor of ``--executor`` & co. over the ablation file's ``executor:`` section; says
    where the runs go when they do not train here."""
    sbatch = {}
    for item in args.sbatch or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--sbatch {item!r}: expected KEY=VALUE (e.g. account=myproject)")
        sbatch[key.lstrip("-")] = value
    try:
        spec = resolve_executor(from_file, name=args.executor, partition=args.partition,
                                gpus_per_job=args.gpus, time_min=args.time, jobs=args.jobs,
                                array_parallelism=args.array_parallelism,
                                wait=False if args.no_wait else None)
        if sbatch:
            spec = resolve_executor(spec, sbatch={**spec.sbatch, **sbatch})
    except ConfigError as exc:
        raise UsageError(one_line(exc)) from None
    if spec.name != "local":
        print(f"executor: {spec.name}" + (f", partition {spec.partition}" if spec.partition else "")
              + f", {spec.gpus_per_job} GPU(s) and {spec.time_min} min per job"
              + ("" if spec.wait else " (submit and return)"), flush=True)
    return spec
