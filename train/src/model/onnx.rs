//! ONNX export of every block, walking the same modules that run in tch: each block
//! emits the operators that compute its eval-mode forward pass on `(B, C, L)`.
//!
//! Opset 17, layouts chosen for both tract and onnxruntime: the LSTM uses layout 0
//! (time-major) with explicit Transposes, since tract's batch-first LSTM is broken.

use infer::onnx::{meta, Attr, Dim, Elem, GraphBuilder, BATCH_DIM, INPUT, OUTPUT};
use tch::Tensor;

use super::blocks::{BhiConvBlock, Core, Final, First, FeedForward, ConformerLayer, InvResBlock};
use super::layers::{BatchNorm1d, Conv1d, LayerNorm, BN_EPS};
use super::store::to_vec_f32;
use super::PrixFixeNet;

pub(crate) fn init(g: &mut GraphBuilder, name: &str, t: &Tensor) -> String {
    let shape = t.size();
    g.initializer_f32(name, &shape, &to_vec_f32(t))
}

pub(crate) fn conv(g: &mut GraphBuilder, c: &Conv1d, x: &str, name: &str) -> String {
    let w = init(g, &format!("{name}.weight"), &c.weight);
    let k = c.weight.size()[2];
    let mut inputs = vec![x.to_string(), w];
    if let Some(b) = &c.bias {
        inputs.push(init(g, &format!("{name}.bias"), b));
    }
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    g.op(
        "Conv",
        &inputs,
        vec![
            Attr::Ints("kernel_shape", vec![k]),
            Attr::Ints("pads", vec![c.pad.0, c.pad.1]),
            Attr::Int("group", c.groups),
            Attr::Ints("strides", vec![1]),
            Attr::Ints("dilations", vec![1]),
        ],
    )
}

pub(crate) fn batch_norm(g: &mut GraphBuilder, bn: &BatchNorm1d, x: &str, name: &str) -> String {
    let s = init(g, &format!("{name}.weight"), &bn.weight);
    let b = init(g, &format!("{name}.bias"), &bn.bias);
    let m = init(g, &format!("{name}.running_mean"), &bn.running_mean);
    let v = init(g, &format!("{name}.running_var"), &bn.running_var);
    g.op("BatchNormalization", &[x, &s, &b, &m, &v], vec![Attr::Float("epsilon", BN_EPS as f32)])
}

pub(crate) fn silu(g: &mut GraphBuilder, x: &str) -> String {
    let s = g.op("Sigmoid", &[x], vec![]);
    g.op("Mul", &[x, &s], vec![])
}

fn transpose(g: &mut GraphBuilder, x: &str, perm: &[i64]) -> String {
    g.op("Transpose", &[x], vec![Attr::Ints("perm", perm.to_vec())])
}

/// `x @ Wᵀ (+ b)` over the last axis of a (B, L, in) tensor.
pub(crate) fn linear(g: &mut GraphBuilder, w: &Tensor, b: Option<&Tensor>, x: &str, name: &str) -> String {
    let wt = init(g, &format!("{name}.weight_t"), &w.transpose(0, 1).contiguous());
    let y = g.op("MatMul", &[x, &wt], vec![]);
    match b {
        Some(b) => {
            let b = init(g, &format!("{name}.bias"), b);
            g.op("Add", &[&y, &b], vec![])
        }
        None => y,
    }
}

fn layer_norm(g: &mut GraphBuilder, ln: &LayerNorm, x: &str, name: &str) -> String {
    let s = init(g, &format!("{name}.weight"), &ln.weight);
    let b = init(g, &format!("{name}.bias"), &ln.bias);
    g.op(
        "LayerNormalization",
        &[x, &s, &b],
        vec![Attr::Int("axis", -1), Attr::Float("epsilon", ln.eps as f32)],
    )
}

fn scalar(g: &mut GraphBuilder, name: &str, v: f32) -> String {
    g.initializer_f32(name, &[], &[v])
}

