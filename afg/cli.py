"""The ``afg`` command line (also ``python -m afg``).

Commands::

    afg train   CONFIG.yaml [--set key=value ...] [--fold K] [--device D]   one cached run
    afg cv      CONFIG.yaml [--set ...] [--folds K]                          every fold, mean ± std
    afg ablate  ABLATION.yaml                                                variants × folds table
    afg eval    CHECKPOINT [--data CONFIG.yaml] [--split val|train]          metrics of a checkpoint
    afg prepare DATASET --root RAW --out OUT                                 detect + align a release
    afg predict CHECKPOINT INPUTS... [-o out.csv]                            faces → AU/expression table
    afg export  CHECKPOINT OUT.safetensors                                   weights for model hubs
    afg demo    [--quick]                                                    the main job (README)

Every command checks its inputs before doing any work (files and folders exist, config keys are
known, the config names its model, the model, its backbone and its options exist — unknown names
get the closest valid ones —, weights files and ``init_from`` checkpoints load weights-only, the
checkpoint is an afg/ME-GraphAU checkpoint that fits the data) and reports a problem as ONE line
``afg: error: ...`` on stderr with exit code 2, before a run folder exists. A ``--set recipe.KEY``
override of a field that the recipe's stages set themselves (``epochs``, ``optimizer.lr`` ...) is
applied to those stages too, and the command says so.
Runs go to ``--runs`` (default ``$AFG_RUNS_DIR`` or ``./runs``) through the run cache of
:func:`afg.experiments.run`: a finished run is never trained twice.

Ablation files (``afg ablate``, see ``configs/ablations/``)::

    base: ../me_graphau_synthetic.yaml     # experiment config, relative to this file (or a mapping)
    set: {recipe.epochs: 1}                # optional dotted overrides applied to every variant
    folds: 3                               # k (folds 1..k), or a list of 1-based folds; default:
                                           #   the base config's data.fold only
    seeds: [0, 1]                          # optional: repeat every run with these recipe.seed
    metrics: [f1_mean, auc_mean]           # optional: table columns (default by task)
    reference: me_graphau/table3           # optional: afg.reference table printed alongside;
                                           #   without `variants`, its rows' overrides are used
    variants:                              # name -> dotted overrides ({} or null = the base)
      Backbone (WBCE): {model.use_afg: false, model.loss: wbce}
      +AFG+FGG, L_WA: {}
    executor: {name: slurm, partition: gpu, time_min: 240}   # optional: where the runs train
                                           #   (afg.experiments.executors.ExecutorSpec; the
                                           #   --executor/--partition/... options override it)
"""
from __future__ import annotations

import argparse
import inspect
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__

__all__ = ["ABLATION_KEYS", "UsageError", "build_parser", "load_ablation", "main"]

#: keys of an ablation YAML file
ABLATION_KEYS = ("base", "set", "folds", "seeds", "metrics", "reference", "variants", "description", "name",
                 "executor")


class UsageError(Exception):
    """Bad user input; printed as one ``afg: error: ...`` line, exit code 2."""


#: the argv being parsed (for the "--set swallowed the config" diagnosis)
_ARGV: list[str] = []
#: options that take every following word (``nargs="+"``)
_GREEDY = ("--set", "--option", "--metrics")


