//! Opt-in acceptance test against the LegNet authors' real files (needs internet):
//!
//! ```sh
//! LEGNET_ONLINE=1 cargo test --release -p e2e --test integration legnet_online:: -- --ignored --nocapture
//! ```
//!
//! It pulls `legnet-gpra-complex` and `legnet-gpra-defined` from GitHub through the
//! built-in index (download, git blob check, conversion), scores the sequences of the
//! authors' own published predictions (`../shared/data/legnet_upstream/*_Native.txt`,
//! made with `legnet/test.py`) and requires agreement within 1e-4. Then it pulls `legnet`
//! and runs `infer eval --benchmark dream-public`.
//!
//! The authors' predictor sets the singleton channel from the input file's value column
//! (1 where that value is an integer) and their inputs held measured expression, so a few
//! published rows may have been scored with singleton 1. Such rows are reported as
//! outliers with that explanation, and each must then match the model run with
//! singleton 1 within the same 1e-4; a row matching neither fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use tch::{Device, Tensor};
use train::model::{ModelDescription, PrixFixeNet};

use e2e::{bin, shared};

/// Runs `cmd` (which must succeed) and returns its stdout.
fn run(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&e2e::run(cmd).stdout).into_owned()
}

fn enabled() -> bool {
    let on = std::env::var("LEGNET_ONLINE").is_ok_and(|v| v == "1");
    assert!(on, "this test downloads the authors' weights from GitHub: run it with LEGNET_ONLINE=1");
    on
}

/// Scores of the converted model with the singleton channel set to 1 (tch, same weights).
fn singleton_one_scores(model_dir: &Path, seqs: &[&[u8]]) -> Vec<f32> {
    let desc: ModelDescription = serde_json::from_str(&std::fs::read_to_string(model_dir.join("model.json")).unwrap()).unwrap();
    let pre = desc.preprocessing.clone();
    let net = PrixFixeNet::from_weights(desc, &model_dir.join("model.safetensors"), Device::Cpu).unwrap();
    let size = pre.input_size();
    let mut out = Vec::new();
    for chunk in seqs.chunks(256) {
        let mut x = vec![0f32; chunk.len() * 2 * size];
        for (i, s) in chunk.iter().enumerate() {
            let padded = pre.pad(s).unwrap();
            let rc = infer::preprocess::reverse_complement(&padded);
            pre.encode(&padded, false, true, &mut x[(2 * i) * size..(2 * i + 1) * size]);
            pre.encode(&rc, true, true, &mut x[(2 * i + 1) * size..(2 * i + 2) * size]);
        }
        let t = Tensor::from_slice(&x).view([(chunk.len() * 2) as i64, pre.channels() as i64, pre.length as i64]);
        let y = train::model::store::to_vec_f32(&net.predict(&t));
        out.extend(y.chunks(2).map(|p| (p[0] + p[1]) / 2.0));
    }
    out
}

fn check_published(model: &str, file: &str) {
    let home = std::env::var_os("ZOO_HOME");
    let mut pull = Command::new(bin("train"));
    pull.args(["pull", model]);
    eprintln!("{}", run(&mut pull).trim());
    let dir = PathBuf::from(run(Command::new(bin("zoo")).args(["path", model])).trim());
    let text = std::fs::read_to_string(shared(&format!("data/legnet_upstream/{file}"))).unwrap();
    let rows: Vec<(&str, f64)> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (s, v) = l.split_once('\t').unwrap();
            (s, v.trim().parse().unwrap())
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let fasta = tmp.path().join("seqs.fa");
    std::fs::write(&fasta, rows.iter().enumerate().map(|(i, (s, _))| format!(">r{i}\n{s}\n")).collect::<String>()).unwrap();
    let scored = run(Command::new(bin("infer")).args(["score", "--model", model, "--input"]).arg(&fasta));
    let got: Vec<f64> = scored.lines().skip(1).map(|l| l.split('\t').nth(1).unwrap().parse().unwrap()).collect();
    assert_eq!(got.len(), rows.len());
    let outliers: Vec<usize> = (0..rows.len()).filter(|&i| (got[i] - rows[i].1).abs() > 1e-4).collect();
    let worst = (0..rows.len()).filter(|i| !outliers.contains(i)).map(|i| (got[i] - rows[i].1).abs()).fold(0.0, f64::max);
    eprintln!(
        "{model} on {file}: {} rows, {} within 1e-4 (max |diff| {worst:.2e}), {} outliers (ZOO_HOME {:?})",
        rows.len(),
        rows.len() - outliers.len(),
        outliers.len(),
        home
    );
    if !outliers.is_empty() {
        let seqs: Vec<&[u8]> = outliers.iter().map(|&i| rows[i].0.as_bytes()).collect();
        let one = singleton_one_scores(&dir, &seqs);
        let mut unexplained = Vec::new();
        for (k, &i) in outliers.iter().enumerate() {
            let d1 = (one[k] as f64 - rows[i].1).abs();
            eprintln!(
                "  outlier row {} ({}...): published {}, ours {:.6} (singleton 0), {:.6} (singleton 1, |diff| {d1:.2e}){}",
                i + 1,
                &rows[i].0[..20.min(rows[i].0.len())],
                rows[i].1,
                got[i],
                one[k],
                if d1 <= 1e-4 { ": scored upstream with singleton 1 (its input value was an integer)" } else { "" }
            );
            if d1 > 1e-4 {
                unexplained.push(i + 1);
            }
        }
        assert!(unexplained.is_empty(), "{model}: rows {unexplained:?} match neither singleton 0 nor 1 within 1e-4");
    }
}

#[test]
#[ignore = "needs internet: LEGNET_ONLINE=1 cargo test --release -p e2e --test integration legnet_online:: -- --ignored"]
fn published_legnet_predictions_are_reproduced_from_the_authors_weights() {
    if !enabled() {
        return;
    }
    check_published("legnet-gpra-complex", "complex_Native.txt");
    check_published("legnet-gpra-defined", "defined_Native.txt");
}

#[test]
#[ignore = "needs internet: LEGNET_ONLINE=1 cargo test --release -p e2e --test integration legnet_online:: -- --ignored"]
fn the_dream_winner_scores_near_its_published_leaderboard_result() {
    if !enabled() {
        return;
    }
    eprintln!("{}", run(Command::new(bin("train")).args(["pull", "legnet"])).trim());
    let report = run(Command::new(bin("infer")).args(["eval", "--benchmark", "dream-public", "--model", "legnet"]));
    eprintln!("{report}");
    let pearson: f64 = report
        .lines()
        .find(|l| l.starts_with("Pearson score"))
        .and_then(|l| l.split_whitespace().filter_map(|w| w.parse().ok()).last())
        .expect("a Pearson score line");
    // Published: 0.8184 on the private leaderboard; the public set is a different sample.
    assert!(pearson > 0.75, "public-leaderboard Pearson score {pearson}, published private 0.8184");
}
