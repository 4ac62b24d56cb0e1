"""Training throughput: images/s of one step (forward, backward, optimiser) per paper model, and
the share of an epoch spent waiting for data when reading prepared face images from disk.

    python benchmarks/train_step.py                       # ResNet-50, 224 px, batch 8, auto device
    python benchmarks/train_step.py --backbone resnet18 --size 112 --steps 2   # quick CPU check
    python benchmarks/train_step.py --models baseline --epoch-images 256 --workers 4 --cache
    python benchmarks/train_step.py --models me_graphau_stage1 mafg_ccfg --backbone resnet_tiny \
        --size 112 --batch 16 --steps 15 --warmup 3 --epoch-images 0 \
        --arms eager channels_last compile compile_cl       # the synthetic default's step, 4 ways
    python benchmarks/train_step.py --vs-authors          # ME-GraphAU stage 2: ours vs the authors' step
    python benchmarks/train_step.py --vs-authors --threads 1 --step-arms authors ours ours_contiguous ours_fused

Part 1 builds each model with ``create_model(name, num_classes, backbone, img_size)``, its
criterion with training statistics of synthetic labels, and times ``steps`` AdamW steps after
``warmup`` steps (CUDA: synchronised; ``--amp bf16`` to use autocast). Part 2 renders
``--epoch-images`` synthetic faces to JPEG files (as ``afg prepare`` leaves them), then trains
two epochs with :func:`afg.train.fit` over a dataset that decodes them (random 224 crop of the
256 px face; ``--cache`` keeps decoded images in memory, ``--workers`` persistent DataLoader
workers, pinned memory on CUDA) and prints, for the second epoch, ``data_wait_share`` — the
fraction of the epoch the loop spent waiting for the next batch.

``--vs-authors`` times instead the whole ME-GraphAU stage-2 train step (backbone, global
LinearBlock, head, L_WA + λ·L_E, backward, AdamW) of ours against the authors' structure side by
side in one process, with the same weights: their model is our backbone and global block (the
same modules, deep-copied) with the authors'-structure head of ``benchmarks/mefl_head.py``
(``StraightforwardHead``: a Python loop over the N per-AU LinearBlocks, the ``(B, N², D, C)``
repeats, one-hot incidence matrices), in their memory format (contiguous NCHW); ours is
``create_model("me_graphau")`` in the synthetic default's memory format (channels-last) and, as
a second arm, contiguous. Both run in the same precision (``--amp``; ``auto`` = bf16 where the
CPU computes it natively, else float32 — the synthetic default) with the same criterion and
optimiser (``--step-arms ours_fused`` adds ours with torch's fused AdamW kernel, the
``recipe.optimizer.fused`` switch). Steps are interleaved (authors, ours, ours-contiguous, authors, …) so that a busy,
shared CPU slows every arm alike; the median over ``--reps`` is reported with the ratio
authors / ours, and the results file ``train_step`` (:func:`afg.measured.write_results`) is written.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

#: (model name, num_classes, options, profile of the synthetic labels)
MODELS = [
    ("baseline", 12, {}, "bp4d"),
    ("me_graphau_stage1", 12, {}, "bp4d"),
    ("me_graphau", 12, {}, "bp4d"),
    ("mafg_ccfg", 8, {}, "disfa"),
    ("au_gcn", 12, {"dataset": "bp4d"}, "bp4d"),
    ("emotion_gcn", 7, {}, "disfa"),
    ("svml_rgcn", 6, {}, "disfa"),
]


#: ``--arms``: (channels_last, torch.compile) per arm
ARMS = {"eager": (False, False), "channels_last": (True, False), "compile": (False, True),
        "compile_cl": (True, True)}


def _batch(task: str, n_cls: int, bs: int, size: int, device: torch.device) -> dict:
    g = torch.Generator().manual_seed(0)
    b = {"image": torch.randn(bs, 3, size, size, generator=g),
         "landmarks": 0.3 * size + 0.4 * size * torch.rand(bs, 68, 2, generator=g)}
    if task == "au":
        b["au"] = (torch.rand(bs, n_cls, generator=g) < 0.3).float()
        b["au_mask"] = torch.ones(bs, n_cls, dtype=torch.bool)
    elif task == "expression":
        b["expression"] = torch.randint(0, n_cls, (bs,), generator=g)
        b["va"] = torch.rand(bs, 2, generator=g) * 2 - 1
    else:
        b["emotions"] = (torch.rand(bs, n_cls, generator=g) < 0.3).float()
    return {k: v.to(device) for k, v in b.items()}


def time_step(name: str, n_cls: int, options: dict, profile: str, args, device,
              channels_last: bool | None = None, compile_model: bool = False) -> dict:
    from afg.data.stats import training_statistics
    from afg.data.synth import SynthFaces
    from afg.models import create_model
    from afg.train.evaluate import model_inputs

    model = create_model(name, n_cls, backbone=args.backbone, pretrained=False, img_size=args.size, **options)
    task = getattr(model, "task", "au")
    data = SynthFaces(profile=profile, n_subjects=2, images_per_subject=4, size=args.size)
    stats = training_statistics(data)
    if task == "expression":
        stats["expression_counts"] = np.bincount(stats["expressions"], minlength=n_cls)
    try:
        model.prepare(data, stats)
    except Exception as e:  # noqa: BLE001 - a model that cannot prepare on synthetic data still runs
        print(f"  ({name}: prepare skipped: {type(e).__name__}: {e})")
    model.to(device).train()
    channels_last = args.channels_last if channels_last is None else channels_last
    if channels_last:
        model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if compile_model else model  # compiled during the warm-up steps
    crit = model.build_criterion(stats)
    if isinstance(crit, torch.nn.Module):
        crit.to(device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batch = _batch(task, n_cls, args.batch, args.size, device)
    if channels_last:
        batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)
    from afg.train.evaluate import autocast_dtype

    dtype = autocast_dtype(args.amp, device.type) if device.type == "cuda" else None
    use_amp = dtype is not None

    def step():
        images, extra = model_inputs(model, batch)
        with torch.autocast(device.type, dtype=dtype, enabled=use_amp):
            loss = crit(forward(images, **extra), batch)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t0 = time.perf_counter()
    for _ in range(args.warmup):
        step()
    warm_s = time.perf_counter() - t0
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / args.steps
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    return {"model": name, "task": task, "params_M": round(n_params, 1), "step_s": round(dt, 4),
            "images_per_s": round(args.batch / dt, 1), "warmup_s": round(warm_s, 1)}


class JpegFaces(torch.utils.data.Dataset):
    """Prepared faces on disk (JPEG, 256 px) + AU labels; decodes, random-crops, normalises."""

    def __init__(self, folder: Path, labels: np.ndarray, au_names, crop: int, seed: int = 0):
        self.files = sorted(folder.glob("*.jpg"))
        self.y = labels.astype(np.float32)
        self.au_names = list(au_names)
        self.crop = crop

    def __len__(self) -> int:
        return len(self.files)

    def labels(self) -> dict:
        return {"au": self.y.astype(np.float64)}

    def __getitem__(self, i: int) -> dict:
        from PIL import Image

        from afg.data.transforms import to_tensor

        img = np.asarray(Image.open(self.files[i]).convert("RGB"))
        h, w = img.shape[:2]
        y0, x0 = np.random.randint(0, h - self.crop + 1), np.random.randint(0, w - self.crop + 1)
        img = img[y0:y0 + self.crop, x0:x0 + self.crop]
        return {"image": to_tensor(img), "au": torch.from_numpy(self.y[i])}


def data_wait(args, device) -> dict:
    from PIL import Image

    from afg.data.synth import SynthFaces
    from afg.data.wrappers import CachedDataset
    from afg.models import create_model
    from afg.train import Recipe, fit

    prepared = 256 if args.size >= 200 else args.size + args.size // 8
    synth = SynthFaces(profile="bp4d", n_subjects=max(2, args.epoch_images // 32), images_per_subject=32,
                       size=prepared)
    n = min(args.epoch_images, len(synth))
    tmp = Path(tempfile.mkdtemp(prefix="afg-bench-"))
    t0 = time.perf_counter()
    for i in range(n):
        Image.fromarray(synth.render(i)).save(tmp / f"{i:06d}.jpg", quality=95)
    print(f"  rendered {n} prepared faces ({prepared} px JPEG) in {time.perf_counter() - t0:.1f} s")
    ds = JpegFaces(tmp, synth.labels()["au"][:n], synth.au_names, args.size)
    rows = []
    for cache in ([False, True] if args.cache else [False]):
        data = CachedDataset(ds) if cache else ds
        if cache:  # the first epoch fills the cache; time the second one
            for i in range(len(data)):
                data[i]
        model = create_model("baseline", 12, backbone=args.backbone, pretrained=False, img_size=args.size)
        # two epochs with persistent workers; the second one is timed (no worker start-up)
        recipe = Recipe(epochs=2, batch_size=args.batch, num_workers=args.workers, progress=False,
                        device=str(device), amp=args.amp, channels_last=args.channels_last,
                        persistent_workers=args.workers > 0)
        res = fit(model, data, None, recipe)
        h = res.history[-1]
        rows.append({"cache": cache, "workers": args.workers, "images": n, "epoch_s": round(h["time_s"], 1),
                     "images_per_s": round(n / h["time_s"], 1), "data_wait_share": round(h["data_wait_share"], 3)})
    return rows


def _load_bench(name: str):
    """A sibling benchmark module by file (``benchmarks/`` is not a package)."""
    import importlib.util

    path = Path(__file__).resolve().with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_afg_bench_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class AuthorsStage2(torch.nn.Module):
    """The authors' ``MEFARG`` (stage 2) around our backbone and global block: their head structure
    (``StraightforwardHead``) with our weights; outputs as our model's (``au`` probabilities,
    ``edge`` logits) so that one criterion serves both."""

    def __init__(self, ours: torch.nn.Module) -> None:
        import copy

        from afg.compat.me_graphau import ours_head_to_official

        super().__init__()
        c, n = ours.head.afg.out_features, ours.head.afg.num_nodes
        self.backbone = copy.deepcopy(ours.backbone)
        self.global_linear = copy.deepcopy(ours.global_linear)
        self.head = _load_bench("mefl_head").StraightforwardHead(c, n)
        self.head.load_state_dict(ours_head_to_official(ours.head.state_dict()), strict=True)

    def forward(self, images: torch.Tensor) -> dict:
        cl, edge = self.head(self.global_linear(self.backbone(images)))
        return {"au": cl, "edge": edge}


def vs_authors(args, device) -> dict:
    """ME-GraphAU stage-2 train step, ours vs the authors' structure (see the module docstring)."""
    import statistics

    from afg.measured import write_results
    from afg.models import create_model
    from afg.train.evaluate import autocast_dtype, precision_name

    torch.manual_seed(0)
    ours = create_model("me_graphau", 12, backbone=args.backbone, pretrained=False, img_size=args.size).to(device)
    authors = AuthorsStage2(ours).to(device)
    ours_cl = create_model("me_graphau", 12, backbone=args.backbone, pretrained=False, img_size=args.size).to(device)
    ours_cl.load_state_dict(ours.state_dict())
    ours_cl.to(memory_format=torch.channels_last)
    batch = _batch("au", 12, args.batch, args.size, device)
    crit = ours.build_criterion(None).to(device)
    amp_dtype = autocast_dtype(args.amp, device.type)
    arms = {"authors": (authors, False), "ours": (ours_cl, True), "ours_contiguous": (ours, False)}
    fused = dict.fromkeys(arms, False)
    if "ours_fused" in args.step_arms:  # ours (channels-last) with torch's fused AdamW kernel
        ours_fused = create_model("me_graphau", 12, backbone=args.backbone, pretrained=False,
                                  img_size=args.size).to(device)
        ours_fused.load_state_dict(ours.state_dict())
        arms["ours_fused"], fused["ours_fused"] = (ours_fused.to(memory_format=torch.channels_last), True), True
    arms = {k: v for k, v in arms.items() if k in args.step_arms or k in ("authors", "ours")}
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-4, **({"fused": True} if fused[k] else {}))
            for k, (m, _) in arms.items()}
    images = {False: batch["image"], True: batch["image"].contiguous(memory_format=torch.channels_last)}

    def step(key: str) -> float:
        model, cl = arms[key]
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext():
            out = model(images[cl])
        loss = crit({k: v.float() for k, v in out.items()}, batch)["loss"]
        opts[key].zero_grad(set_to_none=True)
        loss.backward()
        opts[key].step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, time.process_time() - c0, loss.item()

    losses = {k: step(k)[2] for k in arms}  # first step from identical weights: equal losses
    for _ in range(max(0, args.warmup - 1)):
        for k in arms:
            step(k)
    times: dict[str, list[float]] = {k: [] for k in arms}
    cpu: dict[str, list[float]] = {k: [] for k in arms}
    for r in range(args.reps):
        for k in arms:
            wall_s, cpu_s, _ = step(k)
            times[k].append(wall_s)
            cpu[k].append(cpu_s)
        print(f"  rep {r + 1}/{args.reps}: " + "  ".join(f"{k} {times[k][-1]:.2f} s ({cpu[k][-1]:.2f} s CPU)"
                                                        for k in arms), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    rel = max(abs(losses[k] - losses["authors"]) / abs(losses["authors"]) for k in arms)
    precision = precision_name(args.amp, device.type)
    res = {"device": str(device), "backbone": args.backbone, "size": args.size, "batch": args.batch,
           "precision": precision, "threads": torch.get_num_threads(), "reps": args.reps,
           "step_s_median": {k: round(v, 4) for k, v in med.items()},
           "step_s_min": {k: round(min(v), 4) for k, v in times.items()},
           "step_s_all": {k: [round(t, 4) for t in v] for k, v in times.items()},
           "cpu_s_median": {k: round(v, 4) for k, v in cmed.items()},
           "cpu_ratio": {k: round(cmed["authors"] / v, 2) for k, v in cmed.items() if k != "authors"},
           "ratio": round(med["authors"] / med["ours"], 2),
           **{f"ratio_{k[len('ours_'):]}": round(med["authors"] / med[k], 2) for k in med if k.startswith("ours_")},
           "first_loss_max_rel_diff": rel, "load_average": [round(x, 2) for x in os.getloadavg()]}
    print(f"\nME-GraphAU stage-2 train step ({args.backbone}, {args.size} px, batch {args.batch}, {precision},"
          f" {res['threads']} threads; median of {args.reps} interleaved steps; load average"
          f" {res['load_average'][0]:.1f})")
    labels = {"ours": "ours (channels-last)", "ours_contiguous": "ours (contiguous)",
              "ours_fused": "ours (channels-last, fused AdamW)"}
    for k in med:
        if k != "authors":
            print(f"  authors {med['authors']:7.2f} s   {labels[k]:34s} {med[k]:7.2f} s"
                  f"   ratio {med['authors'] / med[k]:.2f}x   (CPU time {cmed['authors']:.2f} / {cmed[k]:.2f} s:"
                  f" {cmed['authors'] / cmed[k]:.2f}x)")
    print(f"  first-step loss max relative difference {rel:.1e}")
    if args.results:
        path = write_results("train_step", res, command="python benchmarks/train_step.py " + " ".join(args.argv),
                             precision=precision)
        print(f"  wrote {path}")
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="resnet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 20 on CUDA, 3 on CPU)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--amp", default=None, choices=["none", "auto", "bf16", "fp16"],
                    help="autocast (default: none; auto, the synthetic default, with --vs-authors)")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--models", nargs="*", default=None, help="subset of model names")
    ap.add_argument("--arms", nargs="+", default=None, choices=sorted(ARMS),
                    help="time each model in these arms side by side, with the ratio to the first arm")
    ap.add_argument("--epoch-images", type=int, default=128, help="0 skips the data-wait part")
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--cache", action="store_true", help="also time an epoch with the decoded-image cache")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    ap.add_argument("--vs-authors", action="store_true",
                    help="only the ME-GraphAU stage-2 step, ours vs the authors' structure, side by side")
    ap.add_argument("--reps", type=int, default=7, help="--vs-authors: interleaved timed steps per arm")
    ap.add_argument("--step-arms", nargs="+", default=["authors", "ours", "ours_contiguous"],
                    choices=["authors", "ours", "ours_contiguous", "ours_fused"],
                    help="--vs-authors: arms beside authors and ours (ours_fused: torch's fused AdamW)")
    ap.add_argument("--no-results", dest="results", action="store_false",
                    help="--vs-authors: do not write the results file")
    args = ap.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from afg.utils import resolve_device

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.steps is None:
        args.steps = 20 if device.type == "cuda" else 3
    if args.vs_authors:
        args.amp = args.amp or "auto"
        vs_authors(args, device)
        return
    args.amp = args.amp or "none"
    print(f"device={device} backbone={args.backbone} size={args.size} batch={args.batch} amp={args.amp}")
    rows = []
    for name, n_cls, options, profile in MODELS:
        if args.models and name not in args.models:
            continue
        first = None
        for arm in args.arms or [None]:
            kw = dict(zip(("channels_last", "compile_model"), ARMS[arm])) if arm else {}
            try:
                row = time_step(name, n_cls, options, profile, args, device, **kw)
            except Exception as e:  # noqa: BLE001 - report and go on with the other models
                row = {"model": name, "error": f"{type(e).__name__}: {e}"[:120]}
            if arm:
                first = first or row.get("step_s")
                row = {"arm": arm, **row, "speed": round(first / row["step_s"], 2) if "step_s" in row else None}
            rows.append(row)
            print("  ", rows[-1], flush=True)
    import pandas as pd

    print("\n## one training step (forward + backward + AdamW)\n")
    print(pd.DataFrame(rows).to_string(index=False))
    if args.epoch_images:
        print("\n## one epoch over prepared JPEG faces (baseline model)\n")
        print(pd.DataFrame(data_wait(args, device)).to_string(index=False))


if __name__ == "__main__":
    main()
