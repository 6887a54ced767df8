#!/usr/bin/env bash
# Scoring throughput of `infer score`, tract against ONNX Runtime side by side: scored
# sequences per second (reverse-complement averaged, i.e. two network rows per
# sequence) for each DREAM model x backend on N real sequences (data/dream/demo_train.txt
# repeated), the tract/ORT ratio, the time to first score (process start, model load and
# optimisation and one batch, for a one-sequence input), the largest |tract - ORT|
# difference, and the reduced-precision variants (int8, fp16), made from each model
# with `precision-variant` (or taken from next to the model when a model.int8.onnx /
# model.fp16.onnx sits there): seq/s, file size, max |diff| to the fp32 model.
#
# Compare backends only within one run: the machine's load moves absolute numbers.
# Figures from a quiet 2-core AVX2 machine before this script measured ratios (issue 17):
#   DREAM-RNN tract 8.5 / ORT 29.7, DREAM-CNN 12.1 / 74.6, DREAM-Attn 12.1 / 28.1 seq/s.
# This machine, quiet, 2026-11-30 (tract in small slices, TRACT_SLICE_ROWS):
#   DREAM-RNN tract 47.0 / ORT 66.1 (0.71), DREAM-CNN 121.1 / 142.2 (0.85),
#   DREAM-Attn 48.6 / 52.1 (0.93) seq/s.
#
# Environment knobs (defaults in brackets):
#   PROFILE     cargo profile to build and run [release]; `debug` for a quick smoke test
#   N           number of sequences [1024]
#   THREADS     --threads [unset: infer uses the CPUs the process may run on]
#   BATCH       --batch-size [256]
#   BACKENDS    backends to run ["tract ort"]
#   MODELS      models ["dream-rnn dream-cnn dream-attn"]
#   MODELS_DIR  directory with <model>/model.onnx [the published weights/<model>/VERSION]
#   VERSION     published version [0.1.0]
#   CONTENTION  1: run everything again next to a competing CPU-bound process [0]
#   VARIANTS    reduced-precision variants to measure ["int8 fp16"]; "" for none
#   WORK        scratch directory [a fresh temporary one, removed at exit]
#   NO_BUILD    set to 1 to skip `cargo build`
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

PROFILE=${PROFILE:-release}
N=${N:-1024}
THREADS=${THREADS:-}
BATCH=${BATCH:-256}
BACKENDS=${BACKENDS:-"tract ort"}
MODELS=${MODELS:-"dream-rnn dream-cnn dream-attn"}
VERSION=${VERSION:-0.1.0}
CONTENTION=${CONTENTION:-0}
VARIANTS=${VARIANTS-"int8 fp16"}
data="$root/../shared/data/dream/demo_train.txt"

own_work=0
if [[ -z "${WORK:-}" ]]; then
    WORK="$(mktemp -d)"
    own_work=1
fi
mkdir -p "$WORK"

case "$PROFILE" in
    release) build_flags=(--release); bin_dir="${CARGO_TARGET_DIR:-$root/target}/release" ;;
    debug | dev) build_flags=(); bin_dir="${CARGO_TARGET_DIR:-$root/target}/debug" ;;
    *) build_flags=(--profile "$PROFILE"); bin_dir="${CARGO_TARGET_DIR:-$root/target}/$PROFILE" ;;
esac

if [[ "${NO_BUILD:-0}" != 1 ]]; then
    [[ -e .venv/onnxruntime/libonnxruntime.so ]] || bash scripts/setup.sh score
    cargo build "${build_flags[@]}" -p infer --bin infer --bin precision-variant >&2
fi
infer="$bin_dir/infer"

# The variant file of a model: beside it when published there, else made once in $WORK.
variant_path() { # MODEL_NAME MODEL_PATH VARIANT
    local beside="$(dirname "$2")/model.$3.onnx" made="$WORK/$1.model.$3.onnx"
    if [[ -f "$beside" ]]; then
        echo "$beside"
    else
        [[ -f "$made" ]] || "$bin_dir/precision-variant" "$2" "$3" "$made" 2>/dev/null
        echo "$made"
    fi
}

# The benchmark input: the demo file's sequences, repeated until there are N of them.
fasta() {
    awk -F'\t' -v n="$1" '
        { seq[NR] = $1 }
        END {
            if (NR == 0) { print "bench: empty data file" > "/dev/stderr"; exit 1 }
            for (i = 0; i < n; i++) printf(">s%d\n%s\n", i, seq[i % NR + 1])
        }' "$data"
}
fasta "$N" >"$WORK/bench.fa"
fasta 1 >"$WORK/one.fa"

model_path() {
    if [[ -n "${MODELS_DIR:-}" ]]; then
        echo "$MODELS_DIR/$1/model.onnx"
    else
        echo "$root/weights/$1/$VERSION/model.onnx"
    fi
}

