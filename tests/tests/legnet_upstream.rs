//! The path a user takes to the LegNet authors' weights, with a loopback stand-in for
//! GitHub: an index entry naming an upstream URL + git blob SHA-1 -> `train pull` ->
//! download, blob check, conversion -> `infer score --model NAME` (offline afterwards),
//! parity with the team's predictor. No network.
//!
//! The opt-in online acceptance test against the real files is `legnet_online.rs`.

#[path = "../../zoo/tests/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{bytes, Reply, Server};
use zoo::upstream::git_blob_sha1;

use e2e::{bin, predict_rows, run, shared};

const COMMIT: &str = "63773bb04a85dea33bdbf2e2350f7483cc2c96b5";

fn fixture(rel: &str) -> PathBuf {
    shared("fixtures/submissions/legnet").join(rel)
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

/// A registry whose `legnet-standin@1.0.0` points at `url` with the blob hash `blob`.
fn write_registry(dir: &Path, url: &str, blob: &str, preprocessing: &str) {
    let index = serde_json::json!({"schema": 1, "models": {"legnet-standin": {"versions": {"1.0.0": {
        "files": {},
        "upstream": {"url": url, "git_blob_sha1": blob, "converter": "legnet",
                     "options": {"preprocessing": preprocessing}},
        "card": {"license": "MIT", "description": "LegNet fixture served as if from GitHub"}}}}}});
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
}

fn env(mut cmd: Command, registry: &Path, home: &Path) -> Command {
    cmd.env("ZOO_REGISTRY", registry)
        .env("ZOO_HOME", home)
        .env("ZOO_RETRIES", "2")
        .env("ZOO_BACKOFF_MS", "10")
        .env_remove("ZOO_OFFLINE");
    cmd
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn pull_converts_the_authors_pth_and_infer_scores_it_like_the_team_predictor() {
    let pth = std::fs::read(fixture("model.pth")).unwrap();
    let path = format!("/autosome-ru/LegNet/raw/{COMMIT}/models/dream2022/model_80.pth");
    let server = Server::start();
    // The first connection breaks half-way: `train pull` must resume, not restart.
    let body = bytes(pth.clone());
    server.route(&path, vec![Reply::CutShort { body: body.clone(), after: pth.len() / 2 }, Reply::File(body)]);
    let tmp = tempfile::tempdir().unwrap();
    let (reg, home) = (tmp.path().join("registry"), tmp.path().join("cache"));

    // Before the pull, `infer score` says which command builds the model.
    write_registry(&reg, &server.url(&path), &git_blob_sha1(&pth), "submission");
    let input = tmp.path().join("seqs.tsv");
    let rows: Vec<(String, f64)> = predict_rows(&fixture("predict.tsv"));
    let fasta: String = rows.iter().enumerate().map(|(i, (s, _))| format!(">r{i}\n{s}\n")).collect();
    std::fs::write(&input, fasta).unwrap();
    let before = output(env(Command::new(bin("infer")), &reg, &home).args(["score", "--model", "legnet-standin", "--input"]).arg(&input));
    assert!(!before.status.success());
    let msg = String::from_utf8_lossy(&before.stderr);
    assert!(msg.contains("cargo run --release -p train -- pull legnet-standin"), "{msg}");

    // A wrong blob hash: refused, nothing kept.
    let mut other = pth.clone();
    other[100] ^= 1;
    write_registry(&reg, &server.url(&path), &git_blob_sha1(&other), "submission");
    let bad = output(env(Command::new(bin("train")), &reg, &home).args(["pull", "legnet-standin"]));
    assert_eq!(bad.status.code(), Some(1), "{}", String::from_utf8_lossy(&bad.stderr));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("git blob mismatch"));
    let left: Vec<String> = files_under(&home).into_iter().filter(|f| !f.ends_with(".lock")).collect();
    assert!(left.is_empty(), "left behind after a wrong blob: {left:?}");

    // The right one: the interrupted first transfer is resumed with a Range request.
    write_registry(&reg, &server.url(&path), &git_blob_sha1(&pth), "submission");
    let started = std::time::Instant::now();
    let pulled = run(env(Command::new(bin("train")), &reg, &home).args(["pull", "legnet-standin"]));
    eprintln!("train pull (download + check + conversion): {:.2} s; {}", started.elapsed().as_secs_f64(), String::from_utf8_lossy(&pulled.stdout).trim());
    let ranges = server.requests(&path);
    assert!(ranges.iter().any(|r| r.as_deref() == Some(&format!("bytes={}-", pth.len() / 2))), "{ranges:?}");
    let dir = home.join("models/legnet-standin/1.0.0");
    for f in ["model.onnx", "model.safetensors", "model.json", "upstream/model_80.pth"] {
        let size = std::fs::metadata(dir.join(f)).unwrap().len();
        eprintln!("artifact {f}: {size} bytes");
    }
    let desc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("model.json")).unwrap()).unwrap();
    assert_eq!(desc["provenance"]["source"], server.url(&path));
    assert_eq!(desc["provenance"]["training"]["git_blob_sha1"], git_blob_sha1(&pth));

    // Offline from here on: the server is gone and ZOO_OFFLINE is set.
    drop(server);
    let verify = run(env(Command::new(bin("zoo")), &reg, &home).env("ZOO_OFFLINE", "1").args(["verify"]));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("legnet-standin@1.0.0"), "{}", String::from_utf8_lossy(&verify.stdout));
    for backend in ["tract", "ort"] {
        let out = run(env(Command::new(bin("infer")), &reg, &home)
            .env("ZOO_OFFLINE", "1")
            .args(["score", "--threads", "2", "--batch-size", "16", "--backend", backend, "--model", "legnet-standin", "--input"])
            .arg(&input));
        let text = String::from_utf8_lossy(&out.stdout);
        let got: Vec<f64> = text.lines().skip(1).map(|l| l.split('\t').nth(1).unwrap().parse().unwrap()).collect();
        assert_eq!(got.len(), rows.len());
        let worst = got.iter().zip(&rows).map(|(g, (_, w))| (g - w).abs()).fold(0.0, f64::max);
        eprintln!("legnet stand-in via zoo, {backend}: max |diff| to the team predictor {worst:.2e} over {} rows", rows.len());
        assert!(worst <= 1e-4, "{backend}: max |diff| {worst}");
    }
}

