//! UnlockDNA's core (models.md §2.8-2.9): a learned positional embedding, then
//! conformer-style layers (feed-forward, convolution, attention, feed-forward) with the
//! reference's residual quirks.

use infer::onnx::{Attr, GraphBuilder};
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::model::family::{Block, BlockFamily, Signal, Slot};
use crate::model::layers::{matmul_add, Conv1d, InitScheme, LayerNorm, Linear};
use crate::model::onnx::{init, scalar, silu, transpose};
use crate::model::scope::{Scope, Var};

/// LayerNorm eps of every UnlockDNA block (BatchNorm uses 1e-5).
pub const LN_EPS: f64 = 1e-6;
/// `nn.MultiheadAttention` in the reference is built with 4 heads whatever its argument says.
pub const HEADS: i64 = 4;

pub struct UnlockDnaCore;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub in_channels: usize,
    pub out_channels: usize,
    pub seqsize: usize,
    pub n_blocks: usize,
    pub kernel_size: usize,
    pub rate: f64,
    /// Kept as the reference passes it; the reference attention always has 4 heads.
    pub num_heads: usize,
}

impl BlockFamily for UnlockDnaCore {
    type Spec = Spec;
    const SLOT: Slot = Slot::Core;
    const TAG: &'static str = "unlock_dna";

    fn check(s: &Spec, input: Signal) -> Result<Signal, String> {
        if s.in_channels != s.out_channels {
            return Err("unlock_dna core: out_channels must equal in_channels".into());
        }
        if s.seqsize != input.length {
            return Err(format!(
                "unlock_dna core: positional embedding covers {} positions but inputs have {}",
                s.seqsize, input.length
            ));
        }
        if s.in_channels % HEADS as usize != 0 {
            return Err(format!("unlock_dna core: {} channels do not split into 4 heads", s.in_channels));
        }
        super::check_input("core", s.in_channels, input.channels, "the first block gives")?;
        Ok(Signal { channels: s.out_channels, length: input.length })
    }

    fn build(s: &Spec, vs: &mut Scope) -> Box<dyn Block> {
        let e = s.in_channels as i64;
        let mut blocks = vs.pp("blocks");
        let layers = (0..s.n_blocks).map(|n| ConformerLayer::new(&mut blocks.pp(n), e, s.kernel_size as i64, s.rate)).collect();
        let pos_embedding = vs.pp("pos_embedding").param("weight", &[s.seqsize as i64, e]);
        Box::new(UnlockDnaBlock { layers, pos_embedding })
    }

    /// The positional embedding follows the input length.
    fn adapt(s: &mut Spec, input: Signal) {
        s.seqsize = input.length;
    }
}

pub struct FeedForward {
    pub ln: LayerNorm,
    pub linear1: Linear,
    pub linear2: Linear,
    pub rate: f64,
    scope: String,
}

impl FeedForward {
    fn new(vs: &mut Scope, e: i64, rate: f64) -> Self {
        FeedForward {
            ln: LayerNorm::new(&mut vs.pp("layernorm"), e, LN_EPS),
            linear1: Linear::new(&mut vs.pp("linear1"), e, 4 * e, false),
            linear2: Linear::new(&mut vs.pp("linear2"), 2 * e, e, false),
            rate,
            scope: vs.path().to_string(),
        }
    }

    /// (B, E, L) -> (B, E, L): LN, Linear(E->4E), SwiGLU (value = first half), Linear(2E->E).
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let h = self.linear1.forward(&self.ln.forward(&x.transpose(1, 2)));
        let parts = h.chunk(2, 2);
        let h = (&parts[0] * parts[1].silu()).dropout(self.rate, train);
        self.linear2.forward(&h).dropout(self.rate, train).transpose(1, 2)
    }

    /// On (B, L, E); returns the feed-forward output (without the residual).
    fn export(&self, g: &mut GraphBuilder, t: &str) -> String {
        let h = self.ln.export(g, t);
        let h = self.linear1.export(g, &h);
        let half = self.linear1.weight.size()[0] / 2;
        let split = g.initializer_i64(&format!("{}.split", self.scope), &[2], &[half, half]);
        let a = g.fresh("swiglu_value");
        let gate = g.fresh("swiglu_gate");
        g.node("Split", &[&h, &split], &[&a, &gate], vec![Attr::Int("axis", 2)]);
        let gate = silu(g, &gate);
        let h = g.op("Mul", &[&a, &gate], vec![]);
        self.linear2.export(g, &h)
    }

    fn init(&self) {
        self.linear1.init(InitScheme::PyTorch);
        self.linear2.init(InitScheme::PyTorch);
        self.ln.init();
    }
}