now() { date +%s.%N; }

# score MODEL BACKEND INPUT OUTPUT -> seconds on stdout
score() {
    local threads=()
    [[ -n "$THREADS" ]] && threads=(--threads "$THREADS")
    local start end
    start=$(now)
    "$infer" score --model "$1" --input "$3" --output "$4" --backend "$2" --batch-size "$BATCH" "${threads[@]}" 2>"$4.err" || {
        echo "bench: infer score failed for $1/$2:" >&2
        cat "$4.err" >&2
        exit 1
    }
    end=$(now)
    local lines=$(($(wc -l <"$4") - 1)) want=$(grep -c '^>' "$3")
    if [[ "$lines" != "$want" ]]; then
        echo "bench: $1/$2 scored $lines of $want sequences" >&2
        exit 1
    fi
    awk -v s="$start" -v e="$end" 'BEGIN { printf("%.3f", e - s) }'
}

# max |a - b| over the value columns of two score files
max_diff() {
    paste "$1" "$2" | awk -F'\t' 'NR == 1 { cols = NF / 2; next }
        { for (j = 2; j <= cols; j++) { d = $j - $(j + cols); if (d < 0) d = -d; if (d > max) max = d } }
        END { printf("%.2g", max) }'
}

contender=""
start_contender() {
    # One CPU-bound process, as a user's other work would be.
    (while :; do :; done) &
    contender=$!
}
stop_contender() {
    [[ -n "$contender" ]] && kill "$contender" 2>/dev/null && wait "$contender" 2>/dev/null || true
    contender=""
}
cleanup() {
    stop_contender
    [[ "$own_work" == 1 ]] && rm -rf "$WORK"
    return 0
}
trap cleanup EXIT

echo "# $(nproc) CPUs available, load average $(cut -d' ' -f1-3 /proc/loadavg), N=$N, batch $BATCH, threads ${THREADS:-default}"
printf '%-11s %-10s %-6s %9s %9s %10s %12s\n' model variant backend "seq/s" "first s" "size MB" "max |diff|"
runs=("quiet")
[[ "$CONTENTION" == 1 ]] && runs+=("contended")
summary="$WORK/summary"
: >"$summary"
for run in "${runs[@]}"; do
    [[ "$run" == contended ]] && { start_contender; echo "# with a competing CPU-bound process"; }
    for name in $MODELS; do
        model="$(model_path "$name")"
        for variant in fp32 $VARIANTS; do
            file="$model"
            [[ "$variant" != fp32 ]] && file="$(variant_path "$name" "$model" "$variant")"
            [[ -f "$file" ]] || continue
            size=$(awk -v b="$(stat -c %s "$file")" 'BEGIN { printf("%.1f", b / 1e6) }')
            for backend in $BACKENDS; do
                out="$WORK/$name.$variant.$backend.$run.tsv"
                first=$(score "$file" "$backend" "$WORK/one.fa" "$out.one")
                secs=$(score "$file" "$backend" "$WORK/bench.fa" "$out")
                rate=$(awk -v n="$N" -v t="$secs" 'BEGIN { printf("%.1f", n / t) }')
                # Reduced precision against fp32 on the same backend; fp32 tract against ORT.
                if [[ "$variant" != fp32 ]]; then
                    diff=$(max_diff "$WORK/$name.fp32.$backend.$run.tsv" "$out")
                elif [[ "$backend" != "${BACKENDS%% *}" ]]; then
                    diff="$(max_diff "$WORK/$name.fp32.${BACKENDS%% *}.$run.tsv" "$out") vs ${BACKENDS%% *}"
                else
                    diff="-"
                fi
                printf '%-11s %-10s %-6s %9s %9s %10s %12s\n' "$name" "$variant" "$backend" "$rate" "$first" "$size" "$diff"
                echo "$run $name $variant $backend $rate" >>"$summary"
            done
        done
    done
    stop_contender
done

echo
echo "tract / ORT seq/s (target >= 0.67):"
awk '$4 == "tract" { t[$1 " " $2 " " $3] = $5 } $4 == "ort" { o[$1 " " $2 " " $3] = $5 }
    END { for (k in t) if (k in o && o[k] > 0) printf("  %-32s %5.2f  (tract %s, ORT %s seq/s)\n", k, t[k] / o[k], t[k], o[k]) }' "$summary" | sort
if [[ "$CONTENTION" == 1 ]]; then
    echo "contended / quiet seq/s (fair share with one competing process on 2 CPUs: about 0.5):"
    awk '{ r[$1 " " $2 " " $3 " " $4] = $5 }
        END { for (k in r) { split(k, f, " "); if (f[1] == "contended") { q = "quiet " f[2] " " f[3] " " f[4]; if (r[q] > 0) printf("  %-28s %5.2f\n", f[2] " " f[3] " " f[4], r[k] / r[q]) } } }' "$summary" | sort
fi
