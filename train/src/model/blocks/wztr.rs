//! wztr (DREAM 2022 rank 6): the team's `Hybrid_CNN` from
//! `dream_submissions/wztr/code/seq2exp/{models,layers}.py` with `train_model.py`'s
//! defaults (spec `submissions/wztr.md`), as three families at the state_dict root:
//! - [`WztrStem`]: the reverse complement concatenated along the *length* inside the
//!   model (channels reversed = complement for A, C, G, T), then `conv0`;
//! - [`WztrCore`]: `convlayers` (a 3-wide ConvBlock, then six stages of three residual
//!   hybrid blocks of four dilated convs and a ceil-mode average pool); as a Prix Fixe
//!   core it takes any input width and length;
//! - [`WztrHead`]: `fc0`, `fclayers`, `out` with the team's GELU `x·σ(1.702x)` and a final
//!   ReLU.
//!
//! Initialisation: PyTorch's defaults (the team sets no seed and no init).

use infer::onnx::{Attr, GraphBuilder};
use infer::preprocess::{NPolicy, Padding};
use infer::window::{Align, Longer, SequenceRules, Window};
use infer::Preprocessing;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::deepgxp::squeeze_single;
use crate::model::family::{Block, BlockFamily, Signal, Slot};
use crate::model::layers::{BatchNorm1d, InitScheme, Linear};
use crate::model::onnx::init;
use crate::model::scope::{Scope, Var};

/// `tools.DF2array(length=142)`: the raw sequence left-aligned in 142 positions, zero
/// columns after it, a longer one refused; case-sensitive one-hot A, C, G, T with `N` =
/// 0.25 each; no averaging outside the model (its reverse complement is built inside).
pub fn preprocessing() -> Preprocessing {
    Preprocessing {
        length: 142,
        padding: Padding::Window(Window { align: Align::Start, left_flank: String::new(), right_flank: String::new(), longer: Longer::Error }),
        alphabet: "ACGT".into(),
        extra_channels: Vec::new(),
        n_policy: NPolicy::Uniform,
        rc_average: false,
        reverse_id_markers: Vec::new(),
        rules: SequenceRules { case_sensitive: true, ..SequenceRules::default() },
    }
}

/// Conv1d with 'same' zero padding and a dilation (explicit pads in ONNX: onnxruntime
/// refuses `auto_pad` with dilation).
pub struct DilatedConv {
    pub weight: Var,
    pub bias: Var,
    pub dilation: i64,
}

impl DilatedConv {
    fn new(vs: &mut Scope, cin: i64, cout: i64, k: i64, dilation: i64) -> Self {
        DilatedConv { weight: vs.param("weight", &[cout, cin, k]), bias: vs.param("bias", &[cout]), dilation }
    }

    fn pads(&self) -> (i64, i64) {
        let total = self.dilation * (self.weight.size()[2] - 1);
        (total / 2, total - total / 2)
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let (l, r) = self.pads();
        let b = Some(&self.bias.tensor);
        if l == r {
            x.conv1d(&self.weight.tensor, b, [1], [l], [self.dilation], 1)
        } else {
            x.constant_pad_nd([l, r]).conv1d(&self.weight.tensor, b, [1], [0], [self.dilation], 1)
        }
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let w = init(g, &self.weight);
        let b = init(g, &self.bias);
        let (l, r) = self.pads();
        let k = self.weight.size()[2];
        g.op(
            "Conv",
            &[x, &w, &b],
            vec![Attr::Ints("kernel_shape", vec![k]), Attr::Ints("pads", vec![l, r]), Attr::Ints("dilations", vec![self.dilation]), Attr::Ints("strides", vec![1])],
        )
    }

    fn init(&self) {
        let _g = tch::no_grad_guard();
        let s = self.weight.size();
        let bound = 1.0 / ((s[1] * s[2]) as f64).sqrt();
        let _ = self.weight.tensor.shallow_clone().uniform_(-bound, bound);
        let _ = self.bias.tensor.shallow_clone().uniform_(-bound, bound);
    }
}

