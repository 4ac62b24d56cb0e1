"""The numbered notebooks' parameters → experiment configs (:class:`NotebookSetup`).

One :class:`NotebookSetup` turns the papermill parameters (``QUICK``, ``DATASET``, ``DATA_ROOT``,
``DEVICE``, ``EPOCHS``, ``FOLDS``, ``SEED``) into experiment configs, so that a paper notebook and
``08_paper_figures`` build *identical* configs and therefore share the run cache
(:func:`afg.experiments.run`): whichever notebook runs second trains nothing.

On synthetic faces (``DATASET="synthetic"``) the paper's ``configs/<paper>_synthetic.yaml`` is
scaled by one YAML overlay per mode, ``configs/synthetic/quick.yaml`` (3 identities × 4 images at
64 px, ``resnet_tiny`` from scratch, 1 epoch of 2 steps, fold 1) and
``configs/synthetic/default.yaml`` (30 identities × 40 images at 112 px, ``resnet_tiny``
pretrained on synthetic landmarks, the papers' recipes where they learn in this budget; each
deviation is explained there), merged by :func:`synthetic_config`:

    config = base ⊕ every_paper.set ⊕ papers[paper].set ⊕ lr ⊕ epochs,   data.seed = SEED

With a real ``DATASET`` the paper's recipe ``configs/<paper>_<dataset>.yaml`` is used as is
(``data.root = DATA_ROOT``, ``recipe.device = DEVICE``; ``EPOCHS`` overrides the recipe only
when given).
"""
from __future__ import annotations

import copy
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import torch

from ..config import apply_overrides, parse_yaml
from ..data.build import build_data, protocol_fold_count, release_protocol
from ..docs import PAPER_ROWS, record
from ..experiments.ablation import Ablation, Sweep
from ..experiments.config import ExperimentConfig, load_experiment
from ..experiments.runner import run_precision, runs_root
from ..pretrain import DEFAULT_PRETRAINING, PRETRAIN_PRESETS, preset_spec
from ..reference import PAPERS
from ..utils import resolve_device, seed_everything
from ..viz import use_style

__all__ = ["CONFIGS_DIR", "OVERLAY_KEYS", "PAPER_DATASETS", "NotebookSetup", "read_overlay", "reference_dir",
           "synthetic_config", "synthetic_overlay"]

#: the repository's ``configs/`` folder
CONFIGS_DIR = Path(__file__).resolve().parents[2] / "configs"

#: real datasets of each paper (the recipes ``configs/<paper>_<dataset>.yaml``)
PAPER_DATASETS = {
    "mafg_ccfg": ("disfa", "emotionet"),
    "au_gcn": ("bp4d", "disfa"),
    "emotion_gcn": ("affectnet", "affwild2"),
    "svml_rgcn": ("rafml", "rafcompound", "jaffe"),
}


def reference_dir() -> Path | None:
    """``$AFG_REFERENCE_DIR`` or ``../shared/reference`` next to the repository, if present."""
    env = os.environ.get("AFG_REFERENCE_DIR")
    cands = [Path(env)] if env else []
    cands.append(CONFIGS_DIR.parents[1] / "shared" / "reference")
    for c in cands:
        if c.is_dir():
            return c
    return None


#: the keys of an overlay entry (``every_paper`` or ``papers.<paper>``)
OVERLAY_KEYS = ("set", "epochs", "folds", "lr")


def read_overlay(path: str | os.PathLike) -> dict[str, Any]:
    """An overlay file (``configs/synthetic/<mode>.yaml``), checked: top-level keys ``every_paper``
    and ``papers``, entries with :data:`OVERLAY_KEYS` only (a misspelt key would otherwise be
    ignored silently)."""
    path = Path(path)
    spec = parse_yaml(path.read_text(encoding="utf-8"), path) or {}
    bad = sorted(set(spec) - {"every_paper", "papers"})
    if bad:
        raise ValueError(f"{path}: unknown key {bad[0]!r}; valid keys: every_paper, papers")
    entries = {"every_paper": spec.get("every_paper") or {},
               **{f"papers.{k}": v or {} for k, v in (spec.get("papers") or {}).items()}}
    for where, entry in entries.items():
        bad = sorted(set(entry) - set(OVERLAY_KEYS))
        if bad:
            raise ValueError(f"{path}: {where}: unknown key {bad[0]!r}; valid keys: {', '.join(OVERLAY_KEYS)}")
    return spec


@cache
def _overlay_file(mode: str) -> dict[str, Any]:
    return read_overlay(CONFIGS_DIR / "synthetic" / f"{mode}.yaml")


