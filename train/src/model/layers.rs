//! PyTorch primitives with the reference semantics (models.md §0) and initialisations
//! (models.md §5). Each layer takes its tensors from a [`Scope`] under the reference
//! names, and has its tch forward pass and its ONNX export side by side.

use infer::onnx::{Attr, GraphBuilder};
use tch::{Kind, Tensor};

use super::onnx::{init, init_as};
use super::scope::{Scope, Var};

/// How a freshly built layer is initialised when training from scratch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitScheme {
    /// PyTorch's defaults (BHI blocks, UnlockDNA core).
    PyTorch,
    /// autosome.org's `initialize_weights` (Autosome blocks).
    Autosome,
}

pub struct Conv1d {
    pub weight: Var,
    pub bias: Option<Var>,
    pub groups: i64,
    /// Zero padding (left, right) for 'same' output length.
    pub pad: (i64, i64),
}

impl Conv1d {
    pub fn new(vs: &mut Scope, cin: i64, cout: i64, k: i64, groups: i64, bias: bool) -> Self {
        let weight = vs.param("weight", &[cout, cin / groups, k]);
        let bias = bias.then(|| vs.param("bias", &[cout]));
        // PyTorch 'same': the extra zero of an even kernel goes on the right.
        let left = (k - 1) / 2;
        Conv1d { weight, bias, groups, pad: (left, k - 1 - left) }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let bias = self.bias.as_ref().map(|b| &b.tensor);
        if self.pad.0 == self.pad.1 {
            x.conv1d(&self.weight.tensor, bias, [1], [self.pad.0], [1], self.groups)
        } else {
            let x = x.constant_pad_nd([self.pad.0, self.pad.1]);
            x.conv1d(&self.weight.tensor, bias, [1], [0], [1], self.groups)
        }
    }

    pub fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let w = init(g, &self.weight);
        let b = self.bias.as_ref().map(|b| init(g, b));
        conv_node(g, x, &w, b.as_deref(), self.weight.size()[2], self.pad, self.groups)
    }

    pub fn init(&self, scheme: InitScheme) {
        let _g = tch::no_grad_guard();
        let s = self.weight.size();
        let (cout, cin_g, k) = (s[0], s[1], s[2]);
        match scheme {
            InitScheme::PyTorch => {
                let bound = 1.0 / ((cin_g * k) as f64).sqrt();
                let _ = self.weight.tensor.shallow_clone().uniform_(-bound, bound);
                if let Some(b) = &self.bias {
                    let _ = b.tensor.shallow_clone().uniform_(-bound, bound);
                }
            }
            InitScheme::Autosome => {
                // The reference uses K * out_channels even for grouped convs.
                let _ = self.weight.tensor.shallow_clone().normal_(0.0, (2.0 / (k * cout) as f64).sqrt());
                if let Some(b) = &self.bias {
                    let _ = b.tensor.shallow_clone().zero_();
                }
            }
        }
    }
}

fn conv_node(g: &mut GraphBuilder, x: &str, w: &str, b: Option<&str>, k: i64, pad: (i64, i64), groups: i64) -> String {
    let mut inputs = vec![x, w];
    inputs.extend(b);
    g.op(
        "Conv",
        &inputs,
        vec![
            Attr::Ints("kernel_shape", vec![k]),
            Attr::Ints("pads", vec![pad.0, pad.1]),
            Attr::Int("group", groups),
            Attr::Ints("strides", vec![1]),
            Attr::Ints("dilations", vec![1]),
        ],
    )
}

pub struct BatchNorm1d {
    pub weight: Var,
    pub bias: Var,
    pub running_mean: Var,
    pub running_var: Var,
    pub num_batches_tracked: Var,
}

pub const BN_MOMENTUM: f64 = 0.1;
pub const BN_EPS: f64 = 1e-5;

impl BatchNorm1d {
    pub fn new(vs: &mut Scope, c: i64) -> Self {
        let weight = vs.param("weight", &[c]);
        let bias = vs.param("bias", &[c]);
        let running_mean = vs.buffer_like("running_mean", &[c], Kind::Float, 0.0);
        let running_var = vs.buffer_like("running_var", &[c], Kind::Float, 1.0);
        let num_batches_tracked = vs.buffer_like("num_batches_tracked", &[], Kind::Int64, 0.0);
        let bn = BatchNorm1d { weight, bias, running_mean, running_var, num_batches_tracked };
        bn.init();
        bn
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        if train {
            let _g = tch::no_grad_guard();
            let _ = self.num_batches_tracked.tensor.shallow_clone().g_add_scalar_(1);
        }
        x.batch_norm(
            Some(&self.weight.tensor),
            Some(&self.bias.tensor),
            Some(&self.running_mean.tensor),
            Some(&self.running_var.tensor),
            train,
            BN_MOMENTUM,
            BN_EPS,
            true,
        )
    }

