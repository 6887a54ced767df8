//! Embeds the default ONNX Runtime library location: the copy `scripts/setup.sh`
//! installs in this workspace's `.venv`. `ort` loads the library at run time, so the
//! binary still starts (and scores with tract) when it is missing; `ORT_DYLIB_PATH` or a
//! `libonnxruntime.so` next to the executable take precedence.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().map(PathBuf::from).unwrap_or(manifest);
    let lib = workspace.join(".venv").join("onnxruntime").join("libonnxruntime.so");
    println!("cargo:rustc-env=INFER_DEFAULT_ORT_DYLIB={}", lib.display());
    println!("cargo:rerun-if-changed=build.rs");
}
