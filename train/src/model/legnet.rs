//! LegNet (autosome.org, DREAM 2022 rank 1; Penzar et al., Bioinformatics 2023): the
//! team's `SeqNN` from `dream_submissions/autosome.org/code/model.py`, byte-identical to
//! `legnet/model.py` in autosome-ru/LegNet (spec `submissions/legnet.md`).
//!
//! It is a three-block family in the Prix Fixe frame: the stem `seqextractor.blc0`
//! ([`LegnetStem`]), the inverted-residual stages with their full squeeze-excitation
//! (low-rank bilinear TRL term included, [`LegnetCore`]) and the 18-bin head `mapper`
//! ([`LegnetHead`]). Tensors keep the team's state_dict names, shapes, dtypes and order
//! (`bins` first: `SeqNN.__init__` registers it before its modules), so the authors'
//! `.pth` files load strictly.

use tch::{Kind, Tensor};

use infer::onnx::{Attr, GraphBuilder, OUTPUT};

use super::layers::{BatchNorm1d, Conv1d, InitScheme, Linear};
use super::onnx::{batch_norm, conv, init as init_tensor, linear, silu};
use super::store::{to_vec_f32, Store};

/// The hyper-parameters of every published LegNet (`train.sh`, `test.sh` and the
/// authors' scripts): `--ks 7 --blocks 256 128 128 64 64 64 64 --resize_factor 4
/// --se_reduction 4 --final_ch 18 --use_single_channel`.
pub const BLOCK_SIZES: [usize; 7] = [256, 128, 128, 64, 64, 64, 64];
pub const KERNEL_SIZE: usize = 7;
pub const RESIZE_FACTOR: usize = 4;
pub const SE_REDUCTION: f64 = 4.0;
pub const FINAL_CH: usize = 18;

/// tltorch's CP rank for `rank=0.5` of a (h, h, q) weight: `round(0.5·h·h·q / (2h+q))`,
/// rounded half to even as numpy does (tensorly `validate_cp_rank`).
pub fn trl_rank(h: usize, q: usize) -> usize {
    let r = 0.5 * (h * h * q) as f64 / (2 * h + q) as f64;
    r.round_ties_even() as usize
}

/// SE widths for an inverted-residual stage with `p` input channels:
/// `h = int(p // reduction)` and the bilinear output `q = int(p // reduction // 2)`.
pub fn se_widths(p: usize, reduction: f64) -> (usize, usize) {
    let h = (p as f64 / reduction).floor() as usize;
    (h, h / 2)
}

/// `seqextractor.blc0`: Conv1d(6→256, k7, no bias) → BatchNorm → SiLU.
pub struct LegnetStem {
    pub conv: Conv1d,
    pub bn: BatchNorm1d,
}

impl LegnetStem {
    pub fn new(store: &mut Store, in_channels: usize, out_channels: usize, kernel_size: usize) -> Self {
        let (cin, cout) = (in_channels as i64, out_channels as i64);
        LegnetStem {
            conv: Conv1d::new(store, "seqextractor.blc0.0", cin, cout, kernel_size as i64, 1, false),
            bn: BatchNorm1d::new(store, "seqextractor.blc0.1", cout),
        }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.bn.forward_t(&self.conv.forward(x), train).silu()
    }

    pub fn init(&self) {
        self.conv.init(InitScheme::Autosome);
        self.bn.init();
    }

    pub fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = conv(g, &self.conv, x, "seqextractor.blc0.0");
        let y = batch_norm(g, &self.bn, &y, "seqextractor.blc0.1");
        silu(g, &y)
    }
}

/// tensorly-torch `TRL((h, h), q, rank=0.5, factorization='cp', bias=True)` applied to
/// `z zᵀ`, in its factored form: `y[b,o] = Σ_r λ_r (z_b·U0[:,r]) (z_b·U1[:,r]) U2[o,r] + bias[o]`
/// (the same sum as tltorch's full-weight product, in another order).
pub struct Trl {
    pub bias: Tensor,
    pub lambda: Tensor,
    pub factors: [Tensor; 3],
}

