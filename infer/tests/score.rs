//! `infer::Scorer` and `infer score` against the reference predictor computed by hand.

use crate::support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use infer::backend::BackendKind;
use infer::precision::Precision;
use infer::scorer::{ScoreError, Scorer, ScorerOptions};
use support::{assert_close, expected_scores, BiLstm, Reference, SoftArgmaxCnn};

fn cnn_model(dir: &Path) -> (SoftArgmaxCnn, PathBuf) {
    let model = SoftArgmaxCnn::random(6, 150, 3);
    let path = dir.join("cnn.onnx");
    model.write(&path, &support::dream_preprocessing(), &["expression"]);
    (model, path)
}

fn lstm_model(dir: &Path) -> (BiLstm, PathBuf) {
    let model = BiLstm::random(5, 20, 3, 2, 5);
    let path = dir.join("lstm.onnx");
    model.write(&path, &support::short_preprocessing(20), &["dev", "hk"]);
    (model, path)
}

/// Every model here is a path; the zoo is never consulted.
fn zoo() -> zoo::Zoo {
    zoo::Zoo::new(zoo::Registry::builtin(), std::env::temp_dir().join("infer-score-tests-unused-zoo"))
}

fn opts(backend: BackendKind, batch_size: usize) -> ScorerOptions {
    ScorerOptions { backend, batch_size, threads: 1, rc_average: None }
}

fn expected_all(model: &dyn Reference, pre: &infer::Preprocessing, seqs: &[Vec<u8>], rc: bool) -> Vec<f64> {
    seqs.iter().flat_map(|s| expected_scores(model, pre, s, rc)).collect()
}

fn refs(seqs: &[Vec<u8>]) -> Vec<&[u8]> {
    seqs.iter().map(|s| s.as_slice()).collect()
}

#[test]
fn scorer_reproduces_reference_predictor_for_every_batch_split() {
    let dir = tempfile::tempdir().unwrap();
    let (model, path) = cnn_model(dir.path());
    let pre = support::dream_preprocessing();
    let batch = 4;
    // k * batch + 1 records: the last batch holds a single sequence.
    let seqs = support::demo_sequences(2 * batch + 1);
    let want = expected_all(&model, &pre, &seqs, true);
    for backend in [BackendKind::Tract, BackendKind::Ort] {
        for b in [1, batch, 256] {
            let mut scorer = Scorer::open(&zoo(), path.to_str().unwrap(), &opts(backend, b)).unwrap();
            assert!(scorer.rc_average());
            assert_eq!(scorer.outputs(), ["expression"]);
            assert_eq!(scorer.preprocessing(), &pre);
            let got = scorer.score(&refs(&seqs)).unwrap();
            assert_close(&got, &want, &format!("{backend} batch {b}"));
            // The scorer is reusable: a second call after a partial batch is unaffected.
            let again = scorer.score(&refs(&seqs[..batch])).unwrap();
            assert_eq!(again, got[..batch], "{backend} batch {b}: second call");
        }
    }
}

#[test]
fn rc_average_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let (model, path) = cnn_model(dir.path());
    let pre = support::dream_preprocessing();
    let seqs = support::demo_sequences(5);
    let mut o = opts(BackendKind::Tract, 2);
    o.rc_average = Some(false);
    let mut scorer = Scorer::open(&zoo(), path.to_str().unwrap(), &o).unwrap();
    assert!(!scorer.rc_average());
    let got = scorer.score(&refs(&seqs)).unwrap();
    assert_close(&got, &expected_all(&model, &pre, &seqs, false), "forward only");
    let averaged = expected_all(&model, &pre, &seqs, true);
    assert!(got.iter().zip(&averaged).any(|(g, a)| (*g as f64 - a).abs() > 1e-4), "RC averaging must change the scores");
}

#[test]
fn multi_task_lstm_with_five_channels() {
    let dir = tempfile::tempdir().unwrap();
    let (model, path) = lstm_model(dir.path());
    let pre = support::short_preprocessing(20);
    let seqs = support::random_dna(7, 20, 9);
    let want = expected_all(&model, &pre, &seqs, true);
    for backend in [BackendKind::Tract, BackendKind::Ort] {
        let mut scorer = Scorer::open(&zoo(), path.to_str().unwrap(), &opts(backend, 3)).unwrap();
        assert_eq!(scorer.outputs(), ["dev", "hk"]);
        let got = scorer.score(&refs(&seqs)).unwrap();
        assert_close(&got, &want, &format!("{backend}"));
    }
}

#[test]
fn empty_input_scores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = cnn_model(dir.path());
    let mut scorer = Scorer::open(&zoo(), path.to_str().unwrap(), &opts(BackendKind::Tract, 4)).unwrap();
    assert!(scorer.score(&[]).unwrap().is_empty());
}

