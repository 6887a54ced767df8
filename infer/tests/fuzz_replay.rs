//! Replays every input the fuzzers found a crash with (fuzz/regressions/<target>/) through
//! the same entry the fuzz target calls, so a regression fails `cargo test`.

#[path = "../../fuzz/entries/input.rs"]
mod input_entry;
#[path = "../../fuzz/entries/onnx.rs"]
mod onnx_entry;

use std::path::{Path, PathBuf};

fn regressions(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    for path in regressions(target) {
        let data = std::fs::read(&path).unwrap();
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("{}: the fuzz regression panics again", path.display());
        }
    }
}

#[test]
fn fuzz_regressions_input() {
    replay("input", input_entry::run);
}

#[test]
fn fuzz_regressions_onnx() {
    replay("onnx", onnx_entry::run);
}