impl Trl {
    fn new(store: &mut Store, prefix: &str, h: i64, q: i64) -> Self {
        let r = trl_rank(h as usize, q as usize) as i64;
        // tltorch registers the bias before the CP weight.
        let bias = store.param(&format!("{prefix}.bias"), &[q]);
        let lambda = store.param(&format!("{prefix}.weight.weights"), &[r]);
        let f0 = store.param(&format!("{prefix}.weight.factors.factor_0"), &[h, r]);
        let f1 = store.param(&format!("{prefix}.weight.factors.factor_1"), &[h, r]);
        let f2 = store.param(&format!("{prefix}.weight.factors.factor_2"), &[q, r]);
        Trl { bias, lambda, factors: [f0, f1, f2] }
    }

    fn forward(&self, z: &Tensor) -> Tensor {
        let [u0, u1, u2] = &self.factors;
        let c = z.matmul(u0) * z.matmul(u1) * &self.lambda;
        c.matmul(&u2.transpose(0, 1)) + &self.bias
    }

    /// tltorch `init_from_random` gives the bias U(−1, 1); the team's `Bilinear` then sets
    /// λ = 1 and draws the factors with `CPTensor.normal_(std=0.00075)`, i.e. each factor
    /// N(0, (0.00075/√R)^(1/3)).
    fn init(&self) {
        let _g = tch::no_grad_guard();
        let _ = self.bias.shallow_clone().uniform_(-1.0, 1.0);
        let _ = self.lambda.shallow_clone().fill_(1.0);
        let r = self.lambda.size()[0] as f64;
        let std = (0.00075 / r.sqrt()).powf(1.0 / 3.0);
        for f in &self.factors {
            let _ = f.shallow_clone().normal_(0.0, std);
        }
    }

    fn export(&self, g: &mut GraphBuilder, z: &str, pre: &str) -> String {
        let [u0, u1, u2] = &self.factors;
        let u0 = init_tensor(g, &format!("{pre}.weight.factors.factor_0"), u0);
        let u1 = init_tensor(g, &format!("{pre}.weight.factors.factor_1"), u1);
        let lambda = init_tensor(g, &format!("{pre}.weight.weights"), &self.lambda);
        let a = g.op("MatMul", &[z, &u0], vec![]);
        let b = g.op("MatMul", &[z, &u1], vec![]);
        let c = g.op("Mul", &[&a, &b], vec![]);
        let c = g.op("Mul", &[&c, &lambda], vec![]);
        linear(g, u2, Some(&self.bias), &c, pre)
    }
}

/// The team's `SELayer(inp=p, oup=e, reduction)`: mean over positions → fc.0 Linear(e→h)
/// → SiLU → fc.2 Linear(h→h) → fc.3 `Concater(Bilinear)` = [z, TRL(z zᵀ)] → SiLU →
/// fc.5 Linear(h+q→e) → Sigmoid, multiplied into the input.
pub struct SqueezeExcite {
    pub fc0: Linear,
    pub fc2: Linear,
    pub trl: Trl,
    pub fc5: Linear,
}

