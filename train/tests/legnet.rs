//! LegNet against the fixtures made with the team's own code
//! (`../shared/fixtures/submissions/legnet`, spec `submissions/legnet.md`): state_dict
//! names/shapes/dtypes/order, strict `.pth` and safetensors loading, eval outputs, the
//! team's predictor (edge cases included) in tch, and the exported ONNX in tract and
//! ONNX Runtime.

use std::path::{Path, PathBuf};

use infer::backend::BackendKind;
use infer::scorer::{Scorer, ScorerOptions};
use tch::{Device, Kind, Tensor};
use train::model::store::to_vec_f32;
use train::model::{ModelDescription, PrixFixeNet, Slot, WeightsError};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/submissions/legnet").join(name)
}

fn loaded(file: &str) -> PrixFixeNet {
    PrixFixeNet::from_weights(ModelDescription::legnet(), &fixture(file), Device::Cpu).unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// `raw sequence<TAB>value` rows of the team's predictor (the last four are edge cases).
fn predict_rows() -> Vec<(String, f32)> {
    let rows: Vec<(String, f32)> = std::fs::read_to_string(fixture("predict.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (s, v) = l.split_once('\t').unwrap();
            (s.to_string(), v.parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 48);
    rows
}

#[test]
fn state_dict_names_shapes_dtypes_and_order_match_the_team_model() {
    let net = PrixFixeNet::new(ModelDescription::legnet(), Device::Cpu, 0).unwrap();
    let ours: Vec<String> = net
        .store
        .entries()
        .iter()
        .map(|e| {
            let dtype = if e.tensor.kind() == Kind::Int64 { "int64" } else { "float32" };
            let dims: Vec<String> = e.tensor.size().iter().map(|d| d.to_string()).collect();
            let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
            format!("{}\t{shape}\t{dtype}", e.name)
        })
        .collect();
    let want: Vec<String> = std::fs::read_to_string(fixture("state_dict.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    assert_eq!(want.len(), 219);
    assert_eq!(ours, want);
    // The report's count (spec §2), TRL factors included.
    assert_eq!(net.store.num_parameters(), 1_852_846);
}

#[test]
fn eval_outputs_match_the_fixture_from_pth_and_from_safetensors() {
    let io = Tensor::read_safetensors(fixture("io.safetensors")).unwrap();
    let get = |k: &str| io.iter().find(|(n, _)| n == k).unwrap().1.shallow_clone();
    let (x, y) = (get("x"), get("y"));
    let want = to_vec_f32(&y);
    for file in ["model.pth", "model.safetensors"] {
        let net = loaded(file);
        let got = to_vec_f32(&net.predict(&x));
        let d = max_abs_diff(&got, &want);
        eprintln!("legnet from {file}: eval outputs max |diff| {d:.3e}");
        assert!(d <= 1e-4, "{file}: max |diff| {d}");
        // The log-probabilities too (the training loss reads them).
        let logits = tch::no_grad(|| net.forward_t(&x, false).logits.unwrap());
        let d = max_abs_diff(&to_vec_f32(&logits.log_softmax(1, Kind::Float)), &to_vec_f32(&get("logprobs")));
        assert!(d <= 1e-4, "{file}: logprobs max |diff| {d}");
    }
}

/// The TRL term is live in the fixture (spec §5.2): dropping it must break parity, so the
/// eval-output test above can fail when the bilinear path is wrong.
#[test]
fn the_bilinear_term_matters_in_the_fixture() {
    let io = Tensor::read_safetensors(fixture("io.safetensors")).unwrap();
    let get = |k: &str| io.iter().find(|(n, _)| n == k).unwrap().1.shallow_clone();
    let net = loaded("model.pth");
    for e in net.store.entries() {
        if e.name.ends_with("trl.weight.weights") {
            let _g = tch::no_grad_guard();
            let _ = e.tensor.shallow_clone().zero_();
        }
    }
    let d = max_abs_diff(&to_vec_f32(&net.predict(&get("x"))), &to_vec_f32(&get("y")));
    assert!(d > 0.01, "zeroing every TRL lambda moved the outputs by only {d}");
}

#[test]
fn the_team_predictor_is_reproduced_in_tch_edge_cases_included() {
    let rows = predict_rows();
    let seqs: Vec<&[u8]> = rows.iter().map(|(s, _)| s.as_bytes()).collect();
    let net = loaded("model.pth");
    let got: Vec<f32> = net.predict_sequences(&seqs).unwrap().into_iter().map(|v| v[0]).collect();
    let want: Vec<f32> = rows.iter().map(|r| r.1).collect();
    eprintln!("legnet tch predictor: max |diff| {:.3e} over {} rows", max_abs_diff(&got, &want), rows.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= 1e-4, "row {i}: got {g}, team predictor {w}");
    }
}

#[test]
fn exported_onnx_reproduces_the_team_predictor_in_tract_and_onnx_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let net = loaded("model.pth");
    let provenance = train::export::Provenance::from_weights_file(&fixture("model.pth")).unwrap();
    train::export::write_artifacts(&net, dir.path(), provenance).unwrap();
    let rows = predict_rows();
    let seqs: Vec<&[u8]> = rows.iter().map(|(s, _)| s.as_bytes()).collect();
    let want: Vec<f32> = rows.iter().map(|r| r.1).collect();
    for backend in [BackendKind::Tract, BackendKind::Ort] {
        // A batch smaller than the row count exercises full and short batches.
        let opts = ScorerOptions { backend, batch_size: 20, threads: 1, rc_average: None };
        let mut scorer = Scorer::open_path(&dir.path().join("model.onnx"), &opts).unwrap();
        let mut got = Vec::new();
        for chunk in seqs.chunks(20) {
            got.extend(scorer.score(chunk).unwrap());
        }
        let d = max_abs_diff(&got, &want);
        eprintln!("legnet {backend}: predictor max |diff| {d:.3e} over {} rows", rows.len());
        assert!(d <= 1e-4, "{backend}: max |diff| {d}");
    }
}

#[test]
fn strict_loading_names_the_offending_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let net = loaded("model.pth");
    // A Prix Fixe DREAM-CNN (same Autosome stages, no TRL, other names) is refused.
    let cnn = PrixFixeNet::new(ModelDescription::preset("dream-cnn").unwrap(), Device::Cpu, 0).unwrap();
    let path = dir.path().join("cnn.safetensors");
    cnn.store.save_safetensors(&path).unwrap();
    let mut fresh = PrixFixeNet::new(ModelDescription::legnet(), Device::Cpu, 0).unwrap();
    let err = fresh.store.load(&path).unwrap_err();
    assert!(matches!(err, WeightsError::Unknown { .. }), "{err}");
    // A LegNet missing one TRL factor is refused with its name.
    let mut named: Vec<(String, Tensor)> = net.store.entries().iter().map(|e| (e.name.clone(), e.tensor.shallow_clone())).collect();
    named.retain(|(n, _)| n != "seqextractor.inv_res_blc2.6.fc.3.mod.trl.weight.factors.factor_1");
    let path = dir.path().join("partial.safetensors");
    train::model::store::write_safetensors(&path, &named).unwrap();
    let err = fresh.store.load(&path).unwrap_err();
    assert!(err.to_string().contains("inv_res_blc2.6.fc.3.mod.trl.weight.factors.factor_1"), "{err}");
}

#[test]
fn team_initialisation_follows_initialize_weights_and_the_bilinear_init() {
    let net = PrixFixeNet::new(ModelDescription::legnet(), Device::Cpu, 42).unwrap();
    let get = |n: &str| net.store.get(n).unwrap().shallow_clone();
    let std = |t: &Tensor| t.std(true).double_value(&[]);
    // Conv: N(0, sqrt(2 / (k·out))).
    let w = get("seqextractor.resize_blc0.0.weight");
    assert!((std(&w) / (2.0f64 / (7.0 * 128.0)).sqrt() - 1.0).abs() < 0.05);
    // Linear: N(0, 0.001), bias 0.
    assert!((std(&get("seqextractor.inv_res_blc0.6.fc.0.weight")) / 0.001 - 1.0).abs() < 0.05);
    assert_eq!(get("seqextractor.inv_res_blc0.6.fc.0.bias").abs().sum(Kind::Float).double_value(&[]), 0.0);
    // TRL: λ = 1, factors N(0, (0.00075/√R)^(1/3)), bias U(−1, 1).
    let lambda = get("seqextractor.inv_res_blc0.6.fc.3.mod.trl.weight.weights");
    assert_eq!(lambda.min().double_value(&[]), 1.0);
    assert_eq!(lambda.max().double_value(&[]), 1.0);
    let f = get("seqextractor.inv_res_blc0.6.fc.3.mod.trl.weight.factors.factor_0");
    let want = (0.00075f64 / 410f64.sqrt()).powf(1.0 / 3.0);
    assert!((std(&f) / want - 1.0).abs() < 0.05, "factor std {} vs {want}", std(&f));
    let b = get("seqextractor.inv_res_blc0.6.fc.3.mod.trl.bias");
    assert!(b.abs().max().double_value(&[]) <= 1.0);
    // bins 0..17 (int64), BatchNorm 1/0.
    assert_eq!(to_vec_f32(&get("bins")), (0..18).map(|i| i as f32).collect::<Vec<_>>());
    assert_eq!(get("seqextractor.blc0.1.weight").min().double_value(&[]), 1.0);
}

/// `bins` leads the state_dict but belongs to the head: freezing the first and core
/// blocks (fine-tuning) must see it, and every other tensor, under its own block.
#[test]
fn every_tensor_belongs_to_its_block_although_bins_comes_first() {
    let net = PrixFixeNet::new(ModelDescription::legnet(), Device::Cpu, 0).unwrap();
    for (i, e) in net.store.entries().iter().enumerate() {
        let want = if e.name == "bins" || e.name.starts_with("mapper.") {
            Slot::Final
        } else if e.name.starts_with("seqextractor.blc0.") {
            Slot::First
        } else {
            assert!(e.name.starts_with("seqextractor.inv_res_blc") || e.name.starts_with("seqextractor.resize_blc"), "{}", e.name);
            Slot::Core
        };
        assert_eq!(net.slot_of_entry(i), Some(want), "{}", e.name);
    }
}
