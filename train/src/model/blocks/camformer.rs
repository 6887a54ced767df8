//! Camformers (DREAM 2022 rank 4): the team's `CNN` from
//! `dream_submissions/Camformers/code/script/camformers_submission.py` with its final
//! arguments (spec `submissions/camformer.md`). The six conv layers form one core block,
//! [`CamformerCore`] (`CNN_layers.0..5`: three residual pairs, the shortcut taken after
//! the whole first layer of a pair, a max-pool in layer 4), and the dense head is
//! [`CamformerHead`] (`linear_layers`); the exact model opens with the `identity` first
//! block. As a Prix Fixe core the trunk takes any input width (`in_channels`).
//!
//! The team's layout is NCHW with the sequence on H and W = 1: the conv weights keep
//! their 4-D `(512, C, 10, 1)` shape in the state_dict and are used as 1-D kernels.
//! `Conv2dSame` pads 4 before and 5 after (kernel 10).

use infer::onnx::{Attr, GraphBuilder};
use infer::preprocess::{NPolicy, Padding};
use infer::window::{Align, Domain, Longer, SequenceRules, Window};
use infer::Preprocessing;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::deepgxp::squeeze_single;
use crate::model::family::{Block, BlockFamily, Signal, Slot};
use crate::model::layers::{BatchNorm1d, InitScheme, Linear};
use crate::model::onnx::init_as;
use crate::model::scope::{Scope, Var};

/// The team's reader and encoder (spec §1) as a description: 110 nt, shorter sequences
/// padded at the 3' end with empty columns (their `N`, which encodes as zeros), longer
/// ones cut to their first 110 nt; case-sensitive one-hot A, C, G, T (lower case, `N`
/// and padding are zero columns); no strand averaging.
///
/// Their reader silently drops sequences more than 3 nt from 110 nt or with more than 3
/// upper-case `N`; here every sequence is scored and those are reported as outside the
/// training domain.
pub fn preprocessing() -> Preprocessing {
    Preprocessing {
        length: 110,
        padding: Padding::Window(Window { align: Align::Start, left_flank: String::new(), right_flank: String::new(), longer: Longer::KeepStart }),
        alphabet: "ACGT".into(),
        extra_channels: Vec::new(),
        n_policy: NPolicy::Zeros,
        rc_average: false,
        reverse_id_markers: Vec::new(),
        rules: SequenceRules {
            case_sensitive: true,
            training_domain: Some(Domain { length: 110, max_length_difference: 3, max_n: 3, n_case_sensitive: true }),
            ..SequenceRules::default()
        },
    }
}

/// `Conv2dSame` with a (k, 1) kernel: zero padding `(k-1)/2` before, the rest after.
pub struct Conv2dSame {
    /// `(out, in, k, 1)` as in the state_dict.
    pub weight: Var,
    pub bias: Var,
}

impl Conv2dSame {
    fn new(vs: &mut Scope, cin: i64, cout: i64, k: i64) -> Self {
        Conv2dSame { weight: vs.param("weight", &[cout, cin, k, 1]), bias: vs.param("bias", &[cout]) }
    }

    fn pads(&self) -> (i64, i64) {
        let k = self.weight.size()[2];
        ((k - 1) / 2, k - 1 - (k - 1) / 2)
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let (l, r) = self.pads();
        x.constant_pad_nd([l, r]).conv1d(&self.weight.squeeze_dim(3), Some(&self.bias.tensor), [1], [0], [1], 1)
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let w = init_as(g, &self.weight.name, &self.weight.squeeze_dim(3));
        let b = init_as(g, &self.bias.name, &self.bias);
        let (l, r) = self.pads();
        let k = self.weight.size()[2];
        g.op("Conv", &[x, &w, &b], vec![Attr::Ints("kernel_shape", vec![k]), Attr::Ints("pads", vec![l, r]), Attr::Ints("strides", vec![1])])
    }

    /// PyTorch's Conv2d default: U(±1/√fan_in) for weight and bias.
    fn init(&self) {
        let _g = tch::no_grad_guard();
        let s = self.weight.size();
        let bound = 1.0 / ((s[1] * s[2] * s[3]) as f64).sqrt();
        let _ = self.weight.tensor.shallow_clone().uniform_(-bound, bound);
        let _ = self.bias.tensor.shallow_clone().uniform_(-bound, bound);
    }
}

/// `CNN_layers.<n>`: Conv2dSame -> BatchNorm -> ReLU (-> MaxPool) -> Dropout.
pub struct CamLayer {
    pub conv: Conv2dSame,
    pub bn: BatchNorm1d,
    /// (kernel, stride) of the max-pool, if the layer has one.
    pub pool: Option<(i64, i64)>,
    pub dropout: f64,
}

impl CamLayer {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut y = self.bn.forward_t(&self.conv.forward(x), train).relu();
        if let Some((k, s)) = self.pool {
            y = y.max_pool1d([k], [s], [0], [1], false);
        }
        y.dropout(self.dropout, train)
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = self.conv.export(g, x);
        let y = self.bn.export(g, &y);
        let y = g.op("Relu", &[&y], vec![]);
        match self.pool {
            Some((k, s)) => g.op("MaxPool", &[&y], vec![Attr::Ints("kernel_shape", vec![k]), Attr::Ints("strides", vec![s])]),
            None => y,
        }
    }
}