pub struct ConformerLayer {
    pub ff1: FeedForward,
    pub ln1: LayerNorm,
    pub dwconv: Conv1d,
    pub pwconv: Conv1d,
    pub ln2: LayerNorm,
    pub in_proj_weight: Var,
    pub in_proj_bias: Var,
    pub out_proj: Linear,
    pub ff2: FeedForward,
    pub heads: i64,
    pub rate: f64,
    scope: String,
}

impl ConformerLayer {
    fn new(vs: &mut Scope, e: i64, kernel_size: i64, rate: f64) -> Self {
        let ff1 = FeedForward::new(&mut vs.pp("ff1"), e, rate);
        let ln1 = LayerNorm::new(&mut vs.pp("layernorm1"), e, LN_EPS);
        let dwconv = Conv1d::new(&mut vs.pp("conv.0"), e, e, kernel_size, e, false);
        let pwconv = Conv1d::new(&mut vs.pp("conv.1"), e, e, 1, 1, true);
        let ln2 = LayerNorm::new(&mut vs.pp("layernorm2"), e, LN_EPS);
        let mut attn = vs.pp("attn");
        let in_proj_weight = attn.param("in_proj_weight", &[3 * e, e]);
        let in_proj_bias = attn.param("in_proj_bias", &[3 * e]);
        let out_proj = Linear::new(&mut attn.pp("out_proj"), e, e, true);
        let ff2 = FeedForward::new(&mut vs.pp("ff2"), e, rate);
        ConformerLayer {
            ff1,
            ln1,
            dwconv,
            pwconv,
            ln2,
            in_proj_weight,
            in_proj_bias,
            out_proj,
            ff2,
            heads: HEADS,
            rate,
            scope: vs.path().to_string(),
        }
    }

