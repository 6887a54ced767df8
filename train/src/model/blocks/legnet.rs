//! LegNet (autosome.org, DREAM 2022 rank 1; Penzar et al., Bioinformatics 2023): the
//! team's `SeqNN` from `dream_submissions/autosome.org/code/model.py`, byte-identical to
//! `legnet/model.py` in autosome-ru/LegNet (spec `submissions/legnet.md`).
//!
//! Three families in the Prix Fixe frame: the stem `seqextractor.blc0` ([`LegnetStem`]),
//! the inverted-residual stages with their full squeeze-excitation (low-rank bilinear TRL
//! term included, [`LegnetCore`]) and the 18-bin head `mapper` ([`LegnetHead`]). The
//! stem and core live under `seqextractor`, the head at the root, so the tensors keep
//! the team's state_dict names, shapes, dtypes and order (`bins` first: `SeqNN.__init__`
//! registers it before its modules) and the authors' `.pth` files load strictly.

use infer::onnx::{Attr, GraphBuilder};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::autosome::ConvBnSilu;
use crate::model::family::{Block, BlockFamily, FinalOutput, Objective, Signal, Slot};
use crate::model::layers::{matmul_add, BatchNorm1d, Conv1d, InitScheme, Linear};
use crate::model::onnx::{init, mean_over_positions, silu};
use crate::model::scope::{Scope, Var};
use crate::model::store::to_vec_f32;

/// The hyper-parameters of every published LegNet (`train.sh`, `test.sh` and the
/// authors' scripts): `--ks 7 --blocks 256 128 128 64 64 64 64 --resize_factor 4
/// --se_reduction 4 --final_ch 18 --use_single_channel`.
pub const BLOCK_SIZES: [usize; 7] = [256, 128, 128, 64, 64, 64, 64];
pub const KERNEL_SIZE: usize = 7;
pub const RESIZE_FACTOR: usize = 4;
pub const SE_REDUCTION: f64 = 4.0;
pub const FINAL_CH: usize = 18;

/// The team's module names: stem and stages are `SeqNN.seqextractor`.
const SEQEXTRACTOR: &str = "seqextractor";

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
pub struct LegnetStem;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StemSpec {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel_size: usize,
}

impl BlockFamily for LegnetStem {
    type Spec = StemSpec;
    const SLOT: Slot = Slot::First;
    const TAG: &'static str = "legnet";

    fn scope() -> &'static str {
        SEQEXTRACTOR
    }

    fn check(s: &StemSpec, input: Signal) -> Result<Signal, String> {
        super::check_input("first", s.in_channels, input.channels, "preprocessing produces")?;
        if s.kernel_size.is_multiple_of(2) || s.out_channels == 0 {
            return Err(format!("legnet stem: kernel_size {} must be odd and out_channels at least 1", s.kernel_size));
        }
        Ok(Signal { channels: s.out_channels, length: input.length })
    }

    fn build(s: &StemSpec, vs: &mut Scope) -> Box<dyn Block> {
        Box::new(ConvBnSilu::new(&mut vs.pp("blc0"), s.in_channels as i64, s.out_channels as i64, s.kernel_size as i64))
    }

    fn adapt(s: &mut StemSpec, input: Signal) {
        s.in_channels = input.channels;
    }
}

/// tensorly-torch `TRL((h, h), q, rank=0.5, factorization='cp', bias=True)` applied to
/// `z zᵀ`, in its factored form: `y[b,o] = Σ_r λ_r (z_b·U0[:,r]) (z_b·U1[:,r]) U2[o,r] + bias[o]`
/// (the same sum as tltorch's full-weight product, in another order).
pub struct Trl {
    pub bias: Var,
    pub lambda: Var,
    pub factors: [Var; 3],
}