impl SqueezeExcite {
    fn new(store: &mut Store, pre: &str, p: usize, e: i64, reduction: f64) -> Self {
        let (h, q) = se_widths(p, reduction);
        let (h, q) = (h as i64, q as i64);
        SqueezeExcite {
            fc0: Linear::new(store, &format!("{pre}.fc.0"), e, h, true),
            fc2: Linear::new(store, &format!("{pre}.fc.2"), h, h, true),
            trl: Trl::new(store, &format!("{pre}.fc.3.mod.trl"), h, q),
            fc5: Linear::new(store, &format!("{pre}.fc.5"), h + q, e, true),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let y = x.mean_dim([2i64].as_slice(), false, Kind::Float);
        let z = self.fc2.forward(&self.fc0.forward(&y).silu());
        let z = Tensor::cat(&[&z, &self.trl.forward(&z)], 1).silu();
        let s = self.fc5.forward(&z).sigmoid();
        x * s.unsqueeze(2)
    }

    fn init(&self) {
        for l in [&self.fc0, &self.fc2, &self.fc5] {
            l.init(InitScheme::Autosome);
        }
        self.trl.init();
    }

    fn export(&self, g: &mut GraphBuilder, x: &str, pre: &str) -> String {
        let y = g.op("ReduceMean", &[x], vec![Attr::Ints("axes", vec![2]), Attr::Int("keepdims", 0)]);
        let z = linear(g, &self.fc0.weight, self.fc0.bias.as_ref(), &y, &format!("{pre}.fc.0"));
        let z = silu(g, &z);
        let z = linear(g, &self.fc2.weight, self.fc2.bias.as_ref(), &z, &format!("{pre}.fc.2"));
        let b = self.trl.export(g, &z, &format!("{pre}.fc.3.mod.trl"));
        let z = g.op("Concat", &[&z, &b], vec![Attr::Int("axis", 1)]);
        let z = silu(g, &z);
        let s = linear(g, &self.fc5.weight, self.fc5.bias.as_ref(), &z, &format!("{pre}.fc.5"));
        let s = g.op("Sigmoid", &[&s], vec![]);
        let axes = g.initializer_i64(&format!("{pre}.gate_axes"), &[1], &[2]);
        let s = g.op("Unsqueeze", &[&s, &axes], vec![]);
        g.op("Mul", &[x, &s], vec![])
    }
}

/// `seqextractor.inv_res_blc{i}` (`[0]`..`[9]`) and `seqextractor.resize_blc{i}`.
pub struct LegnetStage {
    pub expand: Conv1d,
    pub bn1: BatchNorm1d,
    pub grouped: Conv1d,
    pub bn2: BatchNorm1d,
    pub se: SqueezeExcite,
    pub project: Conv1d,
    pub bn3: BatchNorm1d,
    pub resize: Conv1d,
    pub resize_bn: BatchNorm1d,
}

impl LegnetStage {
    fn inv_res(&self, x: &Tensor, train: bool) -> Tensor {
        let y = self.bn1.forward_t(&self.expand.forward(x), train).silu();
        let y = self.bn2.forward_t(&self.grouped.forward(&y), train).silu();
        let y = self.se.forward(&y);
        self.bn3.forward_t(&self.project.forward(&y), train).silu()
    }

    /// Residual *concatenation*, input first, then the resize conv.
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let cat = Tensor::cat(&[x, &self.inv_res(x, train)], 1);
        self.resize_bn.forward_t(&self.resize.forward(&cat), train).silu()
    }
}

pub struct LegnetCore {
    pub stages: Vec<LegnetStage>,
}

impl LegnetCore {
    /// `block_sizes[0]` is the stem's width; stage i maps `block_sizes[i]` to `block_sizes[i+1]`.
    pub fn new(store: &mut Store, block_sizes: &[usize], kernel_size: usize, resize_factor: usize, se_reduction: f64) -> Self {
        let k = kernel_size as i64;
        let stages = block_sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let (p, s) = (w[0] as i64, w[1] as i64);
                let e = resize_factor as i64 * s;
                let pre = format!("seqextractor.inv_res_blc{i}");
                let expand = Conv1d::new(store, &format!("{pre}.0"), p, e, 1, 1, false);
                let bn1 = BatchNorm1d::new(store, &format!("{pre}.1"), e);
                let grouped = Conv1d::new(store, &format!("{pre}.3"), e, e, k, e / 2, false);
                let bn2 = BatchNorm1d::new(store, &format!("{pre}.4"), e);
                let se = SqueezeExcite::new(store, &format!("{pre}.6"), w[0], e, se_reduction);
                let project = Conv1d::new(store, &format!("{pre}.7"), e, p, 1, 1, false);
                let bn3 = BatchNorm1d::new(store, &format!("{pre}.8"), p);
                let pre = format!("seqextractor.resize_blc{i}");
                let resize = Conv1d::new(store, &format!("{pre}.0"), 2 * p, s, k, 1, false);
                let resize_bn = BatchNorm1d::new(store, &format!("{pre}.1"), s);
                LegnetStage { expand, bn1, grouped, bn2, se, project, bn3, resize, resize_bn }
            })
            .collect();
        LegnetCore { stages }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = x.shallow_clone();
        for stage in &self.stages {
            x = stage.forward_t(&x, train);
        }
        x
    }

    pub fn init(&self) {
        for s in &self.stages {
            for c in [&s.expand, &s.grouped, &s.project, &s.resize] {
                c.init(InitScheme::Autosome);
            }
            for bn in [&s.bn1, &s.bn2, &s.bn3, &s.resize_bn] {
                bn.init();
            }
            s.se.init();
        }
    }

    pub fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let mut x = x.to_string();
        for (i, s) in self.stages.iter().enumerate() {
            let pre = format!("seqextractor.inv_res_blc{i}");
            let y = conv(g, &s.expand, &x, &format!("{pre}.0"));
            let y = batch_norm(g, &s.bn1, &y, &format!("{pre}.1"));
            let y = silu(g, &y);
            let y = conv(g, &s.grouped, &y, &format!("{pre}.3"));
            let y = batch_norm(g, &s.bn2, &y, &format!("{pre}.4"));
            let y = silu(g, &y);
            let y = s.se.export(g, &y, &format!("{pre}.6"));
            let y = conv(g, &s.project, &y, &format!("{pre}.7"));
            let y = batch_norm(g, &s.bn3, &y, &format!("{pre}.8"));
            let y = silu(g, &y);
            let cat = g.op("Concat", &[&x, &y], vec![Attr::Int("axis", 1)]);
            let pre = format!("seqextractor.resize_blc{i}");
            let y = conv(g, &s.resize, &cat, &format!("{pre}.0"));
            let y = batch_norm(g, &s.resize_bn, &y, &format!("{pre}.1"));
            x = silu(g, &y);
        }
        x
    }
}

