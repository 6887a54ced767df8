//! ONNX Runtime's telemetry stays off: `infer score --backend ort` with HOME and the XDG
//! directories in an empty temporary directory leaves it empty. ONNX Runtime 1.29+ on
//! Linux otherwise creates `~/.cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db`
//! (a persistent device id and queued events for upload).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{Reference, SoftArgmaxCnn};

/// Every path under `dir`, relative to it.
fn contents(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Runs `infer score --backend ort` in a clean environment (no CI variables, which ONNX
/// Runtime also takes as an opt-out) with HOME and XDG dirs under a new directory;
/// returns what was created there.
fn files_created_by_an_ort_run(extra_env: &[(&str, &str)]) -> Vec<PathBuf> {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("cnn.onnx");
    let pre = support::dream_preprocessing();
    SoftArgmaxCnn::random(pre.channels(), pre.length, 3).write(&model, &pre, &["expression"]);
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_infer"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("TMPDIR", tmp.path())
        .current_dir(tmp.path())
        .args(["score", "--backend", "ort", "--threads", "1", "--input", "-", "--model"])
        .arg(&model)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        cmd.env("ORT_DYLIB_PATH", p);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b">a\nACGTACGTAAACCCGGGTTT\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "infer score --backend ort failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2, "header + one score");
    contents(&home)
}

#[test]
fn ort_backend_created_a_telemetry_database_in_home() {
    let created = files_created_by_an_ort_run(&[]);
    assert!(created.is_empty(), "ONNX Runtime wrote under HOME: {created:?}");
}

/// The control: the opt-out is what keeps HOME clean. A user who sets the variable to
/// 0 gets ONNX Runtime's default, which writes the device-id database.
#[test]
fn telemetry_database_appears_when_the_user_opts_back_in() {
    let created = files_created_by_an_ort_run(&[("ORT_DISABLE_TELEMETRY", "0")]);
    assert!(
        created.iter().any(|p| p.ends_with("onnxruntime.db")),
        "expected ONNX Runtime's telemetry database with ORT_DISABLE_TELEMETRY=0, found {created:?}"
    );
}
