#!/usr/bin/env bash
# The prepared run for a lent GPU machine (one call, a few minutes): every measurement
# the open issues ask of a GPU, side by side, with prebuilt binaries.
#
#   bench/gpu.sh prepare      # here, before the call: fills .dev/ (below)
#   bench/gpu.sh run OUT      # trains and scores everything below, packs OUT
#   bench/gpu.sh fetch N OUT  # a later call on the same (warm) machine: part N of the
#                             # trained weights that did not fit in the first call's OUT
#
# Needs, in .dev/ (git-ignored, carried to the machine): bin/train (release, stripped)
# and data/dream/ (demo_train.txt, public_leaderboard.tsv, its id lists, plasmid.json).
# The call's working tree must stay under 64 MiB and weights/ alone is 82 MB: call from a
# throwaway branch without weights/*/*/model.{onnx,safetensors} (the model.json files
# stay: bench/teams.sh reads one), with `carry` [".dev"]; e.g. `run` with
# `DEADLINE=400 bash bench/gpu.sh run $OUT` and timeout_s 540.
# It runs at once, each on $THREADS CPU threads and the one GPU:
#   fidelity  issue 18's reference configuration (DREAM-CNN, 8 one-pass epochs at batch
#             256, split seed 42) over 5 seeds, plus the 5 members' mean (issue 14);
#   dream-rnn, dream-attn  the same configuration over 5 seeds (0.2.0 candidates);
#   teams     bench/teams.sh: 3 team models, original and Prix Fixe, 3 seeds each;
#   legnet    LegNet on the demo data with the published models' budget (80 x 12 x 1024);
#   full-size synthetic 6.7M-record challenge file: 300 steps of DREAM-RNN at batch 1024
#             under /usr/bin/time -v, GPU utilisation sampled each second;
#   forward   the libtorch forward throughput of the three DREAM models at batch 1024,
#             each alone on the GPU, after the rest.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
W=/tmp/gpu
BIN=$ROOT/.dev/bin
export DREAM_DATA_DIR=$ROOT/.dev/data/dream
DATA=$DREAM_DATA_DIR/demo_train.txt
THREADS=${THREADS:-1}
DEADLINE=${DEADLINE:-450}   # seconds after the start when packing begins, finished or not
DEVICE=${DEVICE:-cuda}
# SMOKE=1: the same run in miniature on a CPU, to check the script before a GPU call.
if [[ ${SMOKE:-0} == 1 ]]; then
    DEVICE=cpu
    export SEEDS="1 2" EPOCHS=1 STEPS=2 BATCH=16 BENCHMARK=${SMOKE_BENCHMARK:?a small benchmark definition}
    BIG_RECORDS=20000 BIG_STEPS=3 LEGNET=(--epochs 1 --batches-per-epoch 2 --batch-size 16) TEAM_BUDGET=()
    head -n 300 "$DATA" > /tmp/gpu-smoke-train.txt; DATA=/tmp/gpu-smoke-train.txt
else
    BIG_RECORDS=6739258 BIG_STEPS=300 LEGNET=(--epochs 80 --batches-per-epoch 12 --batch-size 1024)
    TEAM_BUDGET=(EPOCHS=12 STEPS=0 BATCH=256)
fi
# GNU time where the machine has it, else the same two figures from Python.
timed() {
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -v "$@"
    else
        python3 -c 'import resource, subprocess, sys, time
t = time.time(); rc = subprocess.call(sys.argv[1:]); u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"\tElapsed (wall clock) time (s): {time.time() - t:.1f}\n\tMaximum resident set size (kbytes): {u.ru_maxrss}", file=sys.stderr)
sys.exit(rc)' "$@"
    fi
}
TORCH_LIB=$(ls -d /opt/torch/.venv/lib/python3*/site-packages/torch/lib 2>/dev/null | head -n 1)
export LD_LIBRARY_PATH="$TORCH_LIB:${LD_LIBRARY_PATH:-}"

