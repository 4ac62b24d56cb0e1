"""Synthetic-face pretraining of a backbone: the stand-in for ImageNet weights on synthetic data.

All five papers fine-tune an ImageNet-pretrained backbone (ResNet-50, Swin, ResNet-101, ...).
No weights can be downloaded here, and a backbone trained from scratch for a CPU minute barely
leaves chance level: on the DISFA profile, 960 training faces, 75 s of training, ``resnet_tiny``
reached mean F1 0.22 / AUC 0.61 from scratch and 0.42 / 0.83 after this pretraining. Without it, an
ablation table on synthetic faces ranks noise.

:func:`synthetic_weights` trains a backbone once per ``(name, img_size, PretrainSpec)`` to
regress the 68 landmarks of synthetic faces (``all`` profile, every nuisance on) and caches the
backbone's weights; the models load them through ``weights="synthetic"`` (or another name of
:data:`PRETRAIN_PRESETS`, e.g. the longer ``"synthetic-long"``)
(:func:`resolve_weights` turns the name into the file before the model is built — the experiment
layer calls it, so the model layer never starts a pretraining; the backbones trained here come
from :func:`afg.backbones.create_backbone`). The pretext task never sees an AU, expression or
valence label, and its identities (ids from :data:`PRETRAIN_SUBJECT_OFFSET`) are disjoint from
those of every dataset the configs build, so nothing of an evaluation fold leaks into the
weights — as with a face-alignment-pretrained backbone. Landmark motion is caused by the AUs,
so the features are geometry-aware; shading-only cues (wrinkles, furrows) are learnt when
fine-tuning.

The loss is the smooth-L1 distance between predicted and true landmarks, in units of a quarter
of the image side: ``l = SmoothL1(f(x), 4 (L / S - 1/2))`` with ``L`` ``(68, 2)`` pixel
coordinates and ``S`` the image side.

**Shipped weights.** The default initialisation (:data:`DEFAULT_PRETRAINING` of ``resnet_tiny`` at
112 px, 8-20 CPU minutes to train) comes with the package in ``afg/weights/`` as safetensors with a
JSON sidecar (its sha256, recipe, versions, losses, machine and the command that made it), so a
cold start trains nothing and every machine starts from the same weights. :func:`synthetic_weights`
returns the shipped file when its :func:`weights_key` is the one asked for and its checksum holds;
any other backbone, size, recipe or generator version is trained and cached as before. The file is
float32, bit-identical to the cached pretraining it was exported from, so runs keep their run keys
and results (float16 would halve it but change every run started from it). Regenerate it with::

    python -m afg.pretrain export            # trains (or takes from the cache) and writes afg/weights/
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
import torch.nn.functional as F
from torch import nn

from .backbones import check_backbone_name, create_backbone
from .data import synth
from .data.synth import SynthFaces
from .measured import machine_description
from .progress import bar as progress_bar
from .progress import line
from .utils import atomic_save_json, atomic_torch_save, atomic_write_bytes, file_sha256

__all__ = [
    "DEFAULT_PRETRAINING",
    "PRETRAIN_PRESETS",
    "PRETRAIN_SUBJECT_OFFSET",
    "SHIPPED_DIR",
    "PretrainSpec",
    "cache_dir",
    "export_weights",
    "fit_pooled_head",
    "preset_spec",
    "pretrain_landmarks",
    "resolve_weights",
    "shipped_weights",
    "synthetic_weights",
    "weights_key",
]

#: first subject id of the pretraining faces (datasets built by the configs use ids < 10,000)
PRETRAIN_SUBJECT_OFFSET = 100_000
#: bump when the pretraining procedure changes (invalidates cached weights)
PRETRAIN_VERSION = 1


@dataclass(frozen=True)
class PretrainSpec:
    """The pretraining recipe (part of the cache key)."""

    n_subjects: int = 60
    images_per_subject: int = 40
    epochs: int = 8
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-2
    seed: int = 0


#: the named pretraining recipes a config's ``model.weights`` may give instead of a file:
#:
#: * ``synthetic``: the first default, 60 identities x 40 faces, 8 epochs (about 2 CPU minutes on the
#:   2-core AVX-512 machine). On its frozen pooled features (BP4D profile, 20 training / 10 held-out
#:   identities, ``benchmarks/synth_pretrain_probe.py``): landmarks by ridge regression to 1.24 px
#:   held-out, 7-class expression by logistic regression 25 %, mean AU AUC 0.62.
#: * ``synthetic-long``: 120 identities x 40 faces, 16 epochs: 4x the steps (once: 8.2 min on the
#:   2-core AVX-512 machine, 19.6 min on a 2-core AMD EPYC without AVX-512). Same read-outs:
#:   0.68 px, 41 %, 0.73. The default (:data:`DEFAULT_PRETRAINING`) since 3 Dec 2026: every CNN
#:   model learns more on it (docs/synthetic.md).
#: * ``synthetic-xl``: 240 identities x 40 faces, 16 epochs: twice synthetic-long's steps over twice its
#:   identities. Measured for seed stability only (3 Dec 2026, docs/synthetic.md "Seed stability"); no
#:   notebook uses it.
PRETRAIN_PRESETS: dict[str, PretrainSpec] = {
    "synthetic": PretrainSpec(),
    "synthetic-long": PretrainSpec(n_subjects=120, epochs=16),
    "synthetic-xl": PretrainSpec(n_subjects=240, epochs=16),
}


#: the pretraining the synthetic default mode (the notebooks' ``PRETRAINING``,
#: ``configs/synthetic/default.yaml``, ``afg demo``) starts every CNN backbone from
DEFAULT_PRETRAINING = "synthetic-long"

#: where the package keeps its shipped pretrained backbones (``<stem>.safetensors`` + ``<stem>.json``)
SHIPPED_DIR = Path(__file__).resolve().parent / "weights"
#: the backbone and input size the synthetic default mode pretrains (what ``export`` ships)
DEFAULT_BACKBONE, DEFAULT_IMG_SIZE = "resnet_tiny", 112


def preset_spec(weights: object) -> PretrainSpec | None:
    """The :data:`PRETRAIN_PRESETS` recipe ``weights`` names, or None when it names none (a file,
    None)."""
    return PRETRAIN_PRESETS.get(weights) if isinstance(weights, str) else None


def resolve_weights(weights: Any, backbone: str, img_size: int) -> Any:
    """``weights`` for :func:`afg.backbones.create_backbone`: a named pretraining
    (:data:`PRETRAIN_PRESETS`) becomes its weights file for ``backbone`` at ``img_size``
    (:func:`synthetic_weights`: shipped, cached, or trained now — the backbone name is checked
    first), anything else (a file, None) is returned as is."""
    spec = preset_spec(weights)
    if spec is None:
        return weights
    check_backbone_name(backbone)  # before any pretraining
    return synthetic_weights(backbone, img_size, spec)


def cache_dir() -> Path:
    """``$AFG_CACHE_DIR`` or ``~/.cache/afg``."""
    return Path(os.environ.get("AFG_CACHE_DIR") or Path.home() / ".cache" / "afg")


def weights_key(name: str, img_size: int, spec: PretrainSpec = PretrainSpec()) -> str:
    """Hash of everything the pretrained weights depend on (backbone, size, recipe, this module's
    and the generator's versions); part of their file name and of the run-cache hash."""

    blob = json.dumps({"name": name, "img_size": int(img_size), "spec": asdict(spec), "version": PRETRAIN_VERSION,
                       "generator": getattr(synth, "GENERATOR_VERSION", None)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _stem(name: str, img_size: int, spec: PretrainSpec) -> str:
    """The file name (without suffix) of pretrained weights, cached or shipped."""
    return f"synthetic_{name}_{int(img_size)}px_{weights_key(name, img_size, spec)}"


def shipped_weights(name: str, img_size: int, spec: PretrainSpec = PretrainSpec(),
                    folder: str | os.PathLike | None = None) -> Path | None:
    """The shipped weights file of ``(name, img_size, spec)`` in ``folder`` (:data:`SHIPPED_DIR`),
    checksum verified against its JSON sidecar; ``None`` when none is shipped for that
    :func:`weights_key` or when the file does not match its sha256 (warned: it is then trained)."""
    stem = _stem(name, img_size, spec)
    folder = Path(folder) if folder is not None else SHIPPED_DIR
    path, meta = folder / f"{stem}.safetensors", folder / f"{stem}.json"
    if not (path.is_file() and meta.is_file()):
        return None
    want = json.loads(meta.read_text()).get("sha256")
    if file_sha256(path) != want:
        warnings.warn(f"{path}: its sha256 differs from {meta.name}'s; not used (the backbone is "
                      "pretrained here instead)", stacklevel=3)
        return None
    return path


def pretrain_landmarks(name: str, img_size: int, spec: PretrainSpec = PretrainSpec(),
                       progress: bool = True) -> tuple[dict[str, torch.Tensor], list[float]]:
    """Train backbone ``name`` from scratch on landmark regression; returns its ``state_dict``
    (timm layout, no head) and the mean loss of each epoch.

    Deterministic for a given spec and thread count; the caller's random state is left untouched.
    """

    ds = SynthFaces("all", n_subjects=spec.n_subjects, images_per_subject=spec.images_per_subject,
                    size=img_size, seed=spec.seed, subject_offset=PRETRAIN_SUBJECT_OFFSET)
    items = [ds[i] for i in progress_bar(desc="render pretraining faces", enabled=progress, iterable=range(len(ds)),
                                         leave=False)]
    x = torch.stack([it["image"] for it in items])  # (n, 3, S, S)
    y = torch.stack([torch.as_tensor(it["landmarks"], dtype=torch.float32) for it in items])
    y = (4.0 * (y / img_size - 0.5)).flatten(1)  # (n, 136), about [-2, 2]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        bb = create_backbone(name, img_size=img_size)
        _, losses = fit_pooled_head(
            bb, x, y, F.smooth_l1_loss, epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr,
            weight_decay=spec.weight_decay,
            schedule=lambda opt, steps: torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=spec.lr, total_steps=steps, pct_start=0.15),
            generator=torch.Generator().manual_seed(spec.seed), progress=progress,
            desc=f"pretrain {name} on synthetic landmarks")
    return {k: v.detach().clone() for k, v in bb.model.state_dict().items()}, losses


def fit_pooled_head(
    backbone: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    schedule: Callable[[torch.optim.Optimizer, int], Any],
    generator: torch.Generator | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: bool = True,
    desc: str = "train",
) -> tuple[nn.Linear, list[float]]:
    """Train ``backbone`` and a new linear head on its mean-pooled tokens end to end, on in-memory
    tensors: ``loss_fn(head(mean_d backbone(x)_d), y)`` with AdamW and a per-step ``schedule(opt,
    total_steps)``. Shuffles with ``generator`` (the global RNG when None); ``augment`` maps a
    batch of images. Returns the head and the mean loss of each epoch.

    Shapes: ``x`` (n, 3, S, S), ``y`` (n, K); tokens (B, D, C) -> pooled (B, C) -> (B, K).
    """
    head = nn.Linear(backbone.num_features, y.shape[1])
    params = list(backbone.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = schedule(opt, epochs * ((len(x) + batch_size - 1) // batch_size))
    backbone.train()
    losses: list[float] = []
    bar = progress_bar(desc=desc, enabled=progress, iterable=range(epochs))
    for epoch in bar:
        perm = torch.randperm(len(x), generator=generator)
        tot = 0.0
        for i in range(0, len(x), batch_size):
            idx = perm[i:i + batch_size]
            xb = x[idx] if augment is None else augment(x[idx])
            loss = loss_fn(head(backbone(xb).mean(1)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        losses.append(tot / len(x))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        line(f"{desc}: epoch {epoch + 1}/{epochs}, loss {losses[-1]:.4f}", progress)
    return head, losses


def synthetic_weights(name: str, img_size: int, spec: PretrainSpec = PretrainSpec(),
                      root: str | os.PathLike | None = None, progress: bool = True,
                      shipped: bool = True) -> Path:
    """Path of the landmark-pretrained weights of backbone ``name`` at ``img_size``: the shipped
    file when the package has one for this recipe (:func:`shipped_weights`, unless ``shipped`` is
    False), else the cached one, trained on first use (``resnet_tiny`` at 112 px: minutes,
    :data:`PRETRAIN_PRESETS`).

    The cached file lives in ``<root or cache_dir()>/backbones/`` and is named after the backbone,
    the size and a hash of the recipe, the generator and this module's version; it is written
    atomically, so concurrent first uses at worst train twice. Its JSON sidecar records the epoch
    losses, the machine, the versions and the training time.
    """

    found = shipped_weights(name, img_size, spec) if shipped else None
    if found is not None:
        return found
    folder = Path(root) if root is not None else cache_dir() / "backbones"
    path = folder / f"{_stem(name, img_size, spec)}.pt"
    if path.is_file():
        return path
    t0 = time.perf_counter()
    sd, losses = pretrain_landmarks(name, img_size, spec, progress=progress)
    atomic_torch_save(sd, path)
    atomic_save_json(path.with_suffix(".json"), {
        "name": name, "img_size": int(img_size), "spec": asdict(spec), "version": PRETRAIN_VERSION,
        "epoch_losses": losses, "seconds": round(time.perf_counter() - t0, 1), "threads": torch.get_num_threads(),
        "machine": machine_description(), "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})
    return path


def export_weights(name: str = DEFAULT_BACKBONE, img_size: int = DEFAULT_IMG_SIZE,
                   pretraining: str = DEFAULT_PRETRAINING, source: str | os.PathLike | None = None,
                   folder: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Write the pretrained weights of ``(name, img_size, pretraining)`` into ``folder``
    (:data:`SHIPPED_DIR`) as float32 safetensors (bit-identical to ``source``) with a JSON sidecar:
    sha256, size, the :func:`weights_key`, the recipe, the pretraining and generator versions, the
    epoch losses, where and when they were trained, the versions of the export, and the command.

    ``source``: a ``.pt`` state dict from :func:`synthetic_weights` (default: the local cache's,
    trained first when missing; its JSON sidecar, when present, gives the losses and the machine).
    Returns the safetensors path. ``python -m afg.pretrain export`` runs this.
    """
    import timm  # local: timm (~1 s to import) only when a backbone is pretrained


    spec = PRETRAIN_PRESETS[pretraining]
    src = Path(source) if source is not None else synthetic_weights(name, img_size, spec, progress=progress,
                                                                    shipped=False)
    sd = torch.load(src, map_location="cpu", weights_only=True)
    sidecar = src.with_suffix(".json")
    trained = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
    if trained and (trained.get("spec") != asdict(spec) or trained.get("version") != PRETRAIN_VERSION
                    or trained.get("name") != name or int(trained.get("img_size", -1)) != int(img_size)):
        raise ValueError(f"{src}: its sidecar describes another pretraining than {pretraining!r} of {name} "
                         f"at {img_size} px")
    key = weights_key(name, img_size, spec)
    folder = Path(folder) if folder is not None else SHIPPED_DIR
    out = folder / f"{_stem(name, img_size, spec)}.safetensors"
    tensors = {k: v.detach().contiguous() for k, v in sd.items()}  # float32 as trained, no cast
    atomic_write_bytes(out, safetensors.torch.save(tensors, metadata={"format": "pt", "weights_key": key}))
    loaded = safetensors.torch.load_file(out)
    if loaded.keys() != tensors.keys() or not all(torch.equal(loaded[k], v) for k, v in tensors.items()):
        raise RuntimeError(f"{out}: does not read back bit-identical to {src}")
    cmd = "python -m afg.pretrain export"
    if (name, int(img_size), pretraining) != (DEFAULT_BACKBONE, DEFAULT_IMG_SIZE, DEFAULT_PRETRAINING):
        cmd += f" --backbone {name} --img-size {int(img_size)} --pretraining {pretraining}"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    atomic_save_json(out.with_suffix(".json"), {
        "file": out.name, "sha256": file_sha256(out), "bytes": out.stat().st_size, "dtype": "float32",
        "parameters": int(sum(v.numel() for v in tensors.values() if v.is_floating_point())),
        "backbone": name, "img_size": int(img_size), "pretraining": pretraining, "spec": asdict(spec),
        "weights_key": key, "pretrain_version": PRETRAIN_VERSION,
        "generator_version": getattr(synth, "GENERATOR_VERSION", None),
        "epoch_losses": trained.get("epoch_losses"),
        "trained": {k: trained.get(k) for k in ("date", "machine", "threads", "seconds")}
        if "machine" in trained else
        {"date": dt.datetime.fromtimestamp(src.stat().st_mtime, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
         "machine": f"{machine_description()} (the exporting machine, whose cache held the weights)",
         "threads": None, "seconds": None},
        "exported": {"date": now, "machine": machine_description(), "torch": torch.__version__,
                     "timm": timm.__version__, "safetensors": safetensors.__version__, "source": src.name},
        "command": cmd,
    })
    return out


def _main(argv: list[str] | None = None) -> int:
    """``python -m afg.pretrain export [--backbone B --img-size S --pretraining P] [--from FILE]``."""
    p = argparse.ArgumentParser(prog="python -m afg.pretrain", description=__doc__.split("\n", 1)[0])
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write the pretrained backbone into afg/weights/ (trains it when not cached)")
    e.add_argument("--backbone", default=DEFAULT_BACKBONE)
    e.add_argument("--img-size", type=int, default=DEFAULT_IMG_SIZE)
    e.add_argument("--pretraining", default=DEFAULT_PRETRAINING, choices=sorted(PRETRAIN_PRESETS))
    e.add_argument("--from", dest="source", metavar="FILE.pt", default=None,
                   help="a cached state dict (default: the local cache's, trained first when missing)")
    e.add_argument("--out", default=None, metavar="DIR", help=f"output folder (default: {SHIPPED_DIR})")
    args = p.parse_args(argv)
    out = export_weights(args.backbone, args.img_size, args.pretraining, args.source, args.out)
    meta = json.loads(out.with_suffix(".json").read_text())
    print(f"written: {out} ({meta['bytes'] / 1e6:.2f} MB, {meta['parameters']:,} parameters, float32)")
    print(f"sha256: {meta['sha256']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
