//! No half-written outputs: every command that writes files is killed (SIGKILL) at
//! seeded random moments, and each output path is then either absent or complete and
//! valid; an interrupted `train fit` resumes to the weights of an uninterrupted run.
//!
//! Kept CI-fast (a few kills per command on small inputs); `bench/kill-at-random` runs
//! the same test with more kills (KILL_ROUNDS) and another seed (KILL_SEED).

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::{bin, root, shared};

fn repo(rel: &str) -> PathBuf {
    root().join(rel)
}

/// xorshift64*: the kill moments are reproducible from the seed the test prints.
struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_1616);
        eprintln!("KILL_SEED={seed}");
        Rng(seed | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

fn rounds(default: usize) -> usize {
    std::env::var("KILL_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn quiet(mut c: Command) -> Command {
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn run_ok(mut c: Command) -> std::process::Output {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{c:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// How long a complete run takes, so kills can land anywhere in it.
fn timed(c: Command) -> Duration {
    let t = Instant::now();
    run_ok(c);
    t.elapsed()
}

/// Starts the command, kills it with SIGKILL after a random part of `span` (it may have
/// finished by then), and reaps it. Returns whether the kill came first.
fn kill_at_random(mut c: Command, span: Duration, rng: &mut Rng) -> bool {
    let mut child = c.spawn().unwrap();
    let delay = Duration::from_millis(rng.below(span.as_millis() as u64 + 1));
    std::thread::sleep(delay);
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill(); // SIGKILL on unix
    child.wait().unwrap();
    killed
}

fn check_json(path: &Path) {
    if path.exists() {
        let text = std::fs::read_to_string(path).unwrap();
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_else(|e| panic!("{}: half-written JSON after a kill: {e}", path.display()));
    }
}

fn check_onnx(path: &Path) {
    if path.exists() {
        // The metadata is serialised after the graph (field 14 after 7), and reading it
        // steps over the whole graph, so a cut-off file fails here.
        infer::scorer::read_model_description(path)
            .unwrap_or_else(|e| panic!("{}: half-written ONNX after a kill: {e}", path.display()));
    }
}

fn check_safetensors(path: &Path) {
    if path.exists() {
        // Checked by hand: the train library would link libtorch into this test binary.
        // Layout: u64 header length, JSON header with data_offsets, then the data.
        let bytes = std::fs::read(path).unwrap();
        let bad = |why: &str| panic!("{}: half-written safetensors after a kill: {why}", path.display());
        let Some(len) = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize) else {
            bad("no header length")
        };
        let Some(header) = bytes.get(8..8 + len) else { bad("header cut off") };
        let header: serde_json::Value = serde_json::from_slice(header).unwrap_or_else(|e| bad(&e.to_string()));
        let end = header
            .as_object()
            .unwrap()
            .values()
            .filter_map(|t| t.get("data_offsets")?.get(1)?.as_u64())
            .max()
            .unwrap_or(0) as usize;
        if bytes.len() != 8 + len + end {
            bad(&format!("{} bytes, the header describes {}", bytes.len(), 8 + len + end));
        }
    }
}

fn check_run_dir(dir: &Path) {
    for f in ["model.json", "run.json", "checkpoint/state.json"] {
        check_json(&dir.join(f));
    }
    for f in ["model.safetensors", "best.safetensors", "checkpoint/model.safetensors"] {
        check_safetensors(&dir.join(f));
    }
    check_onnx(&dir.join("model.onnx"));
    if let Ok(text) = std::fs::read_to_string(dir.join("log.jsonl")) {
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("{}: half-written log line after a kill: {e}", dir.display()));
        }
    }
}

/// The first `n` records of the yeast demo data as FASTA.
fn demo_fasta(dir: &Path, n: usize) -> PathBuf {
    let text = std::fs::read_to_string(shared("data/dream/demo_train.txt")).unwrap();
    let mut fa = String::new();
    for (i, line) in text.lines().take(n).enumerate() {
        let seq = line.split('\t').next().unwrap();
        fa.push_str(&format!(">r{i}\n{seq}\n"));
    }
    let p = dir.join("seqs.fa");
    std::fs::write(&p, fa).unwrap();
    p
}

#[test]
fn infer_score_and_eval_killed_at_random_leave_no_partial_output() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng::from_env();
    let n = 150;
    let input = demo_fasta(tmp.path(), n);
    let out = tmp.path().join("scores.tsv");
    let score = || {
        let mut c = quiet(Command::new(bin("infer")));
        c.args(["score", "--threads", "1", "--model"])
            .arg(repo("weights/dream-cnn/0.1.0/model.onnx"))
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&out);
        c
    };
    let span = timed(score());
    let check = |out: &Path| {
        if let Ok(text) = std::fs::read_to_string(out) {
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), n + 1, "{}: {} lines, expected header + {n}", out.display(), lines.len());
            for l in &lines[1..] {
                let v: f64 = l.split('\t').nth(1).unwrap().parse().unwrap();
                assert!(v.is_finite());
            }
        }
    };
    check(&out);
    let mut kills = 0;
    for _ in 0..rounds(4) {
        std::fs::remove_file(&out).ok();
        kills += kill_at_random(score(), span, &mut rng) as usize;
        check(&out);
    }
    eprintln!("infer score: {kills} kills");

    // eval: predictions in, report out.
    let data = std::fs::read_to_string(shared("data/dream/public_leaderboard.tsv")).unwrap();
    let mut preds = String::from("id\tprediction\n");
    for line in data.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        preds.push_str(&format!("{}\t{}\n", f[0], f[2]));
    }
    let preds_path = tmp.path().join("preds.tsv");
    std::fs::write(&preds_path, preds).unwrap();
    let report = tmp.path().join("report.json");
    let eval = || {
        let mut c = quiet(Command::new(bin("infer")));
        c.args(["eval", "--benchmark", "dream-public", "--data-dir"])
            .arg(shared("data/dream"))
            .arg("--predictions")
            .arg(&preds_path)
            .arg("--json")
            .arg(&report);
        c
    };
    let span = timed(eval());
    check_json(&report);
    for _ in 0..rounds(4) {
        std::fs::remove_file(&report).ok();
        kill_at_random(eval(), span, &mut rng);
        check_json(&report);
    }
}