def synthetic_overlay(paper: str, quick: bool) -> dict[str, Any]:
    """``{"set", "epochs", "folds", "lr"}`` of ``paper`` in ``configs/synthetic/{quick,default}.yaml``:
    the file's ``every_paper`` entry updated by ``papers[paper]`` (``set`` merged key by key)."""
    spec = _overlay_file("quick" if quick else "default")
    every, own = spec.get("every_paper") or {}, (spec.get("papers") or {}).get(paper) or {}
    out = {**copy.deepcopy(every), **copy.deepcopy(own)}
    out["set"] = {**(every.get("set") or {}), **(own.get("set") or {})}
    return out


def synthetic_config(paper: str, quick: bool, seed: int = 0, epochs: int | None = None) -> dict[str, Any]:
    """``configs/<paper>_synthetic.yaml`` scaled by the mode's overlay (:func:`synthetic_overlay`),
    as a config dict: ``set`` overrides, ``lr`` on the recipe and every stage that sets one,
    ``epochs`` (or the overlay's) on the recipe and its stages, ``data.seed = seed``."""
    d = load_experiment(CONFIGS_DIR / f"{paper}_synthetic.yaml").to_dict()
    ov = synthetic_overlay(paper, quick)
    d = apply_overrides(d, {**ov["set"], "data.seed": seed})
    if ov.get("lr") is not None:
        r = d["recipe"]
        r.setdefault("optimizer", {})["lr"] = ov["lr"]
        for st in r.get("stages") or []:
            if "lr" in (st.get("optimizer") or {}):
                st["optimizer"]["lr"] = ov["lr"]
    return _set_epochs(d, int(ov["epochs"] if epochs is None else epochs))


