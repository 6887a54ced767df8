//! `Scorer::from_bytes` (what the browser page runs, through `web/wasm`) scores exactly
//! as `Scorer::open_path` with tract on one thread, and refuses a damaged file with an
//! error naming it.

use std::path::Path;

use infer::backend::BackendKind;
use infer::scorer::{ScoreError, Scorer, ScorerOptions};

fn published(model: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights").join(model).join("0.1.0/model.onnx")
}

#[test]
fn from_bytes_scores_like_open_path_with_tract() {
    let path = published("dream-cnn");
    let bytes = std::fs::read(&path).unwrap();
    let opts = ScorerOptions { backend: BackendKind::Tract, batch_size: 4, threads: 1, rc_average: None };
    let mut from_file = Scorer::open_path(&path, &opts).unwrap();
    let mut from_bytes = Scorer::from_bytes("dream-cnn.onnx", &bytes, &opts).unwrap();
    assert_eq!(from_bytes.outputs(), from_file.outputs());
    assert_eq!(from_bytes.preprocessing(), from_file.preprocessing());
    assert_eq!(from_bytes.label(), from_file.label());
    let seqs: Vec<Vec<u8>> = ["TGCATTTTTTTCACATCGGATCCAAGCTT", "ACGTNACGT", "TGCATTTTTTTCACATCAAAAAAAAAAAAAAAAAAAGGTTACGGCTGTT", "G", "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    let seqs: Vec<&[u8]> = seqs.iter().map(|s| s.as_slice()).collect();
    assert_eq!(from_bytes.score(&seqs).unwrap(), from_file.score(&seqs).unwrap());
}

#[test]
fn from_bytes_refuses_a_damaged_model_naming_it() {
    let bytes = std::fs::read(published("dream-cnn")).unwrap();
    let opts = ScorerOptions { batch_size: 4, ..ScorerOptions::default() };
    let err = Scorer::from_bytes("cut.onnx", &bytes[..bytes.len() / 2], &opts).unwrap_err();
    assert!(err.to_string().contains("cut.onnx"), "{err}");
    let err = Scorer::from_bytes("text.onnx", b"not a model", &opts).unwrap_err();
    assert!(matches!(err, ScoreError::Onnx(_)), "{err:?}");
    assert!(err.to_string().contains("text.onnx"), "{err}");
}
