"""Shared plumbing of the numbered notebooks (``notebooks/03_*`` … ``08_*``).

One :class:`NotebookSetup` turns the papermill parameters (``QUICK``, ``DATASET``, ``DATA_ROOT``,
``DEVICE``, ``EPOCHS``, ``FOLDS``, ``SEED``) into experiment configs, so that a paper notebook and
``08_paper_figures`` build *identical* configs and therefore share the run cache
(:func:`afg.experiments.run`): whichever notebook runs second trains nothing.

Scales on synthetic faces (``DATASET="synthetic"``):

======== ===================================================================================
quick    3 identities × 4 images at 64 px, ``resnet_tiny`` from scratch, 1 epoch of 2 steps, fold 1
default  30 identities × 40 images at 112 px (800 train / 400 validation faces per fold; AU-GCN
         12 × 16, :data:`SYNTHETIC_SCALE_OVERRIDES`),
         ``resnet_tiny`` pretrained on synthetic landmarks (:mod:`afg.pretrain`, trained once and
         cached, ~3 CPU minutes), batch 16, ``EPOCHS`` epochs (default :data:`DEFAULT_EPOCHS`),
         ``FOLDS`` folds (default 3, :data:`SYNTHETIC_FOLDS`), learning rate :data:`SYNTHETIC_LR`
         where the paper's is too small for it (optimiser and schedule :data:`SYNTHETIC_RECIPE`),
         augmentation :data:`SYNTHETIC_AUGMENT`
======== ===================================================================================

With a real ``DATASET`` the paper's recipe ``configs/<paper>_<dataset>.yaml`` is used as is
(``data.root = DATA_ROOT``, ``recipe.device = DEVICE``; ``EPOCHS`` overrides the recipe only
when given).

Also here: :func:`fold_noise` (how large fold-to-fold differences are), :func:`ordering`
(our ranking of the ablation rows next to the paper's, with Kendall's τ) and
:func:`predictions` (a run's validation predictions, for confusion matrices).
"""
from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch.utils.data import Subset

from ..config import apply_overrides
from .ablation import Ablation, Sweep
from .config import ExperimentConfig, build_data, load_experiment

__all__ = [
    "CONFIGS_DIR",
    "DISFA_REFERENCE_AUS",
    "NotebookSetup",
    "au_relation_graphs",
    "ccfg_paper_vs_code",
    "disfa_training_labels",
    "first_images",
    "fold_noise",
    "load_stage_model",
    "noise_note",
    "ordering",
    "plot_roi_reconstructions",
    "predictions",
    "reference_dir",
]

#: the repository's ``configs/`` folder
CONFIGS_DIR = Path(__file__).resolve().parents[2] / "configs"

