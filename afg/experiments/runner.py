"""``run(config)``: train (or fetch from the cache) one experiment.

The run directory is ``<root>/<model name>-<hash>`` where the hash is SHA-256 of the fully
resolved config (model, data incl. fold, recipe incl. seed) plus the afg version. A directory
whose ``result.json`` says ``complete`` is returned without training; an incomplete one resumes
from its ``last.pt``; changing any field gives a new directory. Only fields that cannot change
the result are left out of the hash (:data:`HASH_EXCLUDE`: ``name``, ``description`` and the
recipe's ``progress``, ``num_workers``, ``pin_memory``, ``persistent_workers``,
``prefetch_factor``, ``tensorboard``).

Model selection follows ``recipe.selection`` (part of the hash):

* ``val`` (default): :func:`~afg.experiments.config.selection_split` carves a subject-disjoint
  selection split out of the fold's *training* subjects; :func:`afg.train.fit` trains on the rest
  and keeps ``best.pt`` by the selection split (every stage of a multi-stage recipe); then the
  held-out fold is evaluated once with those weights. Its labels are read by that evaluation only.
* ``last``: trains on the whole training part, no validation during training; the held-out fold is
  evaluated once with the final weights.
* ``test``: the papers' protocol: ``fit`` validates on the held-out fold every epoch and keeps the
  best epoch there (optimistic: the test labels pick the epoch). Tables built from such runs say so.

``result.json`` holds ``metrics`` (the held-out fold), ``selection`` (the mode),
``selection_metrics`` (the selection split at the chosen epoch; for ``test`` the held-out fold
itself, for ``last`` the last epoch's training losses) and ``best_epoch``. A run counts as complete
once the runner wrote that file (:func:`is_complete`); a run whose training finished but whose
held-out evaluation did not is finished on the next call without training again.

``root`` defaults to ``$AFG_RUNS_DIR`` or ``./runs``.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..utils import atomic_write_text, seed_everything
from .config import ExperimentConfig, build_data, build_model, load_experiment, selection_split

__all__ = ["HASH_EXCLUDE", "RunResult", "config_hash", "final_model_config", "is_complete", "run", "run_dir_for",
           "runs_root"]

HASH_EXCLUDE = {
    "": ("name", "description"),
    "recipe": ("progress", "num_workers", "pin_memory", "persistent_workers", "prefetch_factor",
               "tensorboard"),
}


def runs_root(root: str | os.PathLike | None = None) -> Path:
    return Path(root if root is not None else os.environ.get("AFG_RUNS_DIR", "runs"))


def _hash_payload(cfg: ExperimentConfig) -> dict[str, Any]:
    d = cfg.to_dict()
    for k in HASH_EXCLUDE[""]:
        d.pop(k, None)
    for k in HASH_EXCLUDE["recipe"]:
        d["recipe"].pop(k, None)
    if d["recipe"].get("selection") != "val":
        d["recipe"].pop("selection_fraction", None)  # only the carve-out reads it
    d["afg_version"] = __version__
    if d.get("data", {}).get("dataset") == "synthetic":
        # a change of the procedural generator changes the data: never reuse runs made on older faces
        from ..data import synth

        d["synth_generator"] = getattr(synth, "GENERATOR_VERSION", None)
    model = d.get("model", {})
    if model.get("weights") == "synthetic":
        # the pretraining recipe is part of the weights (afg.pretrain): a new recipe, a new run
        from ..pretrain import weights_key

        d["synthetic_weights"] = weights_key(model.get("backbone", ""), int(model.get("img_size", 224)))
    return d


def config_hash(config: ExperimentConfig | dict | str | os.PathLike, length: int = 12) -> str:
    cfg = load_experiment(config)
    text = json.dumps(_hash_payload(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def run_dir_for(config: ExperimentConfig | dict | str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    cfg = load_experiment(config)
    return runs_root(root) / f"{cfg.model['name']}-{config_hash(cfg)}"


@dataclass
class RunResult:
    """Outcome of :func:`run`: ``metrics`` (the held-out fold, with the weights that
    ``recipe.selection`` chose), ``cached`` (no training), ``selection`` (the mode) and
    ``selection_metrics`` (the selection split at the chosen epoch)."""

    metrics: dict[str, Any]
    run_dir: Path
    cached: bool
    config: ExperimentConfig
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    model: Any = field(default=None, repr=False)
    selection: str = "val"
    selection_metrics: dict[str, Any] = field(default_factory=dict)

    def scalars(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.metrics.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}


def run(
    config: ExperimentConfig | dict | str | os.PathLike,
    root: str | os.PathLike | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    force: bool = False,
    device: str | None = None,
    load_model: bool = False,
) -> RunResult:
    """Train ``config`` unless an identical complete run exists; returns its metrics.

    Args:
        config: an :class:`ExperimentConfig`, a dict or a YAML path.
        root: runs folder (``$AFG_RUNS_DIR`` or ``./runs``).
        overrides: dotted ``key=value`` strings or a dict applied before hashing.
        force: retrain even when cached (the old directory is replaced).
        device: overrides ``recipe.device`` (part of the hash).
        load_model: on a cache hit, also rebuild the model with the best weights (on the
            recipe's device, as a fresh run returns it; the CPU where that device is missing).
    """
    cfg = load_experiment(config)
    if overrides:
        cfg = cfg.override(overrides)
    if device is not None:
        cfg = cfg.override({"recipe.device": device})
    rd = run_dir_for(cfg, root)
    result_file = rd / "result.json"
    if not force and is_complete(rd):
        done = json.loads(result_file.read_text())
        model = None
        if load_model:
            from ..train.checkpoint import load_checkpoint

            train, _ = build_data(cfg.data)
            model = build_model(final_model_config(cfg), train)
            best = _final_checkpoint(rd)
            model.load_state_dict(load_checkpoint(best)["model"])
            model.to(_model_device(cfg.recipe.device))  # where a fresh run leaves its model
        return RunResult(done["metrics"], rd, True, cfg, done.get("history", []), 0.0, model,
                         done.get("selection", cfg.recipe.selection), done.get("selection_metrics", {}))
    if force and rd.exists():
        import shutil

        shutil.rmtree(rd)
    rd.mkdir(parents=True, exist_ok=True)
    atomic_write_text(rd / "config.yaml", cfg.to_yaml())
    t0 = time.perf_counter()
    # the initial weights depend on the config's seed only, never on what ran before in the process
    seed_everything(cfg.recipe.seed)
    train, held_out = build_data(cfg.data)
    model = build_model(cfg.model, train)
    from ..train import fit

    mode = cfg.recipe.selection
    if mode == "val":
        fit_train, select = selection_split(train, cfg.recipe.selection_fraction, seed=cfg.recipe.seed)
    else:
        fit_train, select = train, (held_out if mode == "test" else None)
    res = fit(model, fit_train, select, cfg.recipe, run_dir=rd, resume=True)
    metrics = res.metrics
    if mode != "test" and held_out is not None:
        metrics = _evaluate_held_out(res.model, held_out, cfg)
    out = {"status": "complete", "selection": mode, "metrics": metrics, "selection_metrics": res.metrics,
           "best_epoch": res.best_epoch, "last_metrics": res.last_metrics, "history": res.history,
           "stages": res.stages, "run_dir": str(rd),
           "sizes": {"train": len(fit_train), "selection": len(select) if select is not None else 0,
                     "held_out": len(held_out) if held_out is not None else 0}}
    from ..train.distributed import DistContext
    from ..train.loop import to_json

    if DistContext.from_env().is_main:
        atomic_write_text(result_file, json.dumps(to_json(out), indent=1))
    return RunResult(metrics, rd, False, cfg, res.history, time.perf_counter() - t0, res.model, mode,
                     res.metrics)


def _evaluate_held_out(model: Any, held_out: Any, cfg: ExperimentConfig) -> dict[str, Any]:
    """Metrics of the trained ``model`` on the held-out fold — the one read of its labels under
    ``recipe.selection`` ``val``/``last`` (sharded over DDP ranks like the per-epoch evaluation)."""
    import torch

    from ..train.distributed import DistContext
    from ..train.evaluate import evaluate
    from ..train.loop import to_json
    from ..train.recipe import resolve_workers

    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    ctx = DistContext.from_env(device.type)
    last = cfg.recipe.resolved_stages()[-1]
    bs = max(1, (last.eval_batch_size or last.batch_size) // ctx.world_size)
    m = evaluate(model, held_out, batch_size=bs, device=device,
                 num_workers=resolve_workers(cfg.recipe.num_workers, device.type), amp=last.amp,
                 channels_last=cfg.recipe.channels_last, dist_ctx=ctx, progress=cfg.recipe.progress)
    return to_json(m)


def final_model_config(config: ExperimentConfig | dict | str | os.PathLike,
                       stage: str | None = None) -> dict[str, Any]:
    """The model config of the last stage (or of stage ``stage``): ``model`` updated by every
    stage's ``model`` overrides in order up to it, as :func:`afg.train.fit` switches models between
    stages (ME-GraphAU: stage 1 ``me_graphau_stage1`` → stage 2 ``me_graphau``)."""
    cfg = load_experiment(config)
    out = dict(cfg.model)
    for st in cfg.recipe.stages or []:
        out.update(st.model or {})
        if stage is not None and st.name == stage:
            break
    return out


def _model_device(device: str):
    """The recipe's device, resolved; the CPU when it is not on this machine (a run trained on a
    GPU elsewhere and read back here)."""
    import torch

    from ..utils import resolve_device

    try:
        return resolve_device(device)
    except RuntimeError:
        return torch.device("cpu")


def is_complete(run_dir: Path) -> bool:
    """True when ``run_dir/result.json`` records a complete run, written by :func:`run` after the
    held-out evaluation (it names the ``selection`` mode; the file :func:`afg.train.fit` writes when
    training ends does not, so a run stopped between the two is finished, not reused)."""
    f = Path(run_dir) / "result.json"
    if not f.exists():
        return False
    try:
        done = json.loads(f.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(done, dict) and done.get("status") == "complete" and "selection" in done


def _final_checkpoint(rd: Path) -> Path:
    stages = sorted(p for p in rd.glob("stage*-*") if p.is_dir())
    d = stages[-1] if stages else rd
    return d / "best.pt" if (d / "best.pt").exists() else d / "last.pt"
