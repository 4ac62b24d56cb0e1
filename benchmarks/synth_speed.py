"""Synthetic-face throughput: samples per second (render + labels + tensor) on one CPU core.

Run: ``python benchmarks/synth_speed.py [--size 112] [--n 1000]``. A benchmark, not a test; the
target of issue 3 is >= 300 samples/s at 112x112. Prints wall-clock and CPU-time rates (the latter
is robust to other processes sharing the machine).
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from afg.data.synth import SynthFaces, sample_au_labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, nargs="+", default=[64, 112, 224])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--profile", default="disfa")
    ap.add_argument("--occlusion-rate", type=float, default=0.3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    t = time.perf_counter()
    sample_au_labels(args.profile, 50_000, seed=0)
    print(f"sample_au_labels({args.profile!r}, 50000): {time.perf_counter() - t:.3f} s (incl. model fit)")
    for size in args.size:
        ds = SynthFaces(args.profile, n_subjects=50, images_per_subject=max(1, args.n // 50), size=size,
                        occlusion_rate=args.occlusion_rate, seed=0)
        for i in range(50):  # warm the per-subject caches
            ds[i * ds.images_per_subject]
        n = len(ds)
        t, c = time.perf_counter(), time.process_time()
        for i in range(n):
            ds[i]
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        flag = "ok" if size != 112 or n / cpu >= 300 else "BELOW TARGET"
        print(f"size {size:3d}: {n / wall:7.1f} samples/s wall, {n / cpu:7.1f} samples/s per CPU-second "
              f"({n} samples, tensor items) {flag if size == 112 else ''}")


if __name__ == "__main__":
    main()