def _swallowed(argv: Sequence[str]) -> tuple[str, str] | None:
    """``(option, word)`` when a greedy option took a word that is not ``KEY=VALUE`` (the
    positional argument the user meant to give after it)."""
    opt = None
    for word in argv:
        if word == "--" or (word.startswith("-") and word not in _GREEDY):
            opt = None
        elif word in _GREEDY:
            opt = word
        elif (opt in ("--set", "--option") and "=" not in word) or (
                opt == "--metrics" and word.endswith((".yaml", ".yml"))):
            return opt, word
    return None


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``afg: error: ...``) instead of usage + message."""

    def error(self, message: str) -> NoReturn:
        sub = " ".join(self.prog.split()[1:])
        where = f"{sub}: " if sub else ""
        took = _swallowed(_ARGV) if "arguments are required" in message else None
        if took:
            opt, word = took
            item = "metric names" if opt == "--metrics" else "KEY=VALUE items"
            message = (f"{opt} took {word!r} as one of its {item} ({opt} takes every word "
                       f"after it), so {message.split(': ', 1)[-1]} is missing: put {word} before "
                       f"{opt}, or end the {opt} list with --")
        self.exit(2, f"afg: error: {where}{message} (see `{self.prog} --help`)\n")


# ------------------------------------------------------------------------------ validation
def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, KeyError) and text.startswith(("'", '"')) and text.endswith(("'", '"')):
        text = text[1:-1]
    line = " ".join(text.split()) if text else type(exc).__name__
    return line


def _existing_file(path: str, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{what} not found: {path}")
    if p.is_dir():
        raise UsageError(f"{what} is a folder, expected a file: {path}")
    return p


def _check_device(device: str | None) -> None:
    if device is None:
        return
    from .utils import resolve_device

    try:
        resolve_device(device)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"--device: {_one_line(exc)}") from None


def _check_model(model_cfg: dict[str, Any], where: str) -> None:
    """The registered model exists and accepts every option (without building it)."""
    from .models import list_models
    from .models.registry import _REGISTRY

    name = model_cfg.get("name")
    if name not in _REGISTRY:
        import difflib

        close = difflib.get_close_matches(str(name), list_models(), n=3, cutoff=0.5)
        hint = f"closest: {', '.join(close)}; " if close else ""
        raise UsageError(f"{where}.name: unknown model {name!r}; {hint}available: {', '.join(list_models())}")
    params = inspect.signature(_REGISTRY[name]).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(model_cfg) - set(params) - {"name"})
        if unknown:
            opts = ", ".join(p for p in params if p != "num_classes")
            raise UsageError(f"{where}.{unknown[0]}: model {name!r} has no option {unknown[0]!r}; "
                             f"options: {opts}")
    if isinstance(model_cfg.get("backbone"), str):
        from .backbones import check_backbone_name

        try:
            check_backbone_name(model_cfg["backbone"])
        except ValueError as exc:
            raise UsageError(f"{where}.backbone: {_one_line(exc)}") from None
    weights = model_cfg.get("weights")
    if isinstance(weights, str) and weights != "synthetic":
        _check_weights_file(weights, f"{where}.weights")


#: weights files already checked: (resolved path, size, mtime) — an ablation validates every run
_CHECKED_WEIGHTS: set[tuple[str, int, int]] = set()


def _check_weights_file(path: str, where: str) -> None:
    """The file exists and loads weights-only (no pickled object, not truncated)."""
    from .train.checkpoint import CheckpointError, load_checkpoint

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{where}: file not found: {path}")
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key in _CHECKED_WEIGHTS:
        return
    try:
        load_checkpoint(p)
    except CheckpointError as exc:
        raise UsageError(f"{where}: {_one_line(exc)}") from None
    _CHECKED_WEIGHTS.add(key)


def _check_data(spec: Any, where: str = "data") -> None:
    from .experiments import DATASETS

    name = spec.dataset.lower()
    if name == "synthetic":
        from .data.synth import PROFILES

        if spec.profile not in PROFILES:
            raise UsageError(f"{where}.profile: unknown synthetic profile {spec.profile!r}; "
                             f"choose from {', '.join(sorted(PROFILES))}")
        return
    if name in DATASETS:
        return
    from .data.datasets import ADAPTERS

    key = name.replace("_", "").replace("-", "")
    known = {k.replace("-", "") for k in ADAPTERS}
    if key not in known:
        raise UsageError(f"{where}.dataset: unknown dataset {spec.dataset!r}; choose from "
                         f"synthetic, {', '.join(sorted(known | set(DATASETS) - {'synthetic'}))}")
    if not spec.root:
        raise UsageError(f"{where}.root is required for dataset {spec.dataset!r} (--set data.root=PATH)")
    if not Path(spec.root).exists():
        raise UsageError(f"{where}.root: release folder not found: {spec.root}")
    prepared = Path(spec.prepared or Path(spec.root) / "prepared")
    if not (prepared / "manifest.csv").is_file():
        raise UsageError(f"{where}.prepared: {prepared} holds no manifest.csv; run "
                         f"`afg prepare {spec.dataset} --root {spec.root} --out {prepared}` first")


def check_experiment(cfg: Any) -> None:
    """Validate an :class:`~afg.experiments.ExperimentConfig` beyond its schema (model, stages, data)."""
    _check_model(cfg.model, "model")
    merged = dict(cfg.model)
    for i, st in enumerate(cfg.recipe.stages):
        if st.model:
            merged = {**merged, **st.model}
            _check_model(merged, f"recipe.stages[{i}].model")
        if st.init_from not in (None, "previous"):
            if not Path(st.init_from).is_file():
                raise UsageError(f"recipe.stages[{i}].init_from: checkpoint not found: {st.init_from}")
            _check_weights_file(st.init_from, f"recipe.stages[{i}].init_from")
    _check_data(cfg.data)


def load_config(path: str, overrides: Sequence[str] | None = None, fold: int | None = None,
                device: str | None = None) -> Any:
    """Load + override + validate an experiment config (raises :class:`UsageError`)."""
    from .config import ConfigError
    from .experiments import load_experiment

    _existing_file(path, "config file")
    try:
        cfg = load_experiment(path)
        _require_model_name(path, overrides or [])
        ov: dict[str, Any] = {}
        if overrides:
            cfg = cfg.override(list(overrides))
            cfg = apply_to_stages(cfg, list(overrides))
        if fold is not None:
            if not cfg.data.folds:
                raise UsageError(f"--fold {fold}: {path} uses the official split (data.folds: 0)")
            ov["data.fold"] = fold
        if device is not None:
            _check_device(device)
            ov["recipe.device"] = device
        if ov:
            cfg = cfg.override(ov)
    except ConfigError as exc:
        raise UsageError(f"{path}: {_one_line(exc)}") from None
    except Exception as exc:  # yaml errors and the like
        if isinstance(exc, UsageError):
            raise
        raise UsageError(f"{path}: cannot read the config ({_one_line(exc)})") from None
    check_experiment(cfg)
    return cfg


def _require_model_name(path: str, overrides: Sequence[str]) -> None:
    """A config file must name its model (the Python default, a ResNet-50 baseline, is never
    what a user who forgot ``model:`` wants)."""
    import yaml

    from .models import list_models

    raw = yaml.safe_load(Path(path).read_text())
    model = raw.get("model") if isinstance(raw, dict) else None
    named = isinstance(model, dict) and bool(model.get("name"))
    if not named and not any(str(o).split("=", 1)[0].strip() == "model.name" for o in overrides):
        raise UsageError(f"{path}: model.name is required (one of {', '.join(list_models())})")


def apply_to_stages(cfg: Any, overrides: Sequence[str] | dict[str, Any], quiet: bool = False) -> Any:
    """Make ``recipe.KEY`` and ``model.KEY`` overrides reach the stages that set ``KEY`` themselves.

    A stage's own value wins over the recipe's (:meth:`afg.train.Recipe.resolved_stages`) and a
    stage's ``model:`` options over the config's ``model:``, so ``--set recipe.epochs=1`` alone would
    not change a config whose stages set ``epochs``. Each such override is copied into those stages
    (``recipe.optimizer.lr`` into stages whose ``optimizer`` sets ``lr``; ``model.lam`` into stages
    whose ``model`` sets ``lam`` — never ``model.name``, a stage's model switch), and a line on
    stdout says so (unless ``quiet``). Returns the new config.
    """
    import yaml

    from .train.recipe import _STAGE_OVERRIDABLE

    if not cfg.recipe.stages:
        return cfg
    items = overrides.items() if isinstance(overrides, dict) else [
        (o.split("=", 1)[0].strip(), yaml.safe_load(o.split("=", 1)[1])) for o in overrides if "=" in o]
    d = cfg.to_dict()
    for key, value in items:
        if key.startswith("model.") and key != "model.name":
            field, sub = "model", key.split(".")[1:]
        elif key.startswith("recipe."):
            field, *sub = key[len("recipe."):].split(".")
            if field not in _STAGE_OVERRIDABLE:
                continue
        else:
            continue
        hit = []
        for i, st in enumerate(d["recipe"]["stages"]):
            own = st.get(field)
            if sub:
                cur = own
                for k in sub[:-1]:
                    cur = cur.get(k) if isinstance(cur, dict) else None
                if isinstance(cur, dict) and sub[-1] in cur:
                    cur[sub[-1]] = value
                    hit.append(st.get("name") or str(i + 1))
            elif own is not None and not (isinstance(own, dict) and not own and field != "losses"):
                st[field] = value
                hit.append(st.get("name") or str(i + 1))
        if hit and not quiet:
            print(f"afg: {key}={value} also applied to stage{'s' if len(hit) > 1 else ''} "
                  f"{', '.join(hit)} (they set their own {field if field != 'model' else key})",
                  flush=True)
    return type(cfg).from_dict(d)


def load_ablation(path: str | os.PathLike, runs: str | None = None):
    """Read an ablation YAML file (format in the module docstring) → ``(Ablation, spec dict)``."""
    import yaml

    from .config import ConfigError, apply_overrides
    from .experiments import Ablation, ExperimentConfig, load_experiment

    p = _existing_file(str(path), "ablation file")
    try:
        spec = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{p}: not valid YAML ({_one_line(exc)})") from None
    if not isinstance(spec, dict):
        raise UsageError(f"{p}: top level must be a mapping with keys {', '.join(ABLATION_KEYS)}")
    unknown = sorted(set(spec) - set(ABLATION_KEYS))
    if unknown:
        raise UsageError(f"{p}: unknown key {unknown[0]!r}; valid keys: {', '.join(ABLATION_KEYS)}")
    if "base" not in spec:
        raise UsageError(f"{p}: 'base' (the experiment config) is required")
    base = spec["base"]
    try:
        if isinstance(base, str):
            bp = (p.parent / base) if not Path(base).is_absolute() else Path(base)
            if not bp.is_file() and Path(base).is_file():
                bp = Path(base)
            if not bp.is_file():
                raise UsageError(f"{p}: base config not found: {base}")
            cfg = load_experiment(bp)
            _require_model_name(str(bp), [f"{k}=" for k in (spec.get("set") or {})]
                                if isinstance(spec.get("set"), dict) else list(spec.get("set") or []))
        elif isinstance(base, dict):
            cfg = load_experiment(base)
            if not (isinstance(base.get("model"), dict) and base["model"].get("name")):
                raise UsageError(f"{p}: base.model.name is required")
        else:
            raise UsageError(f"{p}: 'base' must be a path or a mapping")
        if spec.get("set"):
            cfg = cfg.override(spec["set"] if isinstance(spec["set"], dict) else list(spec["set"]))
            cfg = apply_to_stages(cfg, spec["set"] if isinstance(spec["set"], dict) else list(spec["set"]))
    except ConfigError as exc:
        raise UsageError(f"{p}: {_one_line(exc)}") from None
    variants = spec.get("variants")
    reference = spec.get("reference")
    if reference is not None:
        from . import reference as ref

        try:
            ref.table_info(str(reference))
        except (KeyError, ValueError) as exc:
            raise UsageError(f"{p}: reference: {_one_line(exc)}") from None
        if variants is None:
            variants = ref.variants(str(reference))
    if not isinstance(variants, dict) or not variants:
        raise UsageError(f"{p}: 'variants' must be a non-empty mapping name -> overrides")
    clean: dict[str, Any] = {}
    for name, ov in variants.items():
        if ov is None:
            ov = {}
        if not isinstance(ov, (dict, list)):
            raise UsageError(f"{p}: variant {name!r}: overrides must be a mapping or a list of key=value")
        clean[str(name)] = ov
    folds = spec.get("folds")
    if folds is not None and not (isinstance(folds, int) or (isinstance(folds, list) and all(
            isinstance(f, int) for f in folds))):
        raise UsageError(f"{p}: 'folds' must be an integer k or a list of 1-based folds")
    seeds = spec.get("seeds")
    if seeds is not None and not (isinstance(seeds, list) and all(isinstance(s, int) for s in seeds)):
        raise UsageError(f"{p}: 'seeds' must be a list of integers")
    metrics = spec.get("metrics")
    if metrics is not None and not (isinstance(metrics, list) and all(isinstance(m, str) for m in metrics)):
        raise UsageError(f"{p}: 'metrics' must be a list of metric names")
    if spec.get("executor") is not None:
        from .experiments.executors import resolve_executor

        try:
            resolve_executor(spec["executor"])
        except ConfigError as exc:
            raise UsageError(f"{p}: {_one_line(exc)}") from None
    abl = Ablation(cfg, clean, folds=folds, seeds=seeds, root=runs, metrics=metrics)
    # validate every run before training any
    base_d = abl.base.to_dict()
    for name, ov in clean.items():
        try:
            ExperimentConfig.from_dict(apply_overrides(base_d, ov))
        except ConfigError as exc:
            raise UsageError(f"{p}: variant {name!r}: {_one_line(exc)}") from None
    try:
        configs = list(abl.configs())
    except ConfigError as exc:
        raise UsageError(f"{p}: {_one_line(exc)}") from None
    for name, _fold, _seed, c in configs:
        try:
            check_experiment(c)
        except UsageError as exc:
            raise UsageError(f"{p}: variant {name!r}: {exc}") from None
    return abl, spec


def _metric_summary(metrics: dict[str, Any], task: str | None = None) -> list[str]:
    means = [k for k in ("f1_mean", "auc_mean", "acc_mean", "accuracy", "mean_class_accuracy",
                         "macro_f1", "average_precision", "micro_f1", "val_loss") if k in metrics]
    lines = ["  " + "  ".join(f"{k}={float(metrics[k]):.4f}" for k in means)] if means else []
    f1 = [(k.split("/", 1)[1], v) for k, v in metrics.items() if k.startswith("f1/")]
    if f1:
        lines.append("  F1 " + " ".join(f"{n}={100 * float(v):.1f}" for n, v in f1))
    return lines


# ------------------------------------------------------------------------------ commands
def _cmd_train(args: argparse.Namespace) -> int:
    from .experiments import run, run_dir_for

    cfg = load_config(args.config, args.set, args.fold, args.device)
    if args.no_progress:
        cfg = cfg.override({"recipe.progress": False})
    rd = run_dir_for(cfg, args.runs)
    print(f"afg train: {cfg.model['name']} on {cfg.data.dataset} fold {cfg.data.fold}/{cfg.data.folds} "
          f"-> {rd}", flush=True)
    res = run(cfg, root=args.runs, force=args.force)
    print(f"{'cached' if res.cached else 'trained'} in {res.seconds:.1f} s: {res.run_dir}")
    for line in _metric_summary(res.metrics):
        print(line)
    from .predict import CheckpointError, resolve_checkpoint

    try:
        print(f"checkpoint: {resolve_checkpoint(res.run_dir)}")
    except CheckpointError:
        pass
    return 0


def _print_table(df: Any, fmt: str, out: str | None) -> None:
    from .experiments import to_latex, to_markdown

    if fmt == "markdown":
        text = to_markdown(df)
    elif fmt == "latex":
        text = to_latex(df)
    elif fmt == "csv":
        text = df.to_csv()
    else:
        text = df.to_string()
        if df.attrs.get("note"):  # runs per cell, how the epoch was selected (Ablation.table)
            text += "\n" + str(df.attrs["note"])
    print(text.rstrip())
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text if text.endswith("\n") else text + "\n")
        print(f"written: {out}")


def _cmd_cv(args: argparse.Namespace) -> int:
    from .experiments import cross_validation

    cfg = load_config(args.config, args.set, None, args.device)
    if args.no_progress:
        cfg = cfg.override({"recipe.progress": False})
    k = args.folds or cfg.data.folds
    if not k or k < 2:
        raise UsageError(f"{args.config}: cross-validation needs data.folds >= 2 (or --folds K)")
    print(f"afg cv: {cfg.model['name']} on {cfg.data.dataset}, {k} folds", flush=True)
    executor = _executor(args)
    tidy, table = cross_validation(cfg, folds=k, root=args.runs, metrics=args.metrics, executor=executor)
    if not len(tidy):
        print("afg cv: no fold has finished yet; run the same command again to collect them")
        return 0
    per_fold = tidy.pivot_table(index="fold", columns="metric", values="value")
    keep = [c for c in (args.metrics or ["f1_mean", "auc_mean", "accuracy", "average_precision"])
            if c in per_fold.columns]
    if keep:
        print(per_fold[keep].round(4).to_string())
    _print_table(table, args.format, args.output)
    return 0


def _cmd_ablate(args: argparse.Namespace) -> int:
    _check_device(args.device)
    abl, spec = load_ablation(args.ablation, args.runs)
    if args.device is not None or args.no_progress:
        ov = {}
        if args.device is not None:
            ov["recipe.device"] = args.device
        if args.no_progress:
            ov["recipe.progress"] = False
        abl.base = abl.base.override(ov)
    runs = list(abl.configs())
    print(f"afg ablate: {len(abl.variants)} variants x {len(abl.folds)} folds"
          f"{f' x {len(abl.seeds)} seeds' if abl.seeds else ''} = {len(runs)} runs", flush=True)
    if args.dry_run:
        from .experiments import run_dir_for

        for name, fold, seed, c in runs:
            rd = run_dir_for(c, args.runs)
            done = (rd / "result.json").is_file()
            print(f"  {name} | fold {fold}{'' if seed is None else f' | seed {seed}'} | "
                  f"{'cached' if done else 'to run'} | {rd}")
        return 0
    abl.run(executor=_executor(args, spec.get("executor")))
    if abl.tidy is None or not len(abl.tidy):
        print("afg ablate: no run has finished yet; run the same command again to collect them")
        return 0
    # Δ [95 % CI]: paired differences against the first variant (the paper's first row)
    first = next(iter(abl.variants))
    _print_table(abl.table(args.metrics or abl.metrics, reference=first if len(abl.variants) > 1 else None),
                 args.format, args.output)
    if spec.get("reference"):
        from .experiments import paper_verdicts, verdict_note
        from .reference import compare

        try:
            cmp = compare(abl.summary(), str(spec["reference"]))
            print(f"\npaper ({spec['reference']}) vs ours:")
            print(cmp.round(1).to_string())
            metric = (args.metrics or abl.metrics or [None])[0]
            ver = paper_verdicts(abl.tidy, str(spec["reference"]), first, metric=metric)
            print(f"\neach row's Δ vs {first!r} against the paper's Δ:")
            print(ver.round(2).to_string())
            print(verdict_note(ver))
        except (KeyError, ValueError) as exc:
            print(f"(no comparison with {spec['reference']}: {_one_line(exc)})")
    return 0


def _executor(args: argparse.Namespace, from_file: Any = None) -> Any:
    """The executor of ``--executor`` & co. over the ablation file's ``executor:`` section;
    prints where the submitted runs stand when it does not wait."""
    from .config import ConfigError
    from .experiments.executors import resolve_executor

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
        raise UsageError(_one_line(exc)) from None
    if spec.name != "local":
        print(f"executor: {spec.name}" + (f", partition {spec.partition}" if spec.partition else "")
              + f", {spec.gpus_per_job} GPU(s) and {spec.time_min} min per job"
              + ("" if spec.wait else " (submit and return)"), flush=True)
    return spec


def _find_run_config(ckpt: Path) -> Path | None:
    for d in [ckpt.parent, *ckpt.parents][:3]:
        if (d / "config.yaml").is_file():
            return d / "config.yaml"
    return None


def _cmd_eval(args: argparse.Namespace) -> int:
    import yaml

    from .config import ConfigError
    from .experiments import DataSpec, ExperimentConfig, build_data
    from .predict import CheckpointError, load_model_checkpoint, resolve_checkpoint

    _check_device(args.device)
    try:
        ckpt = resolve_checkpoint(args.checkpoint)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    data_path = args.data or _find_run_config(ckpt)
    if data_path is None:
        raise UsageError(f"--data is required: no config.yaml next to {ckpt}")
    _existing_file(str(data_path), "data config")
    try:
        raw = yaml.safe_load(Path(data_path).read_text()) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{data_path}: not valid YAML ({_one_line(exc)})") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{data_path}: top level must be a mapping")
    try:
        if "data" in raw or "model" in raw or "recipe" in raw:
            cfg = ExperimentConfig.from_dict(raw)
        else:  # a bare data section
            cfg = ExperimentConfig(data=DataSpec.from_dict(raw))
        if args.set:
            cfg = cfg.override(list(args.set))
    except ConfigError as exc:
        raise UsageError(f"{data_path}: {_one_line(exc)}") from None
    _check_data(cfg.data)
    try:
        model, info = load_model_checkpoint(ckpt)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    name = info["model_config"].get("name")
    if "model" in raw:
        names = {cfg.model.get("name")} | {s.model.get("name") for s in cfg.recipe.stages if s.model.get("name")}
        if name not in names:
            raise UsageError(f"checkpoint {ckpt} holds model {name!r} but {data_path} describes "
                             f"{' / '.join(sorted(n for n in names if n))}")
    train, val = build_data(cfg.data)
    data = val if args.split == "val" else train
    if data is None:
        raise UsageError(f"{data_path}: the data has no {args.split} split")
    from .experiments.config import _base

    base = _base(data)
    attr = {"au": "au_names", "expression": "expression_names", "multilabel": "emotion_names"}[info["task"]]
    data_names = list(getattr(base, attr, None) or [])
    n_model = int(info["model_config"].get("num_classes") or 0)
    if data_names and len(data_names) != n_model:
        raise UsageError(f"checkpoint {ckpt} predicts {n_model} labels ({name}) but the data has "
                         f"{len(data_names)} ({', '.join(data_names[:12])})")
    if info["label_names"] and data_names and list(info["label_names"]) != data_names:
        raise UsageError(f"checkpoint labels {info['label_names']} differ from the data's {data_names}")
    from .train import evaluate
    from .utils import resolve_device

    dev = resolve_device(args.device or "auto")
    model.to(dev)
    print(f"afg eval: {name} ({info['kind']} checkpoint) on {cfg.data.dataset} fold "
          f"{cfg.data.fold} {args.split}: {len(data)} samples", flush=True)
    metrics = evaluate(model, data, batch_size=args.batch_size, device=dev, task=info["task"],
                       progress=not args.no_progress)
    for line in _metric_summary(metrics):
        print(line)
    if args.json:
        from .utils import atomic_save_json

        scal = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        atomic_save_json(args.json, {"checkpoint": str(ckpt), "data": str(data_path), "split": args.split,
                                     "metrics": scal})
        print(f"written: {args.json}")
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from .data.datasets import ADAPTERS, ReleaseFormatError

    _check_device(args.device)
    key = args.dataset.lower().replace("_", "").replace("-", "")
    known = sorted({k.replace("-", "") for k in ADAPTERS})
    if key not in known:
        raise UsageError(f"unknown dataset {args.dataset!r}; choose from {', '.join(known)}")
    root = Path(args.root)
    if not root.is_dir():
        raise UsageError(f"--root: release folder not found: {args.root}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out exists and is not a folder: {args.out}")
    if args.size < 32:
        raise UsageError(f"--size {args.size}: must be >= 32")
    options: dict[str, Any] = {}
    for item in args.option or []:
        if "=" not in item:
            raise UsageError(f"--option {item!r} is not of the form key=value")
        k, v = item.split("=", 1)
        import yaml

        options[k.strip()] = yaml.safe_load(v)
    from .data.prepare import prepare_main

    try:
        summary = prepare_main(args.dataset, root, out, size=args.size, batch_size=args.batch_size,
                               device=args.device or "auto", resume=not args.no_resume,
                               margin=args.margin, progress=not args.no_progress, limit=args.limit,
                               **options)
    except (ReleaseFormatError, FileNotFoundError, KeyError, TypeError) as exc:
        raise UsageError(f"{args.dataset}: {_one_line(exc)}") from None
    summary = summary if isinstance(summary, dict) else {}
    shown = {k: v for k, v in summary.items() if isinstance(v, (int, float, str)) and len(str(v)) < 80}
    print("afg prepare: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    print(f"written: {out / 'manifest.csv'}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from .predict import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, CheckpointError, Predictor

    _check_device(args.device)
    missing = [x for x in args.inputs if not Path(x).exists()]
    if missing:
        raise UsageError(f"input not found: {missing[0]}" + (f" (and {len(missing) - 1} more)"
                                                            if len(missing) > 1 else ""))
    for x in args.inputs:
        p = Path(x)
        if p.is_file() and p.suffix.lower() not in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS:
            raise UsageError(f"{x}: not an image or video file (extensions: "
                             f"{' '.join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)})")
    if args.output and Path(args.output).is_dir():
        raise UsageError(f"-o {args.output}: is a folder, expected a CSV file name")
    if args.fps is not None and args.fps <= 0:
        raise UsageError(f"--fps {args.fps}: must be > 0")
    if getattr(args, "plot", None) and Path(args.plot).is_file():
        raise UsageError(f"--plot {args.plot}: is a file, expected a folder for the figures")
    try:
        pred = Predictor(args.checkpoint, device=args.device or "auto", detect=not args.no_detect,
                         batch_size=args.batch_size, face_threshold=args.face_threshold, fps=args.fps,
                         max_frames=args.max_frames)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    if getattr(args, "plot", None) and pred.task != "au":
        raise UsageError(f"--plot draws AU probabilities; {args.checkpoint} predicts {pred.task!r} labels")
    df = pred.predict(args.inputs, progress=not args.no_progress)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.output, index=False)
        out = sys.stdout
    else:
        df.to_csv(sys.stdout, index=False)
        out = sys.stderr
    ok = df[df["status"] == "ok"]
    print(f"afg predict: {pred!r}: {df['input'].nunique()} inputs, {len(ok)} faces, "
          f"{int((df['status'] == 'no_face').sum())} without a face, "
          f"{int((df['status'] == 'unreadable').sum())} unreadable", file=out)
    if len(ok) and not args.quiet:
        import pandas as pd

        cols = pred.output_columns[:12]
        show = ok[["input", "frame", "face", "FaceScore", *cols]].copy()
        show["input"] = show["input"].map(lambda s: Path(s).name if os.sep in s else s)
        with pd.option_context("display.width", 200, "display.max_columns", 40):
            print(show.head(args.show).round(2).to_string(index=False), file=out)
    if args.output:
        print(f"written: {args.output}", file=out)
    if getattr(args, "plot", None):
        from .viz.au import save_prediction_figures

        paths = save_prediction_figures(df, args.plot, progress=not args.no_progress)
        print(f"figures: {len(paths)} files written to {args.plot}", file=out)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import _tensor_count, export_safetensors
    from .predict import CheckpointError, resolve_checkpoint

    out = Path(args.output)
    if out.suffix != ".safetensors":
        raise UsageError(f"{args.output}: the output file must end in .safetensors")
    if out.is_dir():
        raise UsageError(f"{args.output}: is a folder, expected a file name")
    try:
        src = resolve_checkpoint(args.checkpoint)
        export_safetensors(src, out)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    size = out.stat().st_size / 2**20
    print(f"afg export: {src} -> {out} ({_tensor_count(out)} tensors, {size:.1f} MiB); read it with "
          f"afg predict/eval, Predictor, model.weights or a stage's init_from")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    _check_device(args.device)
    from .demo import main as demo_main

    return demo_main(quick=args.quick, runs=args.runs, figures=args.figures, device=args.device)


# ------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog="afg", description="Graph-based facial affect recognition (afg "
                     f"{__version__}): train, cross-validate, ablate, evaluate, prepare, predict.",
                     epilog="Run `afg COMMAND --help` for the options of a command.", formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"afg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def runs_opt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--runs", metavar="DIR", default=None,
                       help="runs folder (default: $AFG_RUNS_DIR or ./runs)")

    def device_opt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--device", metavar="D", default=None,
                       help="auto, cpu, cuda, cuda:1, mps (default: the config's recipe.device / auto)")

    def progress_opt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--no-progress", action="store_true", help="no progress bars")

    def set_opt(p: argparse.ArgumentParser, help: str = "dotted overrides (as for train)") -> None:
        p.add_argument("--set", nargs="+", action="extend", metavar="KEY=VALUE", default=[], help=help)

    def executor_opts(p: argparse.ArgumentParser) -> None:
        g = p.add_argument_group("where the runs train (afg.experiments.executors)")
        g.add_argument("--executor", choices=("local", "slurm", "submitit-local"), default=None,
                       help="local processes (default), one SLURM job per run, or submitit's local jobs")
        g.add_argument("--jobs", type=int, default=None, metavar="N", help="local: runs at once")
        g.add_argument("--partition", default=None, help="slurm: partition")
        g.add_argument("--gpus", type=int, default=None, metavar="N", help="slurm: GPUs per job (1)")
        g.add_argument("--time", type=int, default=None, metavar="MIN",
                       help="slurm: time limit per job in minutes (240; longer runs are requeued)")
        g.add_argument("--array-parallelism", type=int, default=None, metavar="N",
                       help="slurm: at most N jobs of the array at once (64)")
        g.add_argument("--sbatch", nargs="+", action="extend", metavar="KEY=VALUE", default=[],
                       help="slurm: further sbatch options (account=proj qos=high constraint=h100)")
        g.add_argument("--no-wait", action="store_true",
                       help="submit the missing runs and return; run again later to collect them")

    def table_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--format", choices=("text", "markdown", "latex", "csv"), default="text",
                       help="table format (default: text)")
        p.add_argument("-o", "--output", metavar="FILE", default=None, help="also write the table here")
        p.add_argument("--metrics", nargs="+", metavar="M", default=None,
                       help="metrics to tabulate (default by task, e.g. f1_mean auc_mean)")

    p = sub.add_parser("train", help="train one experiment config (cached by config hash)",
                       description=_cmd_doc("train"), formatter_class=fmt)
    p.add_argument("config", metavar="CONFIG.yaml", help="experiment config (configs/*.yaml)")
    set_opt(p, "dotted overrides, values parsed as YAML (recipe.epochs=2 model.neighbor_num=3)")
    p.add_argument("--fold", type=int, default=None, metavar="K", help="1-based fold (sets data.fold)")
    device_opt(p)
    runs_opt(p)
    p.add_argument("--force", action="store_true", help="retrain even when a finished run is cached")
    progress_opt(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("cv", help="cross-validate a config over all folds (mean ± std)",
                       description=_cmd_doc("cv"), formatter_class=fmt)
    p.add_argument("config", metavar="CONFIG.yaml", help="experiment config")
    set_opt(p, "dotted overrides (as for train)")
    p.add_argument("--folds", type=int, default=None, metavar="K", help="number of folds (default: data.folds)")
    device_opt(p)
    runs_opt(p)
    table_opts(p)
    progress_opt(p)
    executor_opts(p)
    p.set_defaults(func=_cmd_cv)

    p = sub.add_parser("ablate", help="run an ablation file (variants x folds) and print the table",
                       description=_cmd_doc("ablate"), formatter_class=fmt)
    p.add_argument("ablation", metavar="ABLATION.yaml", help="ablation file (configs/ablations/*.yaml)")
    p.add_argument("--dry-run", action="store_true", help="validate and list the runs (cached or not), train nothing")
    device_opt(p)
    runs_opt(p)
    table_opts(p)
    progress_opt(p)
    executor_opts(p)
    p.set_defaults(func=_cmd_ablate)

    p = sub.add_parser("eval", help="evaluate a checkpoint on a dataset split",
                       description=_cmd_doc("eval"), formatter_class=fmt)
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="afg checkpoint (.pt), a run folder, or an "
                   "authors' ME-GraphAU checkpoint")
    p.add_argument("--data", metavar="CONFIG.yaml", default=None,
                   help="experiment config (its data: section) or a bare data section; default: "
                   "the config.yaml of the checkpoint's run folder")
    set_opt(p, "dotted overrides of the data config (data.fold=2)")
    p.add_argument("--split", choices=("val", "train"), default="val",
                   help="held-out part of the fold (val, default) or the training part")
    p.add_argument("--batch-size", type=int, default=32, help="evaluation batch size (default 32)")
    p.add_argument("--json", metavar="FILE", default=None, help="write the metrics as JSON")
    device_opt(p)
    progress_opt(p)
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("prepare", help="detect, align and write every face of a dataset release",
                       description=_cmd_doc("prepare"), formatter_class=fmt)
    p.add_argument("dataset", metavar="DATASET",
                   help="bp4d, disfa, emotionet, affectnet, affwild2, rafdb, rafcompound, rafml, jaffe, folder")
    p.add_argument("--root", required=True, metavar="RAW", help="the release folder as distributed")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder (faces/, manifest.csv, ...)")
    p.add_argument("--size", type=int, default=256, help="aligned crop size in pixels (default 256)")
    p.add_argument("--margin", type=float, default=0.1, help="alignment margin (default 0.1)")
    p.add_argument("--batch-size", type=int, default=32, help="frames per MTCNN batch (default 32)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="prepare only the first N records")
    p.add_argument("--no-resume", action="store_true", help="redo everything instead of resuming")
    p.add_argument("--option", nargs="+", action="extend", metavar="KEY=VALUE", default=[],
                   help="adapter options (e.g. check_images=false)")
    device_opt(p)
    progress_opt(p)
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("predict", help="AU / expression predictions for images, folders and videos",
                       description=_cmd_doc("predict"), formatter_class=fmt)
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="afg checkpoint (.pt), a run folder, or an "
                   "authors' ME-GraphAU or OpenGraphAU (41 AUs) checkpoint")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders, video files")
    p.add_argument("-o", "--output", metavar="out.csv", default=None,
                   help="CSV to write (default: CSV on stdout)")
    p.add_argument("--no-detect", action="store_true",
                   help="inputs are already aligned faces: skip MTCNN, resize the whole image")
    p.add_argument("--fps", type=float, default=1.0, help="frames per second sampled from videos (default 1)")
    p.add_argument("--max-frames", type=int, default=None, help="at most this many frames per video")
    p.add_argument("--face-threshold", type=float, default=0.9,
                   help="minimum MTCNN face probability (default 0.9)")
    p.add_argument("--batch-size", type=int, default=16, help="frames per detection / model batch (default 16)")
    p.add_argument("--show", type=int, default=10, help="rows of the summary printed (default 10)")
    p.add_argument("-q", "--quiet", action="store_true", help="print no preview table")
    p.add_argument("--plot", metavar="DIR", default=None,
                   help="write figures (PDF+PNG) into DIR: each image's faces with their AU "
                        "probabilities, each video's AUs over time")
    device_opt(p)
    progress_opt(p)
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("export", help="write a checkpoint's model weights as .safetensors (model hubs' format)",
                       description=_cmd_doc("export"), formatter_class=fmt)
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="afg checkpoint (.pt), a run folder, or an "
                   "authors' ME-GraphAU checkpoint")
    p.add_argument("output", metavar="OUT.safetensors", help="the file to write")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("demo", help="the main job: synthetic DISFA data, baseline vs ME-GraphAU, figures, predict",
                       description=_cmd_doc("demo"), formatter_class=fmt)
    p.add_argument("--quick", action="store_true", help="tiny version for CI (about a minute)")
    runs_opt(p)
    p.add_argument("--figures", metavar="DIR", default=None,
                   help="figures folder (default: $AFG_FIGURES_DIR or ./figures)")
    device_opt(p)
    p.set_defaults(func=_cmd_demo)
    return parser


_DOCS = {
    "train": "Train one experiment (model + data + recipe) unless the identical run is cached.\n"
             "Example: afg train configs/me_graphau_synthetic.yaml --fold 2 --set recipe.epochs=1\n"
             "A recipe.* override also reaches the stages that set that field themselves (here both\n"
             "stages' epochs), and the command prints so. Put CONFIG.yaml before --set (or end the\n"
             "--set list with --).",
    "cv": "Run every fold of the config's k-fold protocol through the run cache; print the per-fold "
          "metrics and the mean ± std table.",
    "ablate": "Run an ablation file: the base config with each variant's dotted overrides, on each fold,\n"
              "through the run cache; print the mean ± std table (and the paper's table when\n"
              "`reference:` is set). File format:\n\n"
              "  base: ../me_graphau_synthetic.yaml   # relative to the ablation file\n"
              "  set: {recipe.epochs: 1}              # optional, every variant\n"
              "  folds: 3                             # k or [1, 2]; default: the base's data.fold\n"
              "  seeds: [0, 1]                        # optional\n"
              "  metrics: [f1_mean, auc_mean]         # optional\n"
              "  reference: me_graphau/table3         # optional (afg.reference table id)\n"
              "  variants:\n"
              "    Backbone: {model.use_afg: false}\n"
              "    Full: {}",
    "eval": "Evaluate a checkpoint on the held-out (or training) part of a data config's fold.\n"
            "The checkpoint must predict the data's labels (same number and names).",
    "prepare": "Detect (MTCNN) and align every face of an official release once, resumably; writes\n"
               "OUT/faces/, OUT/manifest.csv, OUT/failures.csv and OUT/prepare.json.",
    "predict": "Detect and align every face (MTCNN, batched) in images, folders (recursive) and videos\n"
               "(sampled at --fps) and write one CSV row per face: input, frame, face, FaceRectX,\n"
               "FaceRectY, FaceRectWidth, FaceRectHeight, FaceScore, the model's outputs (AU01 ...\n"
               "probabilities, or expression classes / valence / arousal), status, reason.\n"
               "Inputs without a face get a row with status no_face.",
    "export": "Write the model weights of a checkpoint as a .safetensors file (no pickle; the format\n"
              "model hubs use), with the model config and label names in its metadata, so that\n"
              "`afg predict OUT.safetensors ...`, `afg eval`, Predictor, model.weights and a stage's\n"
              "init_from read it back. Optimizer state is not exported (resume from last.pt).",
    "demo": "The main job: a synthetic DISFA-profile dataset; the ResNet-18 backbone baseline and\n"
            "ME-GraphAU (stage 1 + stage 2) at 112 px on one subject-independent fold (cached runs);\n"
            "per-AU F1 vs the paper's DISFA row; figures/demo_f1.pdf|png and demo_knn_graph.pdf|png;\n"
            "`afg predict` on a real photograph and on synthetic faces.",
}


def _cmd_doc(name: str) -> str:
    return _DOCS[name]


#: warnings a user of the command line cannot act on (library internals, expected notes)
_QUIET_WARNINGS = (
    (DeprecationWarning, ""),
    (PendingDeprecationWarning, ""),
    (FutureWarning, ""),
    (UserWarning, r"stage .*: initialised from previous stage"),  # stage 2's new modules start fresh
    (UserWarning, r"Detected pickle protocol"),
    (UserWarning, r".*IProgress not found"),
    (RuntimeWarning, r"(Mean of empty slice|invalid value encountered)"),  # metrics of tiny folds
    (Warning, r".*(is ill-defined|Only one class|No positive (class|samples))"),  # sklearn, idem
)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Other warnings as one line (no source line, no file path)."""
    print(f"afg: warning: {' '.join(str(message).split())}", file=file or sys.stderr)


def main(argv: list[str] | None = None) -> int:
    import warnings

    with warnings.catch_warnings():
        for category, pattern in _QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern, category=category)
        warnings.showwarning = _show_warning
        return _main(argv)


def _main(argv: list[str] | None = None) -> int:
    from .config import ConfigError

    global _ARGV
    parser = build_parser()
    _ARGV = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from .data.datasets.base import MissingImagesError, ReleaseFormatError
    from .train.checkpoint import CheckpointError  # (torch: after --help / --version)
    try:
        return int(args.func(args) or 0)
    except (UsageError, ConfigError, CheckpointError, MissingImagesError, ReleaseFormatError) as exc:
        # the last three can surface mid-run (a stage's checkpoint, a release read lazily)
        print(f"afg: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("afg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `afg predict ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
