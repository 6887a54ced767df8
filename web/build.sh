#!/usr/bin/env bash
# Builds the static scoring page into one folder (default target/web/site):
#   web/build.sh [OUT]
# OUT then holds index.html, the app, the worker, the wasm module (infer's scoring code
# built with SIMD for wasm32-unknown-unknown), models.json and the published models'
# ONNX files from weights/. Serve OUT from any static host (or
# `python3 -m http.server -d OUT`); it works offline once loaded.
# Needs `rustup target add wasm32-unknown-unknown` and wasm-bindgen-cli of the version
# in Cargo.lock: scripts/setup.sh installs both.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/target/web/site}"
# Its own target folder: the wasm build shares no artefact with the native one, and a
# build started from inside `cargo test` must not wait on that run's lock.
wasm_target="${WEB_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}/web}"
bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$root/Cargo.lock")"

bindgen=""
for candidate in "${CARGO_HOME:-$HOME/.cargo}/bin/wasm-bindgen" "$root/.tools/bin/wasm-bindgen" "$(command -v wasm-bindgen || true)"; do
    if [[ -n "$candidate" && -x "$candidate" ]] && [[ "$("$candidate" --version)" == "wasm-bindgen $bindgen_version" ]]; then
        bindgen="$candidate"
        break
    fi
done
if [[ -z "$bindgen" ]]; then
    echo "web/build.sh: wasm-bindgen $bindgen_version not found (the version in Cargo.lock); run scripts/setup.sh" >&2
    exit 1
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "web/build.sh: the wasm32-unknown-unknown target is not installed; run scripts/setup.sh" >&2
    exit 1
fi

echo "web/build.sh: building the wasm module (release, +simd128) in $wasm_target" >&2
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
    cargo build --manifest-path "$root/Cargo.toml" --locked --release -p infer-wasm \
    --target wasm32-unknown-unknown --target-dir "$wasm_target"

mkdir -p "$(dirname "$out")"
stage="$(mktemp -d "${out%/}.tmp.XXXXXX")"
chmod 755 "$stage"
trap 'rm -rf "$stage"' EXIT
"$bindgen" --target web --no-typescript --out-dir "$stage/pkg" \
    "$wasm_target/wasm32-unknown-unknown/release/infer_wasm.wasm"
cp "$root"/web/site/* "$stage/"
mkdir -p "$stage/models"
# Every published model whose registry entry has its model.onnx (entries converted from
# authors' weights, or exported from published weights, at pull time have none in
# weights/ and are left out).
python3 - "$root/weights" "$stage" <<'PY'
import json, shutil, sys, pathlib
weights, stage = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
index = json.loads((weights / "index.json").read_text())
models = []
for name, entry in sorted(index["models"].items()):
    version = entry.get("default")
    files = entry.get("versions", {}).get(version, {}).get("files", {}) if version else {}
    if "model.onnx" not in files or not (weights / name / version / "model.onnx").is_file():
        continue
    file = f"models/{name}-{version}.onnx"
    shutil.copyfile(weights / name / version / "model.onnx", stage / file)
    card = entry["versions"][version].get("card", {})
    models.append({"name": name, "version": version, "file": file,
                   "size": files["model.onnx"]["size"], "sha256": files["model.onnx"]["sha256"],
                   "description": card.get("description", "")})
(stage / "models.json").write_text(json.dumps(models, indent=1) + "\n")
print(f"web/build.sh: {len(models)} models: " + ", ".join(m["name"] for m in models), file=sys.stderr)
PY
rm -rf "$out"
mv "$stage" "$out"
trap - EXIT
echo "web/build.sh: site written to $out" >&2
