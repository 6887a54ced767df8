#!/usr/bin/env bash
# Scoring throughput of `infer score`: scored sequences per second (reverse-complement
# averaged, i.e. two network rows per sequence) for each DREAM model x backend, on
# 10,000 real sequences (data/dream/demo_train.txt repeated), 2 threads, batch 256.
# Also reports the largest |tract - ort| difference per model.
#
# Reference numbers (same task, same thread count): PyTorch / onnxruntime-python / peak
#   DREAM-RNN  44.6 /  42.7 /  67
#   DREAM-CNN  47.5 / 100.5 / 157
#   DREAM-Attn 19.9 /  36.9 /  80
# "vs ref" is our rate over the better of the two reference columns; "of peak" our rate
# over the peak column.
#
# Environment knobs (defaults in brackets):
#   PROFILE     cargo profile to build and run [release]; `debug` for a quick smoke test
#   N           number of sequences [10000]
#   THREADS     --threads [2]            BATCH  --batch-size [256]
#   BACKENDS    backends to run ["tract ort"]
#   MODELS      models ["dream-rnn dream-cnn dream-attn"]
#   MODELS_DIR  directory with <model>/model.onnx already exported; missing ones are
#               exported from ../shared/fixtures/prixfixe/<model>.pth with `train export`
#   WORK        scratch directory [a fresh temporary one, removed at exit]
#   NO_BUILD    set to 1 to skip `cargo build`
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

PROFILE=${PROFILE:-release}
N=${N:-10000}
THREADS=${THREADS:-2}
BATCH=${BATCH:-256}
BACKENDS=${BACKENDS:-"tract ort"}
MODELS=${MODELS:-"dream-rnn dream-cnn dream-attn"}
shared="$root/../shared"
data="$shared/data/dream/demo_train.txt"
fixtures="$shared/fixtures/prixfixe"

if [[ -z "${WORK:-}" ]]; then
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"

case "$PROFILE" in
    release) build_flags=(--release); bin_dir="$root/target/release" ;;
    debug | dev) build_flags=(); bin_dir="$root/target/debug" ;;
    *) build_flags=(--profile "$PROFILE"); bin_dir="$root/target/$PROFILE" ;;
esac

if [[ "${NO_BUILD:-0}" != 1 ]]; then
    [[ -e .venv/onnxruntime/libonnxruntime.so ]] || bash scripts/setup.sh
    cargo build "${build_flags[@]}" -p infer -p train >&2
fi
infer="$bin_dir/infer"
train="$bin_dir/train"

# The benchmark input: the demo file's sequences, repeated until there are N of them.
input="$WORK/bench.fa"
awk -F'\t' -v n="$N" '
    { seq[NR] = $1 }
    END {
        if (NR == 0) { print "bench: empty data file" > "/dev/stderr"; exit 1 }
        for (i = 0; i < n; i++) printf(">s%d\n%s\n", i, seq[i % NR + 1])
    }' "$data" >"$input"

model_path() {
    local name="$1"
    if [[ -n "${MODELS_DIR:-}" && -f "$MODELS_DIR/$name/model.onnx" ]]; then
        echo "$MODELS_DIR/$name/model.onnx"
        return
    fi
    local out="$WORK/models/$name"
    if [[ ! -f "$out/model.onnx" ]]; then
        local weights="$fixtures/${name//-/_}.pth"
        "$train" export --arch "$name" --weights "$weights" --out "$out" >&2
    fi
    echo "$out/model.onnx"
}

# name -> "pytorch onnxruntime-python peak" (sequences per second)
declare -A reference=(
    [dream-rnn]="44.6 42.7 67"
    [dream-cnn]="47.5 100.5 157"
    [dream-attn]="19.9 36.9 80"
)

now() { date +%s.%N; }

summary="$WORK/summary.txt"
: >"$summary"
printf '%-11s %-6s %10s %8s %8s %9s\n' model backend "seq/s" "vs ref" "of peak" "seconds"
for name in $MODELS; do
    model="$(model_path "$name")"
    read -r ref_pt ref_ort peak <<<"${reference[$name]:-0 0 0}"
    for backend in $BACKENDS; do
        out="$WORK/$name.$backend.tsv"
        start=$(now)
        "$infer" score --model "$model" --input "$input" --output "$out" \
            --backend "$backend" --threads "$THREADS" --batch-size "$BATCH" 2>"$WORK/$name.$backend.err" || {
            echo "bench: infer score failed for $name/$backend:" >&2
            cat "$WORK/$name.$backend.err" >&2
            exit 1
        }
        end=$(now)
        lines=$(($(wc -l <"$out") - 1))
        if [[ "$lines" != "$N" ]]; then
            echo "bench: $name/$backend scored $lines of $N sequences" >&2
            exit 1
        fi
        awk -v n="$N" -v s="$start" -v e="$end" -v pt="$ref_pt" -v ort="$ref_ort" -v peak="$peak" \
            -v model="$name" -v backend="$backend" 'BEGIN {
                t = e - s; rate = n / t; best = (pt > ort) ? pt : ort
                printf("%-11s %-6s %10.1f %7.2fx %7.0f%% %9.2f\n", model, backend, rate,
                       best > 0 ? rate / best : 0, peak > 0 ? 100 * rate / peak : 0, t)
            }' | tee -a "$summary"
    done
    # Backends must agree, not just be fast.
    set -- $BACKENDS
    if [[ $# -ge 2 ]]; then
        first="$WORK/$name.$1.tsv"
        for other in "${@:2}"; do
            paste "$first" "$WORK/$name.$other.tsv" | awk -F'\t' -v a="$1" -v b="$other" -v model="$name" '
                NR == 1 { cols = NF / 2; next }
                {
                    for (j = 2; j <= cols; j++) { d = $j - $(j + cols); if (d < 0) d = -d; if (d > max) max = d }
                }
                END { printf("%-11s max |%s - %s| = %.3g\n", model, a, b, max) }'
        done
    fi
done

echo
echo "best backend per model (target: >= 1.20x the better reference column):"
sort -k1,1 -k3,3gr "$summary" | awk '!seen[$1]++ { printf("%-11s %-6s %8.1f seq/s  %s of the better reference  %s of the peak-limited figure\n", $1, $2, $3, $4, $5) }'
