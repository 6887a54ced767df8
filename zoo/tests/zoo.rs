//! Library and CLI tests against a loopback HTTP server (tests/support) and local
//! directory registries.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{bytes, content, Reply, Server};
use zoo::hash::sha256_hex;
use zoo::{ModelSpec, NetConfig, Registry, Zoo, ZooError};

const ZOO: &str = env!("CARGO_BIN_EXE_zoo");

fn spec(s: &str) -> ModelSpec {
    ModelSpec::parse(s).unwrap()
}

fn fast_net() -> NetConfig {
    NetConfig {
        timeout: Duration::from_secs(5),
        retries: 3,
        backoff: Duration::from_millis(10),
    }
}

/// index.json text for one model version with the given files (name, bytes).
fn index_json(model: &str, version: &str, files: &[(&str, &[u8])]) -> String {
    let files: serde_json::Map<String, serde_json::Value> = files
        .iter()
        .map(|(n, b)| {
            (
                n.to_string(),
                serde_json::json!({"size": b.len(), "sha256": sha256_hex(b)}),
            )
        })
        .collect();
    serde_json::json!({
        "schema": 1,
        "models": {model: {"versions": {version: {"files": files, "card": {"license": "MIT"}}}}}
    })
    .to_string()
}

/// A server whose index lists `m@0.1.0` with one file `weights.bin` = `data`, and the
/// file route scripted with `replies`.
fn serve_one(data: &[u8], replies: Vec<Reply>) -> Server {
    let server = Server::start();
    let index = index_json("m", "0.1.0", &[("weights.bin", data)]);
    server.route("/index.json", vec![Reply::File(bytes(index.into_bytes()))]);
    server.route("/m/0.1.0/weights.bin", replies);
    server
}

const FILE_PATH: &str = "/m/0.1.0/weights.bin";

fn http_zoo(server: &Server, home: &Path) -> Zoo {
    Zoo::new(Registry::parse(&server.base()).unwrap(), home).with_net(fast_net())
}

/// Everything under `dir`, as relative paths (for "nothing left behind" checks).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn model_files(home: &Path) -> Vec<String> {
    tree(&home.join("models"))
}

#[test]
fn normal_pull_then_cache_hit() {
    let data = content(3 << 20, 1);
    let server = serve_one(&data, vec![Reply::File(bytes(data.clone()))]);
    let home = tempfile::tempdir().unwrap();
    let zoo = http_zoo(&server, home.path());

    let pulled = zoo.pull(&spec("m")).unwrap();
    assert_eq!(pulled.version.to_string(), "0.1.0");
    assert_eq!(pulled.fetched_files, 1);
    assert_eq!(std::fs::read(pulled.dir.join("weights.bin")).unwrap(), data);
    assert_eq!(server.requests(FILE_PATH), vec![None]);
    assert!(!pulled.dir.join("weights.bin.part").exists());

    // Cached: resolve does not download again, pull re-verifies without downloading.
    assert_eq!(zoo.resolve(&spec("m@0.1.0")).unwrap(), pulled.dir);
    assert_eq!(zoo.resolve(&spec("m")).unwrap(), pulled.dir);
    assert_eq!(zoo.pull(&spec("m")).unwrap().fetched_files, 0);
    assert_eq!(server.requests(FILE_PATH).len(), 1);
}

#[test]
fn body_cut_short_is_resumed_with_range() {
    let data = content(3 << 20, 2);
    let server = serve_one(
        &data,
        vec![
            Reply::CutShort { body: bytes(data.clone()), after: 1 << 20 },
            Reply::File(bytes(data.clone())),
        ],
    );
    let home = tempfile::tempdir().unwrap();
    let dir = http_zoo(&server, home.path()).resolve(&spec("m@0.1.0")).unwrap();
    assert_eq!(std::fs::read(dir.join("weights.bin")).unwrap(), data);
    let reqs = server.requests(FILE_PATH);
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0], None);
    // The resume asks for exactly what is missing (at least 1 MiB arrived).
    let start: usize = reqs[1].as_deref().unwrap().strip_prefix("bytes=").unwrap().trim_end_matches('-').parse().unwrap();
    assert!(start >= 1 << 20 && start < data.len(), "{start}");
}