#: data scale of the two synthetic modes (3 subject-independent folds: 2/3 train, 1/3 validation)
SYNTHETIC_SCALES = {
    "quick": {"n_subjects": 3, "images_per_subject": 4, "batch_size": 4},
    "default": {"n_subjects": 30, "images_per_subject": 40, "batch_size": 16},
}
#: papers whose default mode keeps a smaller set: AU-GCN has no CNN backbone to pretrain (its
#: per-ROI auto-encoders learn from the faces themselves) and its Table 4 trains 7 models per fold
SYNTHETIC_SCALE_OVERRIDES = {"au_gcn": {"n_subjects": 12, "images_per_subject": 16}}
#: backbone of every synthetic-mode model that has one (:data:`afg.backbones.SMALL_BACKBONES`)
SYNTHETIC_BACKBONE = "resnet_tiny"
#: default epochs of the synthetic default mode per paper
DEFAULT_EPOCHS = {"me_graphau": 8, "mafg_ccfg": 6, "au_gcn": 6, "emotion_gcn": 6, "svml_rgcn": 6}
#: folds of the synthetic default mode where not 3 (of the 3-fold partition; ``FOLDS`` overrides).
#: ME-GraphAU's Table 3 (7 rows) and MAFG+CCFG's Table 4 (7 rows) + K sweep train 14 runs of
#: 100-110 s on 2 folds instead of 21 on 3, which keeps notebooks 02/03 within 30 CPU minutes;
#: Emotion-GCN's Table I and SVML-RGCN's Tables 2-3 train 6 epochs (to leave chance level) on 2
#: folds instead of 3 on 3.
SYNTHETIC_FOLDS = {"me_graphau": 2, "mafg_ccfg": 2, "emotion_gcn": 2, "svml_rgcn": 2}
#: training-time augmentation of the synthetic default mode (``data`` keys, afg.data.augment): the
#: paper's random crop (faces rendered at 128 px, random 112 px crops; centre crop in validation)
#: and horizontal flips. MAFG+CCFG, fold 1, 8 epochs: plain row F1 9.7 -> 16.6 (AUC 70.6 -> 71.4),
#: full model 2.0 -> 4.6 (AUC 56.5 -> 57.5).
SYNTHETIC_AUGMENT = {"mafg_ccfg": {"hflip": True, "resize": 128}}
#: learning rate of the synthetic default mode where it differs from the paper's recipe (every
#: stage). The papers' AdamW 1e-4 fine-tunes an ImageNet ResNet-50 over ~100k faces for 20
#: epochs; the default mode has 400 steps. ME-GraphAU stage 1 (+AFG+FGG, fold 1, 8 epochs of 800
#: faces, batch 16): lr 1e-4 -> F1 0.03 / AUC 0.54, lr 1e-3 -> F1 0.19 / AUC 0.77.
SYNTHETIC_LR = {"me_graphau": 1e-3, "mafg_ccfg": 1e-3}
#: recipe overrides (dotted keys under ``recipe``) of the synthetic default mode where the
#: paper's optimiser or schedule cannot learn in its budget (fold 1, 800 balanced faces):
#: Emotion-GCN's SGD lr 1e-3 leaves every Table I row at chance (14 %) after 3-6 epochs (SGD 1e-2
#: too); Adam 1e-3 reaches 21-25 %. SVML-RGCN's backbone at 0.1x lr with a 10x decay every epoch
#: stays at chance (macro-AUC 0.52-0.54 after 3 epochs); the full lr for 6 epochs, decayed once
#: after epoch 4 (the paper: every 20 of 80), gives macro-AUC 0.68.
SYNTHETIC_RECIPE = {
    "emotion_gcn": {"optimizer.name": "adam", "optimizer.lr": 1e-3},
    "svml_rgcn": {"optimizer.lr_mult": {"head": 1.0, "backbone": 1.0}, "schedule.step_epochs": 4},
}
#: real dataset used by each paper when ``DATASET`` names none of its own
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


