#!/usr/bin/env bash
# The scoring page's speed, in headless Chromium, per DREAM model: the page's
# sequences/s (tract in wasm, SIMD, one helper worker per core, W of them; cold = first
# run with plan building, warm = the same input again; and warm with one worker),
# onnxruntime-web's wasm backend on the same ONNX graphs (SIMD, one thread and W
# threads, the page cross-origin isolated for that) as the baseline, native tract (`infer score --backend tract`, 1
# and 2 threads) for comparison, and the time from opening the page to the first score.
#   bench/web.sh [N sequences, default 256]      (BATCH=32, INFER=binary)
# Needs scripts/setup.sh (Chromium, wasm-bindgen, web/test's node modules).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
n="${1:-256}"
batch="${BATCH:-32}"
models=(dream-rnn dream-cnn dream-attn)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

web/build.sh "$work/site"
# INFER=path/to/infer uses a binary already built (e.g. a debug build, whose
# dependencies are optimised too) instead of building the release one.
infer="${INFER:-}"
if [[ -z "$infer" ]]; then
    cargo build --release --locked -q -p infer
    infer="${CARGO_TARGET_DIR:-$root/target}/release/infer"
fi

# DREAM-like records: the 17-nt 5' adapter, 80 random nt, the 3' constant part.
python3 - "$n" > "$work/bench.fa" <<'PY'
import random, sys
random.seed(13)
for i in range(int(sys.argv[1])):
    insert = "".join(random.choice("ACGT") for _ in range(80))
    print(f">s{i}\nTGCATTTTTTTCACATC{insert}GGTTACGGCTGTT")
PY

declare -A native1 native2
for m in "${models[@]}"; do
    for t in 1 2; do
        start=$(date +%s.%N)
        "$infer" score --backend tract --threads "$t" --batch-size "$batch" \
            --model "weights/$m/0.1.0/model.onnx" --input "$work/bench.fa" -o "$work/native.tsv" 2>/dev/null
        end=$(date +%s.%N)
        rate=$(python3 -c "print(f'{$n / ($end - $start):.1f}')")
        if [[ $t == 1 ]]; then native1[$m]=$rate; else native2[$m]=$rate; fi
    done
done

node web/test/bench.mjs --site "$work/site" --fasta "$work/bench.fa" --sequences "$n" \
    --models "$(IFS=,; echo "${models[*]}")" --batch "$batch" > "$work/browser.json"

echo "sequences: $n, batch: $batch, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| model | page seq/s (cold) | page seq/s (warm, W workers) | page / ort-web 1 thread | page / ort-web W threads | page 1 worker | ort-web 1 thread | ort-web W threads | native tract 1 thread | native tract 2 threads | page open to first score |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for m in "${models[@]}"; do
    python3 - "$work/browser.json" "$m" "${native1[$m]}" "${native2[$m]}" <<'PY'
import json, sys
rows = {r["model"]: r for r in json.load(open(sys.argv[1]))}
r = rows[sys.argv[2]]
print(f"| {r['model']} | {r['page_cold']:.1f} | {r['page_warm']:.1f} (W={r['workers']}) | "
      f"**{r['page_warm'] / r['ort_web']:.2f}** | **{r['page_warm'] / r['ort_web_threads']:.2f}** | "
      f"{r['page_warm_1worker']:.1f} | {r['ort_web']:.1f} | {r['ort_web_threads']:.1f} | "
      f"{sys.argv[3]} | {sys.argv[4]} | {r['firstScoreMs'] / 1000:.2f} s |")
PY
done
