//! The teams' own models through the command line: `train export --arch <team>` from the
//! fixture weights, then `infer score` from the .onnx alone. Camformer's out-of-domain
//! sequences are scored and reported (warning count, `--domain-column`); DeepGXP's
//! normal-CDF post-processing is applied only when asked for by name.

use std::path::Path;
use std::process::Command;

use e2e::{bin, run, shared};

fn export(arch: &str, out: &Path) {
    run(Command::new(bin("train"))
        .args(["export", "--arch", arch, "--weights"])
        .arg(shared(&format!("fixtures/submissions/{arch}/model.safetensors")))
        .arg("--out")
        .arg(out));
}

/// `(sequence, value or marker)` rows of a team's predict file, and the same sequences as
/// a FASTA file (ids `row<i>`).
fn rows_as_fasta(file: &str, fasta: &Path) -> Vec<(String, String)> {
    let rows: Vec<(String, String)> = std::fs::read_to_string(shared(file))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (s, v) = l.split_once('\t').unwrap();
            (s.to_string(), v.to_string())
        })
        .collect();
    let text: String = rows.iter().enumerate().map(|(i, (s, _))| format!(">row{i}\n{s}\n")).collect();
    std::fs::write(fasta, text).unwrap();
    rows
}

fn score(model: &Path, input: &Path, extra: &[&str]) -> (Vec<Vec<String>>, String) {
    let out = run(Command::new(bin("infer"))
        .args(["score", "--threads", "2", "--batch-size", "16", "--backend", "ort", "--model"])
        .arg(model)
        .arg("--input")
        .arg(input)
        .args(extra));
    let table = String::from_utf8(out.stdout).unwrap().lines().map(|l| l.split('\t').map(str::to_string).collect()).collect();
    (table, String::from_utf8(out.stderr).unwrap())
}

#[test]
fn camformer_scores_every_sequence_and_names_those_its_reader_drops() {
    let dir = tempfile::tempdir().unwrap();
    export("camformer", dir.path());
    let fasta = dir.path().join("in.fa");
    let rows = rows_as_fasta("fixtures/submissions/camformer/predict.tsv", &fasta);
    let (table, stderr) = score(&dir.path().join("model.onnx"), &fasta, &["--domain-column"]);
    assert_eq!(table[0], ["id", "expression", "outside_training_domain"]);
    assert_eq!(table.len(), 49, "every sequence is scored");
    for ((seq, want), line) in rows.iter().zip(&table[1..]) {
        let got: f32 = line[1].parse().unwrap();
        match want.parse::<f32>() {
            Ok(w) => {
                assert!((got - w).abs() <= 1e-4, "{}: {got} vs {w}", line[0]);
                assert_eq!(line[2], "", "{}", line[0]);
            }
            Err(_) => assert!(!line[2].is_empty(), "{} ({} nt, {want}) not flagged", line[0], seq.len()),
        }
    }
    assert!(stderr.contains("3 of 48 sequences lie outside the model's training domain"), "{stderr}");
}

#[test]
fn deepgxp_post_processing_is_explicit_and_gives_the_submitted_values() {
    let dir = tempfile::tempdir().unwrap();
    export("deepgxp", dir.path());
    let model = dir.path().join("model.onnx");
    let fasta = dir.path().join("in.fa");
    let raw = rows_as_fasta("fixtures/submissions/deepgxp/predict.tsv", &fasta);
    let post = rows_as_fasta("fixtures/submissions/deepgxp/predict_postprocessed.tsv", &dir.path().join("unused.fa"));
    let (plain, _) = score(&model, &fasta, &[]);
    let (cdf, _) = score(&model, &fasta, &["--postprocess", "team-cdf"]);
    let mut compared = 0;
    for (i, (seq, want_raw)) in raw.iter().enumerate() {
        // The team pads short sequences on a random side; this port centres them.
        let (Ok(w_raw), Ok(w_cdf), true) = (want_raw.parse::<f32>(), post[i].1.parse::<f32>(), seq.len() >= 110) else { continue };
        let (g_raw, g_cdf): (f32, f32) = (plain[i + 1][1].parse().unwrap(), cdf[i + 1][1].parse().unwrap());
        assert!((g_raw - w_raw).abs() <= 1e-4, "row {i}: {g_raw} vs {w_raw}");
        assert!((g_cdf - w_cdf).abs() <= 1e-4, "row {i}: {g_cdf} vs {w_cdf}");
        compared += 1;
    }
    assert_eq!(compared, 39);
    let out = Command::new(bin("infer")).args(["score", "--postprocess", "quantile", "--model"]).arg(&model).arg("--input").arg(&fasta).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("this model offers: team-cdf"));
}