#[test]
fn partial_file_from_an_earlier_run_is_resumed() {
    let data = content(2 << 20, 3);
    let server = serve_one(&data, vec![Reply::File(bytes(data.clone()))]);
    let home = tempfile::tempdir().unwrap();
    let vdir = home.path().join("models/m/0.1.0");
    std::fs::create_dir_all(&vdir).unwrap();
    std::fs::write(vdir.join("weights.bin.part"), &data[..777_777]).unwrap();
    let dir = http_zoo(&server, home.path()).resolve(&spec("m")).unwrap();
    assert_eq!(std::fs::read(dir.join("weights.bin")).unwrap(), data);
    assert_eq!(server.requests(FILE_PATH), vec![Some("bytes=777777-".to_string())]);
}

#[test]
fn server_ignoring_range_restarts_cleanly() {
    let data = content(1 << 20, 4);
    let server = serve_one(&data, vec![Reply::FileIgnoringRange(bytes(data.clone()))]);
    let home = tempfile::tempdir().unwrap();
    let vdir = home.path().join("models/m/0.1.0");
    std::fs::create_dir_all(&vdir).unwrap();
    std::fs::write(vdir.join("weights.bin.part"), &data[..1000]).unwrap();
    let dir = http_zoo(&server, home.path()).resolve(&spec("m")).unwrap();
    assert_eq!(std::fs::read(dir.join("weights.bin")).unwrap(), data);
}

#[test]
fn wrong_bytes_fail_and_leave_nothing() {
    let data = content(1 << 20, 5);
    let mut wrong = data.clone();
    wrong[12345] ^= 0xff;
    let server = serve_one(&data, vec![Reply::File(bytes(wrong))]);
    let home = tempfile::tempdir().unwrap();
    let err = http_zoo(&server, home.path()).pull(&spec("m")).unwrap_err();
    match &err {
        ZooError::ChecksumMismatch { file, expected, actual } => {
            assert!(file.contains("weights.bin"));
            assert_eq!(expected, &sha256_hex(&data));
            assert_ne!(actual, expected);
        }
        other => panic!("expected a checksum mismatch, got {other}"),
    }
    assert_eq!(model_files(home.path()), Vec::<String>::new());
    assert!(!home.path().join("meta/m/0.1.0.json").exists());
    // Content errors are not retried.
    assert_eq!(server.requests(FILE_PATH).len(), 1);
}

#[test]
fn too_long_body_is_a_size_mismatch() {
    let data = content(100_000, 6);
    let mut longer = data.clone();
    longer.extend_from_slice(b"trailing garbage");
    let server = serve_one(&data, vec![Reply::File(bytes(longer))]);
    let home = tempfile::tempdir().unwrap();
    let err = http_zoo(&server, home.path()).pull(&spec("m")).unwrap_err();
    assert!(matches!(err, ZooError::SizeMismatch { expected: 100_000, .. }), "{err}");
    assert_eq!(model_files(home.path()), Vec::<String>::new());
}

#[test]
fn server_errors_are_retried() {
    let data = content(500_000, 7);
    let server = serve_one(
        &data,
        vec![Reply::Status(500), Reply::Status(500), Reply::File(bytes(data.clone()))],
    );
    let home = tempfile::tempdir().unwrap();
    let dir = http_zoo(&server, home.path()).resolve(&spec("m")).unwrap();
    assert_eq!(std::fs::read(dir.join("weights.bin")).unwrap(), data);
    assert_eq!(server.requests(FILE_PATH).len(), 3);
}

#[test]
fn persistent_server_errors_give_up_after_the_retry_budget() {
    let data = content(1000, 8);
    let server = serve_one(&data, vec![Reply::Status(503)]);
    let home = tempfile::tempdir().unwrap();
    let err = http_zoo(&server, home.path()).pull(&spec("m")).unwrap_err();
    assert!(matches!(err, ZooError::Http { status: 503, .. }), "{err}");
    assert_eq!(server.requests(FILE_PATH).len(), 1 + fast_net().retries as usize);
}

