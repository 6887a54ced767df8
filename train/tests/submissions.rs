//! DeepGXP, Camformer and wztr against the fixtures made with the teams' own code
//! (`../shared/fixtures/submissions/<slug>`, specs `submissions/<slug>.md`): state_dict
//! names/shapes/dtypes/order and parameter counts, strict loading, eval outputs, the
//! team's predictor in tch (edge cases included), and the exported ONNX scored from its
//! metadata alone in tract and ONNX Runtime. Also: reading a Lightning checkpoint.

use std::path::{Path, PathBuf};

use infer::backend::BackendKind;
use infer::preprocess::Padding;
use infer::scorer::{Scorer, ScorerOptions};
use infer::window::Align;
use tch::{Device, Kind, Tensor};
use train::model::store::to_vec_f32;
use train::model::{ModelDescription, PrixFixeNet};

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures").join(rel)
}

fn fixture(slug: &str, name: &str) -> PathBuf {
    shared(&format!("submissions/{slug}/{name}"))
}

fn loaded(slug: &str) -> PrixFixeNet {
    let desc = ModelDescription::preset(slug).unwrap();
    PrixFixeNet::from_weights(desc, &fixture(slug, "model.safetensors"), Device::Cpu).unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// `raw sequence<TAB>value or dropped:/error: marker` rows of the team's predictor.
fn predict_rows(slug: &str) -> Vec<(String, Option<f32>)> {
    let rows: Vec<(String, Option<f32>)> = std::fs::read_to_string(fixture(slug, "predict.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (s, v) = l.split_once('\t').unwrap();
            (s.to_string(), v.parse().ok())
        })
        .collect();
    assert_eq!(rows.len(), 48);
    rows
}

fn state_dict_lines(net: &PrixFixeNet) -> Vec<String> {
    net.store
        .entries()
        .iter()
        .map(|e| {
            let dtype = if e.tensor.kind() == Kind::Int64 { "int64" } else { "float32" };
            let dims: Vec<String> = e.tensor.size().iter().map(|d| d.to_string()).collect();
            let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
            format!("{}\t{shape}\t{dtype}", e.name)
        })
        .collect()
}

const MODELS: [(&str, i64, usize); 3] = [("deepgxp", 6_875_137, 22), ("camformer", 16_611_073, 48), ("wztr", 4_823_297, 526)];

#[test]
fn state_dicts_and_parameter_counts_match_the_team_models() {
    for (slug, params, entries) in MODELS {
        let net = PrixFixeNet::new(ModelDescription::preset(slug).unwrap(), Device::Cpu, 0).unwrap();
        let want: Vec<String> = std::fs::read_to_string(fixture(slug, "state_dict.txt"))
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        assert_eq!(want.len(), entries, "{slug}");
        assert_eq!(state_dict_lines(&net), want, "{slug}");
        assert_eq!(net.store.num_parameters(), params, "{slug}: parameter count vs the team's report");
    }
}

/// The fixture inputs in the team's layout, as `(B, C, L)`.
fn team_input(slug: &str, x: &Tensor) -> Tensor {
    match slug {
        "camformer" => x.squeeze_dim(3),
        "wztr" => x.permute([0, 2, 1]).contiguous(),
        _ => x.shallow_clone(),
    }
}

#[test]
fn eval_outputs_match_the_fixtures() {
    for (slug, _, _) in MODELS {
        let io = Tensor::read_safetensors(fixture(slug, "io.safetensors")).unwrap();
        let get = |k: &str| io.iter().find(|(n, _)| n == k).unwrap().1.shallow_clone();
        let net = loaded(slug);
        let got = to_vec_f32(&net.predict(&team_input(slug, &get("x"))));
        let d = max_abs_diff(&got, &to_vec_f32(&get("y").flatten(0, -1)));
        eprintln!("{slug}: eval outputs max |diff| {d:.3e}");
        assert!(d <= 1e-4, "{slug}: max |diff| {d}");
    }
}

/// CPython's `random` (MT19937, `random.seed(int)`, `random.random()`), to replay the
/// random padding sides DeepGXP's dataset drew when the fixture was made.
struct PyRandom {
    mt: [u32; 624],
    i: usize,
}

impl PyRandom {
    fn seed(seed: u32) -> Self {
        let mut mt = [0u32; 624];
        mt[0] = 19_650_218;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32.wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_add(i as u32);
        }
        let (mut i, key) = (1usize, [seed]);
        for k in 0..624 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525)).wrapping_add(key[0]).wrapping_add((k % key.len()) as u32);
            i += 1;
            if i >= 624 {
                mt[0] = mt[623];
                i = 1;
            }
        }
        for _ in 0..623 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= 624 {
                mt[0] = mt[623];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        PyRandom { mt, i: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.i >= 624 {
            for k in 0..624 {
                let y = (self.mt[k] & 0x8000_0000) | (self.mt[(k + 1) % 624] & 0x7fff_ffff);
                self.mt[k] = self.mt[(k + 397) % 624] ^ (y >> 1) ^ if y & 1 == 1 { 0x9908_b0df } else { 0 };
            }
            self.i = 0;
        }
        let mut y = self.mt[self.i];
        self.i += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn random(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `DDPDatasetShift._pad`'s side for a sequence shorter than 110 nt.
    fn pad_side(&mut self) -> Align {
        if self.random() < 0.333 {
            Align::Start
        } else if self.random() > 0.666 {
            Align::End
        } else {
            Align::Center
        }
    }
}

#[test]
fn python_random_replay_matches_cpython() {
    let mut r = PyRandom::seed(42);
    let want = [0.6394267984578837, 0.025010755222666936, 0.27502931836911926, 0.22321073814882275];
    for w in want {
        assert_eq!(r.random(), w);
    }
}

/// The team's predictor in tch. DeepGXP: the padding side of a short sequence is drawn at
/// random by the team's code; the fixture's draws (`random.seed(42)`, file order) are
/// replayed here, one side per shift, so every row is compared.
fn team_predictions(slug: &str, net: &PrixFixeNet, rows: &[(String, Option<f32>)]) -> Vec<f32> {
    let pre = &net.desc.preprocessing;
    if slug != "deepgxp" {
        let seqs: Vec<&[u8]> = rows.iter().map(|(s, _)| s.as_bytes()).collect();
        return net.predict_sequences(&seqs).unwrap().into_iter().map(|v| v[0]).collect();
    }
    let mut rng = PyRandom::seed(42);
    let offsets = pre.rules.shifts.as_ref().unwrap().offsets.clone();
    rows.iter()
        .map(|(s, _)| {
            let mut x = Vec::new();
            for &off in &offsets {
                let mut one = pre.clone();
                one.rules.shifts.as_mut().unwrap().offsets = vec![off];
                if s.len() < pre.length {
                    let Padding::Window(w) = &mut one.padding else { unreachable!() };
                    w.align = rng.pad_side();
                }
                let mut buf = vec![0f32; one.inputs_per_sequence() * one.input_size()];
                one.encode_for_scoring(s.as_bytes(), &mut buf).unwrap();
                x.extend(buf);
            }
            let n = (x.len() / pre.input_size()) as i64;
            let y = to_vec_f32(&net.predict(&Tensor::from_slice(&x).view([n, pre.channels() as i64, pre.length as i64])));
            y.iter().sum::<f32>() / y.len() as f32
        })
        .collect()
}

#[test]
fn the_team_predictors_are_reproduced_in_tch_edge_cases_included() {
    for (slug, _, _) in MODELS {
        let rows = predict_rows(slug);
        let net = loaded(slug);
        let got = team_predictions(slug, &net, &rows);
        let mut worst = 0f32;
        let mut compared = 0;
        for (i, ((seq, want), g)) in rows.iter().zip(&got).enumerate() {
            let Some(w) = want else { continue };
            assert!((g - w).abs() <= 1e-4, "{slug} row {i} ({} nt): got {g}, team predictor {w}", seq.len());
            worst = worst.max((g - w).abs());
            compared += 1;
        }
        eprintln!("{slug} tch predictor: max |diff| {worst:.3e} over {compared} rows");
        // Every row the team scores, the edge cases among them.
        let expected = match slug {
            "camformer" => 45,
            "deepgxp" => 47,
            _ => 48,
        };
        assert_eq!(compared, expected, "{slug}");
    }
}

/// The ten DeepGXP inputs of a row (5 shifts x 2 strands) equal the team's `tta.safetensors`
/// for row 0, whose length needs no padding.
#[test]
fn deepgxp_shift_and_strand_inputs_match_the_team_tta_inputs() {
    let tta = Tensor::read_safetensors(fixture("deepgxp", "tta.safetensors")).unwrap();
    let x = tta.iter().find(|(n, _)| n == "x").unwrap().1.shallow_clone();
    let rows = predict_rows("deepgxp");
    let pre = ModelDescription::deepgxp().preprocessing;
    assert_eq!(pre.inputs_per_sequence(), 10);
    let mut buf = vec![0f32; 10 * pre.input_size()];
    pre.encode_for_scoring(rows[0].0.as_bytes(), &mut buf).unwrap();
    assert_eq!(buf, to_vec_f32(&x.get(0)));
}

#[test]
fn deepgxp_normal_cdf_post_processing_gives_the_submitted_values() {
    let pre = ModelDescription::deepgxp().preprocessing;
    let cdf = pre.rules.postprocess("team-cdf").unwrap();
    let text = std::fs::read_to_string(fixture("deepgxp", "predict_postprocessed.tsv")).unwrap();
    let mut n = 0;
    for ((_, raw), line) in predict_rows("deepgxp").iter().zip(text.lines()) {
        let (Some(raw), Ok(want)) = (raw, line.split('\t').nth(1).unwrap().parse::<f32>()) else { continue };
        assert!((cdf.apply(*raw) - want).abs() <= 1e-6, "{raw} -> {} vs {want}", cdf.apply(*raw));
        n += 1;
    }
    assert_eq!(n, 47);
}

#[test]
fn camformer_reports_the_sequences_its_reader_drops() {
    let pre = ModelDescription::camformer().preprocessing;
    let domain = pre.rules.training_domain.as_ref().unwrap();
    for (seq, value) in predict_rows("camformer") {
        assert_eq!(domain.outside(seq.as_bytes()).is_some(), value.is_none(), "{} nt", seq.len());
    }
}

/// Exported ONNX scored through `infer`'s Scorer (the metadata alone drives the
/// preprocessing): the team's value where it is deterministic, and tch's value with the
/// same preprocessing for every row (DeepGXP's short rows use the documented centred
/// padding; Camformer's out-of-domain rows are scored too).
#[test]
fn exported_onnx_scores_like_the_team_predictor_in_tract_and_onnx_runtime() {
    for (slug, _, _) in MODELS {
        let dir = tempfile::tempdir().unwrap();
        let net = loaded(slug);
        let provenance = train::export::Provenance::from_weights_file(&fixture(slug, "model.safetensors")).unwrap();
        train::export::write_artifacts(&net, dir.path(), provenance).unwrap();
        let rows = predict_rows(slug);
        let seqs: Vec<&[u8]> = rows.iter().map(|(s, _)| s.as_bytes()).collect();
        let tch: Vec<f32> = net.predict_sequences(&seqs).unwrap().into_iter().map(|v| v[0]).collect();
        drop(net);
        for backend in [BackendKind::Tract, BackendKind::Ort] {
            let opts = ScorerOptions { backend, batch_size: 16, threads: 2, rc_average: None };
            let mut scorer = Scorer::open_path(&dir.path().join("model.onnx"), &opts).unwrap();
            let got = scorer.score(&seqs).unwrap();
            let d_tch = max_abs_diff(&got, &tch);
            let mut d_team = 0f32;
            for (i, ((seq, want), g)) in rows.iter().zip(&got).enumerate() {
                let deterministic = slug != "deepgxp" || seq.len() >= 110;
                if let (Some(w), true) = (want, deterministic) {
                    assert!((g - w).abs() <= 1e-4, "{slug} {backend} row {i}: got {g}, team {w}");
                    d_team = d_team.max((g - w).abs());
                }
            }
            eprintln!("{slug} {backend}: max |diff| {d_team:.3e} vs the team predictor, {d_tch:.3e} vs tch on all 48 rows");
            assert!(d_tch <= 1e-4, "{slug} {backend}: max |diff| vs tch {d_tch}");
        }
    }
}

#[test]
fn a_lightning_checkpoint_yields_its_state_dict_without_running_lightning() {
    let got = train::pth::read_state_dict(&shared("checkpoints/lightning_small.ckpt")).unwrap();
    let want = Tensor::read_safetensors(shared("checkpoints/lightning_small_state_dict.safetensors")).unwrap();
    assert_eq!(got.len(), want.len());
    for (name, t) in &want {
        let (_, raw) = got.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} missing"));
        let shape: Vec<i64> = raw.shape.iter().map(|&d| d as i64).collect();
        assert_eq!(shape, t.size(), "{name}");
        let numel = t.numel();
        let mut bytes = vec![0u8; raw.data.len()];
        t.contiguous().copy_data_u8(&mut bytes, numel);
        assert_eq!(raw.data, bytes, "{name}: values");
    }
}
