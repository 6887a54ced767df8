#!/usr/bin/env bash
# One-time set-up for a fresh clone: installs the native libraries the build links
# against from pinned PyPI wheels into .venv/, and exposes them at fixed paths that
# .cargo/config.toml and the build scripts refer to. Idempotent: a second run only
# checks and returns.
#
#   scripts/setup.sh score   ONNX Runtime only (24 MB download): all `infer` needs to
#                            score with the fast backend; tract needs nothing at all
#   scripts/setup.sh         everything the tests need: also libtorch for `train`
#                            (570 MB download, 1.3 GB on disk), Snakemake for
#                            workflow/ (workflow/requirements.txt, 136 MB on disk) and
#                            what the web page's build and browser test need
#                            (scripts/setup-web.sh)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

TORCH_VERSION=2.11.0
CUDA_RUNTIME_VERSION=13.0.96
CUPTI_VERSION=13.0.85
ORT_VERSION=1.31.1

component="${1:-all}"
case "$component" in
    score) want_torch=0 ;;
    all) want_torch=1 ;;
    -h | --help)
        sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "setup: unknown component '$component' (expected 'score', or nothing for everything)" >&2
        exit 2
        ;;
esac
# The test set-up also builds and tests the scoring page (web/): the wasm target,
# wasm-bindgen, Chromium and node modules. Scoring from the command line needs none.
if [[ $want_torch == 1 ]]; then
    "$root/scripts/setup-web.sh"
fi
ort_stamp=".venv/.setup-onnxruntime-${ORT_VERSION}"
torch_stamp=".venv/.setup-libtorch-${TORCH_VERSION}-${CUDA_RUNTIME_VERSION}"
snakemake_stamp=".venv/.setup-snakemake-$(sha256sum workflow/requirements.txt | cut -c1-16)"

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found; install Rust (rustup) first" >&2
    exit 1
fi

# The stamp of earlier versions of this script, which always installed both.
both_stamp=".venv/.setup-${TORCH_VERSION}-${ORT_VERSION}-${CUDA_RUNTIME_VERSION}"
have_ort=0
have_torch=0
[[ (-f "$ort_stamp" || -f "$both_stamp") && -e .venv/onnxruntime/libonnxruntime.so ]] && have_ort=1
[[ (-f "$torch_stamp" || -f "$both_stamp") && -e .venv/libtorch/lib/libtorch_cpu.so ]] && have_torch=1
have_snakemake=0
[[ -f "$snakemake_stamp" && -x .venv/bin/snakemake ]] && have_snakemake=1
if [[ $have_ort == 1 && ($want_torch == 0 || ($have_torch == 1 && $have_snakemake == 1)) ]]; then
    echo "setup: already done (.venv holds onnxruntime ${ORT_VERSION}$([[ $have_torch == 1 ]] && echo " and libtorch ${TORCH_VERSION}"))"
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

# --no-deps: only the shared libraries inside the wheels are used (no Python import).
wheels=()
[[ $have_ort == 1 ]] || wheels+=("onnxruntime==${ORT_VERSION}")
if [[ $want_torch == 1 && $have_torch == 0 ]]; then
    # libtorch_cpu.so needs libcudart/libcupti at load time even on CPU; those two small
    # wheels satisfy it, which keeps the download to 570 MB instead of the CUDA stack.
    wheels+=("torch==${TORCH_VERSION}" "nvidia-cuda-runtime==${CUDA_RUNTIME_VERSION}" "nvidia-cuda-cupti==${CUPTI_VERSION}")
fi
if ((${#wheels[@]})); then
    .venv/bin/python -m pip install --quiet --no-deps --disable-pip-version-check "${wheels[@]}"
fi
if [[ $want_torch == 1 && $have_snakemake == 0 ]]; then
    # The workflow test runs Snakemake; every package it needs is pinned in the file.
    .venv/bin/python -m pip install --quiet --no-deps --disable-pip-version-check -r workflow/requirements.txt
    touch "$snakemake_stamp"
fi

site="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p .venv/onnxruntime
ort_lib="$(ls "$site"/onnxruntime/capi/libonnxruntime.so.* | head -n 1)"
ln -sfn "$ort_lib" .venv/onnxruntime/libonnxruntime.so
touch "$ort_stamp"
if [[ $want_torch == 1 ]]; then
    ln -sfn "$site/torch" .venv/libtorch
    touch "$torch_stamp"
    echo "setup: done (onnxruntime ${ORT_VERSION} in .venv/onnxruntime, libtorch ${TORCH_VERSION} in .venv/libtorch, snakemake in .venv/bin)"
else
    echo "setup: done (onnxruntime ${ORT_VERSION} in .venv/onnxruntime; run scripts/setup.sh without arguments for libtorch, which train and the tests need)"
fi