@dataclass
class NotebookSetup:
    """The notebook parameters, resolved; builds configs, ablations and sweeps.

    Args mirror the ``parameters`` cell. ``epochs``/``folds`` ``None`` mean: the mode's default
    (quick: 1 epoch, fold 1; default: :data:`DEFAULT_EPOCHS`, 3 folds or
    :data:`SYNTHETIC_FOLDS`; real data: the recipe's epochs and all of the protocol's folds).
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

    def __post_init__(self) -> None:
        self.dataset = (self.dataset or "synthetic").lower()
        if not self.synthetic and not self.data_root:
            raise ValueError(f"DATASET={self.dataset!r} needs DATA_ROOT (the release folder)")
        import torch

        from ..utils import resolve_device, seed_everything

        seed_everything(self.seed)
        if self.threads is None and self.quick:
            self.threads = 1  # tiny models: threads only contend (CI runs 2 notebooks on 2 cores)
        if self.threads:
            torch.set_num_threads(int(self.threads))
        self.resolved_device = str(resolve_device(self.device))
        from ..viz import use_style

        use_style()

    # ------------------------------------------------------------------ modes
    @property
    def synthetic(self) -> bool:
        return self.dataset == "synthetic"

    @property
    def mode(self) -> str:
        return "quick" if self.quick else ("synthetic" if self.synthetic else self.dataset)

    def n_folds(self, paper: str | None = None) -> int:
        """``FOLDS``, else 1 in quick mode, else :data:`SYNTHETIC_FOLDS` of ``paper`` on synthetic
        data, else 3."""
        if self.folds is not None:
            return int(self.folds)
        if self.quick:
            return 1
        return SYNTHETIC_FOLDS.get(paper, 3) if self.synthetic and paper else 3

    def fold_list(self, paper: str | None = None) -> list[int]:
        return list(range(1, self.n_folds(paper) + 1))

    def describe(self, paper: str | None = None) -> str:
        return (f"mode={self.mode} dataset={self.dataset} device={self.resolved_device} "
                f"folds={self.fold_list(paper)} seed={self.seed}")

    # ------------------------------------------------------------------ configs
    def config_path(self, paper: str) -> Path:
        if self.synthetic:
            return CONFIGS_DIR / f"{paper}_synthetic.yaml"
        path = CONFIGS_DIR / f"{paper}_{self.dataset}.yaml"
        if not path.exists():
            raise FileNotFoundError(f"no recipe {path.name}; {paper} runs on {PAPER_DATASETS.get(paper)}")
        return path

    def config(self, paper: str, overrides: Mapping[str, Any] | None = None) -> ExperimentConfig:
        """The base config of ``paper`` (``mafg_ccfg``, ``au_gcn``, ``emotion_gcn``, ``svml_rgcn``)."""
        d = load_experiment(self.config_path(paper)).to_dict()
        d["recipe"]["seed"] = self.seed
        d["recipe"]["device"] = self.device
        d["recipe"]["progress"] = False
        if self.synthetic:
            d = self._synthetic_scale(paper, d)
        else:
            d["data"]["root"] = str(self.data_root)
            if self.epochs is not None:
                d = _set_epochs(d, int(self.epochs))
        d = apply_overrides(d, dict(self.extra))
        if overrides:
            d = apply_overrides(d, dict(overrides))
        return ExperimentConfig.from_dict(d)

    def _synthetic_scale(self, paper: str, d: dict[str, Any]) -> dict[str, Any]:
        size = 64 if self.quick else 112
        scale = dict(SYNTHETIC_SCALES["quick" if self.quick else "default"])
        if not self.quick:
            scale.update(SYNTHETIC_SCALE_OVERRIDES.get(paper, {}))
        data = {"n_subjects": scale["n_subjects"], "images_per_subject": scale["images_per_subject"],
                "size": size, "folds": 3, "fold": 1, "seed": self.seed}
        d["data"].update(data)
        d["model"]["img_size"] = size
        if "backbone" in d["model"]:
            # afg's narrow ResNet; in the default mode pretrained on synthetic landmarks (the
            # stand-in for the papers' ImageNet weights, afg.pretrain), in quick mode from scratch
            d["model"].update(backbone=SYNTHETIC_BACKBONE, pretrained=False,
                              weights=None if self.quick else "synthetic")
        r = d["recipe"]
        r["batch_size"] = scale["batch_size"]
        if self.quick:
            r["max_steps_per_epoch"] = 2
            if paper == "emotion_gcn":
                # 8 training faces miss most expressions; afg.data.stats counts classes up to the
                # largest one present, so inverse-frequency weights could have the wrong length
                d["model"]["class_weights"] = "none"
            d = _set_epochs(d, 1 if self.epochs is None else int(self.epochs))
        else:
            r["max_steps_per_epoch"] = None
            d["data"].update(SYNTHETIC_AUGMENT.get(paper, {}))
            if paper in SYNTHETIC_RECIPE:
                d["recipe"] = r = apply_overrides(r, SYNTHETIC_RECIPE[paper])
            if paper in SYNTHETIC_LR:
                lr = SYNTHETIC_LR[paper]
                r.setdefault("optimizer", {})["lr"] = lr
                for st in r.get("stages") or []:
                    if "lr" in (st.get("optimizer") or {}):
                        st["optimizer"]["lr"] = lr  # ME-GraphAU stage 2: 1e-6 on real data
            d = _set_epochs(d, int(self.epochs or DEFAULT_EPOCHS.get(paper, 4)))
        return d

    # ------------------------------------------------------------------ experiments
    def ablation(self, paper: str, variants: Mapping[str, Any], overrides: Mapping[str, Any] | None = None,
                 folds: Sequence[int] | int | None = None, **kw: Any) -> Ablation:
        """:class:`afg.experiments.Ablation` of ``variants`` over this setup's folds."""
        abl = Ablation(self.config(paper, overrides), dict(variants), folds=None, **kw)
        abl.k = abl.base.data.folds
        abl.folds = _fold_numbers(folds, self.fold_list(paper))
        return abl

    def sweep(self, paper: str, param: str | Sequence[str], values: Sequence[Any],
              overrides: Mapping[str, Any] | None = None, folds: Sequence[int] | int | None = None,
              **kw: Any) -> Sweep:
        """:class:`afg.experiments.Sweep` of ``param`` over ``values`` (this setup's folds)."""
        sw = Sweep(self.config(paper, overrides), param, values, folds=None, **kw)
        sw.k = sw.base.data.folds
        sw.folds = _fold_numbers(folds, self.fold_list(paper))
        return sw

    def data(self, paper: str, overrides: Mapping[str, Any] | None = None, fold: int = 1):
        """``(train, val)`` datasets of ``paper``'s config (fold ``fold``)."""
        cfg = self.config(paper, overrides)
        if cfg.data.folds:
            cfg = cfg.override({"data.fold": fold})
        return build_data(cfg.data)