#[test]
fn not_found_is_not_retried() {
    let data = content(1000, 9);
    let server = serve_one(&data, vec![Reply::Status(404)]);
    let home = tempfile::tempdir().unwrap();
    let err = http_zoo(&server, home.path()).pull(&spec("m")).unwrap_err();
    match &err {
        ZooError::Http { status: 404, url } => assert!(url.ends_with(FILE_PATH), "{url}"),
        other => panic!("expected HTTP 404, got {other}"),
    }
    assert!(err.to_string().contains("404") && err.to_string().contains(FILE_PATH));
    assert_eq!(server.requests(FILE_PATH).len(), 1);
    assert_eq!(model_files(home.path()), Vec::<String>::new());
}

#[test]
fn redirects_are_followed() {
    let data = content(300_000, 10);
    let server = serve_one(&data, vec![Reply::Redirect("/blobs/abc".into())]);
    server.route("/blobs/abc", vec![Reply::File(bytes(data.clone()))]);
    let home = tempfile::tempdir().unwrap();
    let dir = http_zoo(&server, home.path()).resolve(&spec("m")).unwrap();
    assert_eq!(std::fs::read(dir.join("weights.bin")).unwrap(), data);
    assert_eq!(server.requests("/blobs/abc").len(), 1);
}

#[test]
fn mirrors_are_tried_after_the_registry() {
    let data = content(200_000, 11);
    let server = Server::start();
    let index = serde_json::json!({"models": {"m": {"versions": {"0.1.0": {"files": {
        "weights.bin": {"size": data.len(), "sha256": sha256_hex(&data), "mirrors": [server.url("/mirror/w")]}
    }}}}}});
    server.route("/index.json", vec![Reply::File(bytes(index.to_string().into_bytes()))]);
    server.route(FILE_PATH, vec![Reply::Status(410)]);
    server.route("/mirror/w", vec![Reply::File(bytes(data.clone()))]);
    let home = tempfile::tempdir().unwrap();
    let dir = http_zoo(&server, home.path()).resolve(&spec("m")).unwrap();
    assert_eq!(std::fs::read(dir.join("weights.bin")).unwrap(), data);
}

#[test]
fn slow_server_times_out_and_the_retry_succeeds() {
    let data = content(100_000, 12);
    let server = serve_one(
        &data,
        vec![
            Reply::Delay(Duration::from_secs(4), Box::new(Reply::File(bytes(data.clone())))),
            Reply::File(bytes(data.clone())),
        ],
    );
    let home = tempfile::tempdir().unwrap();
    let net = NetConfig { timeout: Duration::from_millis(700), ..fast_net() };
    let zoo = http_zoo(&server, home.path()).with_net(net);
    let t0 = Instant::now();
    let dir = zoo.resolve(&spec("m")).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert_eq!(std::fs::read(dir.join("weights.bin")).unwrap(), data);
    assert_eq!(server.requests(FILE_PATH).len(), 2);
}