#[test]
fn model_directory_and_copied_file_score_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = cnn_model(dir.path());
    let other = tempfile::tempdir().unwrap();
    let copied_dir = other.path().join("my-model");
    std::fs::create_dir(&copied_dir).unwrap();
    std::fs::copy(&path, copied_dir.join("model.onnx")).unwrap();
    let seqs = support::demo_sequences(6);
    let score = |source: &str| Scorer::open(&zoo(), source, &opts(BackendKind::Tract, 4)).unwrap().score(&refs(&seqs)).unwrap();
    let a = score(path.to_str().unwrap());
    let b = score(copied_dir.to_str().unwrap());
    let c = score(copied_dir.join("model.onnx").to_str().unwrap());
    assert_eq!(a, b);
    assert_eq!(a, c);
}

#[test]
fn bad_sequences_and_sources_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = lstm_model(dir.path());
    let mut scorer = Scorer::open(&zoo(), path.to_str().unwrap(), &opts(BackendKind::Tract, 2)).unwrap();
    let mut seqs = support::random_dna(3, 20, 1);
    seqs[2].truncate(19);
    match scorer.score(&refs(&seqs)) {
        Err(ScoreError::Sequence { index: 2, source }) => assert!(source.to_string().contains("19"), "{source}"),
        other => panic!("expected a sequence error for index 2, got {other:?}"),
    }
    seqs[2] = b"ACGTACGTACGTACGTACGX".to_vec();
    assert!(matches!(scorer.score(&refs(&seqs)), Err(ScoreError::Sequence { index: 2, .. })));

    let missing = dir.path().join("nope.onnx");
    let err = Scorer::open(&zoo(), missing.to_str().unwrap(), &ScorerOptions::default()).unwrap_err();
    assert!(matches!(err, ScoreError::ModelNotFound { .. }), "{err}");
    let err = Scorer::open(&zoo(), dir.path().to_str().unwrap(), &ScorerOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no model.onnx"), "{err}");
    let err = Scorer::open(&zoo(), path.to_str().unwrap(), &ScorerOptions { batch_size: 0, ..Default::default() }).unwrap_err();
    assert!(matches!(err, ScoreError::ZeroBatchSize), "{err}");
}

#[test]
fn model_without_metadata_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bare.onnx");
    let mut g = infer::onnx::GraphBuilder::new("bare");
    g.input("x", infer::onnx::Elem::F32, &[infer::onnx::Dim::Sym("batch")]);
    g.output("y", infer::onnx::Elem::F32, &[infer::onnx::Dim::Sym("batch")]);
    g.node("Identity", &["x"], &["y"], vec![]);
    g.save(&path).unwrap();
    let err = Scorer::open(&zoo(), path.to_str().unwrap(), &ScorerOptions::default()).unwrap_err().to_string();
    assert!(err.contains("bare.onnx") && err.contains("preprocessing"), "{err}");
}

// ---------------------------------------------------------------------------------------
// The binary

fn infer_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_infer"));
    c.stdin(Stdio::null());
    c
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(data).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn fasta(seqs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, s) in seqs.iter().enumerate() {
        writeln!(out, ">seq{i} some description").unwrap();
        out.extend_from_slice(s);
        out.push(b'\n');
    }
    out
}

/// Parses `id<TAB>v1[<TAB>v2...]` lines after the header.
fn parse_tsv(text: &str) -> (Vec<String>, Vec<String>, Vec<f32>) {
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().expect("header").split('\t').map(String::from).collect();
    let mut ids = Vec::new();
    let mut values = Vec::new();
    for line in lines {
        let mut f = line.split('\t');
        ids.push(f.next().unwrap().to_string());
        let row: Vec<f32> = f.map(|v| v.parse().unwrap()).collect();
        assert_eq!(row.len(), header.len() - 1, "line {line:?}");
        values.extend(row);
    }
    (header, ids, values)
}

#[test]
fn cli_scores_stdin_in_order_with_header() {
    let dir = tempfile::tempdir().unwrap();
    let (model, path) = cnn_model(dir.path());
    let pre = support::dream_preprocessing();
    let seqs = support::demo_sequences(2 * 3 + 1);
    let mut cmd = infer_cmd();
    cmd.args(["score", "--model"]).arg(&path).args(["--input", "-", "--batch-size", "3", "--threads", "1", "--backend", "tract"]);
    let out = run(cmd, Some(&fasta(&seqs)));
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let (header, ids, values) = parse_tsv(&out.stdout);
    assert_eq!(header, ["id", "expression"]);
    assert_eq!(ids, (0..seqs.len()).map(|i| format!("seq{i}")).collect::<Vec<_>>());
    assert_close(&values, &expected_all(&model, &pre, &seqs, true), "cli");
    // Scores print with shortest round-trip formatting: exactly the library's numbers.
    let mut scorer = Scorer::open(&zoo(), path.to_str().unwrap(), &opts(BackendKind::Tract, 3)).unwrap();
    assert_eq!(values, scorer.score(&refs(&seqs)).unwrap());
}

