"""Training several cached runs at once in worker processes (``Ablation.run(jobs=N)``).

This is the ``local`` executor; :mod:`afg.experiments.executors` runs the same runs as SLURM
jobs (``executor="slurm"``) into the same cache.

Intra-op threading of a small CPU model (the synthetic default mode's ``resnet_tiny`` at 112 px,
batch 16) stops scaling after a few threads, so on a many-core machine ``N`` runs with
``cpu_count // N`` threads each can finish an ablation sooner than one run after the other with
all threads. ``benchmarks/parallel_runs.py`` measures the ratio; on 2 cores it is 1.00× (4
MAFG+CCFG runs of 50 steps: 52.4 s either way — two threads already keep both cores busy), so
the default stays 1 job. Each worker calls
:func:`afg.experiments.run`, which seeds itself from the config and writes its run folder
atomically, so the cache ends up with the same runs as a sequential loop; the caller then
fetches every result from the cache.

Workers are started with ``spawn`` (safe from Jupyter and with threads); a run that starts from
another run's checkpoint (a stage ``init_from`` inside another pending run's folder) is only
submitted once that run has finished. Landmark-pretrained synthetic backbones
(``model.weights: synthetic``) are trained in the calling process first, so the workers never
train them concurrently.
"""
from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..pretrain import preset_spec, synthetic_weights
from ..progress import bar as progress_bar
from .config import ExperimentConfig
from .runner import resolve_runs, run, runs_root

if TYPE_CHECKING:
    from .runner import ResolvedRun

__all__ = ["resolve_jobs", "train_parallel"]


def resolve_jobs(jobs: int | None = None) -> int:
    """``jobs``, else ``$AFG_JOBS``, else 1 (at least 1)."""
    if jobs is None:
        env = os.environ.get("AFG_JOBS", "").strip()
        if env:
            try:
                jobs = int(env)
            except ValueError:
                raise ValueError(f"AFG_JOBS must be an integer, got {env!r}") from None
    return max(1, int(jobs or 1))


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _train_one(config: dict[str, Any], root: str | None, force: bool, filters: list) -> tuple[str, float]:
    with warnings.catch_warnings():
        warnings.filters[:] = filters  # the caller's filters (e.g. StageAblation's)
        res = run(ExperimentConfig.from_dict(config), root=root, force=force)
    return str(res.run_dir), float(res.seconds)


def _ensure_pretrained(configs: Sequence[ExperimentConfig]) -> None:
    seen = set()
    for cfg in configs:
        m = cfg.model
        spec = preset_spec(m.get("weights"))
        if spec is None:
            continue
        key = (m.get("backbone"), int(m.get("img_size", 224)), spec)
        if key not in seen:
            synthetic_weights(key[0], key[1], spec)
            seen.add(key)


def train_parallel(items: Sequence[tuple[str, ExperimentConfig]], jobs: int,
                   root: str | os.PathLike | None = None, force: bool = False,
                   overrides: Any = None, device: str | None = None,
                   threads: int | None = None, progress: bool = True) -> dict[str, float]:
    """Train the runs of ``items`` (``(label, config)``) that are not cached, ``jobs`` at a time.

    Args:
        items: labelled configs, in the order a sequential loop would run them.
        jobs: worker processes.
        root, force, overrides, device: as :func:`afg.experiments.run`.
        threads: torch threads per worker (default ``max(1, cpu_count // jobs)``).
        progress: a tqdm bar over the runs.

    Returns:
        ``{label: seconds}`` of the runs trained here.

    Raises:
        RuntimeError: naming the run that failed (the others that already finished stay cached).
    """
    root_path = runs_root(root)
    todo = _pending(resolve_runs(items, root_path, overrides, device), force)
    if not todo:
        return {}
    _ensure_pretrained([r.config for _, r in todo])
    threads = int(threads or max(1, (os.cpu_count() or 1) // jobs))
    bar = None
    if progress:
        bar = progress_bar(len(todo), f"runs ({jobs} at a time)", leave=False)
    try:
        return _run_pool(todo, _dependencies(todo), jobs, threads, str(root_path), force, bar)
    finally:
        if bar is not None:
            bar.close()


def _pending(resolved: list[tuple[str, ResolvedRun]], force: bool) -> list[tuple[str, ResolvedRun]]:
    """The runs to train: not complete (all under ``force``), each run folder once (the same config
    in two rows trains once)."""
    seen: set[Path] = set()
    todo = []
    for lab, r in resolved:
        if (force or not r.is_complete()) and r.run_dir not in seen:
            seen.add(r.run_dir)
            todo.append((lab, r))
    return todo


def _dependencies(todo: list[tuple[str, ResolvedRun]]) -> dict[Path, set[Path]]:
    """For each pending run folder, the other pending run folders a stage ``init_from`` points into."""
    pending_dirs = {r.run_dir for _, r in todo}
    deps = {}
    for _lab, r in todo:
        needs = set()
        for st in r.config.recipe.stages or []:
            src = st.init_from
            if isinstance(src, str) and src not in ("previous",):
                needs |= {o for o in pending_dirs if o != r.run_dir and Path(src).is_relative_to(o)}
        deps[r.run_dir] = needs
    return deps


def _run_pool(todo: list[tuple[str, ResolvedRun]], deps: dict[Path, set[Path]], jobs: int, threads: int,
              root: str, force: bool, bar: Any) -> dict[str, float]:
    """Run ``todo`` in a ``spawn`` process pool, ``jobs`` at a time, each once its dependencies are
    done; ``{label: seconds}``."""
    seconds: dict[str, float] = {}
    done: set[Path] = set()
    waiting = list(todo)
    running: dict[Future, tuple[str, ResolvedRun]] = {}
    filters = list(warnings.filters)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker, initargs=(threads,)) as pool:
        try:
            while waiting or running:
                for item in list(waiting):
                    if len(running) >= jobs:
                        break
                    if deps[item[1].run_dir] <= done:
                        waiting.remove(item)
                        running[pool.submit(_train_one, item[1].config.to_dict(), root, force, filters)] = item
                if not running:
                    raise RuntimeError("runs wait for each other (cyclic init_from): "
                                       + ", ".join(lab for lab, _ in waiting))
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    lab, r = running.pop(fut)
                    try:
                        _, sec = fut.result()
                    except Exception as e:
                        raise RuntimeError(f"run {lab!r} ({r.run_dir.name}) failed: {e}") from e
                    seconds[lab] = sec
                    done.add(r.run_dir)
                    if bar is not None:
                        bar.update(1)
        except BaseException:
            for fut in running:
                fut.cancel()
            raise
    return seconds