def _fold_numbers(folds: Sequence[int] | int | None, default: list[int]) -> list[int]:
    if folds is None:
        return list(default)
    if isinstance(folds, int):
        return list(range(1, folds + 1))
    return list(folds)


def _set_epochs(d: dict[str, Any], epochs: int) -> dict[str, Any]:
    """Set ``recipe.epochs`` and, for staged recipes, every stage's epochs (stage 1 of AU-GCN's
    auto-encoder pre-training gets at least one epoch)."""
    d = copy.deepcopy(d)
    d["recipe"]["epochs"] = epochs
    for st in d["recipe"].get("stages") or []:
        if st.get("epochs") is not None:
            st["epochs"] = max(1, epochs // 2) if st.get("name") == "autoencoder" else epochs
    return d


# ---------------------------------------------------------------------- result helpers
def fold_noise(tidy: pd.DataFrame, metric: str, scale: float = 100.0) -> pd.DataFrame:
    """Per variant: mean, std over folds (ddof=1), min–max range and n, in ``scale`` units.

    The last row, ``"median over variants"``, is the typical fold-to-fold standard deviation —
    differences between variants smaller than about that are noise.
    """
    df = tidy[tidy["metric"] == metric]
    g = df.groupby("variant", sort=False)["value"]
    out = pd.DataFrame({"mean": g.mean() * scale, "std": g.std(ddof=1) * scale,
                        "range": (g.max() - g.min()) * scale, "n_folds": g.count()})
    out.loc["median over variants"] = [np.nan, out["std"].median(), out["range"].median(), np.nan]
    return out.round(2 if scale >= 10 else 4)


def noise_note(tidy: pd.DataFrame, metric: str, scale: float = 100.0, unit: str = "points") -> str:
    """One sentence: the median fold-to-fold std and range of ``metric``."""
    fn = fold_noise(tidy, metric, scale)
    n = int(np.nanmax(fn["n_folds"].to_numpy(dtype=float))) if len(fn) > 1 else 0
    if n < 2:
        return (f"Only one fold was run, so the fold-to-fold noise of {metric} cannot be estimated "
                "here (run with FOLDS >= 2).")
    sd, rg = fn.loc["median over variants", "std"], fn.loc["median over variants", "range"]
    best = fn.drop(index="median over variants")["mean"]
    spread = float(best.max() - best.min())
    d = 1 if scale >= 10 else 3
    u = f" {unit}" if unit else ""
    seeds = "seed" in tidy.columns and tidy["seed"].nunique() > 1
    runs = f"{n} runs (folds × seeds)" if seeds else f"{n} folds"
    return (f"{metric}: run-to-run std ≈ {sd:.{d}f}{u} (median over variants; median range "
            f"{rg:.{d}f}) over {runs}, against a spread of {spread:.{d}f}{u} between the best "
            f"and worst variant — differences of row means below ~{2 * sd:.{d}f}{u} are not "
            "meaningful; a paired Δ [95 % CI] (same fold and seed, Ablation.table(reference=...)) "
            "cancels the fold-to-fold part.")


def ordering(ours: pd.DataFrame | Mapping[str, float], table: str | None = None, column: str | None = None,
             metric: str | None = None, lower_better: bool = False, scale: float = 100.0,
             paper: Mapping[str, float] | None = None, reference: str | None = None,
             tidy: pd.DataFrame | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Our ranking of the rows next to the paper's and, where the per-run values are known, each
    row's paired Δ against a reference row with its verdict against the paper's Δ.

    Args:
        ours: ``Ablation.summary()`` (``(metric, mean)`` columns; its ``attrs["runs"]`` carries the
            per-run values) or ``{row: value}``.
        table, column: the paper's table (``"mafg_ccfg/table4"``) and column (``"F1"``); ``metric``
            defaults to the column's metric key.
        paper: ``{row: value}`` instead of ``table``/``column``.
        reference: the row the Δ are taken against (default: the paper's first row we ran).
        tidy: the tidy frame, when ``ours`` does not carry ``attrs["runs"]``.

    Returns:
        rows ordered as ours (best first) with ``ours``, ``paper``, ``rank ours``, ``rank paper``;
        ``df.attrs["kendall_tau"]`` (NaN with fewer than 3 shared rows). With a ``table`` and the
        per-run values also ``Δ ours [95 % CI]`` (paired over the runs sharing a fold and seed,
        :func:`afg.experiments.paired_comparison`), ``Δ paper`` and ``verdict``
        (:func:`afg.experiments.paper_verdicts`); ``attrs["counts"]`` and ``attrs["note"]`` (the
        line to print under the table: :func:`afg.experiments.verdict_note`).
    """
    runs = tidy
    if runs is None and isinstance(ours, pd.DataFrame) and ours.attrs.get("runs"):
        from .ablation import tidy_from_runs

        runs = tidy_from_runs(ours.attrs["runs"])
    if paper is None:
        from ..reference import load_table, table_info

        info = table_info(table)
        metric = metric or dict(zip(info["columns"], info["metrics"]))[column]
        ptab = load_table(table)
        paper = ptab[column].dropna().to_dict()
    if isinstance(ours, pd.DataFrame):
        col = (metric, "mean") if isinstance(ours.columns, pd.MultiIndex) else metric
        ours = ours[col].to_dict()
    o = pd.Series({k: float(v) * scale for k, v in ours.items()}, dtype=float)
    p = pd.Series(dict(paper), dtype=float).reindex(o.index)
    asc = lower_better
    df = pd.DataFrame({"ours": o, "paper": p})
    df["rank ours"] = df["ours"].rank(ascending=asc, method="min")
    df["rank paper"] = df["paper"].rank(ascending=asc, method="min")
    df = df.sort_values("ours", ascending=asc)
    shared = df.dropna()
    tau = float("nan")
    if len(shared) >= 3:
        from scipy.stats import kendalltau

        tau = float(kendalltau(shared["ours"], shared["paper"]).statistic)
    digits = 2 if scale >= 10 else 4
    df = df.round(digits)
    df.attrs["kendall_tau"] = tau
    df.index.name = table or "row"
    if table is not None and runs is not None and metric in set(runs["metric"]):
        from ..reference import load_table
        from .analysis import format_delta_ci, paper_verdicts, verdict_note

        ran = set(runs.loc[runs["metric"] == metric, "variant"])
        reference = reference or next((r for r in load_table(table).index if r in ran), None)
        if reference is not None:
            ver = paper_verdicts(runs, table, reference, column=column, metric=metric,
                                 confidence=confidence, scale=scale)
            d = 1 if scale >= 10 else 3
            df[f"Δ ours [{100 * confidence:g} % CI]"] = [
                "reference" if r == reference else format_delta_ci(
                    *ver.loc[r, ["Δ ours", "CI low", "CI high"]], 1.0, d) if r in ver.index else "–"
                for r in df.index]
            df["Δ paper"] = [ver.loc[r, "Δ paper"] if r in ver.index else np.nan for r in df.index]
            df["verdict"] = [ver.loc[r, "verdict"] if r in ver.index else "" for r in df.index]
            df["Δ paper"] = df["Δ paper"].round(digits)
            note = verdict_note(ver)
            df.attrs.update(counts=ver.attrs["counts"], note=note, reference=reference,
                            n_pairs=ver.attrs["n_pairs"])
    return df


def predictions(result: Any, batch_size: int = 32) -> dict[str, Any]:
    """Validation predictions of a :class:`RunResult` (``load_model=True`` or freshly trained):
    ``{"metrics", "preds", "labels"}`` from :func:`afg.train.evaluate`."""
    from ..train.evaluate import evaluate

    if result.model is None:
        raise ValueError("the RunResult carries no model; run it with load_model=True")
    _, val = build_data(result.config.data)
    m = evaluate(result.model, val, batch_size=batch_size, return_predictions=True)
    preds, labels = m.pop("_predictions"), m.pop("_labels")
    return {"metrics": m, "preds": preds, "labels": labels, "data": val}


def dataset_attr(data: Any, attr: str, default: Any = None) -> Any:
    """An attribute of the dataset under ``Subset``/``CachedDataset`` wrappers (``au_names``,
    ``emotion_names``, ``expression_names`` …)."""
    ds = data
    for _ in range(10):
        if hasattr(ds, attr) and not isinstance(ds, (Subset,)):
            return getattr(ds, attr)
        nxt = getattr(ds, "dataset", None) if isinstance(ds, Subset) else getattr(ds, "base", None)
        if nxt is None:
            break
        ds = nxt
    return default


def first_images(data: Any, n: int = 4) -> dict[str, Any]:
    """The first ``n`` items of a dataset collated: ``image`` (n,3,H,W), ``rgb`` (n,H,W,3) uint8
    (ImageNet normalisation undone) and every other key the items share."""
    import torch

    from ..train.evaluate import collate

    batch = collate([data[i] for i in range(min(n, len(data)))])
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    rgb = ((batch["image"] * std + mean).clamp(0, 1) * 255).byte().permute(0, 2, 3, 1).numpy()
    batch["rgb"] = rgb
    return batch


def ccfg_paper_vs_code(images: Any, num_classes: int = 8, backbone: str = "resnet18", img_size: int = 64,
                       seed: int = 0) -> pd.DataFrame:
    """Li et al.'s CCFG as written (``official=False``) and as coded by the authors (``official=True``)
    on the same images and the same backbone/topology weights.

    Returns one row per mode: the largest difference between the CCFG vectors of two AUs of the same
    image (0 ⇔ every AU gets the same vector), the number of distinct per-AU vectors, and the
    BatchNorm ``num_batches_tracked`` after one training-mode forward pass (N for the authors'
    shared block, 1 for the paper's per-AU blocks).
    """
    import torch

    from ..models import create_model

    rows = {}
    state = None
    for official in (False, True):
        torch.manual_seed(seed)
        m = create_model("mafg_ccfg", num_classes, backbone=backbone, pretrained=False, img_size=img_size,
                         official=official)
        if state is None:
            state = {k: v for k, v in m.state_dict().items() if "ccfg" not in k}
        else:  # same backbone, MAFG, GNN and CCFG topology weights
            m.load_state_dict(state, strict=False)
        m.train()
        with torch.no_grad():
            out = m(images, return_intermediates=True)
        v = out["nodes_ccfg"]  # (B, N, C)
        diff = (v[:, :, None, :] - v[:, None, :, :]).abs().amax(dim=(-1,))  # (B, N, N)
        distinct = int(torch.unique(v[0].round(decimals=6), dim=0).shape[0])
        ccfg = m.head.ccfg
        bn = [mod for mod in ccfg.modules() if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm)]
        rows["authors' code (official=True)" if official else "paper (official=False)"] = {
            "max |v_i - v_j| (CCFG, same image)": float(diff.max()),
            "distinct CCFG vectors per image": distinct,
            "BN num_batches_tracked after 1 step": int(bn[0].num_batches_tracked) if bn else None,
            "CCFG parameters": sum(p.numel() for p in ccfg.parameters()),
        }
    return pd.DataFrame(rows).T


# ---------------------------------------------------------------------- AU-GCN helpers
DISFA_REFERENCE_AUS = ["AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26"]


def disfa_training_labels(ref: str | os.PathLike | None = None) -> dict[int, np.ndarray] | None:
    """Real DISFA training labels of folds 1–3 (fold k trains on the other two test lists) from the
    reference folder (:func:`reference_dir`); ``None`` when it is absent."""
    root = Path(ref) if ref is not None else reference_dir()
    if root is None or not (root / "disfa" / "fold1_test_labels.txt").exists():
        return None
    tests = {k: np.loadtxt(root / "disfa" / f"fold{k}_test_labels.txt", dtype=np.float32) for k in (1, 2, 3)}
    return {k: np.concatenate([tests[j] for j in (1, 2, 3) if j != k]) for k in (1, 2, 3)}


def au_relation_graphs(labels_by_fold: Mapping[Any, np.ndarray], threshold: float = 0.8,
                       published: np.ndarray | None = None) -> tuple[dict[Any, np.ndarray], pd.DataFrame]:
    """AU-GCN's M_bool (Eq. 4–5) per fold and, with ``published``, how many entries differ from it."""
    from ..graphs.cooccurrence import cooccurrence_graph

    graphs = {k: cooccurrence_graph(y, threshold) for k, y in labels_by_fold.items()}
    rows = {}
    for k, g in graphs.items():
        row = {"frames": len(labels_by_fold[k]), "edges (off-diagonal)": int(g.sum() - np.trace(g))}
        if published is not None:
            row["entries differing from Table 1"] = int((g != published).sum())
        rows[f"fold {k}" if isinstance(k, int) else str(k)] = row
    return graphs, pd.DataFrame(rows).T


def plot_roi_reconstructions(target: Any, recon: Any, roi_names: Sequence[str] | None = None,
                             max_rois: int = 8, ax_size: float = 0.9):
    """ROI crops (top row) and their auto-encoder reconstructions (bottom row) of one face.

    ``target``/``recon``: ``(R, 3, n, n)`` ImageNet-normalised tensors (AU-GCN's ``roi_target`` and
    ``roi_recon`` outputs for one image).
    """
    import matplotlib.pyplot as plt
    import torch

    from ..data.transforms import denormalize

    t = torch.as_tensor(target).detach().float().cpu()
    r = torch.as_tensor(recon).detach().float().cpu()
    n = min(max_rois, t.shape[0])
    fig, axes = plt.subplots(2, n, figsize=(ax_size * n, ax_size * 2.2), squeeze=False)
    for j in range(n):
        for i, img in enumerate((t[j], r[j])):
            axes[i, j].imshow(denormalize(img).permute(1, 2, 0).numpy())
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        if roi_names is not None:
            axes[0, j].set_title(str(roi_names[j]), fontsize=6)
    axes[0, 0].set_ylabel("ROI", fontsize=7)
    axes[1, 0].set_ylabel("AE", fontsize=7)
    fig.tight_layout()
    return fig


def load_stage_model(result: Any, stage: str):
    """The model of a finished multi-stage run restored from one stage's checkpoint
    (``<run>/stage*-<stage>/last.pt``), e.g. AU-GCN after its auto-encoder pre-training."""
    from ..train.checkpoint import load_checkpoint
    from .config import build_model
    from .runner import final_model_config

    dirs = sorted(p for p in Path(result.run_dir).glob(f"stage*-{stage}") if p.is_dir())
    if not dirs:
        raise FileNotFoundError(f"no stage {stage!r} in {result.run_dir}")
    train, _ = build_data(result.config.data)
    model = build_model(final_model_config(result.config, stage), train)
    ck = dirs[-1] / "last.pt"
    model.load_state_dict(load_checkpoint(ck)["model"], strict=False)
    return model.eval()
