"""Pieces notebooks 00, 01, 02 and 07 call (so their cells stay thin); the shared notebook setup
(parameters → configs, fold noise, orderings) is :mod:`afg.experiments.notebooks`.

* :func:`environment_report` — versions and the resolved device (install check).
* :func:`me_graphau_config` — ME-GraphAU's two-stage recipe for a
  :class:`~afg.experiments.notebooks.NotebookSetup` (synthetic scale or a real release).
* :func:`table3_report` — Table 3 over folds × seeds with paired Δ [95 % CI] and verdicts.
* :func:`table3_variants` / :class:`StageAblation` — ME-GraphAU Table 3 as an
  :class:`~afg.experiments.Ablation` over a two-stage recipe: rows 1–4 train stage 1 only, rows
  5–7 train stage 2 initialised from the *same fold's* stage-1 run of row 3 or 4 (as in the
  paper), so each stage-1 model is trained once and shared.
* :func:`knn_degrees` — in-degree of active vs inactive AU nodes in the K-NN graph (Fig. 4).
* :func:`to_uint8`, :func:`model_for` — displayable faces and the trained model of a cached run.
* :func:`make_fake_disfa_release` — a tiny release in the official DISFA layout built from real
  photographs, for the data-preparation walk-through.
* :func:`plot_label_rates`, :func:`plot_alignment` — two notebook figures not needed elsewhere.
"""
from __future__ import annotations

import copy
import os
import platform
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .ablation import Ablation
from .config import ExperimentConfig, load_experiment
from .runner import RunResult, run, run_dir_for

__all__ = [
    "REPO_ROOT",
    "StageAblation",
    "environment_report",
    "knn_degrees",
    "label_names",
    "make_fake_disfa_release",
    "me_graphau_config",
    "model_for",
    "plot_alignment",
    "plot_label_rates",
    "table3_report",
    "table3_variants",
    "to_uint8",
]

REPO_ROOT = Path(__file__).resolve().parents[2]

def environment_report(device: str = "auto") -> pd.DataFrame:
    """Versions of the stack and the device ``device`` resolves to (one row per item)."""
    from importlib import metadata

    from .. import __version__
    from ..utils import resolve_device

    rows = {"afg": __version__, "python": platform.python_version(), "platform": platform.platform(terse=True)}
    for pkg in ("torch", "timm", "numpy", "pandas", "scikit-learn", "matplotlib", "facenet-pytorch",
                "grad-cam", "papermill", "jupytext"):
        try:
            rows[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            rows[pkg] = "not installed"
    dev = resolve_device(device)
    rows["device"] = str(dev) + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else "")
    rows["torch threads"] = str(torch.get_num_threads())
    return pd.DataFrame({"value": rows}).rename_axis("item")


def me_graphau_config(setup: Any, overrides: Mapping[str, Any] | None = None,
                      backbone: str = "resnet50") -> ExperimentConfig:
    """ME-GraphAU's two-stage recipe for a :class:`~afg.experiments.notebooks.NotebookSetup`.

    Synthetic data: ``configs/me_graphau_synthetic.yaml`` scaled by the setup (quick/default),
    exactly as the other notebooks scale their recipes (so runs are shared through the cache).
    Real data (``bp4d``/``disfa``): ``configs/me_graphau_<dataset>_<backbone>.yaml`` with
    ``data.root``, ``recipe.device``, ``recipe.seed`` and, when given, every stage's epochs.
    """
    if setup.synthetic:
        return setup.config("me_graphau", overrides)
    bb = {"resnet50": "resnet50", "swin_base": "swin_base", "swin": "swin_base"}[backbone]
    path = REPO_ROOT / "configs" / f"me_graphau_{setup.dataset}_{bb}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no ME-GraphAU recipe {path.name} (datasets: bp4d, disfa)")
    d = load_experiment(path).to_dict()
    d["data"]["root"] = str(setup.data_root)
    d["recipe"].update(device=setup.device, seed=setup.seed, progress=False)
    if setup.epochs is not None:
        for st in d["recipe"]["stages"]:
            st["epochs"] = int(setup.epochs)
    if setup.quick:
        d["recipe"].update(max_steps_per_epoch=2)
        for st in d["recipe"]["stages"]:
            st["epochs"] = 1
    cfg = ExperimentConfig.from_dict(d)
    return cfg.override(dict(overrides)) if overrides else cfg


# ----------------------------------------------------------------------------- ME-GraphAU Table 3
_INIT_PREFIX = "@variant:"


