//! `train fit` end to end on a small slice of the yeast demo data: seeded runs are
//! reproducible bit for bit, a run killed mid-epoch and resumed ends exactly like an
//! uninterrupted one, and the artifacts are complete.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn demo_slice(dir: &Path, n: usize) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/dream/demo_train.txt");
    let text = std::fs::read_to_string(src).unwrap();
    let lines: Vec<&str> = text.lines().take(n).collect();
    let out = dir.join("slice.txt");
    std::fs::write(&out, lines.join("\n")).unwrap();
    out
}

fn fit_cmd(data: &Path, out: &Path, epochs: usize, steps: usize) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_train"));
    c.args(["fit", "--arch", "dream-cnn", "--device", "cpu", "--threads", "1", "--seed", "5"])
        .args(["--batch-size", "16", "--valid-batch-size", "64"])
        .args(["--epochs", &epochs.to_string(), "--batches-per-epoch", &steps.to_string()])
        .arg("--train")
        .arg(data)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn metrics_of(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            for timing in ["seconds", "data_seconds", "valid_seconds"] {
                v.as_object_mut().unwrap().remove(timing);
            }
            v
        })
        .collect()
}

fn run_ok(mut c: Command) {
    let out = c.output().unwrap();
    assert!(out.status.success(), "train fit failed: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn seeded_runs_are_bit_identical_and_leave_complete_artifacts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo_slice(tmp.path(), 240);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_ok(fit_cmd(&data, &a, 2, 3));
    run_ok(fit_cmd(&data, &b, 2, 3));
    assert_eq!(metrics_of(&a), metrics_of(&b));
    assert_eq!(metrics_of(&a).len(), 2);
    let wa = std::fs::read(a.join("model.safetensors")).unwrap();
    let wb = std::fs::read(b.join("model.safetensors")).unwrap();
    assert!(wa == wb, "final weights differ between two seeded runs");
    for f in ["model.safetensors", "model.json", "model.onnx", "run.json", "best.safetensors"] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    // The run directory refuses to be overwritten.
    let out = fit_cmd(&data, &a, 1, 1).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_run_killed_mid_epoch_and_resumed_matches_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo_slice(tmp.path(), 240);
    let whole = tmp.path().join("whole");
    run_ok(fit_cmd(&data, &whole, 3, 4));

    let killed = tmp.path().join("killed");
    let mut child = fit_cmd(&data, &killed, 3, 4).spawn().unwrap();
    let state = killed.join("checkpoint/state.json");
    let started = Instant::now();
    // Wait until epoch 1 is checkpointed, then kill during epoch 2.
    loop {
        if let Ok(text) = std::fs::read_to_string(&state) {
            if text.contains("\"epoch\": 1") {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(300), "no checkpoint appeared");
        assert!(child.try_wait().unwrap().is_none(), "run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let done_before = metrics_of(&killed).len();
    assert!(done_before < 3, "the run finished before the kill");
    assert!(!killed.join("model.onnx").exists());

    let out = Command::new(env!("CARGO_BIN_EXE_train"))
        .args(["fit", "--threads", "1", "--resume"])
        .arg(&killed)
        .output()
        .unwrap();
    assert!(out.status.success(), "resume failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(metrics_of(&killed), metrics_of(&whole));
    let a = std::fs::read(whole.join("model.safetensors")).unwrap();
    let b = std::fs::read(killed.join("model.safetensors")).unwrap();
    assert!(a == b, "resumed run ends with different weights");
}

#[test]
fn a_missing_training_file_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = fit_cmd(&tmp.path().join("nope.txt"), &tmp.path().join("o"), 1, 1).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope.txt"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
