//! Replays every input the fuzzers found a crash with (fuzz/regressions/<target>/) through
//! the same entry the fuzz target calls, so a regression fails `cargo test`.

mod support;

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

/// Writes the ONNX fuzz seeds (tiny models with this project's metadata): run by
/// fuzz/seed.sh with INFER_FUZZ_SEEDS set to the corpus directory.
#[test]
#[ignore]
fn write_onnx_seeds() {
    use support::Reference;
    let dir = PathBuf::from(std::env::var("INFER_FUZZ_SEEDS").expect("INFER_FUZZ_SEEDS"));
    std::fs::create_dir_all(&dir).unwrap();
    let pre = support::short_preprocessing(12);
    support::SoftArgmaxCnn::random(pre.channels(), pre.length, 1).write(&dir.join("cnn.onnx"), &pre, &["expression"]);
    support::BiLstm::random(pre.channels(), pre.length, 3, 2, 2).write(&dir.join("lstm.onnx"), &pre, &["a", "b"]);
}