def _set_epochs(d: dict[str, Any], epochs: int) -> dict[str, Any]:
    """Set ``recipe.epochs`` and, for staged recipes, every stage's epochs (stage 1 of AU-GCN's
    auto-encoder pre-training gets at least one epoch)."""
    d = copy.deepcopy(d)
    d["recipe"]["epochs"] = epochs
    for st in d["recipe"].get("stages") or []:
        if st.get("epochs") is not None:
            st["epochs"] = max(1, epochs // 2) if st.get("name") == "autoencoder" else epochs
    return d


def _run_folders(root: Path) -> set[str]:
    """The run folders under the run cache ``root`` (a run's folder holds its ``config.yaml``)."""
    return {p.parent.name for p in Path(root).glob("*/config.yaml")} if Path(root).is_dir() else set()


def _fold_numbers(folds: Sequence[int] | int | None, default: list[int]) -> list[int]:
    if folds is None:
        return list(default)
    if isinstance(folds, int):
        return list(range(1, folds + 1))
    return list(folds)


@dataclass
class NotebookSetup:
    """The notebook parameters, resolved; builds configs, ablations and sweeps.

    Args mirror the ``parameters`` cell. ``epochs``/``folds`` ``None`` mean: the mode's default
    (quick: 1 epoch, fold 1; default: the overlay's ``epochs`` and ``folds``; real data: the
    recipe's epochs and the protocol's folds). ``pretraining`` (``PRETRAINING``): the backbone's initialisation
    in synthetic default mode, a name of :data:`afg.pretrain.PRETRAIN_PRESETS`
    (``"synthetic-long"``, the default :data:`afg.pretrain.DEFAULT_PRETRAINING`; ``"synthetic"``,
    the first default, a quarter of its steps) or a weights file. ``progress``: the runs' epoch bars
    (``recipe.progress``, not part of the run key): widgets in JupyterLab, one line per epoch where
    bars do not render (:mod:`afg.progress`).
    """

    quick: bool = False
    dataset: str = "synthetic"
    data_root: str | None = None
    device: str = "auto"
    epochs: int | None = None
    folds: int | None = None
    seed: int = 0
    threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    pretraining: str = DEFAULT_PRETRAINING
    progress: bool = True

    def __post_init__(self) -> None:
        self.dataset = (self.dataset or "synthetic").lower()
        if not self.synthetic and not self.data_root:
            raise ValueError(f"DATASET={self.dataset!r} needs DATA_ROOT (the release folder)")
        self.pretraining = str(self.pretraining or DEFAULT_PRETRAINING)
        if self.pretraining not in PRETRAIN_PRESETS and not Path(self.pretraining).is_file():
            raise ValueError(f"PRETRAINING={self.pretraining!r}: give a named pretraining "
                             f"({', '.join(PRETRAIN_PRESETS)}) or an existing weights file of the backbone")

        seed_everything(self.seed)
        if self.threads is None and self.quick:
            self.threads = 1  # tiny models: threads only contend (CI runs 2 notebooks on 2 cores)
        if self.threads:
            torch.set_num_threads(int(self.threads))
        self.resolved_device = str(resolve_device(self.device))

        use_style()

        self._started = time.perf_counter()
        self._runs_before = _run_folders(runs_root())

    # ------------------------------------------------------------------ modes
    @property
    def synthetic(self) -> bool:
        return self.dataset == "synthetic"

    @property
    def mode(self) -> str:
        return "quick" if self.quick else ("synthetic" if self.synthetic else self.dataset)

    def n_folds(self, paper: str | None = None) -> int:
        """``FOLDS``, else 1 in quick mode, else the default overlay's ``folds`` of ``paper`` on
        synthetic data, else 3."""
        if self.folds is not None:
            return int(self.folds)
        if self.quick:
            return 1
        if not self.synthetic and paper:  # a release: its protocol's folds (1 for an official split)
            return protocol_fold_count(self.config(paper).data)
        return int(synthetic_overlay(paper, False).get("folds", 3)) if self.synthetic and paper else 3

    def fold_list(self, paper: str | None = None) -> list[int]:
        return list(range(1, self.n_folds(paper) + 1))

    def precision(self, paper: str | None = None) -> str:
        """What this setup's runs of ``paper`` compute their forward passes in on this machine
        (:func:`afg.experiments.run_precision`: ``"float32"``, ``"bfloat16 autocast"``); without a
        paper, on synthetic faces, the five papers' (one name when they agree), else ``""``."""
        if paper is not None:
            return run_precision(self.config(paper))
        if not self.synthetic:
            return ""
        return " / ".join(dict.fromkeys(run_precision(self.config(p)) for p in PAPERS))

    def describe(self, paper: str | None = None) -> str:
        pre = f" pretraining={self.pretraining}" if self.synthetic and not self.quick else ""
        prec = self.precision(paper)
        prec = f" precision={prec.replace(' ', '-')}" if prec else ""
        proto = ""
        if not self.synthetic and paper:  # which faces train and which are scored
            proto = f" protocol=[{release_protocol(self.config(paper).data)[2].text}]"
        return (f"mode={self.mode} dataset={self.dataset} device={self.resolved_device} "
                f"folds={self.fold_list(paper)} seed={self.seed}{pre}{prec}{proto}")

    # ------------------------------------------------------------------ configs
    def config_path(self, paper: str) -> Path:
        if self.synthetic:
            return CONFIGS_DIR / f"{paper}_synthetic.yaml"
        path = CONFIGS_DIR / f"{paper}_{self.dataset}.yaml"
        if not path.exists():
            raise FileNotFoundError(f"no recipe {path.name}; {paper} runs on {PAPER_DATASETS.get(paper)}")
        return path

    def config(self, paper: str, overrides: Mapping[str, Any] | None = None) -> ExperimentConfig:
        """The base config of ``paper`` (``me_graphau``, ``mafg_ccfg``, ``au_gcn``, ``emotion_gcn``,
        ``svml_rgcn``): the scaled synthetic recipe or the real dataset's, then ``extra`` and
        ``overrides``. On synthetic faces in default mode the backbone starts from ``pretraining``
        (:data:`afg.pretrain.PRETRAIN_PRESETS`, e.g. ``"synthetic-long"``, or a weights file);
        quick mode trains from scratch and real data keeps its recipe's weights."""
        if self.synthetic:
            d = synthetic_config(paper, self.quick, self.seed, self.epochs)
            if preset_spec(d["model"].get("weights")) is not None:  # default mode: the backbone's init
                d["model"]["weights"] = self.pretraining
        else:
            d = load_experiment(self.config_path(paper)).to_dict()
            d["data"]["root"] = str(self.data_root)
            if self.epochs is not None:
                d = _set_epochs(d, int(self.epochs))
        d = apply_overrides(d, {"recipe.seed": self.seed, "recipe.device": self.device,
                                "recipe.progress": self.progress, **dict(self.extra)})
        if overrides:
            d = apply_overrides(d, dict(overrides))
        return ExperimentConfig.from_dict(d)

    # ------------------------------------------------------------------ experiments
    def run_seeds(self, seeds: Sequence[int] | None) -> list[int] | None:
        """The notebooks' ``SEEDS`` as an ablation runs them: ``None`` (one run per row and fold,
        seed ``SEED``) stays ``None``; quick mode keeps the first seed only."""
        if not seeds:
            return None
        return list(seeds)[:1] if self.quick else list(seeds)

    def ablation(self, paper: str, variants: Mapping[str, Any], overrides: Mapping[str, Any] | None = None,
                 folds: Sequence[int] | int | None = None, **kw: Any) -> Ablation:
        """:class:`afg.experiments.Ablation` of ``variants`` over this setup's folds. ``seeds``
        (the notebooks' ``SEEDS``): every row and fold once per seed; quick mode keeps the first
        seed only (a smoke test of the cells: its numbers mean nothing)."""
        kw["seeds"] = self.run_seeds(kw.get("seeds"))
        abl = Ablation(self.config(paper, overrides), dict(variants), folds=None, **kw)
        abl.k = self._k(abl.base.data.folds)
        abl.folds = _fold_numbers(folds, self.fold_list(paper))
        return abl

    def sweep(self, paper: str, param: str | Sequence[str], values: Sequence[Any],
              overrides: Mapping[str, Any] | None = None, folds: Sequence[int] | int | None = None,
              **kw: Any) -> Sweep:
        """:class:`afg.experiments.Sweep` of ``param`` over ``values`` (this setup's folds)."""
        sw = Sweep(self.config(paper, overrides), param, values, folds=None, **kw)
        sw.k = self._k(sw.base.data.folds)
        sw.folds = _fold_numbers(folds, self.fold_list(paper))
        return sw

    def finish(self, notebook: str, tables: Mapping[str, Any] | None = None,
               seeds: Sequence[int] | None = None) -> dict[str, Any]:
        """The notebook's closing summary: wall time since this setup was made, runs trained (new
        run folders) and taken from the cache, and per paper table the verdict counts of its
        :func:`~afg.experiments.analysis.ordering` (``tables``: ``{"me_graphau/table3": order}``).
        In the synthetic default mode (``QUICK=False``) it is written to
        ``docs/results/notebook_<NN>.json`` (:func:`afg.docs.record`), whose ``summary`` is the
        paper's row in the README's per-paper table; quick mode and real data only print it."""
        new = len(_run_folders(runs_root()) - self._runs_before)
        data: dict[str, Any] = {"notebook": notebook, "mode": self.mode,
                                "minutes": round((time.perf_counter() - self._started) / 60, 2),
                                "runs_trained": new, "seeds": self.run_seeds(seeds),
                                "tables": {}}
        for name, order in (tables or {}).items():
            a = order.attrs
            data["tables"][name] = {**{k: int(v) for k, v in a.get("counts", {}).items()},
                                    "pairs": int(a.get("n_pairs", 0)),
                                    "kendall_tau": None if a.get("kendall_tau") != a.get("kendall_tau")
                                    else round(float(a["kendall_tau"]), 2)}
        paper = next((p["paper"] for p in PAPER_ROWS if p["notebook"] == notebook), None)
        if paper is not None and data["tables"]:
            verdicts = "; ".join(
                f"{t.split('/')[-1]}: {v.get('reproduced', 0)} / "
                f"{v.get('contradicted', 0)} / {v.get('unresolved', 0)} ({v['pairs']} pairs)"
                for t, v in data["tables"].items())
            data["summary"] = {"paper": paper, "synthetic verdicts (reproduced / contradicted / unresolved)": verdicts,
                               "notebook time (min)": f"{data['minutes']:.1f}"}
        print(f"{notebook}: {data['minutes']:.1f} min, {new} run(s) trained; "
              + ("; ".join(f"{t}: {v}" for t, v in data["tables"].items()) or "no verdict table"), flush=True)
        if self.synthetic and not self.quick:
            record(f"notebook_{notebook.split('_')[0]}", data,
                   command=f"jupyter execute notebooks/{notebook}.ipynb (QUICK=False)",
                   precision=self.precision() or None)
        return data

    def _k(self, config_folds: int | None) -> int | None:
        """``data.folds`` of the runs: the config's, except on a release when ``FOLDS`` is given —
        then k-fold CV was asked for (off-protocol on data with an official split, and said so)."""
        return int(self.folds) if self.folds is not None and not self.synthetic else config_folds

    def data(self, paper: str, overrides: Mapping[str, Any] | None = None, fold: int = 1):
        """``(train, val)`` datasets of ``paper``'s config (fold ``fold``)."""
        cfg = self.config(paper, overrides)
        if cfg.data.folds != 0:  # k folds, or the release's protocol (one pair for an official split)
            cfg = cfg.override({"data.fold": fold})
        return build_data(cfg.data)
