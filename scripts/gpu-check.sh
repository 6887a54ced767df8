#!/usr/bin/env bash
# One prepared run for a GPU machine: trains each DREAM model for a fixed number of
# steps at batch 1024 and prints training sequences per second.
#
# The `train` binary is built on a CPU machine (it loads libtorch_cuda.so at run time
# when CUDA is asked for); on the GPU machine point it at that machine's libtorch:
#   TORCH_LIB=/opt/torch/.venv/lib/python3.12/site-packages/torch/lib scripts/gpu-check.sh [train-binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/train}
if [[ -z "${TORCH_LIB:-}" ]]; then
    TORCH_LIB=$(ls -d /opt/torch/.venv/lib/python3*/site-packages/torch/lib 2>/dev/null | head -n 1 || true)
fi
if [[ -n "${TORCH_LIB:-}" ]]; then
    export LD_LIBRARY_PATH="$TORCH_LIB:${LD_LIBRARY_PATH:-}"
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$bin" bench --device cuda --batch-size "${BATCH:-1024}" --warmup "${WARMUP:-3}" --steps "${STEPS:-20}"
