"""``run(config)``: train (or fetch from the cache) one experiment.

The run directory is ``<root>/<model name>-<hash>`` where the hash is SHA-256 of the fully
resolved config (model, data incl. fold, recipe incl. seed) plus the afg version; its files are
laid out and read by :class:`afg.runs.RunFolder`. A directory whose evaluation record says
``complete`` is returned without training; an incomplete one resumes from its checkpoints; changing any field gives a new directory. Only fields that cannot change
the result are left out of the hash (:data:`HASH_EXCLUDE`: ``name``, ``description`` and the
recipe's ``progress``, ``num_workers``, ``pin_memory``, ``persistent_workers``,
``prefetch_factor``, ``tensorboard``). A recipe with mixed precision (``recipe.amp`` other than
``none``) also hashes what its forward passes run in on this machine (:func:`run_precision`:
``auto`` and ``bf16`` fall back to float32 on a CPU without native bfloat16), so a float32 run is
never reused as a bf16 one, nor the reverse; the evaluation record names it under ``precision``.

Model selection follows ``recipe.selection`` (part of the hash):

* ``val`` (default): :func:`~afg.data.build.selection_split` carves a subject-disjoint
  selection split out of the fold's *training* subjects; :func:`afg.train.fit` trains on the rest
  and keeps the selected checkpoint by the selection split (every stage of a multi-stage recipe); then the
  held-out fold is evaluated once with those weights. Its labels are read by that evaluation only.
* ``last``: trains on the whole training part, no validation during training; the held-out fold is
  evaluated once with the final weights.
* ``test``: the papers' protocol: ``fit`` validates on the held-out fold every epoch and keeps the
  best epoch there (optimistic: the test labels pick the epoch). Tables built from such runs say so.

The evaluation record holds ``metrics`` (the held-out fold), ``selection`` (the mode),
``selection_metrics`` (the selection split at the chosen epoch; for ``test`` the held-out fold
itself, for ``last`` the last epoch's training losses) and ``best_epoch``. A run counts as complete
once the runner wrote it (:func:`is_complete`); a run whose training finished but whose
held-out evaluation did not is finished on the next call without training again.

Several processes asking for one config at once train it once: the first takes the run folder's
lock (:mod:`afg.runlock`, ``<root>/.<model>-<hash>.lock``), the others print one line naming the
folder and the holder, wait, and return the finished run as a cache hit; a lock left by a killed
process is taken over, and what it left (a temporary file, a damaged checkpoint) is repaired
first (:func:`afg.runs.recover_run_dir`).

``root`` defaults to ``$AFG_RUNS_DIR`` or ``./runs``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..data import synth
from ..data.build import build_data, data_protocol, selection_split
from ..pretrain import preset_spec, weights_key
from ..runlock import exclusive
from ..runs import RunFolder, load_checkpoint, recover_run_dir
from ..train import fit
from ..train.distributed import DistContext
from ..train.evaluate import evaluate, precision_name
from ..train.loop import to_json
from ..train.recipe import resolve_workers
from ..utils import resolve_device, seed_everything
from .config import ExperimentConfig, build_model, load_experiment

__all__ = ["HASH_EXCLUDE", "ResolvedRun", "RunResult", "config_hash", "final_model_config", "is_complete",
           "resolve_runs", "run", "run_dir_for", "run_precision", "runs_root"]

HASH_EXCLUDE = {
    "": ("name", "description"),
    "recipe": ("progress", "num_workers", "pin_memory", "persistent_workers", "prefetch_factor",
               "tensorboard"),
}

#: recipe options added after runs were cached: left out of the run key while null (off), so the
#: runs made before each option existed keep their keys
NULL_OMITTED_RECIPE_KEYS = ("ema_decay", "data_seed")


def runs_root(root: str | os.PathLike | None = None) -> Path:
    return Path(root if root is not None else os.environ.get("AFG_RUNS_DIR", "runs"))


def _device_type(device: str) -> str:
    """The device type ``recipe.device`` names on this machine (``auto`` resolved; a named
    accelerator that is missing here keeps its type: a config resolved for a job elsewhere)."""
    try:
        return resolve_device(device).type
    except RuntimeError:
        return str(device).split(":")[0]


def run_precision(config: ExperimentConfig | ResolvedRun | dict | str | os.PathLike) -> str:
    """What the forward passes of ``config``'s run compute in on this machine
    (:func:`afg.train.evaluate.precision_name`): ``"float32"``, ``"bfloat16 autocast"`` …; stages
    that differ are joined by ``" → "`` (ME-GraphAU's two stages name one precision when they share it)."""
    cfg = _config_of(config)
    dev = _device_type(cfg.recipe.device)
    names = [precision_name(st.amp, dev) for st in cfg.recipe.resolved_stages()]
    return " → ".join(dict.fromkeys(names))


def _hash_payload(cfg: ExperimentConfig) -> dict[str, Any]:
    d = cfg.to_dict()
    if any(st.amp != "none" for st in cfg.recipe.resolved_stages()):
        d["precision"] = run_precision(cfg)
    for k in HASH_EXCLUDE[""]:
        d.pop(k, None)
    for k in HASH_EXCLUDE["recipe"]:
        d["recipe"].pop(k, None)
    if d["recipe"].get("selection") != "val":
        d["recipe"].pop("selection_fraction", None)  # only the carve-out reads it
    for k in NULL_OMITTED_RECIPE_KEYS:
        if d["recipe"].get(k) is None:
            d["recipe"].pop(k, None)
    if d["recipe"].get("optimizer", {}).get("fused") is None:
        d["recipe"]["optimizer"].pop("fused", None)  # added after runs were cached: null keeps their keys
    d["afg_version"] = __version__
    if d.get("data", {}).get("dataset") == "synthetic":
        # a change of the procedural generator changes the data: never reuse runs made on older faces

        d["synth_generator"] = getattr(synth, "GENERATOR_VERSION", None)
    model = d.get("model", {})

    spec = preset_spec(model.get("weights"))
    if spec is not None:
        # the pretraining recipe is part of the weights (afg.pretrain): a new recipe, a new run
        d["synthetic_weights"] = weights_key(model.get("backbone", ""), int(model.get("img_size", 224)), spec)
    return d


def config_hash(config: ExperimentConfig | ResolvedRun | dict | str | os.PathLike, length: int = 12) -> str:
    """The first ``length`` hex digits of SHA-256 over the resolved config (:data:`HASH_EXCLUDE`
    left out) plus the afg version: the run cache's key."""
    cfg = _config_of(config)
    text = json.dumps(_hash_payload(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def run_dir_for(config: ExperimentConfig | ResolvedRun | dict | str | os.PathLike,
                root: str | os.PathLike | None = None) -> Path:
    """``<root>/<model name>-<config_hash>``: the run folder of ``config``."""
    cfg = _config_of(config)
    return runs_root(root) / f"{cfg.model['name']}-{config_hash(cfg)}"


@dataclass(frozen=True)
class ResolvedRun:
    """One run's config resolved once, passed down instead of re-reading the config at every step.

    ``config`` (overrides and device applied), ``hash`` (:func:`config_hash`), ``run_dir``
    (:func:`run_dir_for`), ``stage_models`` (``(stage name, model config)`` after each stage of
    ``recipe.stages`` in order: ``model`` updated by every stage's ``model`` overrides up to it),
    ``final_model`` (the last of them, or ``model`` without stages) and ``selection``
    (``recipe.selection``).
    """

    config: ExperimentConfig
    hash: str
    run_dir: Path
    stage_models: tuple[tuple[str | None, dict[str, Any]], ...]
    final_model: dict[str, Any]
    selection: str

    @classmethod
    def resolve(cls, config: ExperimentConfig | ResolvedRun | dict | str | os.PathLike,
                root: str | os.PathLike | None = None, overrides: list[str] | dict[str, Any] | None = None,
                device: str | None = None) -> ResolvedRun:
        """Load ``config``, apply ``overrides`` then ``device`` (``recipe.device``), hash it and
        place it under ``root``; a :class:`ResolvedRun` with nothing to change is returned as is
        (``root=None`` keeps its runs folder)."""
        if isinstance(config, ResolvedRun):
            root = config.run_dir.parent if root is None else root
            if not overrides and device is None and runs_root(root) == config.run_dir.parent:
                return config
        cfg = _config_of(config)
        if overrides:
            cfg = cfg.override(overrides)
        if device is not None:
            cfg = cfg.override({"recipe.device": device})
        h = config_hash(cfg)
        stages = _stage_models(cfg)
        return cls(cfg, h, runs_root(root) / f"{cfg.model['name']}-{h}", stages,
                   dict(stages[-1][1] if stages else cfg.model), cfg.recipe.selection)

    @property
    def folder(self) -> RunFolder:
        """The run folder's files (:class:`afg.runs.RunFolder`)."""
        return RunFolder(self.run_dir)

    def model_config(self, stage: str | None = None) -> dict[str, Any]:
        """The model config after stage ``stage`` (the first stage of that name; the last stage
        when ``None`` or when no stage has that name)."""
        found = next((m for name, m in self.stage_models if stage is not None and name == stage), None)
        return dict(found if found is not None else self.final_model)

    def is_complete(self) -> bool:
        return is_complete(self.run_dir)

    def final_checkpoint(self) -> Path:
        """The final weights of the run's last stage, as written by :func:`afg.train.fit`."""
        return self.folder.final_weights


def _stage_models(cfg: ExperimentConfig) -> tuple[tuple[str | None, dict[str, Any]], ...]:
    """``(stage name, model config)`` after each stage: ``model`` updated by the stages' overrides."""
    stages, model = [], dict(cfg.model)
    for st in cfg.recipe.stages or []:
        model = {**model, **(st.model or {})}
        stages.append((st.name, model))
    return tuple(stages)


def _config_of(config: ExperimentConfig | ResolvedRun | dict | str | os.PathLike) -> ExperimentConfig:
    """The :class:`ExperimentConfig` of ``config``; a dict or a YAML path is loaded."""
    if isinstance(config, ResolvedRun):
        return config.config
    return config if isinstance(config, ExperimentConfig) else load_experiment(config)


def resolve_runs(items: Sequence[tuple[str, ExperimentConfig]], root: str | os.PathLike | None = None,
                 overrides: list[str] | dict[str, Any] | None = None,
                 device: str | None = None) -> list[tuple[str, ResolvedRun]]:
    """``(label, ResolvedRun)`` for labelled configs (the parallel and submitit executors)."""
    return [(label, ResolvedRun.resolve(cfg, root, overrides, device)) for label, cfg in items]


@dataclass
class RunResult:
    """Outcome of :func:`run`: ``metrics`` (the held-out fold, with the weights that
    ``recipe.selection`` chose), ``cached`` (no training), ``selection`` (the mode),
    ``selection_metrics`` (the selection split at the chosen epoch) and ``precision`` (what the
    forward passes ran in, :func:`run_precision`)."""

    metrics: dict[str, Any]
    run_dir: Path
    cached: bool
    config: ExperimentConfig
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    model: Any = field(default=None, repr=False)
    selection: str = "val"
    selection_metrics: dict[str, Any] = field(default_factory=dict)
    precision: str = "float32"
    #: which faces trained and which were scored (:func:`afg.data.build.data_protocol`;
    #: ``official`` False: cross-validation asked for on data with an official split)
    protocol: dict[str, Any] = field(default_factory=dict)

    def scalars(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.metrics.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}


def run(
    config: ExperimentConfig | ResolvedRun | dict | str | os.PathLike,
    root: str | os.PathLike | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    force: bool = False,
    device: str | None = None,
    load_model: bool = False,
) -> RunResult:
    """Train ``config`` unless an identical complete run exists; returns its metrics.

    Args:
        config: an :class:`ExperimentConfig`, a :class:`ResolvedRun`, a dict or a YAML path.
        root: runs folder (``$AFG_RUNS_DIR`` or ``./runs``).
        overrides: dotted ``key=value`` strings or a dict applied before hashing.
        force: retrain even when cached (the old directory is replaced).
        device: overrides ``recipe.device`` (part of the hash).
        load_model: on a cache hit, also rebuild the model with the best weights (on the
            recipe's device, as a fresh run returns it; the CPU where that device is missing).
    """
    r = ResolvedRun.resolve(config, root, overrides, device)  # the one read of the config
    if not force and r.is_complete():
        return _cached_result(r, load_model)
    # one process trains a run folder; the others wait for it and read the result (afg.runlock)
    with exclusive(r.run_dir, done=None if force else r.is_complete) as build:
        if not build:
            return _cached_result(r, load_model)
        return _train_locked(r, force)


def _train_locked(r: ResolvedRun, force: bool) -> RunResult:
    """Train ``r`` (resuming what a killed process left) while holding its run folder's lock."""
    _prepare_run_dir(r, force)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun: rank 0 repairs, as it writes
        recover_run_dir(r.run_dir)
    t0 = time.perf_counter()
    # the initial weights depend on the config's seed only, never on what ran before in the process
    seed_everything(r.config.recipe.seed)
    out, res = _train_and_evaluate(r)

    if DistContext.from_env().is_main:
        r.folder.write_evaluation_record(to_json(out))
    return RunResult(out["metrics"], r.run_dir, False, r.config, res.history, time.perf_counter() - t0,
                     res.model, r.selection, res.metrics, out["precision"], out["protocol"])


def _cached_result(r: ResolvedRun, load_model: bool) -> RunResult:
    """The :class:`RunResult` of a complete run read from its evaluation record; with ``load_model``,
    the final stage's model rebuilt with its best weights on the recipe's device."""
    done = r.folder.evaluation_record() or {}
    model = None
    if load_model:
        train, _ = build_data(r.config.data)
        model = build_model(r.final_model, train)
        model.load_state_dict(load_checkpoint(r.final_checkpoint())["model"])
        model.to(_model_device(r.config.recipe.device))  # where a fresh run leaves its model
    return RunResult(done["metrics"], r.run_dir, True, r.config, done.get("history", []), 0.0, model,
                     done.get("selection", r.selection), done.get("selection_metrics", {}),
                     done.get("precision", run_precision(r.config)),
                     done.get("protocol") or data_protocol(None, r.config.data))


def _prepare_run_dir(r: ResolvedRun, force: bool) -> None:
    """Create the run folder (emptied first under ``force``) holding the resolved ``config.yaml``."""
    if force and r.run_dir.exists():
        shutil.rmtree(r.run_dir)
    r.run_dir.mkdir(parents=True, exist_ok=True)
    r.folder.write_config(r.config.to_yaml())


def _train_and_evaluate(r: ResolvedRun) -> tuple[dict[str, Any], Any]:
    """Train under ``recipe.selection`` (resuming from its checkpoints), then evaluate the held-out
    fold once; returns the evaluation record and :func:`afg.train.fit`'s result."""
    cfg, mode = r.config, r.selection
    train, held_out = build_data(cfg.data)
    model = build_model(cfg.model, train)
    if mode == "val":
        fit_train, select = selection_split(train, cfg.recipe.selection_fraction, seed=cfg.recipe.order_seed)
    else:
        fit_train, select = train, (held_out if mode == "test" else None)
    res = fit(model, fit_train, select, cfg.recipe, run_dir=r.run_dir, resume=True,
              input_spec={"resize": cfg.data.resize, "dataset": cfg.data.dataset})
    metrics = res.metrics
    if mode != "test" and held_out is not None:
        metrics = _evaluate_held_out(res.model, held_out, cfg)
    out = {"status": "complete", "selection": mode, "metrics": metrics, "selection_metrics": res.metrics,
           "best_epoch": res.best_epoch, "last_metrics": res.last_metrics, "history": res.history,
           "stages": res.stages, "run_dir": str(r.run_dir), "precision": run_precision(cfg),
           "protocol": data_protocol(held_out, cfg.data),
           "sizes": {"train": len(fit_train), "selection": len(select) if select is not None else 0,
                     "held_out": len(held_out) if held_out is not None else 0}}
    return out, res


def _evaluate_held_out(model: Any, held_out: Any, cfg: ExperimentConfig) -> dict[str, Any]:
    """Metrics of the trained ``model`` on the held-out fold — the one read of its labels under
    ``recipe.selection`` ``val``/``last`` (sharded over DDP ranks like the per-epoch evaluation)."""
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    ctx = DistContext.from_env(device.type)
    m = evaluate(model, held_out, device=device, num_workers=resolve_workers(cfg.recipe.num_workers, device.type),
                 dist_ctx=ctx, progress=cfg.recipe.progress, **held_out_settings(cfg, ctx.world_size))
    return to_json(m)


def held_out_settings(cfg: ExperimentConfig, world_size: int = 1) -> dict[str, Any]:
    """How a run's held-out fold is evaluated (:func:`afg.train.evaluate` keywords): its last
    stage's ``amp`` and evaluation batch size (split over ``world_size`` DDP ranks) and the recipe's
    memory format. :func:`afg.papers.results.predictions` uses the same, so figures score a model as
    its table did."""
    last = cfg.recipe.resolved_stages()[-1]
    return {"batch_size": max(1, (last.eval_batch_size or last.batch_size) // world_size),
            "amp": last.amp, "channels_last": cfg.recipe.channels_last}


def final_model_config(config: ExperimentConfig | ResolvedRun | dict | str | os.PathLike,
                       stage: str | None = None) -> dict[str, Any]:
    """The model config of the last stage (or of stage ``stage``): ``model`` updated by every
    stage's ``model`` overrides in order up to it, as :func:`afg.train.fit` switches models between
    stages (ME-GraphAU: stage 1 ``me_graphau_stage1`` → stage 2 ``me_graphau``)."""
    if isinstance(config, ResolvedRun):
        return config.model_config(stage)
    cfg = load_experiment(config)
    stages = _stage_models(cfg)
    found = next((m for name, m in stages if stage is not None and name == stage), None)
    return dict(found if found is not None else stages[-1][1] if stages else cfg.model)


def _model_device(device: str):
    """The recipe's device, resolved; the CPU when it is not on this machine (a run trained on a
    GPU elsewhere and read back here)."""
    try:
        return resolve_device(device)
    except RuntimeError:
        return torch.device("cpu")


def is_complete(run_dir: Path | ResolvedRun) -> bool:
    """True when the run folder holds a complete evaluation record, written by :func:`run` after the
    held-out evaluation (:meth:`afg.runs.RunFolder.is_complete`; the training record
    :func:`afg.train.fit` writes when training ends does not count, so a run stopped between the two
    is finished, not reused)."""
    return RunFolder(run_dir.run_dir if isinstance(run_dir, ResolvedRun) else run_dir).is_complete()
