#!/usr/bin/env bash
# Peak memory of `infer score` streaming generated records through a pipe: 10,000 vs
# 10,000,000 records should need the same memory (the readers hold one record, the
# scorer one batch). Also a single 10-Mb FASTA record and a gzip bomb, which must end
# in a clear error with bounded memory, never an OOM kill.
#
# Model: infer/examples/tiny_model.rs (DREAM preprocessing, one 1x1 conv and a mean)
# on tract, so the input path, not the network, is measured.
#
# Environment: SMALL [10000], LARGE [10000000], THREADS [1], NO_BUILD=1 to skip cargo,
# INFER (an infer binary to use instead of target/release/infer), TINY_MODEL (an ONNX
# file to use instead of building the example; fuzz/make_onnx_seeds.py writes the same
# network without cargo).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
SMALL=${SMALL:-10000}
LARGE=${LARGE:-10000000}
THREADS=${THREADS:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "${NO_BUILD:-}" != 1 ]; then
  cargo build -q --release -p infer --bin infer --example tiny_model
fi
target=${CARGO_TARGET_DIR:-$root/target}
infer=${INFER:-$target/release/infer}
if [ -n "${TINY_MODEL:-}" ]; then cp "$TINY_MODEL" "$work/tiny.onnx"; else "$target/release/examples/tiny_model" "$work/tiny.onnx"; fi

seq150=$(printf 'ACGT%.0s' $(seq 1 40) | cut -c1-150)
records() { # n: FASTA records on stdout
  yes ">r
$seq150" | head -n $((2 * $1))
}
peak() { # label, command...: prints "label: peak RSS KiB, exit code, seconds"
  local label=$1; shift
  local log=$work/time.log
  set +e
  /usr/bin/time -v -o "$log" "$@" > "$work/out" 2> "$work/err"
  local code=$?
  set -e
  local rss secs
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  printf '%-28s peak RSS %8s KiB  exit %s  wall %s  %s\n' "$label" "$rss" "$code" "$secs" "$(tail -c 160 "$work/err" | tr '\n' ' ')"
}
score() { "$infer" score --model "$work/tiny.onnx" --threads "$THREADS" --input - "$@"; }
export -f score records; export infer work seq150 THREADS

peak "$SMALL records" bash -c "records $SMALL | score"
lines_small=$(wc -l < "$work/out")
peak "$LARGE records" bash -c "records $LARGE | score | wc -l"
echo "  scored lines: $SMALL run $lines_small, $LARGE run $(cat "$work/out")"

# One 10-Mb record (default --max-record-length 1,000,000): a clear error, bounded memory.
python3 -c "
import sys
sys.stdout.write('>huge\n')
for _ in range(10_000_000 // 100): sys.stdout.write('ACGTACGTAC' * 10 + '\n')
" > "$work/huge.fa"
peak "10-Mb record (default)" bash -c "score < $work/huge.fa"
peak "10-Mb record (limit 20M)" bash -c "score --max-record-length 20000000 < $work/huge.fa"
# A gzip bomb: 8 GiB of ACGT lines in ~10 MB, and 1 GiB of zeros (no line break).
python3 -c "
import gzip, sys
line = b'ACGT' * 37 + b'AC\n'
chunk = line * (1 << 16)
with gzip.open('$work/bomb.gz', 'wb', compresslevel=9) as f:
    for _ in range((8 << 30) // len(chunk)): f.write(chunk)
with gzip.open('$work/zeros.gz', 'wb', compresslevel=9) as f:
    z = b'\0' * (1 << 20)
    for _ in range(1024): f.write(z)
"
ls -l "$work/bomb.gz" "$work/zeros.gz" | awk '{print "  " $5 " bytes  " $9}'
peak "gzip bomb, --max-dec 64M" bash -c "score --max-decompressed-size 64M < $work/bomb.gz | tail -c 0"
peak "gzip zeros (no newline)" bash -c "score < $work/zeros.gz"