    pub fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let s = init(g, &self.weight);
        let b = init(g, &self.bias);
        let m = init(g, &self.running_mean);
        let v = init(g, &self.running_var);
        g.op("BatchNormalization", &[x, &s, &b, &m, &v], vec![Attr::Float("epsilon", BN_EPS as f32)])
    }

    /// Both schemes set gamma 1, beta 0 and leave the running statistics at 0 / 1.
    pub fn init(&self) {
        let _g = tch::no_grad_guard();
        let _ = self.weight.tensor.shallow_clone().fill_(1.0);
        let _ = self.bias.tensor.shallow_clone().zero_();
    }
}

pub struct Linear {
    pub weight: Var,
    pub bias: Option<Var>,
}

impl Linear {
    pub fn new(vs: &mut Scope, fin: i64, fout: i64, bias: bool) -> Self {
        let weight = vs.param("weight", &[fout, fin]);
        let bias = bias.then(|| vs.param("bias", &[fout]));
        Linear { weight, bias }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.weight.tensor, self.bias.as_ref().map(|b| &b.tensor))
    }

    /// `x @ Wᵀ (+ b)` over the last axis.
    pub fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let w = &self.weight;
        matmul_add(g, x, &w.name, w, self.bias.as_ref().map(|b| (b.name.as_str(), &b.tensor)))
    }

    /// On (B, in, 1): the Linear as a 1x1 convolution (squeeze-excitation gates).
    pub fn export_as_conv1x1(&self, g: &mut GraphBuilder, x: &str) -> String {
        let w = init_as(g, &self.weight.name, &self.weight.unsqueeze(2));
        let b = self.bias.as_ref().map(|b| init(g, b));
        conv_node(g, x, &w, b.as_deref(), 1, (0, 0), 1)
    }

    pub fn init(&self, scheme: InitScheme) {
        let _g = tch::no_grad_guard();
        match scheme {
            InitScheme::PyTorch => {
                let bound = 1.0 / (self.weight.size()[1] as f64).sqrt();
                let _ = self.weight.tensor.shallow_clone().uniform_(-bound, bound);
                if let Some(b) = &self.bias {
                    let _ = b.tensor.shallow_clone().uniform_(-bound, bound);
                }
            }
            InitScheme::Autosome => {
                let _ = self.weight.tensor.shallow_clone().normal_(0.0, 0.001);
                if let Some(b) = &self.bias {
                    let _ = b.tensor.shallow_clone().zero_();
                }
            }
        }
    }
}

/// `x @ wᵀ (+ b)`; the transposed weight is stored as `<name>_t`.
pub fn matmul_add(g: &mut GraphBuilder, x: &str, name: &str, w: &Tensor, b: Option<(&str, &Tensor)>) -> String {
    let wt = init_as(g, &format!("{name}_t"), &w.transpose(0, 1).contiguous());
    let y = g.op("MatMul", &[x, &wt], vec![]);
    match b {
        Some((bname, b)) => {
            let b = init_as(g, bname, b);
            g.op("Add", &[&y, &b], vec![])
        }
        None => y,
    }
}

pub struct LayerNorm {
    pub weight: Var,
    pub bias: Var,
    pub eps: f64,
}

impl LayerNorm {
    pub fn new(vs: &mut Scope, c: i64, eps: f64) -> Self {
        let weight = vs.param("weight", &[c]);
        let bias = vs.param("bias", &[c]);
        let ln = LayerNorm { weight, bias, eps };
        ln.init();
        ln
    }

    pub fn init(&self) {
        let _g = tch::no_grad_guard();
        let _ = self.weight.tensor.shallow_clone().fill_(1.0);
        let _ = self.bias.tensor.shallow_clone().zero_();
    }

    /// Normalises over the last axis.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let c = self.weight.size()[0];
        x.layer_norm([c], Some(&self.weight.tensor), Some(&self.bias.tensor), self.eps, true)
    }

    pub fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let s = init(g, &self.weight);
        let b = init(g, &self.bias);
        g.op("LayerNormalization", &[x, &s, &b], vec![Attr::Int("axis", -1), Attr::Float("epsilon", self.eps as f32)])
    }
}