#[test]
fn train_export_and_finetune_killed_at_random_leave_no_partial_output() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng::from_env();
    let exported = tmp.path().join("yeast");
    let export = |out: &Path| {
        let mut c = quiet(Command::new(bin("train")));
        c.args(["export", "--arch", "dream-cnn", "--weights"])
            .arg(shared("fixtures/prixfixe/dream_cnn.pth"))
            .arg("--out")
            .arg(out);
        c
    };
    let span = timed(export(&exported));
    for i in 0..rounds(4) {
        let out = tmp.path().join(format!("export{i}"));
        kill_at_random(export(&out), span, &mut rng);
        check_run_dir(&out);
    }

    let data = tmp.path().join("human.tsv");
    let text = std::fs::read_to_string(shared("data/human/sample_train.txt")).unwrap();
    std::fs::write(&data, text.lines().take(120).collect::<Vec<_>>().join("\n")).unwrap();
    let finetune = |out: &Path| {
        let mut c = quiet(Command::new(bin("train")));
        c.args(["finetune", "--device", "cpu", "--threads", "1", "--epochs", "2", "--batch-size", "16"])
            .args(["--batches-per-epoch", "2", "--valid-fraction", "0.2", "--label-columns", "mean_value"])
            .arg("--from")
            .arg(&exported)
            .arg("--train")
            .arg(&data)
            .arg("--out")
            .arg(out);
        c
    };
    let span = timed(finetune(&tmp.path().join("ft-whole")));
    for i in 0..rounds(4) {
        let out = tmp.path().join(format!("ft{i}"));
        kill_at_random(finetune(&out), span, &mut rng);
        check_run_dir(&out);
    }
}

