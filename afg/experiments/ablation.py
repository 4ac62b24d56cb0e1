"""Ablations and sweeps: cached runs over variants × folds → tidy DataFrame → mean ± std tables.

>>> abl = Ablation("configs/mafg_ccfg_synthetic.yaml",
...                variants={"Baseline": {"model.use_mafg": False, "model.use_gnn": False,
...                                       "model.use_ccfg": False},
...                          "MAFG+CCFG+GNN": {}},
...                folds=3)
>>> tidy = abl.run()          # columns: variant, fold, metric, value (cached per run)
>>> abl.table(["f1_mean"])    # rows = variants, cells "62.3 ± 1.2" (percent)
>>> abl.compare("Baseline", "f1_mean")              # paired Δ, 95 % CI, p, n per variant
>>> abl.table(["f1_mean"], reference="Baseline")    # + a "Δ f1_mean [95 % CI]" column

With ``seeds=[0, 1]`` every variant × fold also runs per seed; a paired interval rests on the
runs two variants share (same fold and seed), and the tables say how many
(:mod:`afg.experiments.analysis`). ``attrs["note"]`` of :meth:`Ablation.table` says how the
epoch was selected (``recipe.selection``; ``test`` is flagged as optimistic).

Variant names should match the rows of the paper's table in :mod:`afg.reference` so that
``afg.reference.compare(abl.summary(), "mafg_ccfg/table4")`` lines them up.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..config import apply_overrides
from ..progress import RunsProgress
from .analysis import format_delta_ci, paired_comparison, recorded_seconds, replication_table
from .config import ExperimentConfig, load_experiment
from .executors import resolve_executor, submit_runs
from .parallel import resolve_jobs, train_parallel
from .runner import ResolvedRun, RunResult, run, run_precision
from .tidy import runs_by_metric, tidy_from_runs

__all__ = ["SELECTED_ON_TEST", "Ablation", "Sweep", "format_mean_std", "pivot_mean_std", "runs_by_metric",
           "tidy_from_runs"]

#: metrics shown by default per task
DEFAULT_METRICS = {
    "au": ["f1_mean", "auc_mean"],
    "expression": ["accuracy", "mean_class_accuracy"],
    "multilabel": ["average_precision", "micro_f1", "macro_f1", "hamming_loss", "ranking_loss"],
}

#: what every table, caption and export built from ``recipe.selection: test`` runs says
SELECTED_ON_TEST = "selected on the test fold (optimistic)"

#: metrics reported by the papers in percent
PERCENT_PREFIXES = ("f1", "acc", "auc", "accuracy", "mean_class", "macro_f1", "micro_f1",
                    "average_precision", "micro_auc", "macro_auc")


def format_mean_std(mean: float, std: float, scale: float = 1.0, digits: int = 1) -> str:
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "–"
    if std is None or np.isnan(std):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def pivot_mean_std(tidy: pd.DataFrame, metrics: Sequence[str] | None = None,
                   order: Sequence[str] | None = None) -> pd.DataFrame:
    """Tidy (variant, fold, metric, value) → columns ``(metric, mean|std|n)``, rows = variants."""
    df = tidy if metrics is None else tidy[tidy["metric"].isin(metrics)]
    g = df.groupby(["variant", "metric"], sort=False)["value"]
    stats = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "n": g.count()})
    wide = stats.unstack("metric").swaplevel(0, 1, axis=1).sort_index(axis=1, level=0, sort_remaining=False)
    rows = list(order) if order is not None else list(dict.fromkeys(df["variant"]))
    wide = wide.reindex([r for r in rows if r in wide.index])
    if metrics is not None:
        wide = wide.reindex(columns=[c for m in metrics for c in [(m, "mean"), (m, "std"), (m, "n")]
                                     if c in wide.columns])
    return wide


class Ablation:
    """Runs ``base`` with each variant's overrides on each fold (cached through :func:`run`).

    Args:
        base: config (path, dict or :class:`ExperimentConfig`).
        variants: ``{name: overrides}`` — dotted-key dicts (``{"model.use_gnn": False}``) or
            lists of ``"key=value"`` strings; ``{}`` is the base config itself.
        folds: an int ``k`` (folds 1..k of ``data.folds = k``) or a list of fold numbers
            (1-based); ``None`` runs the base's ``data.fold`` only.
        seeds: optional list of seeds (``recipe.seed``) to repeat each run with.
        root: runs folder (see :func:`afg.experiments.run`).
    """

    def __init__(self, base: Any, variants: dict[str, Any], folds: int | Sequence[int] | None = None,
                 seeds: Sequence[int] | None = None, root: str | os.PathLike | None = None,
                 metrics: Sequence[str] | None = None):
        self.base = load_experiment(base)
        self.variants = dict(variants)
        if isinstance(folds, int):
            self.k = folds
            self.folds = list(range(1, folds + 1))
        else:
            self.k = self.base.data.folds
            self.folds = list(folds) if folds is not None else [self.base.data.fold]
        self.seeds = list(seeds) if seeds is not None else None
        self.root = root
        self.metrics = list(metrics) if metrics is not None else None
        self.results: list[tuple[str, int, int | None, RunResult]] = []
        self.tidy: pd.DataFrame | None = None

    def configs(self) -> Iterable[tuple[str, int, int | None, ExperimentConfig]]:
        base = self.base.to_dict()
        for name, ov in self.variants.items():
            d = apply_overrides(base, ov or {})
            for f in self.folds:
                d_f = apply_overrides(d, {"data.folds": self.k, "data.fold": f})
                for s in self.seeds or [None]:
                    d_s = d_f if s is None else apply_overrides(d_f, {"recipe.seed": s})
                    yield name, f, s, ExperimentConfig.from_dict(d_s)

    def run(self, jobs: int | None = None, executor: Any = None, progress: bool = True,
            **run_kwargs: Any) -> pd.DataFrame:
        """Run (or fetch) every variant × fold; returns and stores the tidy frame.

        Args:
            jobs: train up to ``jobs`` runs at once, each in its own worker process with
                ``cpu_count // jobs`` torch threads (``None``: ``$AFG_JOBS``, else 1); it pays on
                many-core CPUs, where one small run cannot keep every core busy (on 2 cores it
                does: ``benchmarks/parallel_runs.py``, 1.00×). Each run
                seeds itself from its config, so the cache holds the same runs either way; a run
                that initialises from another run of this ablation (``StageAblation``) waits for it.
            executor: where the runs train (:mod:`afg.experiments.executors`): ``None``/``"local"``
                as above, ``"slurm"`` (one SLURM job per run) or ``"submitit-local"``, or an
                :class:`~afg.experiments.executors.ExecutorSpec`/mapping (partition, GPUs, time
                limit …). With ``wait=False`` in the spec the missing runs are submitted and only
                the finished ones are returned (``self.submission.status()``); call again later.
            progress: a bar over the runs (run k of N, the cached ones counted at the start, ETA
                from the runs trained here), or one line per trained run where bars do not render
                (:mod:`afg.progress`); each run's own epoch bars follow its ``recipe.progress``.
            run_kwargs: passed to :func:`afg.experiments.run` (``load_model``, ``force``, ``device`` …).
        """
        items = list(self.configs())
        jobs = resolve_jobs(jobs)
        spec = resolve_executor(executor)
        self.submission = None
        if spec.name != "local":
            self.submission = submit_runs(
                [(f"{name} fold {fold}", cfg) for name, fold, _, cfg in items], spec, root=self.root,
                force=bool(run_kwargs.get("force")), overrides=run_kwargs.get("overrides"),
                device=run_kwargs.get("device"))
            run_kwargs = {k: v for k, v in run_kwargs.items() if k != "force"}
            items = [it for it, done in zip(items, self.submission.finished()) if done]
        elif (spec.jobs or jobs) > 1:
            jobs = spec.jobs or jobs
            train_parallel([(f"{name} fold {fold}", cfg) for name, fold, _, cfg in items], jobs,
                           root=self.root, force=bool(run_kwargs.get("force")),
                           overrides=run_kwargs.get("overrides"), device=run_kwargs.get("device"))
            run_kwargs = {k: v for k, v in run_kwargs.items() if k != "force"}
        rows = []
        self.results = []
        with self._progress(items, run_kwargs, progress) as bar:
            for name, fold, seed, cfg in items:
                res = run(cfg, root=self.root, **run_kwargs)
                bar.done(f"{name}, fold {fold}" + (f", seed {seed}" if seed is not None else ""), res.cached)
                self.results.append((name, fold, seed, res))
                for metric, value in res.scalars().items():
                    rows.append({"variant": name, "fold": fold, "seed": seed, "metric": metric,
                                 "value": value, "cached": res.cached})
        tidy = pd.DataFrame(rows, columns=["variant", "fold", "seed", "metric", "value", "cached"])
        if self.seeds is None:
            tidy = tidy.drop(columns=["seed"])
        self.tidy = tidy
        return tidy

    def _progress(self, items: list[tuple[str, int, int | None, ExperimentConfig]], run_kwargs: dict[str, Any],
                  enabled: bool) -> RunsProgress:
        """:class:`~afg.progress.RunsProgress` over ``items``, counting those already complete."""
        cached = 0 if run_kwargs.get("force") else sum(
            ResolvedRun.resolve(cfg, self.root, run_kwargs.get("overrides"), run_kwargs.get("device")).is_complete()
            for *_, cfg in items)
        return RunsProgress(len(items), cached, f"{type(self).__name__.lower()} {self.base.name or self.base.model['name']}",
                            enabled)

    def _task(self) -> str:
        """The task, from the metrics the runs reported (or the model name before running)."""
        if self.tidy is not None and len(self.tidy):
            seen = set(self.tidy["metric"])
            for task, keys in (("au", "f1_mean"), ("expression", "accuracy"),
                               ("multilabel", "average_precision")):
                if keys in seen:
                    return task
        name = self.base.model["name"]
        return "expression" if name.startswith("emotion") else "multilabel" if name.startswith("svml") else "au"

    def first_runs(self) -> dict[str, RunResult]:
        """Each variant's run on the first fold and the first seed (after :meth:`run`): the runs
        the notebooks draw their figures from."""
        fold, seed = self.folds[0], (self.seeds[0] if self.seeds else None)
        return {name: r for name, f, s, r in self.results if f == fold and s == seed}

    def selection_modes(self) -> list[str]:
        """The ``recipe.selection`` modes of the runs (of the configs before running)."""
        modes = [r.selection for *_, r in self.results] or [c.recipe.selection for *_, c in self.configs()]
        return list(dict.fromkeys(modes))

    def precisions(self) -> list[str]:
        """What the runs' forward passes computed in (:func:`afg.experiments.run_precision`; of the
        configs on this machine before running)."""
        found = [r.precision for *_, r in self.results] or [run_precision(c) for *_, c in self.configs()]
        return list(dict.fromkeys(found))

    def protocols(self) -> list[dict[str, Any]]:
        """The runs' protocols (``RunResult.protocol``: which faces trained, which were scored),
        one per distinct scheme, after :meth:`run`."""
        found = {str(p.get("scheme") or p.get("text")): p for *_, r in self.results
                 for p in [getattr(r, "protocol", None) or {}] if p}
        return list(found.values())

    def ema_decays(self) -> list[float | None]:
        """The runs' ``recipe.ema_decay`` (``None``: the live weights were scored)."""
        return list(dict.fromkeys(c.recipe.ema_decay for *_, c in self.configs()))

    def note(self) -> str:
        """What the numbers of :meth:`table` are: runs per cell, how the epoch was selected —
        ``"selected on the test fold (optimistic)"`` whenever any run used ``selection: test`` —,
        whether the weights scored were a moving average (``recipe.ema_decay``) and, when any
        run's forward passes were not float32, what they ran in."""
        seeds = f" × {len(self.seeds)} seed{'s' * (len(self.seeds) != 1)}" if self.seeds else ""
        how = {"val": "epoch selected on a validation split of the training subjects",
               "last": "last epoch", "test": SELECTED_ON_TEST}
        modes = self.selection_modes()
        sel = "; ".join(how[m] for m in (["test"] if "test" in modes else modes))
        precisions = self.precisions()
        prec = (f"; forward passes in {' / '.join(precisions)} (losses and metrics in float32)"
                if precisions != ["float32"] else "")
        decays = [d for d in self.ema_decays() if d is not None]
        if decays:
            sel += ("; the weights scored: a moving average (recipe.ema_decay "
                    + " / ".join(f"{d:g}" for d in decays) + ")")
        return (f"mean ± std over {len(self.folds)} fold{'s' * (len(self.folds) != 1)}{seeds}; "
                f"{sel}{prec}{self._protocol_note()}")

    def _protocol_note(self) -> str:
        """``"; scored on …"`` for release data (synthetic tables say nothing new); cross-validation
        on data with an official split says OFF-PROTOCOL first."""
        protos = [p for p in self.protocols() if p.get("kind") not in ("held-out", None)
                  and self.base.data.dataset.lower() != "synthetic"]
        if not protos:
            return ""
        off = any(p.get("official") is False for p in protos)
        schemes = " / ".join(dict.fromkeys(str(p.get("scheme") or p.get("text")) for p in protos))
        return f"; {'OFF-PROTOCOL: ' if off else ''}scored on {schemes}"

    def compare(self, reference: str | None = None, metric: str | None = None,
                confidence: float = 0.95) -> pd.DataFrame:
        """:func:`afg.experiments.paired_comparison` of every variant against ``reference``
        (default: the first variant) on ``metric`` (default: the task's first), over the
        (fold, seed) pairs both ran."""
        if self.tidy is None:
            self.run()
        reference = reference if reference is not None else next(iter(self.variants))
        metric = metric or (self.metrics or DEFAULT_METRICS[self._task()])[0]
        return paired_comparison(self.tidy, reference, metric, confidence)

    def summary(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """Numeric ``(metric, mean|std|n)`` columns per variant. ``attrs``: ``note``
        (:meth:`note`) and ``runs`` — ``{metric: {variant: {"fold/seed": value}}}``, the per-run
        values the means rest on, so that paired intervals can be drawn from a summary
        (:func:`afg.experiments.analysis.ordering`)."""
        if self.tidy is None:
            self.run()
        out = pivot_mean_std(self.tidy, metrics or self.metrics, order=list(self.variants))
        out.attrs["note"] = self.note()
        out.attrs["runs"] = runs_by_metric(self.tidy, list(dict.fromkeys(c[0] for c in out.columns)))

        out.attrs["seconds"] = recorded_seconds(self.results)  # per variant: what a run costs here
        return out

    def table(self, metrics: Sequence[str] | None = None, percent: bool = True, digits: int = 1,
              reference: str | None = None, delta_metrics: Sequence[str] | None = None,
              confidence: float = 0.95) -> pd.DataFrame:
        """Variants × metrics with ``"mean ± std"`` strings (percent for F1/accuracy/AUC …).

        With ``reference`` (a variant name), a column ``"Δ <metric> [95 % CI]"`` per metric of
        ``delta_metrics`` (default: the first metric) holds the paired difference against it
        (:meth:`compare`; ``"+1.2 [-0.3, +2.7]"``). ``attrs["note"]`` says what the cells are, how
        many paired runs each interval rests on and, for runs selected on the test fold, that the
        numbers are optimistic; :func:`~afg.experiments.styled`, :func:`~afg.experiments.to_latex`
        and :func:`~afg.experiments.to_markdown` print it.
        """
        metrics = list(metrics or self.metrics or DEFAULT_METRICS[self._task()])
        s = self.summary(metrics)
        out = pd.DataFrame(index=s.index)
        for m in metrics:
            if (m, "mean") not in s.columns:
                continue
            scale = 100.0 if percent and m.startswith(PERCENT_PREFIXES) else 1.0
            out[m] = [format_mean_std(a, b, scale, digits) for a, b in zip(s[(m, "mean")], s[(m, "std")])]
        out.index.name = "variant"
        note = self.note()
        if reference is not None:
            conf = f"{100 * confidence:g} %"
            pairs = set()
            for m in list(delta_metrics or metrics[:1]):
                cmp = self.compare(reference, m, confidence)
                scale = 100.0 if percent and m.startswith(PERCENT_PREFIXES) else 1.0
                out[f"Δ {m} [{conf} CI]"] = [
                    "reference" if v == reference else
                    format_delta_ci(*cmp.loc[v, ["delta", "ci_low", "ci_high"]], scale, digits)
                    if v in cmp.index else "–" for v in out.index]
                pairs |= {int(n) for n in cmp["n"]}
            n = "/".join(str(p) for p in sorted(pairs)) or "0"
            note += (f"; Δ = paired difference vs {reference!r} over {n} runs sharing a fold and "
                     f"seed, Student-t {conf} CI")
        out.attrs["note"] = note
        return out


    # ------------------------------------------------------------------ replication (#45)
    def replicate(self, seeds: Sequence[int], table: str | None = None, reference: str | None = None,
                  metric: str | None = None, column: str | None = None, confidence: float = 0.95,
                  **run_kwargs: Any) -> pd.DataFrame:
        """Rerun this table on fresh ``seeds`` (same variants and folds) and report per row the
        verdict before and after and whether it replicated
        (:func:`afg.experiments.analysis.replication_table`; a paper ``table`` gives the paper
        verdicts, else the direction of each row's paired Δ against ``reference``, default the
        first variant). Runs :meth:`run` first if it has not run; the fresh runs are kept in
        ``self.replication`` (an :class:`Ablation` of the same class)."""
        seeds = [int(s) for s in seeds]
        used = set(self.seeds) if self.seeds else {self.base.recipe.seed}
        if not seeds or used & set(seeds):
            raise ValueError(f"replicate needs seeds this table has not used (it used {sorted(used)}), "
                             f"got {seeds}")
        if self.tidy is None:
            self.run(**run_kwargs)
        fresh = copy.copy(self)
        fresh.seeds, fresh.results, fresh.tidy = seeds, [], None
        fresh.run(**run_kwargs)
        self.replication = fresh
        before = self.tidy if "seed" in self.tidy.columns else self.tidy.assign(seed=self.base.recipe.seed)
        metric = metric or (self.metrics or DEFAULT_METRICS[self._task()])[0]
        scale = 100.0 if metric.startswith(PERCENT_PREFIXES) else 1.0
        return replication_table(before, fresh.tidy, reference or next(iter(self.variants)), metric,
                                 table=table, column=column, confidence=confidence, scale=scale)


class Sweep(Ablation):
    """One parameter over values (K, τ, p, t1/t2, layers …): variants named ``"<leaf>=<value>"``.

    ``param`` is a dotted key (``"model.neighbor_num"``) or a tuple of keys set together
    (``("model.t1", "model.t2")`` with values as tuples).
    """

    def __init__(self, base: Any, param: str | Sequence[str], values: Sequence[Any], **kw: Any):
        keys = [param] if isinstance(param, str) else list(param)
        variants = {}
        for v in values:
            vals = [v] if isinstance(param, str) else list(v)
            label = ",".join(f"{k.split('.')[-1]}={x}" for k, x in zip(keys, vals))
            variants[label] = dict(zip(keys, vals))
        self.param, self.values = param, list(values)
        super().__init__(base, variants, **kw)
