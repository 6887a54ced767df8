//! Regression tests for `train` command-line bugs, each named after the bug.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn train() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_train"));
    c.stdin(Stdio::null());
    c
}

fn demo_slice(dir: &Path, n: usize) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/dream/demo_train.txt");
    let text = std::fs::read_to_string(src).unwrap();
    let lines: Vec<&str> = text.lines().take(n).collect();
    let out = dir.join("slice.txt");
    std::fs::write(&out, lines.join("\n")).unwrap();
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_usage_error_writing_nothing(o: &Output, out: &Path, says: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    assert!(stderr(o).contains(says), "{}", stderr(o));
    assert!(!out.exists(), "{} was created", out.display());
    assert!(!stderr(o).contains("panicked"), "{}", stderr(o));
}

#[test]
fn fit_batch_size_zero_panicked_after_writing_run_json() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo_slice(tmp.path(), 40);
    for flag in ["--batch-size", "--valid-batch-size"] {
        let out = tmp.path().join(format!("run{flag}"));
        let o = train()
            .args(["fit", "--arch", "dream-cnn", "--device", "cpu", "--epochs", "1", flag, "0", "--train"])
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_usage_error_writing_nothing(&o, &out, "at least 1");
    }
}

#[test]
fn finetune_batch_size_zero_panicked_after_writing_run_json() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo_slice(tmp.path(), 40);
    for flag in ["--batch-size", "--valid-batch-size"] {
        let out = tmp.path().join(format!("ft{flag}"));
        let o = train()
            .args(["finetune", "--from", "dream-cnn@0.1.0", "--device", "cpu", flag, "0", "--train"])
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_usage_error_writing_nothing(&o, &out, "at least 1");
    }
}

#[test]
fn train_from_stdin_became_a_file_named_dash_in_the_working_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = train()
        .current_dir(tmp.path())
        .args(["fit", "--arch", "dream-cnn", "--device", "cpu", "--train", "-", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_usage_error_writing_nothing(&o, &out, "stdin");
}

#[test]
fn bench_of_a_fine_tuned_regression_model_hit_expect_soft_bin_head() {
    let tmp = tempfile::tempdir().unwrap();
    let pre = train::model::ModelDescription::preset("dream-cnn").unwrap();
    let desc = train::finetune::adapted(&pre, &["dev".into(), "hk".into()], 40, 8).unwrap();
    let json = tmp.path().join("model.json");
    std::fs::write(&json, serde_json::to_string(&desc).unwrap()).unwrap();
    let o = train()
        .args(["bench", "--device", "cpu", "--threads", "1", "--batch-size", "2", "--steps", "1", "--warmup", "0", "--arch"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("ms/step"), "{text}");
}

#[test]
fn train_exits_quietly_when_its_output_pipe_closes() {
    // `train export ... | head -0`: stdout is closed before the artifact paths are printed.
    let tmp = tempfile::tempdir().unwrap();
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/prixfixe/dream_cnn.pth");
    let mut child = train()
        .args(["export", "--arch", "dream-cnn", "--weights"])
        .arg(&weights)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// libgomp's threads spun between parallel regions and took the cores a shared machine's
/// other work (and the data pipeline's own thread) needed: 37,000 instead of 150,000
/// encoded sequences/s on 2 threads. `train` now waits passively unless told otherwise.
#[test]
fn openmp_threads_spun_on_shared_cores() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo_slice(tmp.path(), 40);
    let policy = |set: Option<&str>| {
        let mut c = train();
        c.args(["bench-data", "--arch", "dream-cnn", "--threads", "2", "--batch-size", "8", "--batches", "2", "--train"]).arg(&data);
        match set {
            Some(v) => c.env("OMP_WAIT_POLICY", v),
            None => c.env_remove("OMP_WAIT_POLICY"),
        };
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        out.split("OpenMP wait policy ").nth(1).and_then(|r| r.split(',').next()).unwrap_or_else(|| panic!("{out}")).to_string()
    };
    assert_eq!(policy(None), "PASSIVE");
    assert_eq!(policy(Some("ACTIVE")), "ACTIVE", "a policy the user set is kept");
}