impl Trl {
    fn new(vs: &mut Scope, h: i64, q: i64) -> Self {
        let r = trl_rank(h as usize, q as usize) as i64;
        // tltorch registers the bias before the CP weight.
        let bias = vs.param("bias", &[q]);
        let mut w = vs.pp("weight");
        let lambda = w.param("weights", &[r]);
        let mut f = w.pp("factors");
        let factors = [f.param("factor_0", &[h, r]), f.param("factor_1", &[h, r]), f.param("factor_2", &[q, r])];
        Trl { bias, lambda, factors }
    }

    fn forward(&self, z: &Tensor) -> Tensor {
        let [u0, u1, u2] = &self.factors;
        let c = z.matmul(u0) * z.matmul(u1) * &self.lambda.tensor;
        c.matmul(&u2.transpose(0, 1)) + &self.bias.tensor
    }

    /// tltorch `init_from_random` gives the bias U(−1, 1); the team's `Bilinear` then sets
    /// λ = 1 and draws the factors with `CPTensor.normal_(std=0.00075)`, i.e. each factor
    /// N(0, (0.00075/√R)^(1/3)).
    fn init(&self) {
        let _g = tch::no_grad_guard();
        let _ = self.bias.tensor.shallow_clone().uniform_(-1.0, 1.0);
        let _ = self.lambda.tensor.shallow_clone().fill_(1.0);
        let r = self.lambda.size()[0] as f64;
        let std = (0.00075 / r.sqrt()).powf(1.0 / 3.0);
        for f in &self.factors {
            let _ = f.tensor.shallow_clone().normal_(0.0, std);
        }
    }

