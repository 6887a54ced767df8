//! ONNX export: the graph helpers the blocks' `export` methods share, and the whole
//! network as a self-describing model.
//!
//! Opset 17, layouts chosen for both tract and onnxruntime (the LSTM uses layout 0, see
//! `blocks::bhi`). Every block emits the operators of its eval-mode forward pass on
//! `(B, C, L)`, naming initialisers after the tensors' state_dict names.

use infer::onnx::{meta, Attr, Dim, Elem, GraphBuilder, BATCH_DIM, INPUT, OUTPUT};
use tch::Tensor;

use super::scope::Var;
use super::store::to_vec_f32;
use super::{ModelDescription, PrixFixeNet};

/// A tensor as a float32 initialiser under its state_dict name.
pub fn init(g: &mut GraphBuilder, v: &Var) -> String {
    init_as(g, &v.name, &v.tensor)
}

/// A derived tensor (transposed, reordered, reshaped) as a float32 initialiser.
pub fn init_as(g: &mut GraphBuilder, name: &str, t: &Tensor) -> String {
    let shape = t.size();
    g.initializer_f32(name, &shape, &to_vec_f32(t))
}

pub fn silu(g: &mut GraphBuilder, x: &str) -> String {
    let s = g.op("Sigmoid", &[x], vec![]);
    g.op("Mul", &[x, &s], vec![])
}

pub fn transpose(g: &mut GraphBuilder, x: &str, perm: &[i64]) -> String {
    g.op("Transpose", &[x], vec![Attr::Ints("perm", perm.to_vec())])
}

pub fn scalar(g: &mut GraphBuilder, name: &str, v: f32) -> String {
    g.initializer_f32(name, &[], &[v])
}

/// Mean over positions: (B, C, L) -> (B, C).
pub fn mean_over_positions(g: &mut GraphBuilder, x: &str) -> String {
    let z = g.op("GlobalAveragePool", &[x], vec![]);
    g.op("Flatten", &[&z], vec![Attr::Int("axis", 1)])
}

impl PrixFixeNet {
    /// The eval-mode network as a self-describing ONNX model: input `x` (B, C, L) with a
    /// dynamic batch, output `y`, and the model description in `metadata_props`.
    pub fn to_onnx(&self) -> GraphBuilder {
        self.onnx_graph(&self.desc)
    }

    /// As [`Self::to_onnx`], recording `desc` (e.g. with provenance filled in) as metadata.
    pub fn onnx_graph(&self, desc: &ModelDescription) -> GraphBuilder {
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
        let mut h = INPUT.to_string();
        for block in self.blocks() {
            h = block.export(&mut g, &h);
        }
        g.node("Identity", &[&h], &[OUTPUT], vec![]);
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