#[test]
fn slow_server_gives_a_timeout_error() {
    let data = content(1000, 13);
    let server = serve_one(
        &data,
        vec![Reply::Delay(Duration::from_secs(5), Box::new(Reply::File(bytes(data.clone()))))],
    );
    let home = tempfile::tempdir().unwrap();
    let net = NetConfig { timeout: Duration::from_millis(500), retries: 1, backoff: Duration::from_millis(10) };
    let t0 = Instant::now();
    let err = http_zoo(&server, home.path()).with_net(net).pull(&spec("m")).unwrap_err();
    assert!(matches!(err, ZooError::Timeout { attempts: 2, .. }), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
}

#[test]
fn two_threads_pulling_the_same_version_download_once() {
    let data = Arc::new(content(2 << 20, 14));
    let server = serve_one(
        &data,
        vec![Reply::Throttled { body: bytes(data.to_vec()), chunk: 128 << 10, pause: Duration::from_millis(10) }],
    );
    let home = tempfile::tempdir().unwrap();
    let base = server.base();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (base, home) = (base.clone(), home.path().to_path_buf());
            std::thread::spawn(move || {
                Zoo::new(Registry::parse(&base).unwrap(), home).with_net(fast_net()).pull(&spec("m@0.1.0"))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
    assert_eq!(results[0].dir, results[1].dir);
    assert_eq!(results.iter().map(|p| p.fetched_files).sum::<usize>(), 1);
    assert_eq!(std::fs::read(results[0].dir.join("weights.bin")).unwrap(), *data);
    assert_eq!(server.requests(FILE_PATH).len(), 1);
    assert_eq!(model_files(home.path()), vec!["m", "m/0.1.0", "m/0.1.0/weights.bin"]);
}

fn zoo_cmd(home: &Path, registry: &str) -> Command {
    let mut c = Command::new(ZOO);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ZOO_HOME", home)
        .env("ZOO_REGISTRY", registry)
        .env("ZOO_TIMEOUT_SECS", "5")
        .env("ZOO_BACKOFF_MS", "10")
        .stdin(Stdio::null());
    c
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = cmd.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[test]
fn two_processes_pulling_the_same_version_download_once() {
    let data = content(3 << 20, 15);
    let server = serve_one(
        &data,
        vec![Reply::Throttled { body: bytes(data.clone()), chunk: 128 << 10, pause: Duration::from_millis(10) }],
    );
    let home = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            zoo_cmd(home.path(), &server.base())
                .args(["pull", "m@0.1.0"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let file = home.path().join("models/m/0.1.0/weights.bin");
    assert_eq!(std::fs::read(file).unwrap(), data);
    assert_eq!(server.requests(FILE_PATH).len(), 1);
    assert_eq!(model_files(home.path()), vec!["m", "m/0.1.0", "m/0.1.0/weights.bin"]);
}

#[test]
fn offline_uses_the_cache_and_says_when_it_cannot() {
    let data = content(10_000, 16);
    let server = serve_one(&data, vec![Reply::File(bytes(data.clone()))]);
    let home = tempfile::tempdir().unwrap();
    // A registry nobody listens on: offline must not even try it.
    let dead = "http://127.0.0.1:9/";

    let (code, _, err) = run(zoo_cmd(home.path(), dead).env("ZOO_OFFLINE", "1").args(["path", "m@0.1.0"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("zoo: offline") && err.contains("m@0.1.0") && err.contains("not in the cache"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let (code, out, err) = run(zoo_cmd(home.path(), &server.base()).args(["pull", "m"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("fetched 1 file"), "{out}");

    for args in [["path", "m@0.1.0"], ["path", "m"]] {
        let (code, out, err) = run(zoo_cmd(home.path(), dead).env("ZOO_OFFLINE", "1").args(args));
        assert_eq!(code, 0, "{err}");
        assert_eq!(PathBuf::from(out.trim()), home.path().join("models/m/0.1.0"));
    }
    let (code, out, _) = run(zoo_cmd(home.path(), dead).env("ZOO_OFFLINE", "1").args(["pull", "m"]));
    assert_eq!(code, 0);
    assert!(out.contains("cached and verified"), "{out}");
    let (code, out, _) = run(zoo_cmd(home.path(), dead).env("ZOO_OFFLINE", "1").args(["info", "m"]));
    assert_eq!(code, 0);
    assert!(out.contains("license:  MIT"), "{out}");
    assert_eq!(server.requests(FILE_PATH).len(), 1);
}

#[test]
fn path_traversal_entries_are_rejected_before_any_write() {
    for evil in ["../evil.bin", "../../outside.bin", "/tmp/zoo-absolute-evil.bin", "a/../../b"] {
        let server = Server::start();
        let data = b"payload".to_vec();
        let index = index_json("m", "0.1.0", &[("ok.bin", &data), (evil, &data)]);
        server.route("/index.json", vec![Reply::File(bytes(index.into_bytes()))]);
        let home = tempfile::tempdir().unwrap();
        let err = http_zoo(&server, home.path()).pull(&spec("m")).unwrap_err();
        assert!(matches!(err, ZooError::UnsafePath { .. }), "{evil}: {err}");
        assert!(err.to_string().contains(evil), "{err}");
        assert_eq!(tree(home.path()), Vec::<String>::new(), "{evil}");
        // Nothing was requested either.
        assert!(server.requests("/m/0.1.0/ok.bin").is_empty());
    }
    assert!(!Path::new("/tmp/zoo-absolute-evil.bin").exists());
}

/// A `train export`-like directory.
fn export_dir(seed: u64) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("model.safetensors"), content(200_000, seed)).unwrap();
    std::fs::write(d.path().join("model.onnx"), content(150_000, seed + 1)).unwrap();
    std::fs::write(
        d.path().join("model.json"),
        r#"{"architecture": {"name": "dream-rnn", "hidden": 320}, "preprocessing": {"seq_len": 150, "channels": 6}}"#,
    )
    .unwrap();
    std::fs::write(
        d.path().join("card.json"),
        r#"{"license": "MIT", "citation": "Rafi et al. 2024", "training_data": "DREAM yeast train split",
            "metrics": [{"name": "pearson", "value": 0.81, "dataset": "test", "how": "weighted challenge score"}]}"#,
    )
    .unwrap();
    d
}

#[test]
fn cli_publish_list_info_pull_verify_rm_without_network() {
    let registry = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let reg = registry.path().to_str().unwrap().to_string();
    let file_url = format!("file://{reg}");
    let exp = export_dir(20);

    let (code, out, err) = run(zoo_cmd(home.path(), &reg).args(["publish", exp.path().to_str().unwrap(), "--name", "dream-rnn", "--version", "0.1.0"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("published dream-rnn@0.1.0 (4 file(s)"), "{out}");
    let index: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(registry.path().join("index.json")).unwrap()).unwrap();
    let v = &index["models"]["dream-rnn"]["versions"]["0.1.0"];
    assert_eq!(v["card"]["architecture"]["hidden"], 320);
    assert_eq!(v["card"]["preprocessing"]["seq_len"], 150);
    assert_eq!(v["files"]["model.onnx"]["sha256"], sha256_hex(&content(150_000, 21)));
    assert_eq!(index["models"]["dream-rnn"]["default"], "0.1.0");

    // Versions are immutable.
    let (code, _, err) = run(zoo_cmd(home.path(), &reg).args(["publish", exp.path().to_str().unwrap(), "--name", "dream-rnn", "--version", "0.1.0"]));
    assert_eq!(code, 1);
    assert!(err.contains("already published"), "{err}");

    let exp2 = export_dir(30);
    let (code, _, err) = run(zoo_cmd(home.path(), &reg).args(["publish", exp2.path().to_str().unwrap(), "--name", "dream-rnn", "--version", "0.2.0"]));
    assert_eq!(code, 0, "{err}");

    let (code, out, _) = run(zoo_cmd(home.path(), &file_url).args(["list"]));
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("dream-rnn@0.1.0") && !lines[0].contains("default"));
    assert!(lines[1].starts_with("dream-rnn@0.2.0") && lines[1].contains("default"));

    let (code, out, _) = run(zoo_cmd(home.path(), &file_url).args(["info", "dream-rnn@0.1.0"]));
    assert_eq!(code, 0);
    // One table row per metric, the procedure stated once below the table.
    assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["pearson", "0.8100", "test"]), "{out}");
    assert!(out.contains("how: weighted challenge score"), "{out}");
    assert!(out.contains("citation: Rafi et al. 2024"), "{out}");

    // Pull of the default (newest) from a file:// registry; no server exists at all.
    let (code, out, err) = run(zoo_cmd(home.path(), &file_url).args(["path", "dream-rnn"]));
    assert_eq!(code, 0, "{err}");
    let dir = PathBuf::from(out.trim());
    assert_eq!(dir, home.path().join("models/dream-rnn/0.2.0"));
    assert_eq!(std::fs::read(dir.join("model.onnx")).unwrap(), content(150_000, 31));

    let (code, out, _) = run(zoo_cmd(home.path(), &reg).args(["list"]));
    assert_eq!(code, 0);
    assert!(out.lines().nth(1).unwrap().contains("cached"), "{out}");

    let (code, out, _) = run(zoo_cmd(home.path(), &reg).args(["verify"]));
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "ok   dream-rnn@0.2.0");

    // Same-size corruption: verify catches it and marks the version incomplete...
    let mut bytes = std::fs::read(dir.join("model.onnx")).unwrap();
    bytes[100] ^= 1;
    std::fs::write(dir.join("model.onnx"), bytes).unwrap();
    let (code, out, err) = run(zoo_cmd(home.path(), &reg).args(["verify"]));
    assert_eq!(code, 1);
    assert!(out.contains("BAD  dream-rnn@0.2.0: model.onnx: sha256"), "{out}");
    assert!(err.contains("zoo pull dream-rnn@0.2.0"), "{err}");
    // ...so the next resolve repairs it.
    let (code, _, err) = run(zoo_cmd(home.path(), &reg).args(["path", "dream-rnn@0.2.0"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(dir.join("model.onnx")).unwrap(), content(150_000, 31));

    let (code, out, _) = run(zoo_cmd(home.path(), &reg).args(["rm", "dream-rnn"]));
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "removed dream-rnn@0.2.0");
    assert!(!dir.exists());
    let (code, _, err) = run(zoo_cmd(home.path(), &reg).args(["rm", "dream-rnn"]));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn cli_usage_errors_exit_2_with_one_line() {
    let registry = tempfile::tempdir().unwrap();
    std::fs::write(registry.path().join("index.json"), r#"{"schema": 1, "models": {}}"#).unwrap();
    let home = tempfile::tempdir().unwrap();
    let reg = registry.path().to_str().unwrap();
    for args in [
        vec!["pull", "no-such-model"],
        vec!["info", "bad spec"],
        vec!["pull", "x@1.0"],
        vec!["frobnicate"],
        vec!["--registry", "ftp://x", "list"],
    ] {
        let (code, out, err) = run(zoo_cmd(home.path(), reg).args(&args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        assert!(!err.contains("panicked"), "{err}");
    }
    let (_, _, err) = run(zoo_cmd(home.path(), reg).args(["pull", "no-such-model"]));
    assert_eq!(err.trim(), format!("zoo: no model named \"no-such-model\" in registry {reg}"));
}

#[test]
fn cli_network_failures_exit_1() {
    let server = serve_one(b"abc", vec![Reply::Status(404)]);
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = run(zoo_cmd(home.path(), &server.base()).args(["pull", "m"]));
    assert_eq!(code, 1);
    assert!(err.starts_with("zoo: HTTP 404 from http://127.0.0.1:") && err.trim_end().ends_with(FILE_PATH), "{err}");
}

#[test]
fn builtin_registry_is_usable_offline_in_a_fresh_clone() {
    // ZOO_REGISTRY unset: the repository's weights/ (no network involved at all).
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(ZOO)
        .env_clear()
        .env("ZOO_HOME", home.path())
        .args(["list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let index = zoo::Index::load(&Path::new(zoo::BUILTIN_REGISTRY_DIR).join("index.json")).unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(listed, index.models.values().map(|m| m.versions.len()).sum::<usize>());
    // Whatever the repository ships must pull and verify from the local checkout; entries
    // built from the authors' files, or with files built from published weights, need a
    // converter in `train` and say so.
    for (name, model) in &index.models {
        for (v, entry) in &model.versions {
            let out = Command::new(ZOO)
                .env_clear()
                .env("ZOO_HOME", home.path())
                .args(["pull", &format!("{name}@{v}")])
                .output()
                .unwrap();
            if entry.upstream.is_some() || entry.derived.is_some() {
                assert_eq!(out.status.code(), Some(1), "{name}@{v}");
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains(&format!("cargo run --release -p train -- pull {name}@{v}")), "{err}");
            } else {
                assert!(out.status.success(), "{name}@{v}: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}