fn bhi_branches(g: &mut GraphBuilder, branches: &[BhiConvBlock], x: &str, prefix: &str) -> String {
    let outs: Vec<String> = branches
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let y = conv(g, &b.conv, x, &format!("{prefix}.{i}.conv"));
            let y = g.op("Relu", &[&y], vec![]);
            if b.pool > 1 {
                g.op("MaxPool", &[&y], vec![Attr::Ints("kernel_shape", vec![b.pool]), Attr::Ints("strides", vec![b.pool])])
            } else {
                y
            }
        })
        .collect();
    let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
    g.op("Concat", &refs, vec![Attr::Int("axis", 1)])
}

impl First {
    pub fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        match self {
            First::Bhi(b) => bhi_branches(g, &b.branches, x, "first.conv_list"),
            First::Autosome(a) => {
                let y = conv(g, &a.conv, x, "first.block.0");
                let y = batch_norm(g, &a.bn, &y, "first.block.1");
                silu(g, &y)
            }
            First::Legnet(s) => s.export(g, x),
        }
    }
}

/// PyTorch stacks LSTM gates i, f, g, o; ONNX expects i, o, f, c.
fn onnx_gate_order(t: &Tensor, hidden: i64) -> Tensor {
    let chunk = |k: i64| t.narrow(0, k * hidden, hidden);
    Tensor::cat(&[chunk(0), chunk(3), chunk(1), chunk(2)], 0)
}

impl Core {
    pub fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        match self {
            Core::Bhi(c) => {
                let h = c.lstm.hidden;
                let p = &c.lstm.params;
                let dir = |k: usize| {
                    let w = onnx_gate_order(&p[k], h);
                    let r = onnx_gate_order(&p[k + 1], h);
                    let b = Tensor::cat(&[onnx_gate_order(&p[k + 2], h), onnx_gate_order(&p[k + 3], h)], 0);
                    (w, r, b)
                };
                let (wf, rf, bf) = dir(0);
                let (wb, rb, bb) = dir(4);
                let w = init(g, "core.lstm.W", &Tensor::stack(&[wf, wb], 0));
                let r = init(g, "core.lstm.R", &Tensor::stack(&[rf, rb], 0));
                let b = init(g, "core.lstm.B", &Tensor::stack(&[bf, bb], 0));
                // (B, C, L) -> (L, B, C) for layout 0.
                let seq = transpose(g, x, &[2, 0, 1]);
                let y = g.fresh("lstm_y");
                g.node(
                    "LSTM",
                    &[&seq, &w, &r, &b],
                    &[&y],
                    vec![
                        Attr::Int("hidden_size", h),
                        Attr::String("direction", "bidirectional".into()),
                        Attr::Int("layout", 0),
                    ],
                );
                // Y: (L, 2, B, H) -> (B, 2, H, L) -> (B, 2H, L): forward features first.
                let y = transpose(g, &y, &[2, 1, 3, 0]);
                let shape = g.initializer_i64("core.lstm.out_shape", &[3], &[0, 2 * h, -1]);
                let y = g.op("Reshape", &[&y, &shape], vec![]);
                bhi_branches(g, &c.branches, &y, "core.conv_list")
            }
            Core::Autosome(c) => {
                let mut x = x.to_string();
                for (i, (inv, resize)) in c.stages.iter().enumerate() {
                    let y = inv.export(g, &x, &format!("core.seqextractor.inv_res_blc{i}"));
                    let cat = g.op("Concat", &[&x, &y], vec![Attr::Int("axis", 1)]);
                    let pre = format!("core.seqextractor.resize_blc{i}");
                    let y = conv(g, &resize.conv, &cat, &format!("{pre}.0"));
                    let y = batch_norm(g, &resize.bn, &y, &format!("{pre}.1"));
                    x = silu(g, &y);
                }
                x
            }
            Core::UnlockDna(c) => {
                // Everything runs in (B, L, E); the positional embedding is fixed-length.
                let ble = transpose(g, x, &[0, 2, 1]);
                let pos = init(g, "core.pos_embedding.weight", &c.pos_embedding);
                let mut t = g.op("Add", &[&ble, &pos], vec![]);
                for (n, layer) in c.layers.iter().enumerate() {
                    t = layer.export(g, &t, &format!("core.blocks.{n}"));
                }
                transpose(g, &t, &[0, 2, 1])
            }
            Core::Legnet(c) => c.export(g, x),
        }
    }
}

