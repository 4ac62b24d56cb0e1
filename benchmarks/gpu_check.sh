#!/usr/bin/env bash
# GPU check, for a machine with CUDA: (1) the CUDA tests (tests/test_cuda.py: every paper trains
# through fit in float32 / bf16 / fp16 autocast, GPU and CPU outputs agree, DDP on CUDA tensors,
# torch.compile), (2) one training step's images/s per paper model at the papers' size (ResNet-50,
# 224 px, batch 32) in float32 and in bf16 + channels-last, with their ratio, and one epoch over
# prepared JPEG faces (data-wait share), (3) the data-wait share of ResNet-50 bf16 training at batch
# 128 per data path (benchmarks/loader_speed.py: JPEG workers, packed array, packed + device
# augmentation, JPEG + nvJPEG decoding on the GPU; goal: under 10 %), (4) the whole unit suite with
# CUDA as the "auto" device.
#
#   bash benchmarks/gpu_check.sh [OUTDIR]        # logs in OUTDIR (default /tmp/afg-gpu-check)
#
# BATCH sets the benchmark's batch (32), EPOCH_IMAGES its JPEG epoch (2048 faces), LOADER_BATCH and
# LOADER_IMAGES the data-path comparison (128, 4096). Each part has
# a time limit (seconds: CUDA_TESTS_S, BENCH_S, LOADER_S, SUITE_S); the script goes on after a failing part
# and exits non-zero if any part failed. PYTHON picks the interpreter (python3).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/afg-gpu-check}
mkdir -p "$out"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 MPLBACKEND=Agg
export AFG_RUNS_DIR=${AFG_RUNS_DIR:-$(mktemp -d)} AFG_FIGURES_DIR=${AFG_FIGURES_DIR:-$(mktemp -d)}
workers=${WORKERS:-8}
status=0

part() {  # part NAME SECONDS COMMAND...
    local name=$1 secs=$2
    shift 2
    echo "== $name (limit ${secs} s)"
    local t0=$SECONDS
    timeout "$secs" "$@" 2>&1 | tee "$out/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc after $((SECONDS - t0)) s"
    [ "$rc" = 0 ] || status=1
}

$PY - <<'EOF' 2>&1 | tee "$out/env.log"
import platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda)
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("gpu", p.name, f"{p.total_memory / 2**30:.0f} GiB", "sm", f"{p.major}.{p.minor}",
          "bf16", torch.cuda.is_bf16_supported())
else:
    print("no CUDA: the CUDA tests will skip")
EOF

part cuda_tests "${CUDA_TESTS_S:-240}" $PY -m pytest -q -p no:cacheprovider -n 4 -m cuda tests/test_cuda.py \
    --durations=8
batch=${BATCH:-32}
part bench_fp32 "${BENCH_S:-120}" $PY benchmarks/train_step.py --batch "$batch" --epoch-images 0
part bench_bf16 "${BENCH_S:-120}" $PY benchmarks/train_step.py --batch "$batch" --amp bf16 --channels-last \
    --epoch-images "${EPOCH_IMAGES:-2048}" --workers "$workers" --cache
$PY - "$out" <<'EOF' | tee "$out/ratio.log"
import re, sys
from pathlib import Path

def rates(name):
    text = Path(sys.argv[1], name).read_text() if Path(sys.argv[1], name).exists() else ""
    return {m[0]: float(m[1]) for m in re.findall(r"'model': '(\w+)'.*?'images_per_s': ([\d.]+)", text)}

a, b = rates("bench_fp32.log"), rates("bench_bf16.log")
for m in a:
    if m in b:
        print(f"{m:20s} fp32 {a[m]:8.1f} img/s   bf16+channels-last {b[m]:8.1f} img/s   {b[m] / a[m]:.2f}x")
EOF
part loader_paths "${LOADER_S:-300}" $PY benchmarks/loader_speed.py --device cuda --model resnet50 \
    --amp bf16 --channels-last --batch "${LOADER_BATCH:-128}" --images "${LOADER_IMAGES:-4096}" \
    --workers "$workers" --epochs 2
part suite "${SUITE_S:-300}" $PY -m pytest -q -p no:cacheprovider -n "$workers" --dist loadgroup \
    -m "not notebook and not cuda" tests --durations=10
exit $status
