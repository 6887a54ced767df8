//! BHI's blocks (models.md §2.1-2.3): `BHIFirstLayersBlock` (parallel convolutions, one
//! per kernel size, concatenated) and `BHICoreBlock` (bidirectional LSTM, then the same
//! parallel convolutions).

use infer::onnx::{Attr, GraphBuilder};
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::model::family::{Block, BlockFamily, Signal, Slot};
use crate::model::layers::{Conv1d, InitScheme};
use crate::model::onnx::{init_as, transpose};
use crate::model::scope::{Scope, Var};

/// BHI `ConvBlock`: conv (bias) -> ReLU -> MaxPool(pool) -> Dropout.
pub struct ConvBlock {
    pub conv: Conv1d,
    pub pool: i64,
    pub dropout: f64,
}

impl ConvBlock {
    pub(crate) fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut y = self.conv.forward(x).relu();
        if self.pool > 1 {
            y = y.max_pool1d([self.pool], [self.pool], [0], [1], false);
        }
        y.dropout(self.dropout, train)
    }

    pub(crate) fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = self.conv.export(g, x);
        let y = g.op("Relu", &[&y], vec![]);
        if self.pool > 1 {
            g.op("MaxPool", &[&y], vec![Attr::Ints("kernel_shape", vec![self.pool]), Attr::Ints("strides", vec![self.pool])])
        } else {
            y
        }
    }
}

/// `conv_list`: one ConvBlock per kernel size, outputs concatenated over channels.
pub struct Branches(pub Vec<ConvBlock>);

impl Branches {
    fn new(vs: &mut Scope, cin: usize, cout: usize, kernel_sizes: &[usize], pool: usize, dropout: f64) -> Self {
        let per = (cout / kernel_sizes.len()) as i64;
        let mut list = vs.pp("conv_list");
        let blocks = kernel_sizes
            .iter()
            .enumerate()
            .map(|(i, &k)| ConvBlock {
                conv: Conv1d::new(&mut list.pp(i).pp("conv"), cin as i64, per, k as i64, 1, true),
                pool: pool as i64,
                dropout,
            })
            .collect();
        Branches(blocks)
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let outs: Vec<Tensor> = self.0.iter().map(|b| b.forward_t(x, train)).collect();
        Tensor::cat(&outs, 1)
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let outs: Vec<String> = self.0.iter().map(|b| b.export(g, x)).collect();
        let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
        g.op("Concat", &refs, vec![Attr::Int("axis", 1)])
    }

    fn init(&self) {
        self.0.iter().for_each(|b| b.conv.init(InitScheme::PyTorch));
    }
}

fn check_split(which: &str, out_channels: usize, kernel_sizes: &[usize]) -> Result<(), String> {
    if kernel_sizes.is_empty() || out_channels % kernel_sizes.len() != 0 {
        return Err(format!(
            "{which} block: out_channels {out_channels} must split evenly over {} kernel sizes",
            kernel_sizes.len()
        ));
    }
    Ok(())
}

fn pooled(length: usize, pool: usize) -> usize {
    if pool > 1 {
        length / pool
    } else {
        length
    }
}

/// BHIFirstLayersBlock.
pub struct BhiFirst;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstSpec {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel_sizes: Vec<usize>,
    pub pool_size: usize,
    pub dropout: f64,
}

impl BlockFamily for BhiFirst {
    type Spec = FirstSpec;
    const SLOT: Slot = Slot::First;
    const TAG: &'static str = "bhi";

    fn check(s: &FirstSpec, input: Signal) -> Result<Signal, String> {
        check_split("first", s.out_channels, &s.kernel_sizes)?;
        super::check_input("first", s.in_channels, input.channels, "preprocessing produces")?;
        Ok(Signal { channels: s.out_channels, length: pooled(input.length, s.pool_size) })
    }

    fn build(s: &FirstSpec, vs: &mut Scope) -> Box<dyn Block> {
        Box::new(Branches::new(vs, s.in_channels, s.out_channels, &s.kernel_sizes, s.pool_size, s.dropout))
    }

    fn adapt(s: &mut FirstSpec, input: Signal) {
        s.in_channels = input.channels;
    }
}

impl Block for Branches {
    fn init(&self) {
        Branches::init(self)
    }
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        Branches::forward_t(self, x, train)
    }
    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        Branches::export(self, g, x)
    }
}

/// Bidirectional single-layer LSTM with PyTorch's parameter names and gate order.
pub struct BiLstm {
    /// w_ih, w_hh, b_ih, b_hh, then the same four for the reverse direction.
    pub params: Vec<Var>,
    pub hidden: i64,
    pub scope: String,
}

impl BiLstm {
    pub(crate) fn new(vs: &mut Scope, input: i64, hidden: i64) -> Self {
        let mut params = Vec::with_capacity(8);
        for suffix in ["", "_reverse"] {
            params.push(vs.param(&format!("weight_ih_l0{suffix}"), &[4 * hidden, input]));
            params.push(vs.param(&format!("weight_hh_l0{suffix}"), &[4 * hidden, hidden]));
            params.push(vs.param(&format!("bias_ih_l0{suffix}"), &[4 * hidden]));
            params.push(vs.param(&format!("bias_hh_l0{suffix}"), &[4 * hidden]));
        }
        BiLstm { params, hidden, scope: vs.path().to_string() }
    }