/// `mapper`: Conv1d(64→18, k1, bias) → **SiLU** (unlike the Prix Fixe head), mean over
/// positions → logits `z`; score = Σ softmax(z)·bins with the int64 `bins` buffer.
pub struct LegnetHead {
    pub mapper: Conv1d,
    pub bins: Tensor,
}

impl LegnetHead {
    pub fn new(store: &mut Store, in_channels: usize, n_bins: usize) -> Self {
        let n = n_bins as i64;
        let bins = store.buffer_first("bins", Tensor::arange(n, (Kind::Int64, store.device())));
        let mapper = Conv1d::new(store, "mapper.0", in_channels as i64, n, 1, 1, true);
        LegnetHead { mapper, bins }
    }

    /// (pooled logits z, expected bin).
    pub fn forward(&self, x: &Tensor) -> (Tensor, Tensor) {
        let z = self.mapper.forward(x).silu().mean_dim([2i64].as_slice(), false, Kind::Float);
        let p = z.softmax(1, Kind::Float);
        let score = (p * self.bins.to_kind(Kind::Float)).sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
        (z, score)
    }

    pub fn init(&self) {
        self.mapper.init(InitScheme::Autosome);
    }

    pub fn export(&self, g: &mut GraphBuilder, x: &str) {
        let z = conv(g, &self.mapper, x, "mapper.0");
        let z = silu(g, &z);
        let z = g.op("GlobalAveragePool", &[&z], vec![]);
        let z = g.op("Flatten", &[&z], vec![Attr::Int("axis", 1)]);
        let p = g.op("Softmax", &[&z], vec![Attr::Int("axis", 1)]);
        let bins = to_vec_f32(&self.bins);
        let bins = g.initializer_f32("bins", &[bins.len() as i64], &bins);
        g.node("MatMul", &[&p, &bins], &[OUTPUT], vec![]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec submissions/legnet.md §2 table: (p, h, q, R) per stage.
    #[test]
    fn se_widths_and_ranks_match_the_spec_table() {
        for (p, h, q, r) in [(256, 64, 32, 410), (128, 32, 16, 102), (64, 16, 8, 26)] {
            assert_eq!(se_widths(p, SE_REDUCTION), (h, q), "p = {p}");
            assert_eq!(trl_rank(h, q), r, "p = {p}");
        }
        // Half-way cases round to even, like numpy: 0.5·2·2·1/5 = 0.4 → 0; 2.5 → 2.
        assert_eq!(2.5f64.round_ties_even(), 2.0);
    }
}
