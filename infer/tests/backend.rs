//! Backends against hand-computed outputs of small models written with `infer::onnx`.

use crate::support;

use infer::backend::{self, BackendError, BackendKind, BackendOptions};
use infer::onnx;
use support::{assert_close, BiLstm, Reference, Rng, SoftArgmaxCnn};

fn run_backend(kind: BackendKind, model: &dyn Reference, path: &std::path::Path, max_rows: usize, rows: usize, threads: usize) {
    let opts = BackendOptions { max_rows, channels: model.channels(), length: model.length(), threads };
    let mut b = backend::open(kind, path, &opts).unwrap_or_else(|e| panic!("{kind}: {e}"));
    let row = model.channels() * model.length();
    let mut rng = Rng::new(rows as u64 * 31 + max_rows as u64);
    // Two passes with different row counts through the same plan: a full batch and a
    // short one (tract pads it), so stale padding or rows would show.
    for n in [rows, max_rows, 1] {
        let x = rng.vec(n * row, 1.0);
        let y = b.run(&x, n).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let want: Vec<f64> = x.chunks(row).flat_map(|r| model.forward(r)).collect();
        assert_close(&y, &want, &format!("{kind} ({}) {n} of {max_rows} rows", b.describe()));
    }
}

fn write_cnn(dir: &std::path::Path) -> (SoftArgmaxCnn, std::path::PathBuf) {
    let model = SoftArgmaxCnn::random(6, 150, 7);
    let path = dir.join("cnn.onnx");
    model.write(&path, &support::dream_preprocessing(), &["expression"]);
    (model, path)
}

fn write_lstm(dir: &std::path::Path, tasks: usize) -> (BiLstm, std::path::PathBuf) {
    let model = BiLstm::random(5, 24, 4, tasks, 11);
    let path = dir.join(format!("lstm{tasks}.onnx"));
    let names: Vec<&str> = ["dev", "hk", "third"][..tasks].to_vec();
    model.write(&path, &support::short_preprocessing(24), &names);
    (model, path)
}

#[test]
fn tract_matches_hand_computed_cnn() {
    let dir = tempfile::tempdir().unwrap();
    let (model, path) = write_cnn(dir.path());
    run_backend(BackendKind::Tract, &model, &path, 8, 5, 1);
    run_backend(BackendKind::Tract, &model, &path, 4, 4, 2);
    // Slices of TRACT_SLICE_ROWS: the last one padded, a one-row batch on its own plan.
    run_backend(BackendKind::Tract, &model, &path, 7, 5, 3);
    // More slices than threads: the workers take them in turn, and the order must hold.
    run_backend(BackendKind::Tract, &model, &path, 4 * backend::TRACT_SLICE_ROWS + 3, 3 * backend::TRACT_SLICE_ROWS + 1, 3);
}

#[test]
fn ort_matches_hand_computed_cnn() {
    let dir = tempfile::tempdir().unwrap();
    let (model, path) = write_cnn(dir.path());
    run_backend(BackendKind::Ort, &model, &path, 8, 5, 1);
    run_backend(BackendKind::Ort, &model, &path, 3, 3, 2);
}

#[test]
fn tract_matches_hand_computed_bidirectional_lstm() {
    let dir = tempfile::tempdir().unwrap();
    for tasks in [1, 2] {
        let (model, path) = write_lstm(dir.path(), tasks);
        run_backend(BackendKind::Tract, &model, &path, 6, 5, 1);
        run_backend(BackendKind::Tract, &model, &path, 2, 2, 2);
        // Several slices of TRACT_RECURRENT_SLICE_ROWS, the last one padded.
        let r = backend::TRACT_RECURRENT_SLICE_ROWS;
        run_backend(BackendKind::Tract, &model, &path, 3 * r - 1, 2 * r + 1, 2);
    }
}

#[test]
fn ort_matches_hand_computed_bidirectional_lstm() {
    let dir = tempfile::tempdir().unwrap();
    for tasks in [1, 2] {
        let (model, path) = write_lstm(dir.path(), tasks);
        run_backend(BackendKind::Ort, &model, &path, 6, 5, 2);
    }
}

#[test]
fn written_metadata_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = write_lstm(dir.path(), 2);
    let m = onnx::read_metadata(&path).unwrap();
    assert_eq!(m[onnx::meta::OUTPUTS], r#"["dev","hk"]"#);
    assert_eq!(m[onnx::meta::NAME], "bilstm");
    let pre: infer::Preprocessing = serde_json::from_str(&m[onnx::meta::PREPROCESSING]).unwrap();
    assert_eq!(pre, support::short_preprocessing(24));
    for key in [onnx::meta::MODEL, onnx::meta::VERSION, onnx::meta::LICENSE, onnx::meta::PROVENANCE] {
        assert!(m.contains_key(key), "{key}");
    }
}

#[test]
fn non_onnx_file_is_reported_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, b">seq1\nACGT\n").unwrap();
    let err = onnx::read_metadata(&path).unwrap_err().to_string();
    assert!(err.contains("model.onnx") && err.contains("not an ONNX model"), "{err}");
    let opts = BackendOptions { max_rows: 1, channels: 6, length: 150, threads: 1 };
    let err = backend::open(BackendKind::Tract, &path, &opts).err().expect("garbage must not load").to_string();
    assert!(err.contains("model.onnx"), "{err}");
}

#[test]
fn batch_shape_mismatch_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (model, path) = write_cnn(dir.path());
    let opts = BackendOptions { max_rows: 2, channels: model.channels(), length: model.length(), threads: 1 };
    for kind in [BackendKind::Tract, BackendKind::Ort] {
        let mut b = backend::open(kind, &path, &opts).unwrap();
        let too_many = vec![0f32; 3 * 6 * 150];
        assert!(matches!(b.run(&too_many, 3), Err(BackendError::BadBatch { .. })), "{kind}");
        assert!(matches!(b.run(&too_many[..100], 1), Err(BackendError::BadBatch { .. })), "{kind}");
    }
}

#[test]
fn ort_cuda_without_cuda_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (model, path) = write_cnn(dir.path());
    let opts = BackendOptions { max_rows: 2, channels: model.channels(), length: model.length(), threads: 1 };
    match backend::open(BackendKind::OrtCuda, &path, &opts) {
        // A GPU build of onnxruntime on a GPU machine: then it must really say CUDA.
        Ok(b) => assert!(b.describe().contains("CUDAExecutionProvider"), "{}", b.describe()),
        Err(e) => {
            assert!(matches!(e, BackendError::CudaUnavailable { .. }), "{e:?}");
            let msg = e.to_string();
            assert!(msg.contains("CUDA execution provider") && msg.contains("--backend ort"), "{msg}");
        }
    }
}

#[test]
fn backend_names_parse() {
    for kind in [BackendKind::Auto, BackendKind::Tract, BackendKind::Ort, BackendKind::OrtCuda] {
        assert_eq!(kind.name().parse::<BackendKind>().unwrap(), kind);
    }
    assert!("cuda".parse::<BackendKind>().is_err());
}