def table3_variants(base: ExperimentConfig | dict | str, stage2_lr: float | None = None) -> dict[str, dict[str, Any]]:
    """ME-GraphAU Table 3 rows (names as in :mod:`afg.reference` ``me_graphau/table3``) as
    overrides of a two-stage recipe (stage 1 ANFL, stage 2 MEFL; e.g. ``configs/me_graphau_*.yaml``).

    Rows 1–4 keep stage 1 only; rows 5–7 keep stage 2 only, with the ``me_graphau`` model and
    ``init_from`` pointing at row 3 (``+AFG, L_WA``) or row 4 (``+AFG+FGG, L_WA``) — resolved to that
    row's run directory for the same fold by :class:`StageAblation`. ``stage2_lr`` overrides the
    recipe's stage-2 learning rate.
    """
    cfg = load_experiment(base).to_dict()
    stages = cfg["recipe"]["stages"]
    if len(stages) != 2:
        raise ValueError("table3_variants needs a two-stage recipe (stage 1 ANFL, stage 2 MEFL)")
    s1 = copy.deepcopy(stages[0])
    s1.update(init_from=None, model={})

    def s2(init_row: str) -> list[dict[str, Any]]:
        st = copy.deepcopy(stages[1])
        st.update(model={}, init_from=_INIT_PREFIX + init_row, init_checkpoint="best")
        if stage2_lr is not None:
            st["optimizer"] = {**st.get("optimizer", {}), "lr": float(stage2_lr)}
        return [st]

    one = {"recipe.stages": [s1]}
    return {
        "Backbone (WBCE)": {**one, "model.use_afg": False, "model.loss": "wbce"},
        "+AFG (WBCE)": {**one, "model.use_fgg": False, "model.loss": "wbce"},
        "+AFG, L_WA": {**one, "model.use_fgg": False},
        "+AFG+FGG, L_WA": dict(one),
        "+AFG+MEFL, L_WA": {"model.name": "me_graphau", "model.lam": 0.0, "model.use_fgg": False,
                            "recipe.stages": s2("+AFG, L_WA")},
        "+AFG+FGG+MEFL, L_WA": {"model.name": "me_graphau", "model.lam": 0.0,
                                "recipe.stages": s2("+AFG+FGG, L_WA")},
        "+AFG+FGG+MEFL, L_WA+L_E": {"model.name": "me_graphau", "recipe.stages": s2("+AFG+FGG, L_WA")},
    }


class StageAblation(Ablation):
    """An :class:`Ablation` whose stage ``init_from: "@variant:<name>"`` is replaced, fold by fold,
    by the best checkpoint of variant ``<name>``'s run on the same fold (and seed).

    List the referenced variants first: they are trained (or fetched) before the rows that use them.
    """

    def configs(self):
        made: dict[tuple[str, int, Any], ExperimentConfig] = {}
        for name, fold, seed, cfg in super().configs():
            made[(name, fold, seed)] = cfg
            stages = cfg.recipe.stages
            for st in stages:
                if isinstance(st.init_from, str) and st.init_from.startswith(_INIT_PREFIX):
                    ref = st.init_from[len(_INIT_PREFIX):]
                    if (ref, fold, seed) not in made:
                        raise KeyError(f"variant {name!r} initialises from {ref!r}, which must come first")
                    rd = run_dir_for(made[(ref, fold, seed)], self.root)
                    st.init_from = str(_final_checkpoint(made[(ref, fold, seed)], rd))
            yield name, fold, seed, cfg

    def run(self, **run_kwargs: Any) -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*initialised from previous stage.*")
            return super().run(**run_kwargs)


def table3_report(folds: Sequence[int] = (1, 2), seeds: Sequence[int] = (0, 1), quick: bool = False,
                  column: str = "ResNet-50", root: str | os.PathLike | None = None,
                  selection: str | None = None) -> dict[str, Any]:
    """ME-GraphAU Table 3 on the synthetic default (notebook 02's configs, so its runs are shared)
    over ``folds`` × ``seeds``, printed with each row's paired Δ F1 [95 % CI] against the backbone
    row, its verdict against the paper's Δ (``column``), the verdict counts, Kendall's τ and the
    wall time. ``selection`` overrides ``recipe.selection`` (default ``val``; ``test`` reproduces
    the authors' optimistic protocol). The closing-note measurement of issue #25::

        python -c "from afg.experiments.notebook_helpers import table3_report; table3_report()"

    Returns ``{"ablation", "table", "ordering", "seconds"}``.
    """
    import time

    from .notebooks import NotebookSetup, noise_note, ordering

    t0 = time.perf_counter()
    setup = NotebookSetup(quick=quick, folds=max(folds))
    cfg = me_graphau_config(setup, {"recipe.selection": selection} if selection else None)
    variants = table3_variants(cfg, stage2_lr=cfg.recipe.optimizer.lr if setup.synthetic else None)
    abl = StageAblation(cfg, variants, folds=list(folds), seeds=list(seeds), root=root)
    tidy = abl.run()
    reference = next(iter(variants))
    table = abl.table(["f1_mean", "auc_mean"], reference=reference)
    order = ordering(abl.summary(["f1_mean"]), "me_graphau/table3", column, reference=reference)
    seconds = time.perf_counter() - t0
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(f"ME-GraphAU Table 3, {setup.describe('me_graphau')}, folds {list(folds)} x seeds {list(seeds)}")
        print(table.to_string())
        print(table.attrs["note"])
        print()
        print(order.to_string())
        print(order.attrs.get("note", ""))
        print(noise_note(tidy, "f1_mean"))
    trained = int((~tidy.drop_duplicates(["variant", "fold"] + (["seed"] if "seed" in tidy else []))["cached"]).sum())
    print(f"wall time {seconds / 60:.1f} min ({trained} runs trained, the rest from the cache)")
    return {"ablation": abl, "table": table, "ordering": order, "seconds": seconds}


