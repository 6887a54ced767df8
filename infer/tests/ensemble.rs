//! `infer ensemble`: one ONNX graph averaging its members scores, on every backend,
//! the mean of the members' own scores.

use crate::support;

use std::path::Path;
use std::process::Command;

use infer::backend::BackendKind;
use infer::scorer::{Scorer, ScorerOptions};
use support::{Reference, SoftArgmaxCnn};

fn zoo() -> zoo::Zoo {
    zoo::Zoo::new(zoo::Registry::builtin(), std::env::temp_dir().join("infer-ensemble-tests-unused-zoo"))
}

fn scores(model: &Path, backend: BackendKind, seqs: &[&[u8]]) -> Vec<f32> {
    let opts = ScorerOptions { backend, batch_size: 5, threads: 1, rc_average: None };
    Scorer::open(&zoo(), model.to_str().unwrap(), &opts).unwrap().score(seqs).unwrap()
}

#[test]
fn an_ensemble_scores_the_mean_of_its_members_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let pre = support::dream_preprocessing();
    let mut members = Vec::new();
    for seed in 1..=3 {
        let d = dir.path().join(format!("m{seed}"));
        std::fs::create_dir(&d).unwrap();
        SoftArgmaxCnn::random(6, 150, seed).write(&d.join("model.onnx"), &pre, &["expression"]);
        std::fs::write(d.join("model.json"), r#"{"name": "toy"}"#).unwrap();
        members.push(d);
    }
    let out = dir.path().join("ens");
    let mut c = Command::new(env!("CARGO_BIN_EXE_infer"));
    c.arg("ensemble").arg("--out").arg(&out);
    for m in &members {
        c.arg("--member").arg(m);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let desc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("model.json")).unwrap()).unwrap();
    assert_eq!(desc["ensemble"]["members"].as_array().unwrap().len(), 3);

    let seqs = support::demo_sequences(12);
    let refs: Vec<&[u8]> = seqs.iter().map(|s| s.as_slice()).collect();
    for backend in [BackendKind::Tract, BackendKind::Ort] {
        let each: Vec<Vec<f32>> = members.iter().map(|m| scores(&m.join("model.onnx"), backend, &refs)).collect();
        let got = scores(&out, backend, &refs);
        for (i, g) in got.iter().enumerate() {
            let mean = each.iter().map(|e| e[i] as f64).sum::<f64>() / 3.0;
            assert!((*g as f64 - mean).abs() <= 1e-5 * mean.abs().max(1.0), "{backend} row {i}: {g} vs mean {mean}");
        }
        // Not just one member's scores.
        assert!(each.iter().all(|e| e != &got), "{backend}");
    }

    // Members must share preprocessing.
    let other = dir.path().join("other.onnx");
    SoftArgmaxCnn::random(5, 20, 9).write(&other, &support::short_preprocessing(20), &["expression"]);
    let o = Command::new(env!("CARGO_BIN_EXE_infer"))
        .args(["ensemble", "--out"])
        .arg(dir.path().join("bad"))
        .arg("--member")
        .arg(&members[0])
        .arg("--member")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("preprocessing differs"), "{}", String::from_utf8_lossy(&o.stderr));
}
