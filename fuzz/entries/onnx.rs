//! Fuzz entry for reading a model the way `infer` opens one: ONNX metadata, the scoring
//! contract stored in it (preprocessing, outputs), then tract's model load and a batch
//! of one sequence. Shared by fuzz/fuzz_targets/onnx.rs and infer/tests/fuzz_replay.rs.

use infer::backend::{self, BackendKind, BackendOptions};

pub fn run(data: &[u8]) {
    let Ok(metadata) = infer::onnx::metadata_from_bytes(data) else { return };
    if !metadata.contains_key(infer::onnx::meta::PREPROCESSING) {
        return;
    }
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("model.onnx");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let Ok((_, pre, outputs)) = infer::scorer::read_model_description(&path) else { return };
    // Keep the fuzzer away from allocations that only measure the machine's memory.
    if pre.input_size() > 1 << 16 {
        return;
    }
    let opts = BackendOptions {
        max_rows: pre.inputs_per_sequence(),
        channels: pre.channels(),
        length: pre.length,
        threads: 1,
    };
    let Ok(mut engine) = backend::open(BackendKind::Tract, &path, &opts) else { return };
    let mut x = vec![0f32; pre.input_size() * pre.inputs_per_sequence()];
    let seq = vec![b'A'; pre.length.min(8).max(1)];
    if pre.encode_for_scoring(&seq, &mut x).is_err() {
        return;
    }
    let _ = engine.run(&x, pre.inputs_per_sequence());
    let _ = outputs;
}