    /// The reference's residual paths, quirks included (models.md §2.9).
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let x = x + self.ff1.forward_t(x, train) * 0.5;
        let x1 = self.ln1.forward(&x.transpose(1, 2)).transpose(1, 2);
        let conv = self.pwconv.forward(&self.dwconv.forward(&x1)).relu().dropout(self.rate, train);
        let x = &x + &x1 + conv;
        let t = self.ln2.forward(&x.transpose(1, 2));
        let t = &t + self.attention(&t);
        let x = t.transpose(1, 2);
        &x + self.ff2.forward_t(&x, train) * 0.5
    }

    /// Multi-head self-attention on (B, L, E), heads of contiguous feature slices.
    fn attention(&self, t: &Tensor) -> Tensor {
        let (b, l, e) = t.size3().expect("conformer input is (B, L, E)");
        let d = e / self.heads;
        let qkv = t.linear(&self.in_proj_weight.tensor, Some(&self.in_proj_bias.tensor));
        let split = |i: i64| qkv.narrow(2, i * e, e).view([b, l, self.heads, d]).transpose(1, 2);
        let (q, k, v) = (split(0), split(1), split(2));
        let o = Tensor::scaled_dot_product_attention(&q, &k, &v, None::<&Tensor>, 0.0, false, None, false);
        self.out_proj.forward(&o.transpose(1, 2).reshape([b, l, e]))
    }

    /// On (B, L, E), with the reference's residual quirks (models.md §2.9).
    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let half = scalar(g, &format!("{}.half", self.scope), 0.5);
        let f = self.ff1.export(g, x);
        let f = g.op("Mul", &[&f, &half], vec![]);
        let x = g.op("Add", &[x, &f], vec![]);
        let x1 = self.ln1.export(g, &x);
        let c = transpose(g, &x1, &[0, 2, 1]);
        let c = self.dwconv.export(g, &c);
        let c = self.pwconv.export(g, &c);
        let c = g.op("Relu", &[&c], vec![]);
        let c = transpose(g, &c, &[0, 2, 1]);
        let x = g.op("Add", &[&x, &x1], vec![]);
        let x = g.op("Add", &[&x, &c], vec![]);
        let t = self.ln2.export(g, &x);
        let a = self.export_attention(g, &t);
        let x = g.op("Add", &[&t, &a], vec![]);
        let f = self.ff2.export(g, &x);
        let f = g.op("Mul", &[&f, &half], vec![]);
        g.op("Add", &[&x, &f], vec![])
    }

    fn export_attention(&self, g: &mut GraphBuilder, t: &str) -> String {
        let pre = format!("{}.attn", self.scope);
        let e = self.in_proj_weight.size()[1];
        let d = e / self.heads;
        let heads_shape = g.initializer_i64(&format!("{pre}.heads_shape"), &[4], &[0, 0, self.heads, d]);
        let project = |g: &mut GraphBuilder, k: i64, name: &str| {
            let w = self.in_proj_weight.narrow(0, k * e, e);
            let b = self.in_proj_bias.narrow(0, k * e, e);
            let y = matmul_add(g, t, &format!("{pre}.{name}.weight"), &w, Some((&format!("{pre}.{name}.bias"), &b)));
            g.op("Reshape", &[&y, &heads_shape], vec![])
        };
        let q = project(g, 0, "q");
        let k = project(g, 1, "k");
        let v = project(g, 2, "v");
        let q = transpose(g, &q, &[0, 2, 1, 3]); // (B, h, L, d)
        let k = transpose(g, &k, &[0, 2, 3, 1]); // (B, h, d, L)
        let v = transpose(g, &v, &[0, 2, 1, 3]);
        let scale = scalar(g, &format!("{pre}.scale"), 1.0 / (d as f32).sqrt());
        let q = g.op("Mul", &[&q, &scale], vec![]);
        let s = g.op("MatMul", &[&q, &k], vec![]);
        let a = g.op("Softmax", &[&s], vec![Attr::Int("axis", -1)]);
        let o = g.op("MatMul", &[&a, &v], vec![]);
        let o = transpose(g, &o, &[0, 2, 1, 3]);
        let merged = g.initializer_i64(&format!("{pre}.merged_shape"), &[3], &[0, 0, e]);
        let o = g.op("Reshape", &[&o, &merged], vec![]);
        self.out_proj.export(g, &o)
    }

    fn init(&self) {
        let _g = tch::no_grad_guard();
        self.ff1.init();
        self.ff2.init();
        self.ln1.init();
        self.ln2.init();
        self.dwconv.init(InitScheme::PyTorch);
        self.pwconv.init(InitScheme::PyTorch);
        let e = self.in_proj_weight.size()[1];
        let bound = (6.0 / (e + 3 * e) as f64).sqrt();
        let _ = self.in_proj_weight.tensor.shallow_clone().uniform_(-bound, bound);
        let _ = self.in_proj_bias.tensor.shallow_clone().zero_();
        self.out_proj.init(InitScheme::PyTorch);
        if let Some(b) = &self.out_proj.bias {
            let _ = b.tensor.shallow_clone().zero_();
        }
    }
}

pub struct UnlockDnaBlock {
    pub layers: Vec<ConformerLayer>,
    pub pos_embedding: Var,
}

impl Block for UnlockDnaBlock {
    fn init(&self) {
        for layer in &self.layers {
            layer.init();
        }
        let _g = tch::no_grad_guard();
        let _ = self.pos_embedding.tensor.shallow_clone().normal_(0.0, 1.0);
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let l = x.size()[2];
        let pos = self.pos_embedding.narrow(0, 0, l).transpose(0, 1).unsqueeze(0);
        let mut x = x + pos;
        for layer in &self.layers {
            x = layer.forward_t(&x, train);
        }
        x
    }

    /// Everything runs in (B, L, E); the positional embedding is fixed-length.
    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let ble = transpose(g, x, &[0, 2, 1]);
        let pos = init(g, &self.pos_embedding);
        let mut t = g.op("Add", &[&ble, &pos], vec![]);
        for layer in &self.layers {
            t = layer.export(g, &t);
        }
        transpose(g, &t, &[0, 2, 1])
    }
}
