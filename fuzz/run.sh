#!/bin/sh
# Runs every fuzz target in turn for SECONDS each (default 600), one job, after
# `fuzz/seed.sh`. Logs to fuzz/logs/<target>.log; crashes land in fuzz/artifacts/<target>/.
# Run from the repository root: fuzz/run.sh [target...]
set -eu
SECONDS_EACH=${SECONDS_EACH:-600}
targets=${*:-"input zoo_index model_json safetensors pth onnx"}
mkdir -p fuzz/logs
for t in $targets; do
  mkdir -p fuzz/artifacts/$t
  (cd fuzz && cargo +nightly fuzz run -s none -O --debug-assertions "$t" "corpus/$t" -- \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len=262144 -timeout=20 \
      -artifact_prefix="artifacts/$t/" -print_final_stats=1) > "fuzz/logs/$t.log" 2>&1 || echo "$t: exit $?"
done
