//! The scoring page (web/) in a real browser. `web/build.sh` builds the site (the wasm
//! module from `web/wasm`, which scores through infer's own input, preprocessing and
//! `Scorer` code), Debian's Chromium runs it headless (driven by
//! `web/test/browser-test.mjs` through playwright-core), and for each published DREAM
//! model the TSV the page downloads for the reference fixtures' sequences must be
//! `infer score`'s: the same header, ids and order, values within 1e-4. A bad record
//! must get the message `infer score` gives, and with the network off the page must
//! still open and score (its service worker's cache). A browser that refuses to store
//! anything (quota zero) must still score online and say why it will not work offline.
//! Never skipped: without Chromium, node or
//! the node modules the test fails and names scripts/setup.sh.

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::{bin, predict_rows, root, run, shared};

const MODELS: [&str; 3] = ["dream-rnn", "dream-cnn", "dream-attn"];

fn chromium() -> PathBuf {
    PathBuf::from(std::env::var_os("CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()))
}

fn require(ok: bool, what: &str) {
    assert!(ok, "{what} missing: run scripts/setup.sh (it installs Chromium, the wasm target, wasm-bindgen and the node modules)");
}

fn infer_score(model: &Path, input: &Path, dir: &Path) -> std::process::Output {
    Command::new(bin("infer"))
        .current_dir(dir)
        .args(["score", "--backend", "tract", "--threads", "1", "--batch-size", "32", "--model"])
        .arg(model)
        .arg("--input")
        .arg(input.file_name().unwrap())
        .output()
        .unwrap()
}

/// The model the page offers: the index's default version (what `web/build.sh` copies).
fn published(model: &str) -> PathBuf {
    let version = e2e::weights_index()["models"][model]["default"].as_str().unwrap().to_string();
    root().join("weights").join(model).join(&version).join("model.onnx")
}

#[test]
fn page_scores_like_infer_score_in_headless_chromium() {
    let root = root();
    require(chromium().is_file(), "Chromium (/usr/bin/chromium, Debian's `chromium`)");
    require(Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success()), "node");
    require(root.join("web/test/node_modules/playwright-core").is_dir(), "web/test/node_modules");

    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    run(Command::new("bash").arg(root.join("web/build.sh")).arg(&site));

    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for model in MODELS {
        let stem = model.replace('-', "_");
        let rows = predict_rows(&shared(&format!("fixtures/prixfixe/{stem}_predict.tsv")));
        let fasta = tmp.path().join(format!("{model}.fa"));
        let text: String = rows.iter().enumerate().map(|(i, (s, _))| format!(">{stem}_{i} fixture\n{s}\n")).collect();
        std::fs::write(&fasta, text).unwrap();
        let out = infer_score(&published(model), &fasta, tmp.path());
        assert!(out.status.success(), "infer score {model}: {}", String::from_utf8_lossy(&out.stderr));
        expected.push((model, String::from_utf8(out.stdout).unwrap(), rows.len()));
        cases.push(serde_json::json!({ "model": model, "input": fasta }));
    }

    // An invalid character in the second record's sequence, on line 4.
    let bad = tmp.path().join("bad.fa");
    std::fs::write(&bad, ">good\nTGCATTTTTTTCACATCGGATCCAAGCTT\n>bad1 has an X\nTGCATTTTTTTCACATCGGXTCC\n").unwrap();
    let native = infer_score(&published("dream-cnn"), &bad, tmp.path());
    assert_eq!(native.status.code(), Some(2), "infer score on a bad record");
    let native_message = String::from_utf8_lossy(&native.stderr).trim().to_string();

    let good = tmp.path().join("good.fa");
    std::fs::write(&good, ">a\nTGCATTTTTTTCACATCGGATCCAAGCTT\n>b\nAAGCTTGGATCCGATGTGAAAAAAATGCA\n").unwrap();

    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let cases_file = tmp.path().join("cases.json");
    let offline = tmp.path().join("dream-cnn.fa");
    let spec = serde_json::json!({
        "score": cases,
        "bad": { "model": "dream-cnn", "input": bad },
        "offline": { "model": "dream-cnn", "input": offline },
        "refused": { "model": "dream-cnn", "input": good },
    });
    std::fs::write(&cases_file, spec.to_string()).unwrap();
    let node = run(Command::new("node")
        .arg(root.join("web/test/browser-test.mjs"))
        .arg("--site")
        .arg(&site)
        .arg("--cases")
        .arg(&cases_file)
        .arg("--out")
        .arg(&out_dir)
        .env("CHROMIUM", chromium()));
    eprint!("{}", String::from_utf8_lossy(&node.stdout));

    for (model, want, n) in &expected {
        let got = std::fs::read_to_string(out_dir.join(format!("{model}.tsv"))).unwrap();
        let (want_lines, got_lines): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
        assert_eq!(got_lines.len(), n + 1, "{model}: the page's TSV has {} lines for {n} records", got_lines.len());
        assert_eq!(got_lines[0], want_lines[0], "{model}: header");
        assert!(got.ends_with('\n'), "{model}: the TSV ends with a newline like infer score's");
        let mut worst: f64 = 0.0;
        for (g, w) in got_lines[1..].iter().zip(&want_lines[1..]) {
            let (g, w): (Vec<&str>, Vec<&str>) = (g.split('\t').collect(), w.split('\t').collect());
            assert_eq!(g.len(), w.len(), "{model}: columns of {}", w[0]);
            assert_eq!(g[0], w[0], "{model}: ids and order");
            for (a, b) in g[1..].iter().zip(&w[1..]) {
                let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
                worst = worst.max((a - b).abs());
                assert!((a - b).abs() <= 1e-4, "{model} {}: page {a} vs infer score {b}", w[0]);
            }
        }
        eprintln!("{model}: {n} records, max |page - infer score| = {worst:.2e}");
    }

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap()).unwrap();
    let bad = &report["bad"];
    assert_eq!(bad["state"], "error", "the bad record must stop the page with an error: {bad}");
    assert_eq!(bad["visible"], true, "the error is shown");
    let message = bad["message"].as_str().unwrap();
    assert!(message.starts_with("bad.fa:4: record 'bad1': invalid character 'X' at position 20"), "page says {message:?}");
    assert!(native_message.ends_with(message), "page says {message:?}, infer score says {native_message:?}");

    // Offline once loaded (the service worker's cache).
    let offline = &report["offline"];
    assert_eq!(offline["state"], "done", "scoring with the network off: {offline}");
    let cnn_records = expected.iter().find(|e| e.0 == "dream-cnn").unwrap().2;
    assert_eq!(offline["scored"], cnn_records, "scoring with the network off: {offline}");

    // Regression: a browser that refuses to store the site (CI's disk at 99 %) once broke
    // the page's own fetches; it must score online and say it will not work offline.
    let refused = &report["refused"];
    assert_eq!(refused["state"], "done", "scoring when the browser refuses storage: {refused}");
    assert_eq!(refused["scored"], 2, "scoring when the browser refuses storage: {refused}");
    assert_eq!(refused["noteVisible"], true, "the page says it cannot work offline: {refused}");
    assert!(refused["note"].as_str().unwrap().contains("QuotaExceededError"), "{refused}");

    let png = std::fs::read(out_dir.join("screenshot.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot");
    // Kept for a person to look at (the temporary folder goes).
    let keep = root.join("target/web");
    if std::fs::create_dir_all(&keep).is_ok() {
        let _ = std::fs::copy(out_dir.join("screenshot.png"), keep.join("browser-test.png"));
    }
}
