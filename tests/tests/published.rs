//! The models published in `weights/`: pullable offline, their cards' scores are what
//! `infer eval` prints, tract and ONNX Runtime agree on real test sequences, and the
//! README's models table is the one the index generates.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use e2e::{bin, isolated, root, run};

fn index() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("weights/index.json")).unwrap()).unwrap()
}

const MODELS: [&str; 3] = ["dream-rnn", "dream-cnn", "dream-attn"];

#[test]
fn every_published_model_is_in_the_index_and_pulls_verified_from_a_fresh_cache() {
    let idx = index();
    let home = tempfile::tempdir().unwrap();
    for m in MODELS {
        let entry = &idx["models"][m]["versions"]["0.1.0"];
        assert!(entry.is_object(), "{m}@0.1.0 missing from weights/index.json");
        for f in ["model.onnx", "model.safetensors", "model.json"] {
            assert!(entry["files"][f]["sha256"].is_string(), "{m}: {f} not listed");
        }
        let out = run(isolated(Command::new(bin("zoo")).args(["path", &format!("{m}@0.1.0")]), home.path()));
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(dir.join("model.onnx").is_file(), "{m}: pulled into {}", dir.display());
    }
    run(isolated(Command::new(bin("zoo")).arg("verify"), home.path()));
}

#[test]
fn readme_models_table_is_generated_from_the_index() {
    let out = run(Command::new(bin("zoo")).args(["list", "--markdown"]).env_remove("ZOO_REGISTRY"));
    let table = String::from_utf8(out.stdout).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("<!-- models-table -->\n").unwrap() + "<!-- models-table -->\n".len();
    let end = readme.find("<!-- /models-table -->").unwrap();
    assert_eq!(&readme[start..end], table, "README models table is stale: regenerate with `zoo list --markdown`");
}

/// The first `n` public-leaderboard sequences as FASTA.
fn leaderboard_slice(dir: &Path, n: usize) -> PathBuf {
    let text = std::fs::read_to_string(root().join("../shared/data/dream/public_leaderboard.tsv")).unwrap();
    let mut fa = String::new();
    for line in text.lines().skip(1).take(n) {
        let f: Vec<&str> = line.split('\t').collect();
        fa.push_str(&format!(">{}\n{}\n", f[0], f[1]));
    }
    let p = dir.join("leaderboard.fa");
    std::fs::write(&p, fa).unwrap();
    p
}

fn scores(out: &Output) -> Vec<f64> {
    String::from_utf8_lossy(&out.stdout).lines().skip(1).map(|l| l.split('\t').nth(1).unwrap().parse().unwrap()).collect()
}

#[test]
fn published_models_score_leaderboard_sequences_identically_in_tract_and_ort() {
    let tmp = tempfile::tempdir().unwrap();
    let input = leaderboard_slice(tmp.path(), 200);
    for m in MODELS {
        let spec = format!("{m}@0.1.0");
        let score = |backend: &str| {
            run(isolated(
                Command::new(bin("infer"))
                    .args(["score", "--threads", "2", "--batch-size", "100", "--backend", backend, "--model", &spec])
                    .arg("--input")
                    .arg(&input),
                tmp.path(),
            ))
        };
        let (t, o) = (scores(&score("tract")), scores(&score("ort")));
        assert_eq!(t.len(), 200);
        let worst = t.iter().zip(&o).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        eprintln!("{m}: max |tract - ort| over 200 leaderboard sequences {worst:.2e}");
        assert!(worst <= 1e-4, "{m}: tract and ort differ by {worst}");
    }
}

#[test]
fn infer_eval_prints_the_scores_the_card_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = index();
    // DREAM-CNN is the quickest to score on 2 cores; the others are checked by hand
    // (see the closing note of the publishing issue).
    let m = "dream-cnn";
    let card = &idx["models"][m]["versions"]["0.1.0"]["card"];
    let card_metric = |name: &str| {
        card["metrics"].as_array().unwrap().iter().find(|x| x["name"] == name).unwrap()["value"].as_f64().unwrap()
    };
    let json = tmp.path().join("report.json");
    run(isolated(
        Command::new(bin("infer"))
            .args(["eval", "--benchmark", "dream-public", "--backend", "ort", "--threads", "2", "--model", "dream-cnn@0.1.0"])
            .arg("--json")
            .arg(&json),
        tmp.path(),
    ));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    for (card_name, key) in [("dream-public pearson_score", "pearson_score"), ("dream-public spearman_score", "spearman_score")] {
        let (want, got) = (card_metric(card_name), report[key].as_f64().unwrap());
        assert!((want - got).abs() <= 1e-4, "{m} {key}: card {want}, infer eval {got}");
    }
}
