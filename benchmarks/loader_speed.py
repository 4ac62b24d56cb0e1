"""Images per second delivered to the training loop by each data path, side by side in one run.

    python benchmarks/loader_speed.py                          # 512 faces, 256 -> 224 px, this CPU
    python benchmarks/loader_speed.py --images 2048 --workers 8 --device cuda --model resnet50 --amp bf16

Paths (the same faces, the same augmentation: random 224 crop of the 256 px face + horizontal flip):

* ``jpeg``: prepared JPEG faces decoded and augmented per item by DataLoader workers
  (:class:`afg.data.datasets.FaceDataset` + :class:`afg.data.augment.FaceAugment`; today's path);
* ``packed``: the same items read from the packed uint8 array (:mod:`afg.data.packed`) — no
  decoding, the page cache shared by all workers;
* ``packed+device``: packed faces, augmented as one batch on ``--device`` after the transfer
  (:mod:`afg.data.device_augment`, ``data.augment_on: device``);
* ``jpeg+device-decode``: JPEG files read by the workers, decoded (nvJPEG on CUDA) and augmented
  as a batch on ``--device`` (``data.decode_on: device``).

The faces are rendered by the synthetic generator and written as ``afg prepare`` writes them
(JPEG, quality 95, a manifest). Each path runs one warm-up epoch (persistent workers start, page
cache fills) and ``--epochs`` timed epochs; images/s counts a batch as delivered when it is on the
device, augmented (device steps synchronised on CUDA). With ``--model`` every batch also trains
that model (``baseline`` head, AdamW, ``--amp``) and the table adds ``data_wait_share``: the part
of the epoch spent waiting for the next batch (``benchmarks/gpu_check.sh`` runs this on a GPU).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import DataLoader


def make_prepared(folder: Path, n: int, size: int) -> Path:
    """``n`` synthetic faces at ``size`` px as a prepared folder (JPEG q95, manifest.csv, prepare.json)."""
    from afg.data.synth import SynthFaces
    from afg.utils import atomic_save_json

    synth = SynthFaces(profile="bp4d", n_subjects=max(2, n // 32), images_per_subject=32, size=size)
    n = min(n, len(synth))
    au = synth.labels()["au"][:n]
    (folder / "faces").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        aligned = f"faces/{i:06d}.jpg"
        Image.fromarray(synth.render(i)).save(folder / aligned, quality=95)
        row = {"record": i, "source": f"{i:06d}.png", "aligned": aligned, "status": "ok", "reason": "",
               "subject": f"S{i // 32}", "mask": "1" * au.shape[1]}
        row.update({name: float(au[i, j]) for j, name in enumerate(synth.au_names)})
        rows.append(row)
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    atomic_save_json(folder / "prepare.json", {"size": size, "au_names": list(synth.au_names),
                                               "expression_names": [], "emotion_names": [], "has_va": False})
    return folder


def build_paths(prepared: Path, crop: int) -> dict:
    """``{name: (dataset, device step or None)}`` for the four paths."""
    from afg.data.augment import AugmentedSubset, FaceAugment
    from afg.data.datasets.face_dataset import FaceDataset
    from afg.data.device_augment import DeviceAugment, EncodedFaceDataset
    from afg.data.packed import pack_prepared, packed_dataset

    t0 = time.perf_counter()
    pack_prepared(prepared, progress=False)
    print(f"  packed {len(FaceDataset(prepared))} faces in {time.perf_counter() - t0:.1f} s")
    cpu_aug = FaceAugment(crop=crop, hflip=True)
    dev_aug = DeviceAugment(crop=crop, hflip=True)
    jpeg = FaceDataset(prepared)
    packed = packed_dataset(prepared, prepared, True)
    every = list(range(len(jpeg)))
    encoded = EncodedFaceDataset(prepared)
    return {
        "jpeg": (AugmentedSubset(jpeg, every, cpu_aug), None),
        "packed": (AugmentedSubset(packed, every, cpu_aug), None),
        "packed+device": (packed, dev_aug),
        "jpeg+device-decode": (encoded, dev_aug),
    }


def time_path(name: str, data, step, args, device: torch.device, model=None) -> dict:
    from afg.train.evaluate import collate, to_device

    loader = DataLoader(data, batch_size=args.batch, shuffle=True, num_workers=args.workers, collate_fn=collate,
                        pin_memory=device.type == "cuda", persistent_workers=args.workers > 0,
                        prefetch_factor=4 if args.workers > 0 else None, drop_last=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4) if model is not None else None
    use_amp = args.amp != "none" and device.type == "cuda"
    dtype = torch.bfloat16 if args.amp == "bf16" else torch.float16
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rows = []
    for epoch in range(1 + args.epochs):  # epoch 0 warms up
        n, wait = 0, 0.0
        sync()
        t0 = t_data = time.perf_counter()
        for batch in loader:
            batch = to_device(batch, device, args.channels_last)
            if step is not None:
                batch = step(batch, channels_last=args.channels_last)
            sync()  # the batch is ready: the time since the last step was spent waiting for it
            wait += time.perf_counter() - t_data
            n += batch["image"].shape[0]
            if model is not None:
                with torch.autocast(device.type, dtype=dtype, enabled=use_amp):
                    logits = model(batch["image"])["au"]  # (B, 12) AU logits
                    target = torch.nan_to_num(batch["au"], nan=0.0)
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), target)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sync()
            t_data = time.perf_counter()
        dt = time.perf_counter() - t0
        if epoch:
            rows.append((n / dt, wait / dt))
    ips, share = np.mean([r[0] for r in rows]), np.mean([r[1] for r in rows])
    out = {"path": name, "workers": args.workers, "images_per_s": round(float(ips), 1)}
    if model is not None:
        out["data_wait_share"] = round(float(share), 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=512, help="faces in the prepared folder")
    ap.add_argument("--size", type=int, default=256, help="prepared face size (data.resize)")
    ap.add_argument("--crop", type=int, default=224, help="training crop (data.img_size)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs per path (after one warm-up)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default=None, help="also train this backbone on every batch (e.g. resnet50)")
    ap.add_argument("--amp", default="none", choices=["none", "bf16", "fp16"])
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--paths", nargs="*", default=None, help="subset of the paths")
    ap.add_argument("--folder", default=None, help="prepared folder to reuse (default: a temporary one)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from afg.utils import resolve_device

    device = resolve_device(args.device)
    folder = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="afg-loader-"))
    print(f"device={device} images={args.images} size={args.size} crop={args.crop} batch={args.batch} "
          f"workers={args.workers} cpu_cores={os.cpu_count()} torch_threads={torch.get_num_threads()}")
    if not (folder / "manifest.csv").is_file():
        t0 = time.perf_counter()
        make_prepared(folder, args.images, args.size)
        print(f"  rendered {args.images} prepared faces ({args.size} px JPEG) in {time.perf_counter() - t0:.1f} s")
    paths = build_paths(folder, args.crop)
    model = None
    if args.model:
        from afg.models import create_model

        model = create_model("baseline", 12, backbone=args.model, pretrained=False, img_size=args.crop)
        model.to(device).train()
        if args.channels_last:
            model.to(memory_format=torch.channels_last)
    rows = []
    for name, (data, step) in paths.items():
        if args.paths and name not in args.paths:
            continue
        rows.append(time_path(name, data, step, args, device, model))
        print("  ", rows[-1], flush=True)
    table = pd.DataFrame(rows)
    base = table.loc[table["path"] == "jpeg", "images_per_s"]
    if len(base):
        table["vs_jpeg"] = (table["images_per_s"] / float(base.iloc[0])).round(2)
    print("\n## images/s delivered to the training loop\n")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
