//! Fidelity of the tch models against the reference PyTorch fixtures
//! (`../shared/fixtures/prixfixe`): parameter counts, state_dict names and shapes,
//! eval outputs, the full predictor, and safetensors round trips.

use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};
use train::model::{ModelDescription, PrixFixeNet, WeightsError};

const MODELS: [(&str, &str, i64); 3] =
    [("dream-rnn", "dream_rnn", 4_130_578), ("dream-cnn", "dream_cnn", 1_933_970), ("dream-attn", "dream_attn", 4_539_410)];

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

fn fixture(name: &str) -> PathBuf {
    shared().join("fixtures/prixfixe").join(name)
}

fn net(preset: &str) -> PrixFixeNet {
    PrixFixeNet::new(ModelDescription::preset(preset).unwrap(), Device::Cpu, 0).unwrap()
}

fn loaded(preset: &str, file: &str) -> PrixFixeNet {
    PrixFixeNet::from_weights(ModelDescription::preset(preset).unwrap(), &fixture(file), Device::Cpu).unwrap()
}

/// (name, shape, dtype) listing of one model from spec/state_dicts.txt.
fn reference_listing(preset: &str) -> Vec<(String, Vec<i64>, String)> {
    let header = match preset {
        "dream-rnn" => "# DREAM-RNN:",
        "dream-cnn" => "# DREAM-CNN:",
        _ => "# DREAM-Attn:",
    };
    let text = std::fs::read_to_string(shared().join("spec/state_dicts.txt")).unwrap();
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with('#') {
            inside = line.starts_with(header);
            continue;
        }
        if !inside || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let shape: Vec<i64> = f[1]
            .trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse().unwrap())
            .collect();
        out.push((f[0].to_string(), shape, f[2].to_string()));
    }
    assert!(!out.is_empty(), "no listing for {preset}");
    out
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn parameter_counts_match_the_reference() {
    for (preset, _, count) in MODELS {
        assert_eq!(net(preset).store.num_parameters(), count, "{preset}");
    }
}

#[test]
fn state_dict_names_shapes_and_order_match_the_reference_listing() {
    for (preset, _, _) in MODELS {
        let n = net(preset);
        let ours: Vec<(String, Vec<i64>, String)> = n
            .store
            .entries()
            .iter()
            .map(|e| {
                let dtype = if e.tensor.kind() == Kind::Int64 { "int64" } else { "float32" };
                (e.name.clone(), e.tensor.size(), dtype.to_string())
            })
            .collect();
        assert_eq!(ours, reference_listing(preset), "{preset}");
    }
}

#[test]
fn eval_outputs_match_the_fixture_from_pth_and_from_safetensors() {
    for (preset, stem, _) in MODELS {
        let io = Tensor::read_safetensors(fixture(&format!("{stem}_io.safetensors"))).unwrap();
        let get = |k: &str| io.iter().find(|(n, _)| n == k).unwrap().1.shallow_clone();
        let (x, y) = (get("x"), get("y"));
        let want = train::model::store::to_vec_f32(&y);
        for ext in ["pth", "safetensors"] {
            let n = loaded(preset, &format!("{stem}.{ext}"));
            let got = train::model::store::to_vec_f32(&n.predict(&x));
            let d = max_abs_diff(&got, &want);
            eprintln!("{preset} from .{ext}: eval outputs max |diff| {d:.3e}");
            assert!(d <= 1e-4, "{preset} from .{ext}: max |diff| {d}");
        }
    }
}

#[test]
fn full_predictor_matches_every_reference_value() {
    for (preset, stem, _) in MODELS {
        let text = std::fs::read_to_string(fixture(&format!("{stem}_predict.tsv"))).unwrap();
        let rows: Vec<(String, f32)> = text
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (s, v) = l.split_once('\t').unwrap();
                (s.to_string(), v.parse().unwrap())
            })
            .collect();
        assert!(rows.len() >= 48, "{stem}: {} rows", rows.len());
        for ext in ["pth", "safetensors"] {
            let n = loaded(preset, &format!("{stem}.{ext}"));
            let seqs: Vec<&[u8]> = rows.iter().map(|(s, _)| s.as_bytes()).collect();
            let got: Vec<f32> = n.predict_sequences(&seqs).unwrap().into_iter().map(|v| v[0]).collect();
            let want: Vec<f32> = rows.iter().map(|r| r.1).collect();
            eprintln!("{preset} from .{ext}: predictor max |diff| {:.3e} over {} rows", max_abs_diff(&got, &want), rows.len());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 1e-4, "{preset} .{ext} row {i}: got {g}, reference {w}");
            }
        }
    }
}