    fn export(&self, g: &mut GraphBuilder, z: &str) -> String {
        let [u0, u1, u2] = &self.factors;
        let u0 = init(g, u0);
        let u1 = init(g, u1);
        let lambda = init(g, &self.lambda);
        let a = g.op("MatMul", &[z, &u0], vec![]);
        let b = g.op("MatMul", &[z, &u1], vec![]);
        let c = g.op("Mul", &[&a, &b], vec![]);
        let c = g.op("Mul", &[&c, &lambda], vec![]);
        matmul_add(g, &c, &u2.name, u2, Some((self.bias.name.as_str(), &self.bias.tensor)))
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
    fn new(vs: &mut Scope, p: usize, e: i64, reduction: f64) -> Self {
        let (h, q) = se_widths(p, reduction);
        let (h, q) = (h as i64, q as i64);
        let mut fc = vs.pp("fc");
        SqueezeExcite {
            fc0: Linear::new(&mut fc.pp(0), e, h, true),
            fc2: Linear::new(&mut fc.pp(2), h, h, true),
            trl: Trl::new(&mut fc.pp("3.mod.trl"), h, q),
            fc5: Linear::new(&mut fc.pp(5), h + q, e, true),
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

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = mean_over_positions(g, x);
        let z = self.fc0.export(g, &y);
        let z = silu(g, &z);
        let z = self.fc2.export(g, &z);
        let b = self.trl.export(g, &z);
        let z = g.op("Concat", &[&z, &b], vec![Attr::Int("axis", 1)]);
        let z = silu(g, &z);
        let s = self.fc5.export(g, &z);
        let s = g.op("Sigmoid", &[&s], vec![]);
        let axes = g.initializer_i64(&format!("{}.gate_axes", self.fc5.weight.name), &[1], &[2]);
        let s = g.op("Unsqueeze", &[&s, &axes], vec![]);
        g.op("Mul", &[x, &s], vec![])
    }
}

/// `seqextractor.inv_res_blc{i}` (`nn.Sequential` indices 0..8) and
/// `seqextractor.resize_blc{i}`.
pub struct LegnetStage {
    pub expand: Conv1d,
    pub bn1: BatchNorm1d,
    pub grouped: Conv1d,
    pub bn2: BatchNorm1d,
    pub se: SqueezeExcite,
    pub project: Conv1d,
    pub bn3: BatchNorm1d,
    pub resize: ConvBnSilu,
}

impl LegnetStage {
    fn new(vs: &mut Scope, i: usize, p: usize, s: usize, k: i64, resize_factor: usize, se_reduction: f64) -> Self {
        let (pi, si) = (p as i64, s as i64);
        let e = (resize_factor * s) as i64;
        let mut inv = vs.pp(format!("inv_res_blc{i}"));
        let expand = Conv1d::new(&mut inv.pp(0), pi, e, 1, 1, false);
        let bn1 = BatchNorm1d::new(&mut inv.pp(1), e);
        let grouped = Conv1d::new(&mut inv.pp(3), e, e, k, e / 2, false);
        let bn2 = BatchNorm1d::new(&mut inv.pp(4), e);
        let se = SqueezeExcite::new(&mut inv.pp(6), p, e, se_reduction);
        let project = Conv1d::new(&mut inv.pp(7), e, pi, 1, 1, false);
        let bn3 = BatchNorm1d::new(&mut inv.pp(8), pi);
        let resize = ConvBnSilu::new(&mut vs.pp(format!("resize_blc{i}")), 2 * pi, si, k);
        LegnetStage { expand, bn1, grouped, bn2, se, project, bn3, resize }
    }

    fn inv_res(&self, x: &Tensor, train: bool) -> Tensor {
        let y = self.bn1.forward_t(&self.expand.forward(x), train).silu();
        let y = self.bn2.forward_t(&self.grouped.forward(&y), train).silu();
        let y = self.se.forward(&y);
        self.bn3.forward_t(&self.project.forward(&y), train).silu()
    }

    /// Residual *concatenation*, input first, then the resize conv.
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let cat = Tensor::cat(&[x, &self.inv_res(x, train)], 1);
        Block::forward_t(&self.resize, &cat, train)
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = self.expand.export(g, x);
        let y = self.bn1.export(g, &y);
        let y = silu(g, &y);
        let y = self.grouped.export(g, &y);
        let y = self.bn2.export(g, &y);
        let y = silu(g, &y);
        let y = self.se.export(g, &y);
        let y = self.project.export(g, &y);
        let y = self.bn3.export(g, &y);
        let y = silu(g, &y);
        let cat = g.op("Concat", &[x, &y], vec![Attr::Int("axis", 1)]);
        Block::export(&self.resize, g, &cat)
    }
}

/// The inverted-residual stages of `seqextractor`.
pub struct LegnetCore;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreSpec {
    /// The team's `--blocks`: `block_sizes[0]` is the stem's width; stage i maps
    /// `block_sizes[i]` to `block_sizes[i+1]`.
    pub block_sizes: Vec<usize>,
    pub kernel_size: usize,
    pub resize_factor: usize,
    pub se_reduction: f64,
}

pub struct LegnetStages {
    pub stages: Vec<LegnetStage>,
}

impl BlockFamily for LegnetCore {
    type Spec = CoreSpec;
    const SLOT: Slot = Slot::Core;
    const TAG: &'static str = "legnet";

    fn scope() -> &'static str {
        SEQEXTRACTOR
    }

    fn check(s: &CoreSpec, input: Signal) -> Result<Signal, String> {
        if s.block_sizes.len() < 2 || s.kernel_size.is_multiple_of(2) || s.resize_factor == 0 || s.se_reduction.is_nan() || s.se_reduction < 1.0 {
            return Err("legnet core: needs at least two block sizes, an odd kernel, resize_factor >= 1 and se_reduction >= 1".into());
        }
        if s.block_sizes.iter().any(|&b| b == 0 || (b as f64 / s.se_reduction) < 2.0) {
            return Err(format!("legnet core: block sizes {:?} too small for se_reduction {}", s.block_sizes, s.se_reduction));
        }
        super::check_input("core", s.block_sizes[0], input.channels, "the first block gives")?;
        Ok(Signal { channels: s.block_sizes[s.block_sizes.len() - 1], length: input.length })
    }

