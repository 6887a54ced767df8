//! Entries built from an upstream file (git blob SHA-1 + converter) against a loopback
//! server: pull, blob check, conversion, manifest, verify, offline; a wrong blob leaves
//! nothing; an interrupted download resumes; a missing converter says which command to run.

use crate::support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{bytes, content, Reply, Server};
use zoo::upstream::git_blob_sha1;
use zoo::{ConvertRequest, Converter, ModelSpec, NetConfig, Registry, Zoo, ZooError};

const PATH: &str = "/autosome-ru/LegNet/raw/63773bb04a85dea33bdbf2e2350f7483cc2c96b5/models/dream2022/model_80.pth";

/// Writes the three artifacts from the source bytes (so their hashes follow the source).
struct Echo {
    calls: AtomicUsize,
}

impl Converter for Echo {
    fn name(&self) -> &str {
        "echo"
    }
    fn convert(&self, req: &ConvertRequest<'_>) -> Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let data = std::fs::read(req.source).map_err(|e| e.to_string())?;
        for f in ["model.onnx", "model.safetensors", "model.json"] {
            let mut d = f.as_bytes().to_vec();
            d.extend_from_slice(&data[..16]);
            std::fs::write(req.out_dir.join(f), d).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

fn registry(dir: &Path, url: &str, blob: &str, size: Option<u64>) {
    let mut up = serde_json::json!({"url": url, "git_blob_sha1": blob, "converter": "echo"});
    if let Some(s) = size {
        up["size"] = s.into();
    }
    let index = serde_json::json!({"schema": 1, "models": {"up": {"versions": {"1.0.0": {
        "files": {}, "upstream": up, "card": {"license": "MIT", "description": "stand-in"}}}}}});
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
}

fn zoo(reg: &Path, home: &Path, conv: &Arc<Echo>) -> Zoo {
    let net = NetConfig { timeout: Duration::from_secs(5), retries: 3, backoff: Duration::from_millis(10) };
    Zoo::new(Registry::parse(reg.to_str().unwrap()).unwrap(), home).with_net(net).with_converter(conv.clone())
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
fn pull_checks_the_blob_converts_verifies_and_works_offline() {
    let data = content(300_000, 1);
    let server = Server::start();
    server.route(PATH, vec![Reply::File(bytes(data.clone()))]);
    let tmp = tempfile::tempdir().unwrap();
    let (reg, home) = (tmp.path().join("reg"), tmp.path().join("home"));
    registry(&reg, &server.url(PATH), &git_blob_sha1(&data), None);
    let conv = Arc::new(Echo { calls: AtomicUsize::new(0) });
    let z = zoo(&reg, &home, &conv);
    let spec = ModelSpec::parse("up").unwrap();
    let p = z.pull(&spec).unwrap();
    assert_eq!((p.fetched_files, p.fetched_bytes), (1, data.len() as u64));
    let dir = z.resolve(&spec).unwrap();
    assert_eq!(dir, p.dir);
    assert_eq!(
        files_under(&dir),
        ["model.json", "model.onnx", "model.safetensors", "upstream/model_80.pth"]
    );
    assert_eq!(std::fs::read(dir.join("upstream/model_80.pth")).unwrap(), data);
    // A second pull and resolve neither download nor convert again.
    assert_eq!(z.pull(&spec).unwrap().fetched_files, 0);
    assert_eq!(conv.calls.load(Ordering::SeqCst), 1);
    assert_eq!(server.requests(PATH).len(), 1);
    // Verified like any entry: every produced file is in the manifest with its sha256.
    let reports = z.verify(None).unwrap();
    assert_eq!(reports.len(), 1);
    assert!(reports[0].problems.is_empty(), "{:?}", reports[0].problems);
    std::fs::write(dir.join("model.onnx"), b"tampered").unwrap();
    assert!(!z.verify(None).unwrap()[0].problems.is_empty());
    // The damaged version is rebuilt from the kept upstream file, without the network.
    drop(server);
    z.pull(&spec).unwrap();
    assert_eq!(conv.calls.load(Ordering::SeqCst), 2);
    // Offline afterwards: resolve and pull answer from the cache.
    let off = zoo(&reg, &home, &conv).with_offline(true);
    assert_eq!(off.resolve(&spec).unwrap(), dir);
    assert_eq!(off.pull(&spec).unwrap().fetched_files, 0);
    assert!(z.verify(None).unwrap()[0].problems.is_empty());
}

#[test]
fn a_wrong_blob_hash_leaves_nothing_in_the_cache() {
    let data = content(100_000, 2);
    let server = Server::start();
    server.route(PATH, vec![Reply::File(bytes(data.clone()))]);
    let tmp = tempfile::tempdir().unwrap();
    let (reg, home) = (tmp.path().join("reg"), tmp.path().join("home"));
    let mut other = data.clone();
    other[5] ^= 1;
    registry(&reg, &server.url(PATH), &git_blob_sha1(&other), None);
    let conv = Arc::new(Echo { calls: AtomicUsize::new(0) });
    let err = zoo(&reg, &home, &conv).pull(&ModelSpec::parse("up").unwrap()).unwrap_err();
    assert!(matches!(err, ZooError::GitBlobMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&git_blob_sha1(&other)), "{err}");
    assert_eq!(conv.calls.load(Ordering::SeqCst), 0);
    // Only the (empty) lock file may remain; no model file, partial or manifest.
    let left: Vec<String> = files_under(&home).into_iter().filter(|f| !f.ends_with(".lock")).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // A stated size that disagrees is refused before the body is kept.
    registry(&reg, &server.url(PATH), &git_blob_sha1(&data), Some(data.len() as u64 + 1));
    let err = zoo(&reg, &home, &conv).pull(&ModelSpec::parse("up").unwrap()).unwrap_err();
    assert!(matches!(err, ZooError::SizeMismatch { .. }), "{err}");
    let left: Vec<String> = files_under(&home).into_iter().filter(|f| !f.ends_with(".lock")).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn an_interrupted_download_resumes_with_a_range_request() {
    let data = content(400_000, 3);
    let server = Server::start();
    let body = bytes(data.clone());
    // The first connection dies after 150 kB, every retry too: the pull fails, keeping
    // the partial file; the next pull asks only for the rest.
    server.route(PATH, vec![Reply::CutShort { body: body.clone(), after: 150_000 }, Reply::Status(404)]);
    let tmp = tempfile::tempdir().unwrap();
    let (reg, home) = (tmp.path().join("reg"), tmp.path().join("home"));
    registry(&reg, &server.url(PATH), &git_blob_sha1(&data), Some(data.len() as u64));
    let conv = Arc::new(Echo { calls: AtomicUsize::new(0) });
    let spec = ModelSpec::parse("up").unwrap();
    let err = zoo(&reg, &home, &conv).pull(&spec).unwrap_err();
    assert!(matches!(err, ZooError::Http { status: 404, .. }), "{err}");
    let part = files_under(&home).into_iter().find(|f| f.ends_with(".part")).expect("partial kept");
    assert_eq!(std::fs::metadata(home.join(&part)).unwrap().len(), 150_000);
    server.route(PATH, vec![Reply::File(body)]);
    let p = zoo(&reg, &home, &conv).pull(&spec).unwrap();
    assert_eq!(std::fs::read(p.dir.join("upstream/model_80.pth")).unwrap(), data);
    let ranges = server.requests(PATH);
    assert_eq!(ranges.last().unwrap().as_deref(), Some("bytes=150000-"), "{ranges:?}");
}

#[test]
fn without_the_converter_the_error_names_the_command_that_has_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (reg, home) = (tmp.path().join("reg"), tmp.path().join("home"));
    registry(&reg, "https://example.invalid/w.pth", &git_blob_sha1(b"x"), None);
    let z = Zoo::new(Registry::parse(reg.to_str().unwrap()).unwrap(), &home);
    for err in [z.pull(&ModelSpec::parse("up").unwrap()).unwrap_err(), z.resolve(&ModelSpec::parse("up@1.0.0").unwrap()).unwrap_err()] {
        assert!(matches!(err, ZooError::NeedsConverter { .. }), "{err}");
        assert!(err.to_string().contains("cargo run --release -p train -- pull up@1.0.0"), "{err}");
    }
    assert!(files_under(&home).is_empty(), "{:?}", files_under(&home));
}
