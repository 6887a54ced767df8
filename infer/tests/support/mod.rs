//! Small ONNX models built with `infer::onnx::GraphBuilder`, plus the same networks
//! computed by hand in f64, so backend and scorer results can be checked against an
//! independent implementation instead of against each other.

#![allow(dead_code)]

use std::path::Path;

use infer::onnx::{meta, Attr, Dim, Elem, GraphBuilder, INPUT, OUTPUT};
use infer::preprocess::{ExtraChannel, NPolicy, Padding, Preprocessing};

/// Deterministic uniform numbers (splitmix64), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-scale, scale).
    pub fn uniform(&mut self, scale: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        (2.0 * u - 1.0) * scale
    }
    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(scale)).collect()
    }
}

/// A network together with its reference implementation.
pub trait Reference {
    fn channels(&self) -> usize;
    fn length(&self) -> usize;
    fn n_outputs(&self) -> usize;
    /// Output of one input row `x` (`channels * length` floats).
    fn forward(&self, x: &[f32]) -> Vec<f64>;
    fn write(&self, path: &Path, pre: &Preprocessing, outputs: &[&str]);
}

fn add_metadata(g: &mut GraphBuilder, pre: &Preprocessing, outputs: &[&str], name: &str) {
    g.metadata(meta::PREPROCESSING, &serde_json::to_string(pre).unwrap());
    g.metadata(meta::OUTPUTS, &serde_json::to_string(outputs).unwrap());
    g.metadata(meta::MODEL, r#"{"arch":"test"}"#);
    g.metadata(meta::NAME, name);
    g.metadata(meta::VERSION, "0.0.1");
    g.metadata(meta::LICENSE, "MIT");
    g.metadata(meta::PROVENANCE, "random weights, infer test suite");
}

fn output_dims(n_outputs: usize) -> Vec<Dim> {
    if n_outputs == 1 {
        vec![Dim::Sym("batch")]
    } else {
        vec![Dim::Sym("batch"), Dim::Fixed(n_outputs as i64)]
    }
}

/// Conv1d(C -> 18, k=3, 'same') + ReLU + mean over positions + softmax + soft-argmax over
/// bins 0..17: the shape of the DREAM heads, one output.
pub struct SoftArgmaxCnn {
    pub c: usize,
    pub l: usize,
    pub w: Vec<f32>, // [18, c, 3]
    pub b: Vec<f32>, // [18]
}

pub const BINS: usize = 18;
pub const K: usize = 3;

impl SoftArgmaxCnn {
    pub fn random(c: usize, l: usize, seed: u64) -> Self {
        let mut r = Rng::new(seed);
        SoftArgmaxCnn { c, l, w: r.vec(BINS * c * K, 1.5), b: r.vec(BINS, 0.5) }
    }
}

impl Reference for SoftArgmaxCnn {
    fn channels(&self) -> usize {
        self.c
    }
    fn length(&self) -> usize {
        self.l
    }
    fn n_outputs(&self) -> usize {
        1
    }
    fn forward(&self, x: &[f32]) -> Vec<f64> {
        let (c, l) = (self.c, self.l);
        assert_eq!(x.len(), c * l);
        let mut mean = [0f64; BINS];
        for o in 0..BINS {
            let mut acc_sum = 0f64;
            for t in 0..l {
                let mut acc = self.b[o] as f64;
                for ci in 0..c {
                    for k in 0..K {
                        let pos = t as isize + k as isize - 1;
                        if pos >= 0 && (pos as usize) < l {
                            acc += self.w[(o * c + ci) * K + k] as f64 * x[ci * l + pos as usize] as f64;
                        }
                    }
                }
                acc_sum += acc.max(0.0);
            }
            mean[o] = acc_sum / l as f64;
        }
        let max = mean.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = mean.iter().map(|m| (m - max).exp()).collect();
        let z: f64 = e.iter().sum();
        vec![e.iter().enumerate().map(|(i, v)| i as f64 * v / z).sum()]
    }
    fn write(&self, path: &Path, pre: &Preprocessing, outputs: &[&str]) {
        let mut g = GraphBuilder::new("soft_argmax_cnn");
        g.input(INPUT, Elem::F32, &[Dim::Sym("batch"), Dim::Fixed(self.c as i64), Dim::Fixed(self.l as i64)]);
        g.output(OUTPUT, Elem::F32, &output_dims(1));
        let w = g.initializer_f32("conv.weight", &[BINS as i64, self.c as i64, K as i64], &self.w);
        let b = g.initializer_f32("conv.bias", &[BINS as i64], &self.b);
        let h = g.op("Conv", &[INPUT, &w, &b], vec![Attr::Ints("kernel_shape", vec![3]), Attr::Ints("pads", vec![1, 1])]);
        let h = g.op("Relu", &[&h], vec![]);
        let m = g.op("ReduceMean", &[&h], vec![Attr::Ints("axes", vec![2]), Attr::Int("keepdims", 0)]);
        let p = g.op("Softmax", &[&m], vec![Attr::Int("axis", 1)]);
        let bins: Vec<f32> = (0..BINS).map(|i| i as f32).collect();
        let bins = g.initializer_f32("bins", &[BINS as i64], &bins);
        g.node("MatMul", &[&p, &bins], &[OUTPUT], vec![]);
        add_metadata(&mut g, pre, outputs, "soft-argmax-cnn");
        g.save(path).unwrap();
    }
}

/// Bidirectional LSTM (ONNX layout 0, with the Transposes around it that the real
/// export uses) + mean over time + linear head with `tasks` outputs.
pub struct BiLstm {
    pub c: usize,
    pub l: usize,
    pub h: usize,
    pub tasks: usize,
    pub w: Vec<f32>,  // [2, 4h, c], gate order i, o, f, c
    pub r: Vec<f32>,  // [2, 4h, h]
    pub b: Vec<f32>,  // [2, 8h]: Wb then Rb
    pub w2: Vec<f32>, // [2h, tasks]
    pub b2: Vec<f32>, // [tasks]
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl BiLstm {
    pub fn random(c: usize, l: usize, h: usize, tasks: usize, seed: u64) -> Self {
        let mut r = Rng::new(seed);
        BiLstm {
            c,
            l,
            h,
            tasks,
            w: r.vec(2 * 4 * h * c, 0.8),
            r: r.vec(2 * 4 * h * h, 0.8),
            b: r.vec(2 * 8 * h, 0.3),
            w2: r.vec(2 * h * tasks, 1.0),
            b2: r.vec(tasks, 0.5),
        }
    }
}

impl Reference for BiLstm {
    fn channels(&self) -> usize {
        self.c
    }
    fn length(&self) -> usize {
        self.l
    }
    fn n_outputs(&self) -> usize {
        self.tasks
    }
    fn forward(&self, x: &[f32]) -> Vec<f64> {
        let (c, l, hs) = (self.c, self.l, self.h);
        let mut pooled = vec![0f64; 2 * hs];
        for dir in 0..2 {
            let w = &self.w[dir * 4 * hs * c..(dir + 1) * 4 * hs * c];
            let r = &self.r[dir * 4 * hs * hs..(dir + 1) * 4 * hs * hs];
            let bias = &self.b[dir * 8 * hs..(dir + 1) * 8 * hs];
            let mut h = vec![0f64; hs];
            let mut cell = vec![0f64; hs];
            let steps: Vec<usize> = if dir == 0 { (0..l).collect() } else { (0..l).rev().collect() };
            for t in steps {
                let mut gates = vec![0f64; 4 * hs];
                for (g, gate) in gates.iter_mut().enumerate() {
                    let mut acc = bias[g] as f64 + bias[4 * hs + g] as f64;
                    for ci in 0..c {
                        acc += w[g * c + ci] as f64 * x[ci * l + t] as f64;
                    }
                    for j in 0..hs {
                        acc += r[g * hs + j] as f64 * h[j];
                    }
                    *gate = acc;
                }
                for j in 0..hs {
                    let i = sigmoid(gates[j]);
                    let o = sigmoid(gates[hs + j]);
                    let f = sigmoid(gates[2 * hs + j]);
                    let g = gates[3 * hs + j].tanh();
                    cell[j] = f * cell[j] + i * g;
                    h[j] = o * cell[j].tanh();
                    pooled[dir * hs + j] += h[j] / l as f64;
                }
            }
        }
        (0..self.tasks)
            .map(|k| self.b2[k] as f64 + (0..2 * hs).map(|j| pooled[j] * self.w2[j * self.tasks + k] as f64).sum::<f64>())
            .collect()
    }
    fn write(&self, path: &Path, pre: &Preprocessing, outputs: &[&str]) {
        let (c, hs) = (self.c as i64, self.h as i64);
        let mut g = GraphBuilder::new("bilstm");
        g.input(INPUT, Elem::F32, &[Dim::Sym("batch"), Dim::Fixed(c), Dim::Fixed(self.l as i64)]);
        g.output(OUTPUT, Elem::F32, &output_dims(self.tasks));
        let w = g.initializer_f32("lstm.W", &[2, 4 * hs, c], &self.w);
        let r = g.initializer_f32("lstm.R", &[2, 4 * hs, hs], &self.r);
        let b = g.initializer_f32("lstm.B", &[2, 8 * hs], &self.b);
        // [batch, C, L] -> [L, batch, C]: layout 0 (time-major), the one tract and
        // onnxruntime's CPU provider both handle.
        let seq = g.op("Transpose", &[INPUT], vec![Attr::Ints("perm", vec![2, 0, 1])]);
        let y = g.fresh("lstm_y");
        g.node(
            "LSTM",
            &[&seq, &w, &r, &b],
            &[&y],
            vec![Attr::Int("hidden_size", hs), Attr::String("direction", "bidirectional".into())],
        );
        // Y [L, 2, batch, H] -> [batch, L, 2, H] -> mean over L -> [batch, 2H]
        let yt = g.op("Transpose", &[&y], vec![Attr::Ints("perm", vec![2, 0, 1, 3])]);
        let m = g.op("ReduceMean", &[&yt], vec![Attr::Ints("axes", vec![1]), Attr::Int("keepdims", 0)]);
        let flat = g.op("Flatten", &[&m], vec![Attr::Int("axis", 1)]);
        let w2 = g.initializer_f32("head.weight", &[2 * hs, self.tasks as i64], &self.w2);
        let b2 = g.initializer_f32("head.bias", &[self.tasks as i64], &self.b2);
        let mm = g.op("MatMul", &[&flat, &w2], vec![]);
        if self.tasks == 1 {
            let s = g.op("Add", &[&mm, &b2], vec![]);
            let axes = g.initializer_i64("squeeze_axes", &[1], &[1]);
            g.node("Squeeze", &[&s, &axes], &[OUTPUT], vec![]);
        } else {
            g.node("Add", &[&mm, &b2], &[OUTPUT], vec![]);
        }
        add_metadata(&mut g, pre, outputs, "bilstm");
        g.save(path).unwrap();
    }
}

/// The DREAM yeast preprocessing (150 nt, plasmid padding, 6 channels, RC averaging).
pub fn dream_preprocessing() -> Preprocessing {
    Preprocessing::dream_yeast()
}

/// A short fixed-length preprocessing with only the orientation channel (5 channels),
/// averaging on: exercises a layout without the singleton channel.
pub fn short_preprocessing(length: usize) -> Preprocessing {
    Preprocessing {
        length,
        padding: Padding::Exact,
        alphabet: "AGCT".to_string(),
        extra_channels: vec![ExtraChannel::Reverse],
        n_policy: NPolicy::Zeros,
        rc_average: true,
        reverse_id_markers: Vec::new(),
        rules: Default::default(),
    }
}

/// The reference predictor (spec training.md §7) written out step by step with the
/// preprocessing primitives: forward encoding (reverse 0, singleton 0), reverse
/// complement of the padded sequence (reverse 1, singleton 0), mean of the two.
pub fn expected_scores(model: &dyn Reference, pre: &Preprocessing, seq: &[u8], rc_average: bool) -> Vec<f64> {
    let padded = pre.pad(seq).unwrap();
    let mut x = vec![0f32; pre.input_size()];
    pre.encode(&padded, false, false, &mut x);
    let fwd = model.forward(&x);
    if !rc_average {
        return fwd;
    }
    let rc = infer::preprocess::reverse_complement(&padded);
    pre.encode(&rc, true, false, &mut x);
    let rev = model.forward(&x);
    fwd.iter().zip(&rev).map(|(a, b)| (a + b) / 2.0).collect()
}

/// |got - want| <= 1e-5 (relative above 1), with a message naming the position.
pub fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-5 * w.abs().max(1.0);
        assert!((*g as f64 - w).abs() <= tol, "{what}: value {i}: got {g}, want {w}");
    }
}

/// Real sequences: the first `n` of the DREAM demo training file (adapters included).
pub fn demo_sequences(n: usize) -> Vec<Vec<u8>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/dream/demo_train.txt");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines().take(n).map(|l| l.split('\t').next().unwrap().as_bytes().to_vec()).collect()
}

/// Random fixed-length DNA (with the occasional N and lower case).
pub fn random_dna(n: usize, len: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut r = Rng::new(seed);
    (0..n)
        .map(|_| {
            (0..len)
                .map(|_| {
                    let u = r.uniform(1.0);
                    match ((u + 1.0) * 10.5) as usize {
                        0 => b'N',
                        1 => b'a',
                        2..=5 => b'A',
                        6..=10 => b'C',
                        11..=15 => b'G',
                        _ => b'T',
                    }
                })
                .collect()
        })
        .collect()
}
