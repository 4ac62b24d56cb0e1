"""``run(config)``: train (or fetch from the cache) one experiment.

The run directory is ``<root>/<model name>-<hash>`` where the hash is SHA-256 of the fully
resolved config (model, data incl. fold, recipe incl. seed) plus the afg version. A directory
whose ``result.json`` says ``complete`` is returned without training; an incomplete one resumes
from its ``last.pt``; changing any field gives a new directory. Only fields that cannot change
the result are left out of the hash (:data:`HASH_EXCLUDE`: ``name``, ``description`` and the
recipe's ``progress``, ``num_workers``, ``pin_memory``, ``persistent_workers``,
``prefetch_factor``, ``tensorboard``).

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
from .config import ExperimentConfig, build_data, build_model, load_experiment

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
    """Outcome of :func:`run`: ``metrics`` (best epoch, validation), ``cached`` (no training)."""

    metrics: dict[str, Any]
    run_dir: Path
    cached: bool
    config: ExperimentConfig
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    model: Any = field(default=None, repr=False)

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
        return RunResult(done["metrics"], rd, True, cfg, done.get("history", []), 0.0, model)
    if force and rd.exists():
        import shutil

        shutil.rmtree(rd)
    rd.mkdir(parents=True, exist_ok=True)
    atomic_write_text(rd / "config.yaml", cfg.to_yaml())
    t0 = time.perf_counter()
    # the initial weights depend on the config's seed only, never on what ran before in the process
    seed_everything(cfg.recipe.seed)
    train, val = build_data(cfg.data)
    model = build_model(cfg.model, train)
    from ..train import fit

    res = fit(model, train, val, cfg.recipe, run_dir=rd, resume=True)
    return RunResult(res.metrics, rd, False, cfg, res.history, time.perf_counter() - t0, res.model)


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
    """True when ``run_dir/result.json`` records a complete run."""
    f = Path(run_dir) / "result.json"
    if not f.exists():
        return False
    try:
        return json.loads(f.read_text()).get("status") == "complete"
    except (OSError, ValueError):
        return False


def _final_checkpoint(rd: Path) -> Path:
    stages = sorted(p for p in rd.glob("stage*-*") if p.is_dir())
    d = stages[-1] if stages else rd
    return d / "best.pt" if (d / "best.pt").exists() else d / "last.pt"