/// The upstream preprocessing (`legnet/test.py`: N = 0.25) changes only rows with an N.
#[test]
fn upstream_preprocessing_differs_from_the_submission_copy_only_on_n() {
    let pth = std::fs::read(fixture("model.pth")).unwrap();
    let path = format!("/autosome-ru/LegNet/raw/{COMMIT}/models/complex/model_300.pth");
    let server = Server::start();
    server.route(&path, vec![Reply::File(bytes(pth.clone()))]);
    let tmp = tempfile::tempdir().unwrap();
    let (reg, home) = (tmp.path().join("registry"), tmp.path().join("cache"));
    write_registry(&reg, &server.url(&path), &git_blob_sha1(&pth), "upstream");
    run(env(Command::new(bin("train")), &reg, &home).args(["pull", "legnet-standin"]));
    let desc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("models/legnet-standin/1.0.0/model.json")).unwrap()).unwrap();
    assert_eq!(desc["preprocessing"]["n_policy"], "uniform");
    let rows: Vec<(String, f64)> = predict_rows(&fixture("predict.tsv"));
    let input = tmp.path().join("seqs.fa");
    std::fs::write(&input, rows.iter().enumerate().map(|(i, (s, _))| format!(">r{i}\n{s}\n")).collect::<String>()).unwrap();
    let out = run(env(Command::new(bin("infer")), &reg, &home).args(["score", "--threads", "2", "--model", "legnet-standin", "--input"]).arg(&input));
    let got: Vec<f64> = String::from_utf8_lossy(&out.stdout).lines().skip(1).map(|l| l.split('\t').nth(1).unwrap().parse().unwrap()).collect();
    assert_eq!(got.len(), rows.len());
    for (i, (g, (s, w))) in got.iter().zip(&rows).enumerate() {
        let has_n = s.bytes().any(|b| b == b'N' || b == b'n');
        if has_n {
            assert!((g - w).abs() > 1e-6, "row {i} has an N, yet N = 0.25 changed nothing");
        } else {
            assert!((g - w).abs() <= 1e-4, "row {i}: {g} vs {w}");
        }
    }
    assert!(rows.iter().any(|(s, _)| s.contains('N')), "the fixture has an N row");
}