    fn build(s: &CoreSpec, vs: &mut Scope) -> Box<dyn Block> {
        let k = s.kernel_size as i64;
        let stages = s
            .block_sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| LegnetStage::new(vs, i, w[0], w[1], k, s.resize_factor, s.se_reduction))
            .collect();
        Box::new(LegnetStages { stages })
    }
}

impl Block for LegnetStages {
    fn init(&self) {
        // The draw order of the first release (convs, BatchNorms, then the SE), so seeded
        // runs reproduce.
        for s in &self.stages {
            for c in [&s.expand, &s.grouped, &s.project, &s.resize.conv] {
                c.init(InitScheme::Autosome);
            }
            for bn in [&s.bn1, &s.bn2, &s.bn3, &s.resize.bn] {
                bn.init();
            }
            s.se.init();
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = x.shallow_clone();
        for stage in &self.stages {
            x = stage.forward_t(&x, train);
        }
        x
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let mut x = x.to_string();
        for stage in &self.stages {
            x = stage.export(g, &x);
        }
        x
    }
}

/// `mapper`: Conv1d(64→18, k1, bias) → **SiLU** (unlike the Prix Fixe head), mean over
/// positions → logits `z`; score = Σ softmax(z)·bins with the int64 `bins` buffer.
/// Trained like the Prix Fixe head: KL to the 18-bin soft target.
pub struct LegnetHead;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadSpec {
    pub in_channels: usize,
    pub n_bins: usize,
}

pub struct LegnetBins {
    pub mapper: Conv1d,
    pub bins: Var,
}

impl BlockFamily for LegnetHead {
    type Spec = HeadSpec;
    const SLOT: Slot = Slot::Final;
    const TAG: &'static str = "legnet";

    /// `SeqNN.mapper` and `SeqNN.bins` sit at the root of the team's state_dict.
    fn scope() -> &'static str {
        ""
    }

    fn check(s: &HeadSpec, input: Signal) -> Result<Signal, String> {
        super::check_input("final", s.in_channels, input.channels, "the core block gives")?;
        if s.n_bins == 0 {
            return Err("legnet final block: n_bins must be at least 1".into());
        }
        Ok(Signal { channels: 1, length: 1 })
    }

    fn build(s: &HeadSpec, vs: &mut Scope) -> Box<dyn Block> {
        let n = s.n_bins as i64;
        // `SeqNN.__init__` registers the buffer before its modules: it leads the state_dict.
        let bins = vs.buffer_first("bins", Tensor::arange(n, (Kind::Int64, vs.device())));
        let mapper = Conv1d::new(&mut vs.pp("mapper.0"), s.in_channels as i64, n, 1, 1, true);
        Box::new(LegnetBins { mapper, bins })
    }

    fn objective(_: &HeadSpec) -> Objective {
        Objective::SoftBinKl
    }
}

impl Block for LegnetBins {
    fn init(&self) {
        self.mapper.init(InitScheme::Autosome);
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_final(x, train).prediction
    }

    fn forward_final(&self, x: &Tensor, _train: bool) -> FinalOutput {
        let z = self.mapper.forward(x).silu().mean_dim([2i64].as_slice(), false, Kind::Float);
        let p = z.softmax(1, Kind::Float);
        let prediction = (p * self.bins.to_kind(Kind::Float)).sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
        FinalOutput { prediction, logits: Some(z) }
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let z = self.mapper.export(g, x);
        let z = silu(g, &z);
        let z = mean_over_positions(g, &z);
        let p = g.op("Softmax", &[&z], vec![Attr::Int("axis", 1)]);
        // The bins are int64 in the state_dict; the expectation needs floats.
        let bins = to_vec_f32(&self.bins);
        let bins = g.initializer_f32(&self.bins.name, &[bins.len() as i64], &bins);
        g.op("MatMul", &[&p, &bins], vec![])
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
