"""Aligned faces per second: batched MTCNN vs one image at a time.

    python benchmarks/align_speed.py [--n 32] [--batch-size 16] [--device cpu] [--threads 0]

Frames are 512 × 512 real photographs (scikit-image's astronaut, matplotlib's Grace Hopper),
mirrored and shifted to vary them. Each mode is run once untimed (warm-up) and then timed.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib
import numpy as np
import skimage.data
import torch
from PIL import Image

from afg.data.faces import FaceAligner


def frames(n: int) -> list[np.ndarray]:
    hopper = np.asarray(Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
                        .convert("RGB").resize((512, 512)))
    base = [skimage.data.astronaut(), hopper]
    out = []
    for i in range(n):
        im = base[i % 2]
        if (i // 2) % 2:
            im = im[:, ::-1]
        out.append(np.ascontiguousarray(np.roll(im, 4 * (i // 4), axis=1)))
    return out


def rate(aligner: FaceAligner, imgs: list[np.ndarray], single: bool) -> tuple[float, int]:
    def run():
        if single:
            return [aligner.align([im])[0] for im in imgs]
        return aligner.align(imgs)

    aligner.align(imgs[: aligner.batch_size])  # warm-up: model load, allocator
    t0 = time.perf_counter()
    res = run()
    dt = time.perf_counter() - t0
    return len(imgs) / dt, sum(r["status"] == "ok" for r in res)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    imgs = frames(a.n)
    batched = FaceAligner(size=a.size, batch_size=a.batch_size, device=a.device)
    one = FaceAligner(size=a.size, batch_size=1, device=a.device)
    fps_b, ok_b = rate(batched, imgs, single=False)
    fps_1, ok_1 = rate(one, imgs, single=True)
    print(f"device={a.device} threads={torch.get_num_threads()} frames={a.n} 512x512 -> {a.size}px")
    print(f"batched (batch {a.batch_size}): {fps_b:7.2f} aligned faces/s  ({ok_b}/{a.n} faces)")
    print(f"one at a time      : {fps_1:7.2f} aligned faces/s  ({ok_1}/{a.n} faces)")
    print(f"speed-up           : {fps_b / fps_1:5.2f}x")


if __name__ == "__main__":
    main()