/// The team's `ConvBlock`: `.0` conv, `.1` BatchNorm, then ReLU.
pub struct ConvBnRelu {
    pub conv: DilatedConv,
    pub bn: BatchNorm1d,
}

impl ConvBnRelu {
    fn new(vs: &mut Scope, cin: i64, cout: i64, k: i64, dilation: i64) -> Self {
        ConvBnRelu { conv: DilatedConv::new(&mut vs.pp(0), cin, cout, k, dilation), bn: BatchNorm1d::new(&mut vs.pp(1), cout) }
    }

    fn init(&self) {
        self.conv.init();
        self.bn.init();
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.bn.forward_t(&self.conv.forward(x), train).relu()
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = self.conv.export(g, x);
        let y = self.bn.export(g, &y);
        g.op("Relu", &[&y], vec![])
    }
}

/// Reverse-complement concatenation along the length, then `conv0`.
pub struct WztrStem;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StemSpec {
    pub in_channels: usize,
    /// Input positions (the reversal is exported as a fixed permutation).
    pub length: usize,
    pub out_channels: usize,
    pub kernel_size: usize,
}

pub struct RcConcatConv {
    pub conv0: ConvBnRelu,
    length: i64,
    scope: String,
}

impl BlockFamily for WztrStem {
    type Spec = StemSpec;
    const SLOT: Slot = Slot::First;
    const TAG: &'static str = "wztr";

    fn scope() -> &'static str {
        ""
    }

    fn check(s: &StemSpec, input: Signal) -> Result<Signal, String> {
        // Reversing the channels complements only a bare A, C, G, T one-hot.
        super::check_input("first", s.in_channels, input.channels, "preprocessing produces")?;
        if s.length != input.length {
            return Err(format!("wztr first block takes {} positions but gets {}", s.length, input.length));
        }
        if s.in_channels != 4 || s.kernel_size.is_multiple_of(2) {
            return Err("wztr first block: needs the 4 one-hot channels (A, C, G, T) and an odd kernel".into());
        }
        Ok(Signal { channels: s.out_channels, length: 2 * input.length })
    }

    fn build(s: &StemSpec, vs: &mut Scope) -> Box<dyn Block> {
        let conv0 = ConvBnRelu::new(&mut vs.pp("conv0"), s.in_channels as i64, s.out_channels as i64, s.kernel_size as i64, 1);
        Box::new(RcConcatConv { conv0, length: s.length as i64, scope: vs.name("conv0") })
    }

    fn adapt(s: &mut StemSpec, input: Signal) {
        s.length = input.length;
    }
}

impl Block for RcConcatConv {
    fn init(&self) {
        self.conv0.init();
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let rc = x.flip([1, 2]);
        self.conv0.forward_t(&Tensor::cat(&[x, &rc], 2), train)
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let (c, l) = (4i64, self.length);
        let ch: Vec<i64> = (0..c).rev().collect();
        let pos: Vec<i64> = (0..l).rev().collect();
        let ch = g.initializer_i64(&format!("{}.rc_channels", self.scope), &[c], &ch);
        let pos = g.initializer_i64(&format!("{}.rc_positions", self.scope), &[l], &pos);
        let rc = g.op("Gather", &[x, &ch], vec![Attr::Int("axis", 1)]);
        let rc = g.op("Gather", &[&rc, &pos], vec![Attr::Int("axis", 2)]);
        let both = g.op("Concat", &[x, &rc], vec![Attr::Int("axis", 2)]);
        self.conv0.export(g, &both)
    }
}

/// `convlayers`.
pub struct WztrCore;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreSpec {
    pub in_channels: usize,
    /// Input positions (an odd length's pooling is exported with its own last window).
    pub length: usize,
    pub channels: usize,
    pub kernel_size: usize,
    pub stages: usize,
    pub blocks_per_stage: usize,
    pub dilations: Vec<usize>,
}

pub struct Hybrid {
    pub branches: Vec<ConvBnRelu>,
}

pub struct WztrTrunk {
    pub entry: ConvBnRelu,
    length: i64,
    pub stages: Vec<Vec<Hybrid>>,
    scope: String,
}

impl BlockFamily for WztrCore {
    type Spec = CoreSpec;
    const SLOT: Slot = Slot::Core;
    const TAG: &'static str = "wztr";

