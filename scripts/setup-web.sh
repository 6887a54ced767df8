#!/usr/bin/env bash
# What the scoring page (web/) needs to build and to be tested in a browser; run by
# scripts/setup.sh (the test set-up), or alone. Idempotent and quick once done:
#   - the wasm32-unknown-unknown Rust target;
#   - wasm-bindgen-cli of exactly the wasm-bindgen version in Cargo.lock, built once
#     into ~/.cargo/bin (rebuilt only when Cargo.lock's version changes);
#   - Debian's chromium and chromium-driver (apt-get), and node/npm if absent;
#   - web/test's node modules (playwright-core, onnxruntime-web) from package-lock.json.
# Nothing is downloaded outside the package registries (no browser or tool downloaders).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi

bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)"
# Cached where `cargo install` puts tools, so a fresh clone on the same machine (CI)
# finds it; web/build.sh looks there, on PATH and in .tools/bin.
bindgen_root="${CARGO_HOME:-$HOME/.cargo}"
have_bindgen=0
for candidate in "$bindgen_root/bin/wasm-bindgen" .tools/bin/wasm-bindgen "$(command -v wasm-bindgen || true)"; do
    if [[ -n "$candidate" && -x "$candidate" && "$("$candidate" --version)" == "wasm-bindgen $bindgen_version" ]]; then
        have_bindgen=1
    fi
done
if [[ $have_bindgen == 0 ]]; then
    echo "setup: building wasm-bindgen-cli $bindgen_version into $bindgen_root/bin (once, a few minutes)"
    # No TLS: the CLI only downloads in its test runner, which is not used. Its own lock
    # file may name crate versions a registry mirror lacks; then the newest that fit.
    install=(cargo install --quiet wasm-bindgen-cli --version "=$bindgen_version" --no-default-features --root "$bindgen_root")
    "${install[@]}" --locked 2>/dev/null || "${install[@]}"
fi

apt_packages=()
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
command -v chromedriver >/dev/null 2>&1 || apt_packages+=(chromium-driver)
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
if ((${#apt_packages[@]})); then
    sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    echo "setup: installing ${apt_packages[*]} (Debian packages)"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

lock_sum="$(sha256sum web/test/package-lock.json | cut -d' ' -f1)"
if [[ "$(cat web/test/node_modules/.setup-stamp 2>/dev/null)" != "$lock_sum" ]]; then
    (cd web/test && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
    echo "$lock_sum" > web/test/node_modules/.setup-stamp
fi
echo "setup: web ready (wasm32 target, wasm-bindgen $bindgen_version, $(chromium --version 2>/dev/null | head -n 1), node $(node --version))"