/// The conv trunk `CNN_layers`.
pub struct CamformerCore;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreSpec {
    pub in_channels: usize,
    pub channels: usize,
    /// An even number: layers run in residual pairs.
    pub layers: usize,
    pub kernel_size: usize,
    /// The layer holding the max-pool, its kernel and stride.
    pub pool_layer: usize,
    pub pool_kernel: usize,
    pub pool_stride: usize,
    pub dropout: f64,
}

pub struct CamformerTrunk {
    pub layers: Vec<CamLayer>,
}

impl BlockFamily for CamformerCore {
    type Spec = CoreSpec;
    const SLOT: Slot = Slot::Core;
    const TAG: &'static str = "camformer";

    fn scope() -> &'static str {
        ""
    }

    fn check(s: &CoreSpec, input: Signal) -> Result<Signal, String> {
        super::check_input("core", s.in_channels, input.channels, "the first block gives")?;
        if s.layers == 0 || !s.layers.is_multiple_of(2) || s.pool_layer >= s.layers || s.kernel_size == 0 || s.pool_stride == 0 {
            return Err("camformer core: needs an even number of layers, a pool layer among them, kernel and stride >= 1".into());
        }
        if input.length < s.pool_kernel {
            return Err(format!("camformer core: {} positions are fewer than the pool kernel {}", input.length, s.pool_kernel));
        }
        Ok(Signal { channels: s.channels, length: (input.length - s.pool_kernel) / s.pool_stride + 1 })
    }

    fn build(s: &CoreSpec, vs: &mut Scope) -> Box<dyn Block> {
        let mut list = vs.pp("CNN_layers");
        let layers = (0..s.layers)
            .map(|n| {
                let cin = if n == 0 { s.in_channels } else { s.channels } as i64;
                let mut l = list.pp(n);
                CamLayer {
                    conv: Conv2dSame::new(&mut l.pp(0).pp("conv"), cin, s.channels as i64, s.kernel_size as i64),
                    bn: BatchNorm1d::new(&mut l.pp(1), s.channels as i64),
                    pool: (n == s.pool_layer).then_some((s.pool_kernel as i64, s.pool_stride as i64)),
                    dropout: s.dropout,
                }
            })
            .collect();
        Box::new(CamformerTrunk { layers })
    }

    fn adapt(s: &mut CoreSpec, input: Signal) {
        s.in_channels = input.channels;
    }
}

impl Block for CamformerTrunk {
    fn init(&self) {
        for l in &self.layers {
            l.conv.init();
            l.bn.init();
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = x.shallow_clone();
        for pair in self.layers.chunks_exact(2) {
            let s = pair[0].forward_t(&x, train);
            x = pair[1].forward_t(&s, train) + s;
        }
        x
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let mut x = x.to_string();
        for pair in self.layers.chunks_exact(2) {
            let s = pair[0].export(g, &x);
            let y = pair[1].export(g, &s);
            x = g.op("Add", &[&y, &s], vec![]);
        }
        x
    }
}

/// `linear_layers`: channel-major flatten -> Linear -> ReLU -> ... -> Linear -> flatten.
pub struct CamformerHead;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadSpec {
    pub in_channels: usize,
    pub length: usize,
    pub hidden: Vec<usize>,
    pub outputs: usize,
}

pub struct CamformerDense {
    pub layers: Vec<Linear>,
    scope: String,
}

impl BlockFamily for CamformerHead {
    type Spec = HeadSpec;
    const SLOT: Slot = Slot::Final;
    const TAG: &'static str = "camformer";

    fn scope() -> &'static str {
        ""
    }

    fn check(s: &HeadSpec, input: Signal) -> Result<Signal, String> {
        super::check_input("final", s.in_channels, input.channels, "the core block gives")?;
        if s.length != input.length {
            return Err(format!("camformer final block flattens {} positions but gets {}", s.length, input.length));
        }
        if s.outputs == 0 || s.hidden.contains(&0) {
            return Err("camformer final block: outputs and hidden widths must be positive".into());
        }
        Ok(Signal { channels: s.outputs, length: 1 })
    }

    fn build(s: &HeadSpec, vs: &mut Scope) -> Box<dyn Block> {
        let mut widths = vec![s.in_channels * s.length];
        widths.extend(&s.hidden);
        widths.push(s.outputs);
        let mut list = vs.pp("linear_layers");
        let layers = widths.windows(2).enumerate().map(|(i, w)| Linear::new(&mut list.pp(i).pp(0), w[0] as i64, w[1] as i64, true)).collect();
        Box::new(CamformerDense { layers, scope: vs.name("linear_layers") })
    }

    fn adapt(s: &mut HeadSpec, input: Signal) {
        s.in_channels = input.channels;
        s.length = input.length;
    }
}

impl Block for CamformerDense {
    fn init(&self) {
        self.layers.iter().for_each(|l| l.init(InitScheme::PyTorch));
    }

    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        // The dense dropouts are 0 in the team's model.
        let mut y = x.flatten(1, -1);
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            y = l.forward(&y);
            if i < last {
                y = y.relu();
            }
        }
        if y.size()[1] == 1 {
            y.squeeze_dim(1)
        } else {
            y
        }
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let mut y = g.op("Flatten", &[x], vec![Attr::Int("axis", 1)]);
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            y = l.export(g, &y);
            if i < last {
                y = g.op("Relu", &[&y], vec![]);
            }
        }
        squeeze_single(g, &self.scope, &y, self.layers[last].weight.size()[0])
    }
}
