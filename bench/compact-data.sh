#!/usr/bin/env bash
# Full-size training data in little memory (issue 14): on a synthetic file the size of
# the challenge's 6.7M-record training set, measures with /usr/bin/time -v
#   1. the data pipeline alone (`train bench-data`): streamed read into compact codes,
#      then shuffled batches of 1024 expanded into model inputs + soft-bin targets, on
#      --threads (2) intra-op threads; target >= 100,000 encoded sequences/s;
#   2. `train fit` as a user runs it (dream-rnn, CPU, 10% held out): peak RSS (target
#      <= 3 GB) and time from start to the first optimiser step (target <= 90 s); the
#      run is stopped once that step is done (the CPU would take hours for an epoch).
#
#   bench/compact-data.sh [DATA]     # DATA default: $SCRATCH/challenge_6.7M.txt
#
# On a CPU the model's activations for a 1024-sequence DREAM-RNN step (several GB) count
# in the process's RSS; on a GPU they live in device memory. So the fit figures are also
# given at "data ready" (file read and encoded, model not yet built); FIT_BATCH sets
# the batch size of the fit run, ARCH the model, THREADS the threads, CHUNK the fit's
# --recompute-chunk (the first and core blocks a chunk at a time: the memory of a
# CHUNK-sequence step, the gradients of the whole batch).
#
# Without DATA on disk it is made first by bench/make-challenge-data.py (about 850 MB;
# SCRATCH defaults to /tmp) and deleted at the end; a DATA you give is kept.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scratch=${SCRATCH:-/tmp}
data=${1:-$scratch/challenge_6.7M.txt}
threads=${THREADS:-2}
arch=${ARCH:-dream-rnn}
made=0
if [[ ! -f $data ]]; then
    echo "making $data"
    python3 bench/make-challenge-data.py "$data"
    made=1
fi
# PROFILE=debug measures the test build instead (dependencies, libtorch included,
# optimised; this crate's own code not): slower, so its figures are upper bounds.
# BIN=path measures a binary built elsewhere.
profile=${PROFILE:-release}
if [[ -n ${BIN:-} ]]; then
    profile="given"
elif [[ $profile == release ]]; then
    cargo build --release -q -p train
else
    cargo build -q -p train
fi
bin=${BIN:-"${CARGO_TARGET_DIR:-$root/target}/$profile/train"}
tmp=$(mktemp -d "$scratch/compact-bench.XXXXXX")
cleanup() {
    rm -rf "$tmp"
    if [[ $made == 1 ]]; then rm -f "$data"; fi
}
trap cleanup EXIT

rss_gb() { awk -F': ' '/Maximum resident set size/ {printf "%.2f", $2 / 1048576}' "$1"; }
echo "binary: $bin ($profile)"
echo "input: $data ($(du -h "$data" | cut -f1), $(wc -l < "$data") records)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

# With 1 intra-op thread as well: on a busy machine libtorch's parallel copies wait for
# a descheduled second thread, which the per-CPU-second rate shows.
pipe_rate=""
for t in $(echo "1 $threads" | tr ' ' '\n' | sort -un); do
    echo "== 1. data pipeline ($arch preprocessing, $t intra-op threads)"
    /usr/bin/time -v -o "$tmp/pipe.time" "$bin" bench-data --arch "$arch" --train "$data" \
        --threads "$t" --batch-size 1024 --batches 1000 | tee "$tmp/pipe.out"
    rate=$(sed -n 's/.*= \([0-9]*\) encoded sequences\/s.*/\1/p' "$tmp/pipe.out")
    pipe_rate="$pipe_rate $rate@${t}t"
    echo "peak RSS $(rss_gb "$tmp/pipe.time") GB"
done
if ((threads > 1)); then
    # train waits passively unless OMP_WAIT_POLICY says otherwise; libgomp's spinning
    # threads, for comparison, starve the main thread on a loaded machine.
    echo "== 1. data pipeline ($arch preprocessing, $threads intra-op threads, OMP_WAIT_POLICY=ACTIVE)"
    OMP_WAIT_POLICY=ACTIVE /usr/bin/time -v -o "$tmp/pipe.time" "$bin" bench-data --arch "$arch" --train "$data" \
        --threads "$threads" --batch-size 1024 --batches 1000 | tee "$tmp/pipe.out"
    rate=$(sed -n 's/.*= \([0-9]*\) encoded sequences\/s.*/\1/p' "$tmp/pipe.out")
    pipe_rate="$pipe_rate $rate@${threads}t-spinning"
fi

chunk_args=()
[[ -n ${CHUNK:-} ]] && chunk_args=(--recompute-chunk "$CHUNK")
echo "== 2. train fit --arch $arch --device cpu --threads $threads --batch-size ${FIT_BATCH:-1024} ${chunk_args[*]} (stopped after the first step)"
start=$(date +%s.%N)
/usr/bin/time -v -o "$tmp/fit.time" "$bin" fit --arch "$arch" --train "$data" --out "$tmp/run" \
    --device cpu --threads "$threads" --epochs 1 --batch-size "${FIT_BATCH:-1024}" "${chunk_args[@]}" 2> "$tmp/fit.err" &
timer=$!
first=""
ready=""
ready_rss=""
while kill -0 "$timer" 2>/dev/null; do
    if [[ -z $ready ]] && grep -q "training rows" "$tmp/fit.err"; then
        # Data read and encoded; the model is built next. Peak RSS so far = the data's.
        ready=$(date +%s.%N)
        ready_rss=$(awk '/VmHWM/ {printf "%.2f", $2 / 1048576}' "/proc/$(pgrep -P "$timer")/status" 2>/dev/null || true)
    fi
    if [[ -z $first ]] && grep -q "first optimiser step done" "$tmp/fit.err"; then
        first=$(date +%s.%N)
        kill "$(pgrep -P "$timer")" 2>/dev/null || true
    fi
    sleep 0.2
done
wait "$timer" || true
sed 's/^/  fit: /' "$tmp/fit.err" | grep -v "^  fit: *$" | head -8
[[ -n $first ]] || { echo "train fit ended before its first optimiser step" >&2; exit 1; }
first_s=$(echo "$first - $start" | bc)
ready_s=$(echo "${ready:-$first} - $start" | bc)
fit_rss=$(rss_gb "$tmp/fit.time")
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== against the targets"
printf '%-42s %12s %12s\n' figure measured target
printf '%-42s %12s %12s\n' "train fit peak RSS (GB)" "$fit_rss" "<= 3"
printf '%-42s %12s %12s\n' "  of which at data ready (GB)" "${ready_rss:-?}" ""
printf '%-42s %12.1f %12s\n' "train fit start to first optimiser step (s)" "$first_s" "<= 90"
printf '%-42s %12.1f %12s\n' "  of which start to data ready (s)" "$ready_s" ""
printf '%-42s %12s %12s\n' "data pipeline (encoded sequences/s @threads)" "$pipe_rate" ">= 100000"