#[test]
fn train_fit_killed_at_random_resumes_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng::from_env();
    let text = std::fs::read_to_string(shared("data/dream/demo_train.txt")).unwrap();
    let data = tmp.path().join("slice.txt");
    std::fs::write(&data, text.lines().take(240).collect::<Vec<_>>().join("\n")).unwrap();
    let fit = |out: &Path| {
        let mut c = quiet(Command::new(bin("train")));
        c.args(["fit", "--arch", "dream-cnn", "--device", "cpu", "--threads", "1", "--seed", "5"])
            .args(["--batch-size", "16", "--valid-batch-size", "64", "--epochs", "3", "--batches-per-epoch", "3"])
            .arg("--train")
            .arg(&data)
            .arg("--out")
            .arg(out);
        c
    };
    let resume = |out: &Path| {
        let mut c = quiet(Command::new(bin("train")));
        c.args(["fit", "--threads", "1", "--resume"]).arg(out);
        c
    };
    let whole = tmp.path().join("whole");
    let span = timed(fit(&whole));

    let run = tmp.path().join("killed");
    let mut kills = 0;
    // The first kill may land before the run directory exists; start over then.
    for _ in 0..rounds(3) {
        let started = run.join("run.json").exists();
        let c = if started { resume(&run) } else { fit(&run) };
        if kill_at_random(c, span, &mut rng) {
            kills += 1;
        }
        check_run_dir(&run);
        if !run.join("run.json").exists() {
            std::fs::remove_dir_all(&run).ok();
        }
    }
    if run.join("run.json").exists() {
        if !run.join("model.onnx").exists() {
            run_ok(resume(&run));
        }
    } else {
        std::fs::remove_dir_all(&run).ok();
        run_ok(fit(&run));
    }
    eprintln!("train fit: {kills} kills before completion");
    check_run_dir(&run);
    let a = std::fs::read(whole.join("model.safetensors")).unwrap();
    let b = std::fs::read(run.join("model.safetensors")).unwrap();
    assert!(a == b, "a run killed {kills} times and resumed ends with different weights");
}

#[test]
fn zoo_pull_and_publish_killed_at_random_leave_a_consistent_registry_and_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng::from_env();
    let home = tmp.path().join("zoo-home");
    let zoo = |args: &[&str]| {
        let mut c = quiet(Command::new(bin("zoo")));
        c.env("ZOO_HOME", &home).env("ZOO_REGISTRY", repo("weights")).args(args);
        c
    };
    let span = timed(zoo(&["pull", "dream-cnn@0.1.0"]));
    for _ in 0..rounds(4) {
        std::fs::remove_dir_all(&home).ok();
        kill_at_random(zoo(&["pull", "dream-cnn@0.1.0"]), span, &mut rng);
        // Whatever the cache holds verifies; a pull afterwards completes it.
        run_ok(zoo(&["verify"]));
        run_ok(zoo(&["pull", "dream-cnn@0.1.0"]));
        run_ok(zoo(&["verify"]));
    }

    // publish: a small run directory into a fresh registry, killed, then retried.
    let src = tmp.path().join("run");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(repo("weights/dream-cnn/0.1.0/model.onnx"), src.join("model.onnx")).unwrap();
    std::fs::copy(repo("weights/dream-cnn/0.1.0/model.json"), src.join("model.json")).unwrap();
    let publish = |registry: &Path| {
        let mut c = quiet(Command::new(bin("zoo")));
        c.env("ZOO_REGISTRY", registry).env("ZOO_HOME", &home);
        c.arg("publish").arg(&src).args(["--name", "tiny", "--version", "1.0.0"]);
        c
    };
    let span = timed(publish(&tmp.path().join("reg-whole")));
    for i in 0..rounds(4) {
        let registry = tmp.path().join(format!("reg{i}"));
        kill_at_random(publish(&registry), span, &mut rng);
        let index = registry.join("index.json");
        check_json(&index);
        if index.exists() {
            let idx = zoo::Index::load(&index).unwrap();
            for (name, model) in &idx.models {
                for (version, entry) in &model.versions {
                    for (file, f) in &entry.files {
                        let p = registry.join(name).join(version.to_string()).join(file);
                        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(u64::MAX);
                        assert_eq!(len, f.size, "{}: indexed but incomplete after a kill", p.display());
                    }
                }
            }
        }
        // A retry after the kill publishes (or finds the version already complete).
        let out = publish(&registry).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || (index.exists() && err.contains("already")),
            "publish after a kill failed: {err}"
        );
        assert!(zoo::Index::load(&index).unwrap().models["tiny"].versions.len() == 1);
    }
}