impl InvResBlock {
    fn export(&self, g: &mut GraphBuilder, x: &str, pre: &str) -> String {
        let y = conv(g, &self.expand, x, &format!("{pre}.0"));
        let y = batch_norm(g, &self.bn1, &y, &format!("{pre}.1"));
        let y = silu(g, &y);
        let y = conv(g, &self.depthwise, &y, &format!("{pre}.3"));
        let y = batch_norm(g, &self.bn2, &y, &format!("{pre}.4"));
        let y = silu(g, &y);
        // Squeeze-excitation on (B, e, 1): the two Linears become 1x1 convolutions.
        let s = g.op("GlobalAveragePool", &[&y], vec![]);
        let se1 = Conv1d { weight: self.se_fc1.weight.unsqueeze(2), bias: self.se_fc1.bias.as_ref().map(|b| b.shallow_clone()), groups: 1, pad: (0, 0) };
        let se2 = Conv1d { weight: self.se_fc2.weight.unsqueeze(2), bias: self.se_fc2.bias.as_ref().map(|b| b.shallow_clone()), groups: 1, pad: (0, 0) };
        let s = conv(g, &se1, &s, &format!("{pre}.6.fc.0"));
        let s = silu(g, &s);
        let s = conv(g, &se2, &s, &format!("{pre}.6.fc.2"));
        let s = g.op("Sigmoid", &[&s], vec![]);
        let y = g.op("Mul", &[&y, &s], vec![]);
        let y = conv(g, &self.project, &y, &format!("{pre}.7"));
        let y = batch_norm(g, &self.bn3, &y, &format!("{pre}.8"));
        silu(g, &y)
    }
}

impl FeedForward {
    /// On (B, L, E); returns the feed-forward output (without the residual).
    fn export(&self, g: &mut GraphBuilder, t: &str, pre: &str) -> String {
        let h = layer_norm(g, &self.ln, t, &format!("{pre}.layernorm"));
        let h = linear(g, &self.linear1.weight, None, &h, &format!("{pre}.linear1"));
        let half = self.linear1.weight.size()[0] / 2;
        let split = g.initializer_i64(&format!("{pre}.split"), &[2], &[half, half]);
        let a = g.fresh("swiglu_value");
        let gate = g.fresh("swiglu_gate");
        g.node("Split", &[&h, &split], &[&a, &gate], vec![Attr::Int("axis", 2)]);
        let gate = silu(g, &gate);
        let h = g.op("Mul", &[&a, &gate], vec![]);
        linear(g, &self.linear2.weight, None, &h, &format!("{pre}.linear2"))
    }
}

impl ConformerLayer {
    /// On (B, L, E), with the reference's residual quirks (models.md §2.9).
    fn export(&self, g: &mut GraphBuilder, x: &str, pre: &str) -> String {
        let half = scalar(g, &format!("{pre}.half"), 0.5);
        let f = self.ff1.export(g, x, &format!("{pre}.ff1"));
        let f = g.op("Mul", &[&f, &half], vec![]);
        let x = g.op("Add", &[x, &f], vec![]);
        let x1 = layer_norm(g, &self.ln1, &x, &format!("{pre}.layernorm1"));
        let c = transpose(g, &x1, &[0, 2, 1]);
        let c = conv(g, &self.dwconv, &c, &format!("{pre}.conv.0"));
        let c = conv(g, &self.pwconv, &c, &format!("{pre}.conv.1"));
        let c = g.op("Relu", &[&c], vec![]);
        let c = transpose(g, &c, &[0, 2, 1]);
        let x = g.op("Add", &[&x, &x1], vec![]);
        let x = g.op("Add", &[&x, &c], vec![]);
        let t = layer_norm(g, &self.ln2, &x, &format!("{pre}.layernorm2"));
        let a = self.export_attention(g, &t, &format!("{pre}.attn"));
        let x = g.op("Add", &[&t, &a], vec![]);
        let f = self.ff2.export(g, &x, &format!("{pre}.ff2"));
        let f = g.op("Mul", &[&f, &half], vec![]);
        g.op("Add", &[&x, &f], vec![])
    }