#[test]
fn cli_empty_input_writes_header_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = lstm_model(dir.path());
    let empty = dir.path().join("empty.fa");
    std::fs::write(&empty, b"").unwrap();
    let out_path = dir.path().join("out.tsv");
    let mut cmd = infer_cmd();
    cmd.args(["score", "--model"]).arg(&path).arg("--input").arg(&empty).arg("--output").arg(&out_path);
    let out = run(cmd, None);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "id\tdev\thk\n");
}

#[test]
fn cli_multi_task_file_output_and_no_rc_average() {
    let dir = tempfile::tempdir().unwrap();
    let (model, path) = lstm_model(dir.path());
    let pre = support::short_preprocessing(20);
    let seqs = support::random_dna(5, 20, 4);
    let input = dir.path().join("in.fa");
    std::fs::write(&input, fasta(&seqs)).unwrap();
    for (flag, rc) in [(None, true), (Some("--no-rc-average"), false)] {
        for backend in ["tract", "ort"] {
            let out_path = dir.path().join(format!("out-{backend}-{rc}.tsv"));
            let mut cmd = infer_cmd();
            cmd.args(["score", "--model"]).arg(&path).arg("--input").arg(&input).arg("--output").arg(&out_path);
            cmd.args(["--backend", backend, "--batch-size", "2"]);
            cmd.args(flag);
            let out = run(cmd, None);
            assert_eq!(out.code, 0, "stderr: {}", out.stderr);
            assert!(out.stdout.is_empty());
            let (header, ids, values) = parse_tsv(&std::fs::read_to_string(&out_path).unwrap());
            assert_eq!(header, ["id", "dev", "hk"]);
            assert_eq!(ids.len(), 5);
            assert_close(&values, &expected_all(&model, &pre, &seqs, rc), &format!("{backend} rc={rc}"));
        }
    }
}

#[test]
fn cli_bad_record_fails_without_leaving_a_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = lstm_model(dir.path());
    let mut seqs = support::random_dna(7, 20, 2);
    seqs[5] = b"ACGTACGT".to_vec(); // the model needs exactly 20 nt
    let input = dir.path().join("in.fa");
    std::fs::write(&input, fasta(&seqs)).unwrap();
    let out_path = dir.path().join("out.tsv");
    let mut cmd = infer_cmd();
    cmd.args(["score", "--model"]).arg(&path).arg("--input").arg(&input).arg("--output").arg(&out_path);
    cmd.args(["--batch-size", "2"]);
    let out = run(cmd, None);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("seq5") && out.stderr.contains("20"), "stderr: {}", out.stderr);
    assert!(!out_path.exists(), "a failed run must not leave an output file");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "temporary file left behind: {leftovers:?}");

    // With --skip-invalid the record is left out, counted, and the rest scored.
    let mut cmd = infer_cmd();
    cmd.args(["score", "--model"]).arg(&path).arg("--input").arg(&input).arg("--output").arg(&out_path);
    cmd.args(["--batch-size", "2", "--skip-invalid"]);
    let out = run(cmd, None);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert!(out.stderr.contains("skipped 1 record") && out.stderr.contains("seq5"), "stderr: {}", out.stderr);
    let (_, ids, _) = parse_tsv(&std::fs::read_to_string(&out_path).unwrap());
    assert_eq!(ids, ["seq0", "seq1", "seq2", "seq3", "seq4", "seq6"]);
}

#[test]
fn cli_ort_cuda_without_cuda_fails_with_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = cnn_model(dir.path());
    let input = dir.path().join("in.fa");
    std::fs::write(&input, fasta(&support::demo_sequences(2))).unwrap();
    let mut cmd = infer_cmd();
    cmd.args(["score", "--model"]).arg(&path).arg("--input").arg(&input).args(["--backend", "ort-cuda"]);
    let out = run(cmd, None);
    if out.code == 0 {
        // Only acceptable with a GPU build of onnxruntime and a GPU: then say so.
        assert!(out.stderr.contains("CUDAExecutionProvider"), "stderr: {}", out.stderr);
    } else {
        assert_eq!(out.code, 1, "stderr: {}", out.stderr);
        assert!(out.stderr.contains("CUDA execution provider could not be registered"), "stderr: {}", out.stderr);
        assert!(out.stdout.is_empty(), "nothing may be scored on a fallback: {}", out.stdout);
    }
}

