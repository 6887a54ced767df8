#!/usr/bin/env bash
# One-time set-up for a fresh clone: installs the native libraries the build links
# against (libtorch for `train`, libonnxruntime for `infer --backend ort`) from pinned
# PyPI wheels into .venv/, and exposes them at fixed paths that .cargo/config.toml and
# the build scripts refer to. Idempotent: a second run only checks and returns.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

TORCH_VERSION=2.11.0
CUDA_RUNTIME_VERSION=13.0.96
CUPTI_VERSION=13.0.85
ORT_VERSION=1.31.1
stamp=".venv/.setup-${TORCH_VERSION}-${ORT_VERSION}-${CUDA_RUNTIME_VERSION}"

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found; install Rust (rustup) first" >&2
    exit 1
fi

if [[ -f "$stamp" && -e .venv/libtorch/lib/libtorch_cpu.so && -e .venv/onnxruntime/libonnxruntime.so ]]; then
    echo "setup: already done (.venv holds libtorch ${TORCH_VERSION} and onnxruntime ${ORT_VERSION})"
    exit 0
fi

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
    echo "setup: $python not found; it is needed once to fetch the pinned wheels" >&2
    exit 1
fi

if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi

# --no-deps: only the shared libraries inside the wheels are used (no Python import of
# torch), which keeps the download to ~1.4 GB instead of the 4.8 GB CUDA stack.
# libtorch_cpu.so needs libcudart/libcupti at load time even on CPU; those two small
# wheels satisfy it.
.venv/bin/python -m pip install --quiet --no-deps --disable-pip-version-check \
    "torch==${TORCH_VERSION}" \
    "nvidia-cuda-runtime==${CUDA_RUNTIME_VERSION}" \
    "nvidia-cuda-cupti==${CUPTI_VERSION}" \
    "onnxruntime==${ORT_VERSION}"

site="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
ln -sfn "$site/torch" .venv/libtorch
mkdir -p .venv/onnxruntime
ort_lib="$(ls "$site"/onnxruntime/capi/libonnxruntime.so.* | head -n 1)"
ln -sfn "$ort_lib" .venv/onnxruntime/libonnxruntime.so

touch "$stamp"
echo "setup: done (libtorch ${TORCH_VERSION} in .venv/libtorch, onnxruntime ${ORT_VERSION} in .venv/onnxruntime)"
