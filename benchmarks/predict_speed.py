"""Faces per second of the whole ``afg predict`` path, batched vs one image at a time.

    python benchmarks/predict_speed.py [--n 16] [--batch-size 16] [--backbone resnet18]
                                       [--stage 1] [--device cpu] [--threads 0]

The path: JPEG decode -> MTCNN detection -> 5-point alignment (256 px) -> centre 224 px crop ->
OpenGraphAU (41 AUs) on the crop, exactly as :class:`afg.Predictor` runs it for an OpenGraphAU
checkpoint. The model is randomly initialised (speed does not depend on the weights) and saved in
the authors' layout first, so the checkpoint loader is exercised too. Frames are 512 x 512 real
photographs (scikit-image's astronaut, matplotlib's Grace Hopper), mirrored and shifted, written as
JPEG files. Each mode runs once untimed on a few files (warm-up), then timed:

* batched: one ``Predictor(batch_size=B).predict(files)`` call (MTCNN and the model see B frames
  per call);
* one at a time: ``Predictor(batch_size=1).predict(file)`` per file, as OpenGraphAU's demo script.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import matplotlib
import numpy as np
import skimage.data
import torch
from PIL import Image

from afg import Predictor
from afg.compat.opengraphau import model_options, ours_to_official
from afg.models import create_model


def write_frames(folder: Path, n: int) -> list[str]:
    hopper = np.asarray(Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
                        .convert("RGB").resize((512, 512)))
    base = [skimage.data.astronaut(), hopper]
    paths = []
    for i in range(n):
        im = base[i % 2][:, ::-1] if (i // 2) % 2 else base[i % 2]
        im = np.ascontiguousarray(np.roll(im, 4 * (i // 4), axis=1))
        paths.append(str(folder / f"frame{i:04d}.jpg"))
        Image.fromarray(im).save(paths[-1], quality=90)
    return paths


def checkpoint(folder: Path, backbone: str, stage: int) -> Path:
    torch.manual_seed(0)
    name = "me_graphau" if stage == 2 else "me_graphau_stage1"
    model = create_model(name, 27, backbone=backbone, img_size=224, **model_options(stage))
    path = folder / f"OpenGraphAU-{backbone}-stage{stage}.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in ours_to_official(model.state_dict()).items()}},
               path)
    return path


def timed(fn) -> tuple[float, float, int]:
    """``(wall seconds, CPU seconds of this process, faces)``: on a shared machine the CPU time
    is the steadier measure of the work done."""
    t0, c0 = time.perf_counter(), time.process_time()
    faces = fn()
    return time.perf_counter() - t0, time.process_time() - c0, faces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=16, help="frames (JPEG files) per mode")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--backbone", default="resnet18", help="resnet18 | resnet50 | swin_tiny_patch4_window7_224 …")
    ap.add_argument("--stage", type=int, default=1, choices=(1, 2))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_frames(folder, a.n)
        ck = checkpoint(folder, a.backbone, a.stage)
        rows = []
        for mode, bs in (("batched", a.batch_size), ("one at a time", 1)):
            p = Predictor(ck, device=a.device, batch_size=bs)
            p.predict(files[:2])  # warm-up: MTCNN weights, allocator

            def run(p=p, bs=bs) -> int:
                if bs == 1:
                    return sum(int((p.predict(f)["status"] == "ok").sum()) for f in files)
                return int((p.predict(files)["status"] == "ok").sum())

            dt, cpu, faces = timed(run)
            rows.append((mode, bs, faces, dt, cpu))
    print(f"afg predict path (decode -> MTCNN -> align 256 -> crop 224 -> OpenGraphAU {a.backbone} "
          f"stage {a.stage}, 41 AUs); device={a.device} threads={torch.get_num_threads()} "
          f"frames={a.n} (512x512 JPEG)")
    print(f"{'mode':<15}{'batch':>6}{'faces':>7}{'wall s':>9}{'faces/s':>9}{'ms/face':>9}"
          f"{'CPU s':>8}{'CPU ms/face':>12}")
    for mode, bs, faces, dt, cpu in rows:
        n = max(faces, 1)
        print(f"{mode:<15}{bs:>6}{faces:>7}{dt:>9.2f}{faces / dt:>9.2f}{1000 * dt / n:>9.1f}"
              f"{cpu:>8.2f}{1000 * cpu / n:>12.1f}")
    (_, _, fb, tb, cb), (_, _, f1, t1, c1) = rows
    print(f"speed-up of batching: {(fb / tb) / (f1 / t1):.2f}x wall, {(fb / cb) / (f1 / c1):.2f}x CPU time")


if __name__ == "__main__":
    main()
