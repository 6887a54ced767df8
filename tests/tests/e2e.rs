//! End to end across the three binaries: reference PyTorch weights -> `train export` ->
//! `infer score` through tract and ONNX Runtime; `train finetune` onto the human and
//! Drosophila samples -> ONNX -> `infer score`; the published zoo models.
//!
//! The binaries are the ones `cargo test --workspace` builds next to this test.

use std::path::Path;
use std::process::Command;

use e2e::{bin, predict_rows, run, shared};

/// id -> values of an `infer score` TSV (header skipped).
fn read_scores(tsv: &[u8]) -> Vec<(String, Vec<f64>)> {
    String::from_utf8_lossy(tsv)
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split('\t');
            let id = f.next().unwrap().to_string();
            (id, f.map(|v| v.parse().unwrap()).collect())
        })
        .collect()
}

fn reference_rows(stem: &str) -> Vec<(String, f64)> {
    predict_rows(&shared(&format!("fixtures/prixfixe/{stem}_predict.tsv")))
}

fn score(model: &Path, input: &Path, backend: &str) -> Vec<(String, Vec<f64>)> {
    let out = run(Command::new(bin("infer"))
        .args(["score", "--threads", "2", "--batch-size", "16", "--backend", backend, "--model"])
        .arg(model)
        .arg("--input")
        .arg(input));
    read_scores(&out.stdout)
}

#[test]
fn exported_reference_weights_score_like_the_reference_predictor_in_tract_and_ort() {
    let tmp = tempfile::tempdir().unwrap();
    for stem in ["dream_rnn", "dream_cnn", "dream_attn"] {
        let arch = stem.replace('_', "-");
        let dir = tmp.path().join(stem);
        run(Command::new(bin("train"))
            .args(["export", "--arch", &arch, "--license", "MIT", "--version", "0.0.1", "--precision", "int8", "--weights"])
            .arg(shared(&format!("fixtures/prixfixe/{stem}.pth")))
            .arg("--out")
            .arg(&dir));
        // The int8 variant beside it is the exported model's, rebuilt the way anyone can.
        let int8 = dir.join("model.int8.onnx");
        assert_eq!(infer::onnx::read_metadata(&int8).unwrap()["precision"], "int8", "{stem}");
        let rebuilt = tmp.path().join(format!("{stem}.int8.onnx"));
        infer::precision::write_variant(&dir.join("model.onnx"), infer::precision::Precision::Int8, &rebuilt).unwrap();
        assert!(std::fs::read(&int8).unwrap() == std::fs::read(&rebuilt).unwrap(), "{stem}: int8 variant differs");
        // The ONNX file describes itself.
        let meta = infer::onnx::read_metadata(&dir.join("model.onnx")).unwrap();
        for key in ["preprocessing", "outputs", "model", "name", "version", "license", "provenance"] {
            assert!(meta.contains_key(key), "{stem}: ONNX metadata lacks '{key}'");
        }
        assert_eq!(meta["version"], "0.0.1");
        assert!(meta["provenance"].contains(&format!("{stem}.pth")), "{}", meta["provenance"]);
        let rows = reference_rows(stem);
        let fasta = tmp.path().join(format!("{stem}.fa"));
        let text: String = rows.iter().enumerate().map(|(i, (s, _))| format!(">r{i}\n{s}\n")).collect();
        std::fs::write(&fasta, text).unwrap();

        // The ONNX file alone, away from model.json, is enough.
        let alone = tmp.path().join(format!("{stem}-alone.onnx"));
        std::fs::copy(dir.join("model.onnx"), &alone).unwrap();

        let tract = score(&dir, &fasta, "tract");
        let ort = score(&dir, &fasta, "ort");
        let tract_alone = score(&alone, &fasta, "tract");
        assert_eq!(tract.len(), rows.len());
        assert_eq!(tract, tract_alone, "{stem}: the bare ONNX file scores differently");
        let mut worst: f64 = 0.0;
        for (i, (_, want)) in rows.iter().enumerate() {
            assert_eq!(tract[i].0, format!("r{i}"), "order kept");
            for (backend, got) in [("tract", tract[i].1[0]), ("ort", ort[i].1[0])] {
                let d = (got - want).abs();
                worst = worst.max(d);
                assert!(d <= 1e-4, "{stem} {backend} row {i}: {got} vs reference {want}");
            }
        }
        eprintln!("{stem}: max |diff| to the reference predictor over tract and ort: {worst:.2e}");
    }
}

#[test]
fn finetune_onto_human_and_drosophila_writes_onnx_that_infer_scores() {
    let tmp = tempfile::tempdir().unwrap();
    // A trained yeast model: the reference DREAM-CNN weights.
    let yeast = tmp.path().join("yeast");
    run(Command::new(bin("train"))
        .args(["export", "--arch", "dream-cnn", "--weights"])
        .arg(shared("fixtures/prixfixe/dream_cnn.pth"))
        .arg("--out")
        .arg(&yeast));

    let cases = [
        ("human", "human/sample_train.txt", "human/sample_test.txt", "mean_value", 230usize, 1usize),
        (
            "drosophila",
            "drosophila/sample_train.txt",
            "drosophila/sample_test.txt",
            "Dev_log2_enrichment,Hk_log2_enrichment",
            249,
            2,
        ),
    ];
    for (name, train_file, test_file, labels, length, tasks) in cases {
        let out = tmp.path().join(name);
        let o = run(Command::new(bin("train"))
            .args(["finetune", "--device", "cpu", "--threads", "2", "--epochs", "1", "--batch-size", "16"])
            .args(["--batches-per-epoch", "2", "--valid-fraction", "0.1", "--label-columns", labels])
            .arg("--from")
            .arg(&yeast)
            .arg("--train")
            .arg(shared(&format!("data/{train_file}")))
            .arg("--out")
            .arg(&out));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("pearson"), "{name}: per-task metrics reported: {err}");
        let desc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("model.json")).unwrap()).unwrap();
        assert_eq!(desc["preprocessing"]["length"], length);
        assert_eq!(desc["outputs"].as_array().unwrap().len(), tasks);
        assert!(out.join("model.onnx").is_file());

        // infer scores the test sample with the fine-tuned ONNX model.
        let scored = run(Command::new(bin("infer"))
            .args(["score", "--threads", "2", "--model"])
            .arg(out.join("model.onnx"))
            .arg("--input")
            .arg(shared(&format!("data/{test_file}"))));
        let text = String::from_utf8_lossy(&scored.stdout);
        let header: Vec<&str> = text.lines().next().unwrap().split('\t').collect();
        assert_eq!(header.len(), 1 + tasks, "{name}: header {header:?}");
        let rows = read_scores(&scored.stdout);
        assert_eq!(rows.len(), 1000, "{name}");
        assert!(rows.iter().all(|(_, v)| v.len() == tasks && v.iter().all(|x| x.is_finite())));
    }
}