#[test]
fn written_safetensors_load_back_bit_identically_with_reference_names() {
    let dir = tempfile::tempdir().unwrap();
    for (preset, stem, _) in MODELS {
        let n = loaded(preset, &format!("{stem}.pth"));
        let out = dir.path().join(format!("{stem}.safetensors"));
        n.store.save_safetensors(&out).unwrap();
        let back = Tensor::read_safetensors(&out).unwrap();
        let mut listing = reference_listing(preset);
        listing.sort();
        let mut names: Vec<(String, Vec<i64>)> = back.iter().map(|(k, t)| (k.clone(), t.size())).collect();
        names.sort();
        assert_eq!(names, listing.iter().map(|(n, s, _)| (n.clone(), s.clone())).collect::<Vec<_>>(), "{preset}");
        // The same bytes as the tensors we hold, which came from the reference .pth.
        let reference = Tensor::read_safetensors(fixture(&format!("{stem}.safetensors"))).unwrap();
        for (name, t) in &back {
            let r = &reference.iter().find(|(k, _)| k == name).unwrap().1;
            assert_eq!(t.kind(), r.kind(), "{preset} {name}");
            assert!(t.equal(r), "{preset} {name} differs after the round trip");
        }
        // And it loads strictly into a fresh network.
        let mut fresh = net(preset);
        fresh.store.load(&out).unwrap();
    }
}

#[test]
fn wrong_weights_name_the_offending_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let src = Tensor::read_safetensors(fixture("dream_rnn.safetensors")).unwrap();
    let write = |name: &str, tensors: Vec<(String, Tensor)>| {
        let p = dir.path().join(name);
        Tensor::write_safetensors(&tensors, &p).unwrap();
        p
    };
    let missing: Vec<(String, Tensor)> =
        src.iter().filter(|(k, _)| k != "core.lstm.bias_hh_l0").map(|(k, t)| (k.clone(), t.shallow_clone())).collect();
    let unknown: Vec<(String, Tensor)> = src
        .iter()
        .map(|(k, t)| (k.clone(), t.shallow_clone()))
        .chain([("core.extra.weight".to_string(), Tensor::zeros([2], (Kind::Float, Device::Cpu)))])
        .collect();
    let misshaped: Vec<(String, Tensor)> = src
        .iter()
        .map(|(k, t)| {
            let t = if k == "final.mapper.0.bias" { Tensor::zeros([17], (Kind::Float, Device::Cpu)) } else { t.shallow_clone() };
            (k.clone(), t)
        })
        .collect();
    let cases = [
        (write("missing.safetensors", missing), "core.lstm.bias_hh_l0"),
        (write("unknown.safetensors", unknown), "core.extra.weight"),
        (write("misshaped.safetensors", misshaped), "final.mapper.0.bias"),
    ];
    for (path, tensor) in cases {
        let mut n = net("dream-rnn");
        let err: WeightsError = n.store.load(&path).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(tensor), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
    }
    // DREAM-CNN weights do not fit DREAM-RNN.
    let mut n = net("dream-rnn");
    let err = n.store.load(&fixture("dream_cnn.pth")).unwrap_err().to_string();
    assert!(err.contains("core."), "{err}");
}

#[test]
fn seeded_initialisation_is_reproducible_and_follows_the_reference_schemes() {
    for (preset, _, _) in MODELS {
        let a = net(preset);
        let b = net(preset);
        for (ea, eb) in a.store.entries().iter().zip(b.store.entries()) {
            assert!(ea.tensor.equal(&eb.tensor), "{preset} {} differs between two seeded builds", ea.name);
        }
    }
    // Autosome scheme: conv weights ~ N(0, sqrt(2/(K*Cout))), BN gamma 1.
    let cnn = net("dream-cnn");
    let w = cnn.store.get("core.seqextractor.resize_blc0.0.weight").unwrap();
    let std = w.std(true).double_value(&[]);
    let expected = (2.0f64 / (7.0 * 128.0)).sqrt();
    assert!((std / expected - 1.0).abs() < 0.05, "std {std} vs {expected}");
    let gamma = cnn.store.get("core.seqextractor.inv_res_blc0.1.weight").unwrap();
    assert_eq!(gamma.min().double_value(&[]), 1.0);
    // PyTorch default for the LSTM: U(-1/sqrt(H), 1/sqrt(H)).
    let rnn = net("dream-rnn");
    let w = rnn.store.get("core.lstm.weight_ih_l0").unwrap();
    let bound = 1.0 / 320f64.sqrt();
    assert!(w.abs().max().double_value(&[]) <= bound);
    assert!(w.abs().max().double_value(&[]) > 0.95 * bound);
}
