#!/usr/bin/env bash
# The comparison the reference repository asks contributors to report: the teams'
# original models trained with their own recipes versus their Prix Fixe conversions
# (the team's trunk as the core block between the DREAM first layers and the soft-bin
# head) trained with the DREAM recipe, on the same data split with the same budget, over
# several seeds; dream-public Pearson and Spearman scores as mean ± sd.
#
#   bench/teams.sh                       # the defaults below (GPU: DEVICE=cuda)
#   SEEDS="1 2 3" EPOCHS=10 STEPS=200 BATCH=256 DEVICE=cuda bench/teams.sh
#   MODELS="wztr" SEEDS=1 EPOCHS=1 STEPS=2 BATCH=8 PROFILE=debug bench/teams.sh   # a smoke run
#   BIN=DIR JOBS=6 DEVICE=cuda EVAL=train bench/teams.sh   # prebuilt binaries, 6 runs at once
#
# Scoring: EVAL=infer (the default) runs `infer eval` on each run's model.onnx; EVAL=train
# runs `train eval` (the same pipeline through libtorch on $DEVICE), for a GPU machine
# whose ONNX Runtime has no GPU provider.
#
# Conversions: DeepGXP's Prix Fixe form is BHI first + BHI core (= DREAM-RNN); Camformer
# and wztr keep their own trunks (`camformer` / `wztr` core blocks). Every run trains on
# ../shared/data/dream/demo_train.txt with 10 % held out (split seed 7, the same rows for
# every run). Writes bench/teams.md (the table, the command and the budget) and keeps the
# runs under $WORK (default: a temporary directory, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"1 2 3"}
MODELS=${MODELS:-"deepgxp camformer wztr"}
EPOCHS=${EPOCHS:-10}
STEPS=${STEPS:-200}
BATCH=${BATCH:-256}
DEVICE=${DEVICE:-cpu}
THREADS=${THREADS:-2}
DATA=${DATA:-../shared/data/dream/demo_train.txt}
OUT=${OUT:-bench/teams.md}
PROFILE=${PROFILE:-release}
EVAL=${EVAL:-infer}
BENCHMARK=${BENCHMARK:-dream-public}
JOBS=${JOBS:-1}
if [[ -z "${BIN:-}" ]]; then
    if [[ $PROFILE == release ]]; then cargo build -q --release -p train -p infer; else cargo build -q -p train -p infer; fi
    BIN=${CARGO_TARGET_DIR:-target}/$PROFILE
fi
if [[ -z "${WORK:-}" ]]; then WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT; fi
mkdir -p "$WORK"
RUN_PREFIX=(nice -n 10)
source bench/common.sh

# The Prix Fixe conversion of a team model as a model.json (the DREAM-CNN preset with
# its core block swapped in), written by the train binary's own description types.
conversion() {
    local m=$1 json=$2
    case $m in
        deepgxp) echo dream-rnn ;;
        camformer|wztr)
            # model.json: BHI first layers (6 -> 320, 150 nt) + the team trunk + soft-bin head.
            local core
            if [[ $m == wztr ]]; then
                core='{"block":"wztr","in_channels":320,"length":150,"channels":256,"kernel_size":3,"stages":6,"blocks_per_stage":3,"dilations":[1,2,4,6]}'
                width=256
            else
                core='{"block":"camformer","in_channels":320,"channels":512,"layers":6,"kernel_size":10,"pool_layer":4,"pool_kernel":10,"pool_stride":4,"dropout":0.3}'
                width=512
            fi
            python3 - "$json" "$core" "$width" "$m" <<'EOF'
import json, sys
path, core, width, m = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
desc = json.load(open("weights/dream-cnn/0.1.0/model.json"))
desc["name"] = f"prixfixe-{m}"
desc["architecture"]["core"] = core
desc["architecture"]["final"] = {"block": "soft_bins", "in_channels": width, "n_bins": 18}
for k in ("version", "license", "provenance"):
    desc.pop(k, None)
json.dump(desc, open(path, "w"), indent=1)
EOF
            echo "$json" ;;
    esac
}

# One training run and its dream-public score, as a line of $WORK/<run>.row.
one_run() {
    local m=$1 variant=$2 seed=$3 arch recipe
    if [[ $variant == original ]]; then arch=$m; recipe=$m; else arch=${CONVERTED[$m]}; recipe=dream; fi
    local run=$WORK/$m-$variant-$seed
    local start=$(date +%s)
    nice -n 10 "$BIN/train" fit --arch "$arch" --recipe "$recipe" --train "$DATA" --out "$run" \
        --device "$DEVICE" --threads "$THREADS" --seed "$seed" --epochs "$EPOCHS" \
        --batches-per-epoch "$STEPS" --batch-size "$BATCH" --valid-fraction 0.1 \
        > /dev/null 2> "$run.log"
    local trained=$(( $(date +%s) - start ))
    eval_run "$run"
    python3 - "$run/eval.json" "$m" "$variant" "$seed" "$trained" > "$run.row" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
def find(d, key):
    if isinstance(d, dict):
        for k, v in d.items():
            if k == key and isinstance(v, (int, float)):
                return v
            got = find(v, key)
            if got is not None:
                return got
    return None
p, s = find(r, "pearson_score"), find(r, "spearman_score")
print("\t".join(map(str, [sys.argv[2], sys.argv[3], sys.argv[4], p, s, sys.argv[5]])))
EOF
    cat "$run.row"
}

declare -A CONVERTED
for m in $MODELS; do CONVERTED[$m]=$(conversion "$m" "$WORK/$m-prixfixe.json"); done
runs=()
for m in $MODELS; do
    for variant in original prixfixe; do
        for seed in $SEEDS; do
            while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n || true; done
            one_run "$m" "$variant" "$seed" &
            runs+=("$WORK/$m-$variant-$seed.row")
        done
    done
done
wait
results=$WORK/results.tsv
for r in "${runs[@]}"; do
    if [[ -s $r ]]; then cat "$r"; else echo "bench/teams.sh: ${r%.row} failed, see ${r%.row}.log" >&2; fi
done > "$results"

python3 - "$results" "$OUT" "$*" <<EOF
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
groups = {}
def num(x):
    # A model with constant predictions has no correlation: eval reports null.
    return float("nan") if x in ("None", "") else float(x)
for m, v, seed, p, s, t in rows:
    groups.setdefault((m, v), []).append((num(p), num(s), float(t)))
sys.path.insert(0, "bench")
from summary import mean_sd as ms
lines = ["# Teams' models vs their Prix Fixe conversions (dream-public)", "",
         "Made by: \`SEEDS=\"$SEEDS\" MODELS=\"$MODELS\" EPOCHS=$EPOCHS STEPS=$STEPS BATCH=$BATCH DEVICE=$DEVICE bench/teams.sh\`",
         "", "Training data: \`$DATA\`, 10 % held out (split seed 7); budget per run: $EPOCHS epochs x $STEPS steps of $BATCH.", "",
         "| model | variant | recipe | seeds | Pearson score | Spearman score | training s (mean) |", "|---|---|---|---|---|---|---|"]
for (m, v), xs in groups.items():
    recipe = m if v == "original" else "dream"
    lines.append(f"| {m} | {v} | {recipe} | {len(xs)} | {ms([x[0] for x in xs])} | {ms([x[1] for x in xs])} | {statistics.mean(x[2] for x in xs):.0f} |")
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