#[test]
fn cli_missing_onnxruntime_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = cnn_model(dir.path());
    let input = dir.path().join("in.fa");
    std::fs::write(&input, fasta(&support::demo_sequences(1))).unwrap();
    let mut cmd = infer_cmd();
    cmd.args(["score", "--model"]).arg(&path).arg("--input").arg(&input).args(["--backend", "ort"]);
    cmd.env("ORT_DYLIB_PATH", dir.path().join("no-such-libonnxruntime.so"));
    let out = run(cmd, None);
    assert_eq!(out.code, 1, "stderr: {}", out.stderr);
    assert!(out.stderr.contains("ORT_DYLIB_PATH") && out.stderr.contains("scripts/setup.sh"), "stderr: {}", out.stderr);
    // tract needs no native library at all: the default (auto) falls back to it and says so.
    let mut cmd = infer_cmd();
    cmd.args(["score", "--model"]).arg(&path).arg("--input").arg(&input);
    cmd.env("ORT_DYLIB_PATH", dir.path().join("no-such-libonnxruntime.so"));
    let out = run(cmd, None);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert!(out.stderr.contains("on tract") && out.stderr.contains("--backend auto"), "stderr: {}", out.stderr);
}

#[test]
fn cli_default_backend_is_onnx_runtime_when_its_library_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = cnn_model(dir.path());
    let input = dir.path().join("in.fa");
    let seqs = support::demo_sequences(3);
    std::fs::write(&input, fasta(&seqs)).unwrap();
    let score = |backend: Option<&str>| {
        let mut cmd = infer_cmd();
        cmd.args(["score", "--model"]).arg(&path).arg("--input").arg(&input);
        if let Some(b) = backend {
            cmd.args(["--backend", b]);
        }
        let out = run(cmd, None);
        assert_eq!(out.code, 0, "stderr: {}", out.stderr);
        out
    };
    let auto = score(None);
    assert!(
        auto.stderr.contains("ONNX Runtime") && auto.stderr.contains("--backend auto: ONNX Runtime found"),
        "stderr: {}",
        auto.stderr
    );
    assert_eq!(auto.stdout, score(Some("ort")).stdout);
    assert!(score(Some("tract")).stderr.contains("on tract"));
}

/// A version pulled before its int8 variant was published: `--precision int8` with the
/// version given (which resolves from the cache without asking the registry) brought
/// "no int8 variant" although the registry lists one; it must pull the newer listing.
#[test]
fn a_variant_published_after_the_pull_is_fetched_when_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, registry, home) = (tmp.path().join("src"), tmp.path().join("registry"), tmp.path().join("home"));
    std::fs::create_dir_all(&src).unwrap();
    let model = SoftArgmaxCnn::random(6, 150, 3);
    model.write(&src.join("model.onnx"), &support::dream_preprocessing(), &["expression"]);
    let version = zoo::ModelSpec::parse("m@0.1.0").unwrap().version.unwrap();
    zoo::publish(&src, &registry, "m", &version, None, None).unwrap();
    let zoo = zoo::Zoo::new(zoo::Registry::Local { dir: registry.clone() }, home);
    let fp32 = infer::scorer::resolve_model(&zoo, "m@0.1.0").unwrap();
    let err = infer::scorer::resolve_variant(&zoo, "m@0.1.0", Precision::Int8).unwrap_err();
    assert!(err.to_string().contains("no int8 variant"), "{err}");

    // The int8 file joins the published version, as weights/dream-rnn/0.1.0's did.
    let dir = registry.join("m").join("0.1.0");
    infer::precision::write_variant(&dir.join("model.onnx"), Precision::Int8, &dir.join("model.int8.onnx")).unwrap();
    let index_path = registry.join("index.json");
    let mut index = zoo::Index::load(&index_path).unwrap();
    let (size, sha256) = zoo::hash::sha256_file(&dir.join("model.int8.onnx")).unwrap();
    let entry = index.models.get_mut("m").unwrap().versions.get_mut(&version).unwrap();
    entry.files.insert("model.int8.onnx".into(), zoo::FileEntry { size, sha256, mirrors: Vec::new() });
    index.save_atomic(&index_path).unwrap();

    let int8 = infer::scorer::resolve_variant(&zoo, "m@0.1.0", Precision::Int8).unwrap();
    assert_eq!(int8, fp32.with_file_name("model.int8.onnx"));
    assert!(int8.is_file());
}