# Part N of the weights to bring back: files of at most 15 MiB (a call returns 16 MiB
# files, 64 MiB in all).
parts() {
    case $1 in
        1) echo "$W/pick/legnet-demo $W/pick/dream-cnn $W/pick/dream-rnn $W/pick/dream-attn" ;;
        2) echo "$W/pick/deepgxp $W/pick/wztr" ;;
        3) echo "$W/pick/camformer" ;;
    esac
}
pack_part() {
    local n=$1 out=$2 files=()
    for d in $(parts "$n"); do
        if [[ -f $d/model.safetensors ]]; then
            files+=("$(basename "$d")/model.json" "$(basename "$d")/model.safetensors")
        else
            echo "gpu.sh: $d has no weights" >&2
        fi
    done
    # One tar, cut into 15 MiB pieces: a call brings back 8 files at most.
    (( ${#files[@]} )) && tar -chf - -C "$W/pick" "${files[@]}" | split -b 15M -d - "$out/weights$n.tar."
    ls -la "$out"
}

if [[ ${1:-} == prepare ]]; then
    cargo build --release --locked -p train
    mkdir -p .dev/bin .dev/data
    strip -o .dev/bin/train "${CARGO_TARGET_DIR:-target}/release/train"
    rm -rf .dev/data/dream && cp -r ../shared/data/dream .dev/data/
    du -sh .dev
    exit 0
fi
if [[ ${1:-} == fetch ]]; then
    pack_part "$2" "$3"
    exit 0
fi
OUT=${2:?usage: bench/gpu.sh run OUT}
T0=$(date +%s)
rm -rf "$W"; mkdir -p "$W"
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    nproc; free -g | head -2
    echo "torch lib: $TORCH_LIB"
} > "$W/machine.txt" 2>&1
{
    python3 -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())"
    timeout 30 find / -xdev -name 'libonnxruntime_providers_cuda*' 2>/dev/null | head -5
    echo "(end of provider search)"
} > "$W/ort-cuda.txt" 2>&1
if command -v nvidia-smi > /dev/null; then
    nvidia-smi dmon -s u -d 1 > "$W/dmon.txt" 2>&1 &
else
    sleep 100000 &
fi
DMON=$!

# The 6.7M-record file is written while the GPU trains the rest.
( python3 bench/make-challenge-data.py "$W/big.txt" --records "$BIG_RECORDS" > "$W/big-gen.log" 2>&1
  echo "generated in $(( $(date +%s) - T0 )) s" >> "$W/big-gen.log"
  echo "start $(( $(date +%s) - T0 ))" > "$W/full-size.time"
  timed "$BIN/train" fit --arch dream-rnn --train "$W/big.txt" --out "$W/full-size" --device "$DEVICE" \
      --threads 2 --seed 1 --epochs 1 --batches-per-epoch "$BIG_STEPS" --batch-size 1024 --valid-fraction 0 \
      > "$W/full-size.out" 2> "$W/full-size.log"
  echo "end $(( $(date +%s) - T0 ))" >> "$W/full-size.time"
  rm -f "$W/big.txt" ) &

common=(BIN="$BIN" DEVICE="$DEVICE" EVAL=train THREADS="$THREADS" DATA="$DATA")
env "${common[@]}" JOBS=5 ENSEMBLE=1 WORK="$W/fidelity" OUT="$W/fidelity.md" bench/seeds.sh > "$W/fidelity.out" 2>&1 &
for m in dream-rnn dream-attn; do
    env "${common[@]}" ARCH=$m JOBS=5 WORK="$W/$m" OUT="$W/$m.md" bench/seeds.sh > "$W/$m.out" 2>&1 &
done
env "${common[@]}" JOBS=6 "${TEAM_BUDGET[@]}" WORK="$W/teams" OUT="$W/teams.md" bench/teams.sh > "$W/teams.out" 2>&1 &
( "$BIN/train" fit --arch legnet --train "$DATA" --out "$W/legnet-demo" --device "$DEVICE" --threads "$THREADS" \
      --seed 42 "${LEGNET[@]}" --lr 0.005 --valid-fraction 0.1 \
      > /dev/null 2> "$W/legnet-demo.log"
  "$BIN/train" eval --model "$W/legnet-demo" --device "$DEVICE" ${BENCHMARK:+--benchmark "$BENCHMARK"} --json "$W/legnet-demo/eval.json" \
      > "$W/legnet-demo.eval" 2>> "$W/legnet-demo.log" ) &

# Wait for everything but dmon, up to the deadline.
while (( $(date +%s) - T0 < DEADLINE )); do
    running=$(jobs -rp | grep -vx "$DMON" | wc -l)
    (( running == 0 )) && break
    sleep 5
done
echo "training phase ended at $(( $(date +%s) - T0 )) s with $(jobs -rp | grep -vx "$DMON" | wc -l) jobs still running" > "$W/phases.txt"

# The forward throughput, each model alone (if the others are done): seed 1 of each,
# DREAM-CNN's under fidelity/, the others' under their own WORK.
for m in dream-cnn dream-rnn dream-attn; do
    run=$(ls -d "$W/fidelity/$m-seed1" "$W/$m/$m-seed1" 2>/dev/null | head -n 1)
    [[ -n $run && -f $run/model.safetensors ]] || continue
    "$BIN/train" eval --model "$run" --device "$DEVICE" ${BENCHMARK:+--benchmark "$BENCHMARK"} --batch-size 1024 --json "$W/forward-$m.json" > /dev/null 2> "$W/forward-$m.log"
done
kill "$DMON" 2>/dev/null
echo "forward phase ended at $(( $(date +%s) - T0 )) s" >> "$W/phases.txt"

# The weights worth bringing back: per configuration, the seed with the best validation r.
mkdir -p "$W/pick"
python3 - "$W" <<'EOF'
import glob, json, os, sys
w = sys.argv[1]
def best(pattern):
    runs = []
    for d in glob.glob(pattern):
        try:
            r = json.load(open(f"{d}/model.json"))["provenance"]["training"]["best_valid"]["pearson"]
            if r is not None:
                runs.append((r, d))
        except (OSError, KeyError, TypeError):
            pass
    return max(runs)[1] if runs else None
picks = {
    "dream-cnn": best(f"{w}/fidelity/dream-cnn-seed*"),
    "dream-rnn": best(f"{w}/dream-rnn/dream-rnn-seed*"),
    "dream-attn": best(f"{w}/dream-attn/dream-attn-seed*"),
    "legnet-demo": f"{w}/legnet-demo" if os.path.exists(f"{w}/legnet-demo/model.safetensors") else None,
    "deepgxp": best(f"{w}/teams/deepgxp-original-*[0-9]"),
    "camformer": best(f"{w}/teams/camformer-original-*[0-9]"),
    "wztr": best(f"{w}/teams/wztr-original-*[0-9]"),
}
for name, d in picks.items():
    print(name, d)
    if d:
        os.symlink(d, f"{w}/pick/{name}")
EOF
# Everything small: tables, logs, reports, predictions, model.json files.
(cd /tmp && tar czf "$OUT/results.tgz" --exclude='*.safetensors' --exclude='*.onnx' --exclude='checkpoint' --exclude='big.txt' gpu)
pack_part 1 "$OUT"
echo "packed at $(( $(date +%s) - T0 )) s"
cat "$W/phases.txt" "$W/fidelity.md" "$W/teams.md" 2>/dev/null