def _final_checkpoint(cfg: ExperimentConfig, rd: Path) -> Path:
    """Where the run of ``cfg`` in ``rd`` keeps the best weights of its last stage (predicted
    before it exists: single-stage runs keep them in the run directory itself)."""
    stages = cfg.recipe.stages
    if len(stages) > 1:
        rd = rd / f"stage{len(stages)}-{stages[-1].name or 'main'}"
    return rd / "best.pt"


# ----------------------------------------------------------------------------- batches, models
def to_uint8(images: torch.Tensor) -> np.ndarray:
    """ImageNet-normalised ``(B, 3, H, W)`` (or ``(3, H, W)``) → ``(B, H, W, 3)`` uint8 for display."""
    x = images.detach().cpu().float()
    if x.dim() == 3:
        x = x[None]
    mean = torch.tensor([0.485, 0.456, 0.406])[None, :, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[None, :, None, None]
    x = (x * std + mean).clamp(0, 1).permute(0, 2, 3, 1)
    return (x.numpy() * 255).round().astype(np.uint8)


def label_names(dataset: Any, attr: str = "au_names") -> list[str]:
    """``au_names`` (or ``attr``) of a dataset, looking through ``Subset``/``CachedDataset`` wrappers."""
    ds = dataset
    while not hasattr(ds, attr):
        inner = getattr(ds, "dataset", None) or getattr(ds, "base", None)
        if inner is None:
            raise AttributeError(f"{type(dataset).__name__} has no {attr}")
        ds = inner
    return list(getattr(ds, attr))


def model_for(result: RunResult | ExperimentConfig | dict, root: str | os.PathLike | None = None,
              device: str | torch.device = "cpu") -> torch.nn.Module:
    """The trained model (best weights of the last stage, eval mode) of a run — from the
    :class:`RunResult` when it holds one, otherwise rebuilt from the run cache."""
    model = getattr(result, "model", None)
    if model is None:
        cfg = result.config if isinstance(result, RunResult) else load_experiment(result)
        model = run(cfg, root=root, load_model=True).model
    return model.to(device).eval()


def knn_degrees(node_features: torch.Tensor, labels: Any, k: int, metric: str = "dots") -> pd.DataFrame:
    """ME-GraphAU Fig. 4's observation, measured: mean number of K-NN edges *pointing to* a node
    (in-degree, self loops excluded) for active vs inactive AUs, over faces ``(F, N, C)`` with 0/1
    ``labels (F, N)`` (ground truth or thresholded predictions)."""
    from ..graphs.knn import knn_adjacency

    a = knn_adjacency(torch.as_tensor(node_features).float(), k, metric)  # (F, N, N), row i -> its K
    a = a * (1 - torch.eye(a.shape[-1]))
    indeg = a.sum(1).numpy()  # (F, N)
    y = np.asarray(labels, float) > 0.5
    return pd.DataFrame({"active AUs": [indeg[y].mean() if y.any() else np.nan, int(y.sum())],
                         "inactive AUs": [indeg[~y].mean() if (~y).any() else np.nan, int((~y).sum())]},
                        index=["mean in-degree", "nodes"])


# ----------------------------------------------------------------------------- data preparation
def _photos(size: int = 256) -> list[np.ndarray]:
    """Two real photographs cropped around the face: astronaut (scikit-image) and Grace Hopper (matplotlib)."""
    import matplotlib
    import skimage.data
    from PIL import Image

    astro = Image.fromarray(skimage.data.astronaut()[0:300, 90:390])
    hopper = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    w, _ = hopper.size
    hopper = hopper.crop((int(0.15 * w), 0, int(0.85 * w), int(0.7 * w)))
    return [np.asarray(im.resize((size, size))) for im in (astro, hopper)]


def make_fake_disfa_release(root: str | os.PathLike, frames_per_subject: int = 3,
                            subjects: Sequence[str] = ("SN001", "SN013", "SN003"), size: int = 256,
                            with_failures: bool = True, seed: int = 0) -> Path:
    """A tiny release in DISFA's official layout, for demonstrations and tests.

    ``ActionUnit_Labels/SN###/SN###_au{N}.txt`` (lines ``frame,intensity`` for the 12 coded AUs;
    the 8 protocol AUs drawn from the synthetic DISFA label model, present ones at intensity 2–5)
    and ``Images_LeftCamera/SN###/{frame-1}.png`` frames made from real photographs (mirrored and
    shifted). With ``with_failures``, the last frame of the first subject is a cat photograph
    (no face) and one labelled frame of the second subject has no image (listed as missing).
    The default subjects fall in the three standard parts, so the 3-fold protocol applies.
    """
    import skimage.data
    from PIL import Image

    from ..data.datasets.disfa import DISFA_AUS, DISFA_CODED_AUS
    from ..data.synth import sample_au_labels

    root = Path(root)
    rng = np.random.default_rng(seed)
    photos = _photos(size)
    cat = np.asarray(Image.fromarray(skimage.data.chelsea()).resize((size, size)))
    n = frames_per_subject
    labels = sample_au_labels("disfa", n * len(subjects), seed=seed)  # (n*S, 8) in DISFA_AUS order
    for s, subj in enumerate(subjects):
        lab_dir = root / "ActionUnit_Labels" / subj
        img_dir = root / "Images_LeftCamera" / subj
        lab_dir.mkdir(parents=True, exist_ok=True)
        img_dir.mkdir(parents=True, exist_ok=True)
        y = labels[s * n:(s + 1) * n]
        for au in DISFA_CODED_AUS:
            if au in DISFA_AUS:
                inten = y[:, DISFA_AUS.index(au)] * rng.integers(2, 6, n)
            else:
                inten = rng.integers(0, 2, n)
            (lab_dir / f"{subj}_au{au}.txt").write_text("".join(f"{t + 1},{int(v)}\n" for t, v in enumerate(inten)))
        for t in range(n):
            if with_failures and s == 1 and t == n - 1:
                continue  # labelled, but the frame was never extracted
            im = photos[(s + t) % len(photos)]
            if t % 2:
                im = im[:, ::-1]
            im = np.roll(im, 6 * (t - n // 2), axis=1)
            if with_failures and s == 0 and t == n - 1:
                im = cat
            Image.fromarray(np.ascontiguousarray(im)).save(img_dir / f"{t}.png")
    return root


# ----------------------------------------------------------------------------- figures
def plot_label_rates(rates: Mapping[str, Sequence[float]], names: Sequence[str], title: str | None = None):
    """Grouped bars of AU occurrence rates (``{source: (N,)}``), e.g. synthetic vs real."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(3.5, 0.45 * len(names) + 1.2), 2.3))
    width = 0.8 / len(rates)
    x = np.arange(len(names))
    for i, (src, r) in enumerate(rates.items()):
        ax.bar(x + (i - (len(rates) - 1) / 2) * width, np.asarray(r, float) * 100, width, label=src)
    ax.set_xticks(x)
    ax.set_xticklabels(list(names), rotation=45, ha="right")
    ax.set_ylabel("occurrence (%)")
    ax.legend(fontsize=6, frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_alignment(images: Sequence[np.ndarray], results: Sequence[dict[str, Any]],
                   titles: Sequence[str] | None = None, ax_size: float = 2.0):
    """Each photograph with the MTCNN box and 5 landmarks (top) and its aligned crop (bottom)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(ax_size * n, ax_size * 2), squeeze=False)
    for i, (im, r) in enumerate(zip(images, results)):
        ax = axes[0, i]
        ax.imshow(im)
        if r["status"] == "ok":
            x1, y1, x2, y2 = np.asarray(r["box"], float)
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec="#d55e00", lw=1.5))
            lm = np.asarray(r["source_landmarks"], float)
            ax.scatter(lm[:, 0], lm[:, 1], s=8, c="#56b4e9")
            axes[1, i].imshow(r["image"])
            axes[1, i].scatter(r["landmarks"][:, 0], r["landmarks"][:, 1], s=6, c="#56b4e9")
            axes[1, i].set_title(f"aligned, p={r['score']:.3f}", fontsize=7)
        else:
            axes[1, i].text(0.5, 0.5, r["status"], ha="center", va="center", fontsize=9)
        ax.set_title(titles[i] if titles else f"input {i}", fontsize=7)
        for a in axes[:, i]:
            a.set_xticks([])
            a.set_yticks([])
    fig.tight_layout()
    return fig
