#!/usr/bin/env bash
# In-silico mutagenesis throughput against plain scoring, same model, backend, threads
# and batch size, run back to back: mutants per second of `infer ism` over sequences per
# second of `infer score`. Target (issue 15): ratio >= 0.90.
#
# Inputs: `infer score` gets N_SCORE real DREAM sequences (demo_train.txt, repeated);
# `infer ism` gets N_ISM of the 110-nt ones and mutates positions 18-110, 279 mutants
# each, all run through the model (plus the sequence itself, run but not counted). Each timing includes the model's
# start-up, like a user's run; sizes are large enough for it not to matter.
#
# Environment knobs (defaults in brackets):
#   MODEL     zoo spec or .onnx path [dream-cnn@0.1.0]
#   BACKENDS  ["tract"]        THREADS [2]        BATCH [256]
#   N_SCORE   [4000]           N_ISM   [12]       REPEAT [2] (best of REPEAT per command)
#   NO_BUILD  1 to skip `cargo build --release`; INFER_BIN  use this binary instead
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
MODEL=${MODEL:-dream-cnn@0.1.0}
BACKENDS=${BACKENDS:-tract}
THREADS=${THREADS:-2}
BATCH=${BATCH:-256}
N_SCORE=${N_SCORE:-4000}
N_ISM=${N_ISM:-12}
REPEAT=${REPEAT:-2}
data="$root/../shared/data/dream/demo_train.txt"
target="${CARGO_TARGET_DIR:-$root/target}"

if [[ "${NO_BUILD:-0}" != 1 ]]; then
    cargo build --release -p infer >&2
fi
infer="${INFER_BIN:-$target/release/infer}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A private copy: with a target directory shared between checkouts, another checkout's
# build can replace target/release/infer between the two timings.
cp "$infer" "$work/infer"
infer="$work/infer"
"$infer" ism --help >/dev/null 2>&1 || { echo "bench: $infer has no ism verb (rebuilt from another checkout?)" >&2; exit 1; }
awk -F'\t' -v n="$N_SCORE" '{ s[NR] = $1 } END { for (i = 0; i < n; i++) printf(">s%d\n%s\n", i, s[i % NR + 1]) }' "$data" >"$work/score.fa"
awk -F'\t' -v n="$N_ISM" 'length($1) == 110 && k < n { printf(">m%d\n%s\n", k++, $1) }' "$data" >"$work/ism.fa"
# --start 18: the 17-nt 5' adapter is trimmed by the model's preprocessing, so its
# mutants are never run; positions 18-110 give 93 x 3 mutants, every one scored.
mutants=$((N_ISM * 279))

now() { date +%s.%N; }
# best (shortest) wall time of REPEAT runs of a command
best_time() {
    local best="" t0 t1 t
    for _ in $(seq "$REPEAT"); do
        t0=$(now)
        "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
        t1=$(now)
        t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
        if [[ -z "$best" ]] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
    done
    echo "$best"
}

echo "model $MODEL, threads $THREADS, batch $BATCH, $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-7s %10s %12s %8s %s\n' backend "seq/s" "mutants/s" ratio "load (1/5/15 min) after"
for backend in $BACKENDS; do
    common=(--model "$MODEL" --backend "$backend" --threads "$THREADS" --batch-size "$BATCH")
    ts=$(best_time "$infer" score "${common[@]}" --input "$work/score.fa")
    ti=$(best_time "$infer" ism "${common[@]}" --input "$work/ism.fa" --start 18 --npy "$work/ism.npy")
    awk -v n="$N_SCORE" -v m="$mutants" -v ts="$ts" -v ti="$ti" -v b="$backend" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
        s = n / ts; r = m / ti
        printf("%-7s %10.1f %12.1f %7.2fx %s\n", b, s, r, r / s, load)
    }'
done