    fn export_attention(&self, g: &mut GraphBuilder, t: &str, pre: &str) -> String {
        let e = self.in_proj_weight.size()[1];
        let d = e / self.heads;
        let heads_shape = g.initializer_i64(&format!("{pre}.heads_shape"), &[4], &[0, 0, self.heads, d]);
        let project = |g: &mut GraphBuilder, k: i64, name: &str| {
            let w = self.in_proj_weight.narrow(0, k * e, e);
            let b = self.in_proj_bias.narrow(0, k * e, e);
            let y = linear(g, &w, Some(&b), t, &format!("{pre}.{name}"));
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
        linear(g, &self.out_proj.weight, self.out_proj.bias.as_ref(), &o, &format!("{pre}.out_proj"))
    }
}

impl Final {
    /// Writes the graph output `y`: (B,) for one output, (B, T) for several.
    pub fn export(&self, g: &mut GraphBuilder, x: &str) {
        match self {
            Final::Legnet(h) => h.export(g, x),
            Final::SoftBins(h) => {
                let z = conv(g, &h.mapper, x, "final.mapper.0");
                let z = g.op("GlobalAveragePool", &[&z], vec![]);
                let z = g.op("Flatten", &[&z], vec![Attr::Int("axis", 1)]);
                let p = g.op("Softmax", &[&z], vec![Attr::Int("axis", 1)]);
                // final.bins is int64 in the state_dict; the expectation needs floats.
                let bins: Vec<f32> = to_vec_f32(&h.bins);
                let bins = g.initializer_f32("final.bins", &[bins.len() as i64], &bins);
                g.node("MatMul", &[&p, &bins], &[OUTPUT], vec![]);
            }
            Final::Regression(heads) => {
                let outs: Vec<String> = heads
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        let y = conv(g, &h.mapper, x, &format!("final.mapper{i}"));
                        let y = g.op("GlobalAveragePool", &[&y], vec![]);
                        let y = g.op("Flatten", &[&y], vec![Attr::Int("axis", 1)]);
                        linear(g, &h.linear.weight, h.linear.bias.as_ref(), &y, &format!("final.linear{i}"))
                    })
                    .collect();
                let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
                if heads.len() == 1 {
                    let axes = g.initializer_i64("final.squeeze_axes", &[1], &[1]);
                    g.node("Squeeze", &[refs[0], &axes], &[OUTPUT], vec![]);
                } else {
                    g.node("Concat", &refs, &[OUTPUT], vec![Attr::Int("axis", 1)]);
                }
            }
        }
    }
}

impl PrixFixeNet {
    /// The eval-mode network as a self-describing ONNX model: input `x` (B, C, L) with a
    /// dynamic batch, output `y`, and the model description in `metadata_props`.
    pub fn to_onnx(&self) -> GraphBuilder {
        self.onnx_graph(&self.desc)
    }

    /// As [`Self::to_onnx`], recording `desc` (e.g. with provenance filled in) as metadata.
    pub fn onnx_graph(&self, desc: &super::ModelDescription) -> GraphBuilder {
        let pre = &desc.preprocessing;
        let mut g = GraphBuilder::new(&desc.name);
        g.producer(concat!("train ", env!("CARGO_PKG_VERSION")));
        g.input(INPUT, Elem::F32, &[Dim::Sym(BATCH_DIM), Dim::Fixed(pre.channels() as i64), Dim::Fixed(pre.length as i64)]);
        let n_out = desc.outputs.len() as i64;
        if n_out == 1 {
            g.output(OUTPUT, Elem::F32, &[Dim::Sym(BATCH_DIM)]);
        } else {
            g.output(OUTPUT, Elem::F32, &[Dim::Sym(BATCH_DIM), Dim::Fixed(n_out)]);
        }
        let _guard = tch::no_grad_guard();
        let h = self.first.export(&mut g, INPUT);
        let h = self.core.export(&mut g, &h);
        self.final_.export(&mut g, &h);
        g.metadata(meta::PREPROCESSING, &to_json(pre));
        g.metadata(meta::OUTPUTS, &to_json(&desc.outputs));
        g.metadata(meta::MODEL, &to_json(desc));
        g.metadata(meta::NAME, &desc.name);
        if let Some(v) = &desc.version {
            g.metadata(meta::VERSION, v);
        }
        if let Some(l) = &desc.license {
            g.metadata(meta::LICENSE, l);
        }
        g.metadata(meta::PROVENANCE, &desc.provenance.to_string());
        g
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("model descriptions serialise")
}
