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

/// Prix Fixe conversions: the Camformer and wztr trunks as core blocks between the DREAM
/// first layers (BHI) and the soft-bin head. Each mixed model.json validates, trains two
/// steps with the DREAM recipe, exports, and scores from its .onnx in tract and ONNX
/// Runtime as the trained weights do in tch.
#[test]
fn mixed_compositions_with_team_trunks_train_export_and_score() {
    use train::model::blocks::{camformer, soft_bins, wztr};
    use train::model::{BlockSpec, ModelDescription, PrixFixeNet};
    let tmp = tempfile::tempdir().unwrap();
    let cores = [
        (
            "bhi-wztr-softbins",
            BlockSpec::of::<wztr::WztrCore>(&wztr::CoreSpec {
                in_channels: 320,
                length: 150,
                channels: 256,
                kernel_size: 3,
                stages: 6,
                blocks_per_stage: 1,
                dilations: vec![1, 2, 4, 6],
            }),
            256,
        ),
        (
            "bhi-camformer-softbins",
            BlockSpec::of::<camformer::CamformerCore>(&camformer::CoreSpec {
                in_channels: 320,
                channels: 64,
                layers: 4,
                kernel_size: 10,
                pool_layer: 2,
                pool_kernel: 10,
                pool_stride: 4,
                dropout: 0.3,
            }),
            64,
        ),
    ];
    let data = shared("data/dream/demo_train.txt");
    let seqs: Vec<String> = std::fs::read_to_string(&data).unwrap().lines().take(24).map(|l| l.split('\t').next().unwrap().to_string()).collect();
    let fasta = tmp.path().join("in.fa");
    std::fs::write(&fasta, seqs.iter().enumerate().map(|(i, s)| format!(">s{i}\n{s}\n")).collect::<String>()).unwrap();
    for (name, core, width) in cores {
        let mut desc = ModelDescription::preset("dream-cnn").unwrap();
        desc.name = name.into();
        desc.architecture.core = core;
        desc.architecture.final_ = BlockSpec::of::<soft_bins::SoftBins>(&soft_bins::Spec { in_channels: width, n_bins: 18 });
        desc.validate().unwrap();
        let json = tmp.path().join(format!("{name}.json"));
        std::fs::write(&json, serde_json::to_string_pretty(&desc).unwrap()).unwrap();
        let out = tmp.path().join(name);
        run(Command::new(bin("train"))
            .args(["fit", "--device", "cpu", "--threads", "2", "--seed", "3", "--epochs", "1", "--batches-per-epoch", "2"])
            .args(["--batch-size", "8", "--valid-batch-size", "64", "--valid-fraction", "0.01", "--arch"])
            .arg(&json)
            .arg("--train")
            .arg(&data)
            .arg("--out")
            .arg(&out));
        let net = PrixFixeNet::from_weights(desc, &out.join("model.safetensors"), tch::Device::Cpu).unwrap();
        let refs: Vec<&[u8]> = seqs.iter().map(|s| s.as_bytes()).collect();
        let want: Vec<f32> = net.predict_sequences(&refs).unwrap().into_iter().map(|v| v[0]).collect();
        for backend in ["tract", "ort"] {
            let scored = run(Command::new(bin("infer"))
                .args(["score", "--threads", "2", "--backend", backend, "--model"])
                .arg(out.join("model.onnx"))
                .arg("--input")
                .arg(&fasta));
            let text = String::from_utf8(scored.stdout).unwrap();
            let got: Vec<f32> = text.lines().skip(1).map(|l| l.split('\t').nth(1).unwrap().parse().unwrap()).collect();
            let d = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max);
            eprintln!("{name} {backend}: max |diff| vs tch {d:.3e}");
            assert_eq!(got.len(), want.len());
            assert!(d <= 1e-4, "{name} {backend}: {d}");
        }
    }
}
