//! The Snakemake workflow in `workflow/` (sharded scoring): lint, a dry run, then a real
//! run with `--cores 2` whose gathered output must be byte-identical to one unsharded
//! `infer score`. Snakemake comes from `scripts/setup.sh` (pinned, into `.venv/`); this
//! test fails, rather than skips, when it is missing. `SNAKEMAKE` names another one.

use crate::support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::{Reference, SoftArgmaxCnn};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn snakemake() -> PathBuf {
    if let Some(p) = std::env::var_os("SNAKEMAKE") {
        return PathBuf::from(p);
    }
    let p = repo().join(".venv/bin/snakemake");
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup.sh (it installs the pinned Snakemake the workflow test needs)",
        p.display()
    );
    p
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn snakemake_workflow_lints_dry_runs_and_gathers_the_unsharded_output() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let model = work.join("cnn.onnx");
    SoftArgmaxCnn::random(6, 150, 11).write(&model, &support::dream_preprocessing(), &["expression"]);
    let mut fasta = Vec::new();
    for (i, s) in support::demo_sequences(150).iter().enumerate() {
        writeln!(fasta, ">demo{i}").unwrap();
        fasta.extend_from_slice(s);
        fasta.push(b'\n');
    }
    std::fs::write(work.join("seqs.fa"), fasta).unwrap();

    let infer = env!("CARGO_BIN_EXE_infer");
    let config = [
        "input=seqs.fa".to_string(),
        format!("model={}", model.display()),
        format!("infer={infer}"),
        "shards=3".into(),
        "batch_size=16".into(),
        "backend=tract".into(),
        "threads=1".into(),
        "outdir=out".into(),
    ];
    // Flags and targets go before --config, which takes every later argument.
    let snakemake = |pre: &[&str], more_config: &[String]| {
        let mut c = Command::new(snakemake());
        c.args(pre).arg("--snakefile")
            .arg(repo().join("workflow/Snakefile"))
            .arg("--profile")
            .arg(repo().join("workflow/profiles/local"))
            .arg("--directory")
            .arg(work)
            .arg("--config")
            .args(&config)
            .args(more_config)
            .env("HOME", work)
            .env("XDG_CACHE_HOME", work.join("cache"));
        c
    };

    run(&mut snakemake(&["--lint"], &[]));
    let dry = run(&mut snakemake(&["--dry-run", "--cores", "2"], &[]));
    let plan = String::from_utf8_lossy(&dry.stdout).into_owned() + &String::from_utf8_lossy(&dry.stderr);
    assert!(plan.contains("score_shard") && plan.contains("gather_scores"), "{plan}");
    assert!(!work.join("out").exists(), "a dry run writes nothing");
    // The ensemble target: one training job per seed, then the merge.
    let demo = repo().join("../shared/data/dream/demo_train.txt");
    let dry = run(&mut snakemake(&["ensemble", "--dry-run", "--cores", "2"], &[format!("train={}", demo.display())]));
    let plan = String::from_utf8_lossy(&dry.stdout).into_owned() + &String::from_utf8_lossy(&dry.stderr);
    assert!(plan.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["train_member", "5"]), "{plan}");
    assert!(plan.contains("merge_members"), "{plan}");

    run(&mut snakemake(&["--cores", "2"], &[]));
    let gathered = std::fs::read(work.join("out/scores.tsv")).unwrap();
    assert!(!work.join("out/shards").read_dir().map(|mut d| d.next().is_some()).unwrap_or(false),
        "shard outputs are temporary");

    let whole = work.join("whole.tsv");
    run(Command::new(infer)
        .current_dir(work)
        .args(["score", "--backend", "tract", "--threads", "1", "--batch-size", "16", "--input", "seqs.fa", "--model"])
        .arg(&model)
        .arg("--output")
        .arg(&whole));
    let whole = std::fs::read(whole).unwrap();
    assert_eq!(String::from_utf8_lossy(&whole).lines().count(), 151);
    assert!(gathered == whole, "gathered output differs from the unsharded one:\n{}\n---\n{}",
        String::from_utf8_lossy(&gathered), String::from_utf8_lossy(&whole));
}