    fn scope() -> &'static str {
        ""
    }

    fn check(s: &CoreSpec, input: Signal) -> Result<Signal, String> {
        super::check_input("core", s.in_channels, input.channels, "the first block gives")?;
        if s.length != input.length {
            return Err(format!("wztr core block takes {} positions but gets {}", s.length, input.length));
        }
        if s.dilations.is_empty() || !s.channels.is_multiple_of(s.dilations.len()) || s.kernel_size.is_multiple_of(2) {
            return Err(format!("wztr core: {} channels must split evenly over the dilations {:?}, odd kernel", s.channels, s.dilations));
        }
        let mut length = input.length;
        for _ in 0..s.stages {
            length = length.div_ceil(2);
        }
        Ok(Signal { channels: s.channels, length })
    }

    fn build(s: &CoreSpec, vs: &mut Scope) -> Box<dyn Block> {
        let (c, k) = (s.channels as i64, s.kernel_size as i64);
        let branch = c / s.dilations.len() as i64;
        let mut list = vs.pp("convlayers");
        let entry = ConvBnRelu::new(&mut list.pp(0), s.in_channels as i64, c, k, 1);
        let mut index = 1;
        let mut stages = Vec::with_capacity(s.stages);
        for _ in 0..s.stages {
            let mut blocks = Vec::with_capacity(s.blocks_per_stage);
            for _ in 0..s.blocks_per_stage {
                let mut layers = list.pp(format!("{index}.fn.layers"));
                let branches = s.dilations.iter().enumerate().map(|(j, &d)| ConvBnRelu::new(&mut layers.pp(j), c, branch, k, d as i64)).collect();
                blocks.push(Hybrid { branches });
                index += 1;
            }
            // The AvgPool1d entry holds no tensors.
            index += 1;
            stages.push(blocks);
        }
        Box::new(WztrTrunk { entry, length: s.length as i64, stages, scope: vs.name("convlayers") })
    }

    fn adapt(s: &mut CoreSpec, input: Signal) {
        s.in_channels = input.channels;
        s.length = input.length;
    }
}

impl Block for WztrTrunk {
    fn init(&self) {
        self.entry.init();
        self.stages.iter().flatten().flat_map(|h| &h.branches).for_each(ConvBnRelu::init);
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = self.entry.forward_t(x, train);
        for stage in &self.stages {
            for h in stage {
                let outs: Vec<Tensor> = h.branches.iter().map(|b| b.forward_t(&x, train)).collect();
                x = Tensor::cat(&outs, 1) + &x;
            }
            // ceil_mode: an odd length's last window averages its one element.
            x = x.avg_pool1d([2], [2], [0], true, true);
        }
        x
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let mut x = self.entry.export(g, x);
        let mut length = self.length;
        for (s, stage) in self.stages.iter().enumerate() {
            for h in stage {
                let outs: Vec<String> = h.branches.iter().map(|b| b.export(g, &x)).collect();
                let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
                let cat = g.op("Concat", &refs, vec![Attr::Int("axis", 1)]);
                x = g.op("Add", &[&cat, &x], vec![]);
            }
            x = ceil_avg_pool2(g, &x, length, &format!("{}.pool{s}", self.scope));
            length = (length + 1) / 2;
        }
        x
    }
}

/// `AvgPool1d(2, ceil_mode=True)` without relying on an engine's ceil-mode divisor: the
/// even part pooled, and for an odd length the last element appended as its own mean.
fn ceil_avg_pool2(g: &mut GraphBuilder, x: &str, l: i64, name: &str) -> String {
    let pool = |g: &mut GraphBuilder, x: &str| g.op("AveragePool", &[x], vec![Attr::Ints("kernel_shape", vec![2]), Attr::Ints("strides", vec![2])]);
    if l % 2 == 0 {
        return pool(g, x);
    }
    let slice = |g: &mut GraphBuilder, x: &str, from: i64, to: i64, tag: &str| {
        let s = g.initializer_i64(&format!("{name}.{tag}_start"), &[1], &[from]);
        let e = g.initializer_i64(&format!("{name}.{tag}_end"), &[1], &[to]);
        let a = g.initializer_i64(&format!("{name}.{tag}_axes"), &[1], &[2]);
        g.op("Slice", &[x, &s, &e, &a], vec![])
    };
    let even = slice(g, x, 0, l - 1, "even");
    let last = slice(g, x, l - 1, l, "last");
    let pooled = pool(g, &even);
    g.op("Concat", &[&pooled, &last], vec![Attr::Int("axis", 2)])
}