    /// (B, L, C) -> (B, L, 2H), zero initial states.
    pub(crate) fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let b = x.size()[0];
        let h0 = Tensor::zeros([2, b, self.hidden], (x.kind(), x.device()));
        let c0 = h0.zeros_like();
        let weights: Vec<&Tensor> = self.params.iter().map(|p| &p.tensor).collect();
        let (out, _, _) = x.lstm(&[&h0, &c0], &weights, true, 1, 0.0, train, true, true);
        out
    }

    /// (B, C, L) -> (B, 2H, L). ONNX LSTM with layout 0 (time-major) and explicit
    /// Transposes: tract's batch-first LSTM is broken.
    pub(crate) fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let h = self.hidden;
        let p = &self.params;
        let dir = |k: usize| {
            let w = onnx_gate_order(&p[k], h);
            let r = onnx_gate_order(&p[k + 1], h);
            let b = Tensor::cat(&[onnx_gate_order(&p[k + 2], h), onnx_gate_order(&p[k + 3], h)], 0);
            (w, r, b)
        };
        let (wf, rf, bf) = dir(0);
        let (wb, rb, bb) = dir(4);
        let pre = &self.scope;
        let w = init_as(g, &format!("{pre}.W"), &Tensor::stack(&[wf, wb], 0));
        let r = init_as(g, &format!("{pre}.R"), &Tensor::stack(&[rf, rb], 0));
        let b = init_as(g, &format!("{pre}.B"), &Tensor::stack(&[bf, bb], 0));
        // (B, C, L) -> (L, B, C) for layout 0.
        let seq = transpose(g, x, &[2, 0, 1]);
        let y = g.fresh("lstm_y");
        g.node(
            "LSTM",
            &[&seq, &w, &r, &b],
            &[&y],
            vec![Attr::Int("hidden_size", h), Attr::String("direction", "bidirectional".into()), Attr::Int("layout", 0)],
        );
        // Y: (L, 2, B, H) -> (B, 2, H, L) -> (B, 2H, L): forward features first.
        let y = transpose(g, &y, &[2, 1, 3, 0]);
        let shape = g.initializer_i64(&format!("{pre}.out_shape"), &[3], &[0, 2 * h, -1]);
        g.op("Reshape", &[&y, &shape], vec![])
    }

    pub(crate) fn init(&self) {
        let _g = tch::no_grad_guard();
        let bound = 1.0 / (self.hidden as f64).sqrt();
        for p in &self.params {
            let _ = p.tensor.shallow_clone().uniform_(-bound, bound);
        }
    }
}

/// PyTorch stacks LSTM gates i, f, g, o; ONNX expects i, o, f, c.
fn onnx_gate_order(t: &Tensor, hidden: i64) -> Tensor {
    let chunk = |k: i64| t.narrow(0, k * hidden, hidden);
    Tensor::cat(&[chunk(0), chunk(3), chunk(1), chunk(2)], 0)
}

/// BHICoreBlock.
pub struct BhiCore;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreSpec {
    pub in_channels: usize,
    pub out_channels: usize,
    pub lstm_hidden_channels: usize,
    pub kernel_sizes: Vec<usize>,
    pub pool_size: usize,
    pub dropout1: f64,
    pub dropout2: f64,
}

pub struct BhiCoreBlock {
    pub lstm: BiLstm,
    pub branches: Branches,
    pub dropout: f64,
}

impl BlockFamily for BhiCore {
    type Spec = CoreSpec;
    const SLOT: Slot = Slot::Core;
    const TAG: &'static str = "bhi";

    fn check(s: &CoreSpec, input: Signal) -> Result<Signal, String> {
        check_split("core", s.out_channels, &s.kernel_sizes)?;
        super::check_input("core", s.in_channels, input.channels, "the first block gives")?;
        Ok(Signal { channels: s.out_channels, length: pooled(input.length, s.pool_size) })
    }

    fn build(s: &CoreSpec, vs: &mut Scope) -> Box<dyn Block> {
        let h = s.lstm_hidden_channels;
        let lstm = BiLstm::new(&mut vs.pp("lstm"), s.in_channels as i64, h as i64);
        let branches = Branches::new(vs, 2 * h, s.out_channels, &s.kernel_sizes, s.pool_size, s.dropout1);
        Box::new(BhiCoreBlock { lstm, branches, dropout: s.dropout2 })
    }
}

impl Block for BhiCoreBlock {
    fn init(&self) {
        self.lstm.init();
        self.branches.init();
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = self.lstm.forward(&x.permute([0, 2, 1]), train).permute([0, 2, 1]);
        self.branches.forward_t(&y, train).dropout(self.dropout, train)
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = self.lstm.export(g, x);
        self.branches.export(g, &y)
    }
}
