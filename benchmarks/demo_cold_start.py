"""`afg demo` from a cold start: empty run cache and empty ``AFG_CACHE_DIR``, as on a fresh clone.

Run: ``python benchmarks/demo_cold_start.py [--quick]``.

Starts ``python -m afg demo`` in a subprocess with ``AFG_RUNS_DIR``, ``AFG_CACHE_DIR`` and
``AFG_FIGURES_DIR`` pointing at new empty folders, and measures its wall time and the CPU time
(user + sys) of the process and its children; the load average before and after says how much
the machine was shared meanwhile (wall time grows with it, CPU time much less). Says whether the
backbone was pretrained (a file in the empty cache's ``backbones/``) or came with the package
(``afg/weights/``). Writes ``docs/results/demo_cold_start.json`` (or ``demo_cold_start_quick``)
through :func:`afg.measured.write_results`.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="afg demo --quick (about a minute)")
    args = ap.parse_args()

    from afg.demo import demo_configs
    from afg.experiments import run_precision
    from afg.measured import write_results
    from afg.pretrain import DEFAULT_PRETRAINING, PRETRAIN_PRESETS, shipped_weights

    shipped = shipped_weights("resnet_tiny", 112, PRETRAIN_PRESETS[DEFAULT_PRETRAINING])
    with tempfile.TemporaryDirectory(prefix="afg_cold_") as tmp:
        dirs = {k: Path(tmp) / k.lower() for k in ("AFG_RUNS_DIR", "AFG_CACHE_DIR", "AFG_FIGURES_DIR")}
        for d in dirs.values():
            d.mkdir()
        env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1"}
        cmd = [sys.executable, "-m", "afg", "demo", *(["--quick"] if args.quick else [])]
        load_before = os.getloadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_after = os.getloadavg()
        if proc.returncode != 0:
            sys.exit(f"afg demo failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        pretrained_here = sorted(p.name for p in (dirs["AFG_CACHE_DIR"] / "backbones").glob("*.pt"))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    data = {
        "demo": "afg demo --quick" if args.quick else "afg demo",
        "wall_s": round(wall, 1),
        "wall_min": round(wall / 60, 2),
        "cpu_user_sys_s": round(cpu, 1),
        "cores": os.cpu_count(),
        "load_average_1min_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "backbone_init": "pretrained here: " + ", ".join(pretrained_here) if pretrained_here
        else f"shipped: afg/weights/{shipped.name}" if shipped is not None else "none (from scratch)",
        "shipped_sha256": json.loads(shipped.with_suffix(".json").read_text())["sha256"] if shipped else None,
    }
    precision = " / ".join(dict.fromkeys(run_precision(c) for c in demo_configs(quick=args.quick).values()))
    path = write_results("demo_cold_start" + ("_quick" if args.quick else ""), data, precision=precision,
                         command="python benchmarks/demo_cold_start.py" + (" --quick" if args.quick else ""))
    for k, v in data.items():
        print(f"{k}: {v}")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