/// `fc0`, `fclayers`, `out`.
pub struct WztrHead;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadSpec {
    pub in_channels: usize,
    pub length: usize,
    pub hidden: usize,
    pub hidden_layers: usize,
    pub dropout: f64,
    pub outputs: usize,
}

pub struct WztrDense {
    pub fc0: Linear,
    pub fclayers: Vec<Linear>,
    pub out: Linear,
    pub dropout: f64,
    scope: String,
}

/// The team's GELU: `x · σ(1.702 x)`.
fn gelu(x: &Tensor) -> Tensor {
    x * (x * 1.702).sigmoid()
}

impl BlockFamily for WztrHead {
    type Spec = HeadSpec;
    const SLOT: Slot = Slot::Final;
    const TAG: &'static str = "wztr";

    fn scope() -> &'static str {
        ""
    }

    fn check(s: &HeadSpec, input: Signal) -> Result<Signal, String> {
        super::check_input("final", s.in_channels, input.channels, "the core block gives")?;
        if s.length != input.length {
            return Err(format!("wztr final block flattens {} positions but gets {}", s.length, input.length));
        }
        if s.outputs == 0 || s.hidden == 0 {
            return Err("wztr final block: outputs and hidden must be positive".into());
        }
        Ok(Signal { channels: s.outputs, length: 1 })
    }

    fn build(s: &HeadSpec, vs: &mut Scope) -> Box<dyn Block> {
        let h = s.hidden as i64;
        let fc0 = Linear::new(&mut vs.pp("fc0.0"), (s.in_channels * s.length) as i64, h, true);
        let mut list = vs.pp("fclayers");
        let fclayers = (0..s.hidden_layers).map(|i| Linear::new(&mut list.pp(i).pp(0), h, h, true)).collect();
        let out = Linear::new(&mut vs.pp("out.0"), h, s.outputs as i64, true);
        Box::new(WztrDense { fc0, fclayers, out, dropout: s.dropout, scope: vs.name("out") })
    }

    fn adapt(s: &mut HeadSpec, input: Signal) {
        s.in_channels = input.channels;
        s.length = input.length;
    }
}

impl WztrDense {
    fn export_gelu(&self, g: &mut GraphBuilder, x: &str) -> String {
        let k = g.initializer_f32(&format!("{}.gelu_scale", self.scope), &[], &[1.702]);
        let z = g.op("Mul", &[x, &k], vec![]);
        let s = g.op("Sigmoid", &[&z], vec![]);
        g.op("Mul", &[x, &s], vec![])
    }
}

impl Block for WztrDense {
    fn init(&self) {
        self.fc0.init(InitScheme::PyTorch);
        self.fclayers.iter().for_each(|l| l.init(InitScheme::PyTorch));
        self.out.init(InitScheme::PyTorch);
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut y = gelu(&self.fc0.forward(&x.flatten(1, -1)));
        for l in &self.fclayers {
            y = gelu(&l.forward(&y)).dropout(self.dropout, train);
        }
        let y = self.out.forward(&y).relu();
        if y.size()[1] == 1 {
            y.squeeze_dim(1)
        } else {
            y
        }
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = g.op("Flatten", &[x], vec![Attr::Int("axis", 1)]);
        let y = self.fc0.export(g, &y);
        let mut y = self.export_gelu(g, &y);
        for l in &self.fclayers {
            let z = l.export(g, &y);
            y = self.export_gelu(g, &z);
        }
        let y = self.out.export(g, &y);
        let y = g.op("Relu", &[&y], vec![]);
        squeeze_single(g, &self.scope, &y, self.out.weight.size()[0])
    }
}
