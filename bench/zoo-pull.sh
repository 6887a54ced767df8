#!/usr/bin/env bash
# Download speed of `zoo pull` against `curl -o` for the same 100 MB file served on
# 127.0.0.1 in the same run, plus sha256 throughput. Prints both ratios/numbers.
# Builds in release mode into its own target dir (ZOO_BENCH_TARGET, default
# /tmp/zoo-bench-target) so it does not disturb the shared debug build.
# Targets: zoo/curl >= 0.8, sha256 >= 1 GB/s.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${ZOO_BENCH_TARGET:-/tmp/zoo-bench-target}"
size_mb="${ZOO_BENCH_MB:-100}"
runs="${ZOO_BENCH_RUNS:-5}"

command -v curl >/dev/null || { echo "bench: curl not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench: python3 not found" >&2; exit 1; }

CARGO_TARGET_DIR="$target" cargo build --quiet --release -p zoo --bin zoo --example hash_speed \
    --manifest-path "$root/Cargo.toml"
zoo="$target/release/zoo"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Registry layout served over HTTP: index.json + bench/0.1.0/weights.bin
mkdir -p "$work/reg/bench/0.1.0"
head -c "$((size_mb * 1000 * 1000))" /dev/urandom > "$work/reg/bench/0.1.0/weights.bin"
size=$(stat -c %s "$work/reg/bench/0.1.0/weights.bin")
sha=$(sha256sum "$work/reg/bench/0.1.0/weights.bin" | cut -d' ' -f1)
cat > "$work/reg/index.json" <<JSON
{"schema": 1, "models": {"bench": {"versions": {"0.1.0": {"files": {"weights.bin": {"size": $size, "sha256": "$sha"}}}}}}}
JSON

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 "$root/bench/serve.py" "$port" "$work/reg" &
server_pid=$!
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/index.json" && break
    sleep 0.05
done

now() { date +%s.%N; }
best_curl=""
best_zoo=""
ratios=()
for i in $(seq "$runs"); do
    rm -f "$work/curl.out"
    t0=$(now); curl -sf -o "$work/curl.out" "http://127.0.0.1:$port/bench/0.1.0/weights.bin"; t1=$(now)
    c=$(echo "$t1 - $t0" | bc -l)
    rm -rf "$work/home"
    t0=$(now)
    ZOO_HOME="$work/home" ZOO_REGISTRY="http://127.0.0.1:$port" "$zoo" pull bench@0.1.0 >/dev/null
    t1=$(now)
    z=$(echo "$t1 - $t0" | bc -l)
    ratios+=("$(echo "$c / $z" | bc -l)")
    printf 'run %d: curl -o %.3fs, zoo pull %.3fs, ratio %.2f\n' "$i" "$c" "$z" "${ratios[-1]}"
    if [[ -z "$best_curl" ]] || (( $(echo "$c < $best_curl" | bc -l) )); then best_curl=$c; fi
    if [[ -z "$best_zoo" ]] || (( $(echo "$z < $best_zoo" | bc -l) )); then best_zoo=$z; fi
done
cmp "$work/curl.out" "$work/home/models/bench/0.1.0/weights.bin"

mbps() { echo "$size / $1 / 1000000" | bc -l; }
printf 'file: %d bytes; best of %d: curl %.0f MB/s, zoo %.0f MB/s (zoo includes sha256 verification)\n' \
    "$size" "$runs" "$(mbps "$best_curl")" "$(mbps "$best_zoo")"
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
printf 'speed ratio zoo/curl (curl time / zoo time): best-of %.2f, median of runs %.2f (target >= 0.80)\n' \
    "$(echo "$best_curl / $best_zoo" | bc -l)" "$median"
"$target/release/examples/hash_speed" 2048
