//! Reduced-precision variants of a float32 model, as rewrites of its ONNX graph (so
//! every published model gets them without the training stack):
//!
//! - [`Precision::Int8`]: dynamic quantisation of every `Conv` and of every `MatMul` by a
//!   constant matrix, the scheme of ONNX Runtime's `quantize_dynamic`. Weights are stored
//!   as uint8 with one symmetric scale per output channel (zero point 128: ONNX Runtime's
//!   CPU `ConvInteger` takes only uint8 weights); activations are quantised per tensor at
//!   run time (`DynamicQuantizeLinear`), the integer product (`ConvInteger`,
//!   `MatMulInteger`) is rescaled to float. The LSTM and activation-by-activation
//!   products stay float32.
//! - [`Precision::Fp16`]: float16 storage of the weights, cast back to float32 when the
//!   model loads (both engines fold the casts), so the numbers change by the rounding of
//!   the weights and the file halves; compute stays float32, which is all that x86 CPUs
//!   without native float16 arithmetic run fast.
//!
//! The file's metadata (the scoring contract) is kept, with a `precision` entry added.

use std::collections::HashSet;

use crate::rewrite::Names;

use tract_onnx::pb;
use tract_onnx::prelude::f16;

/// Numeric precision of a model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
    /// the model as exported
    Fp32,
    /// dynamically quantised convolutions and matrix products
    Int8,
    /// float16 weights, float32 compute
    Fp16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Int8 => "int8",
            Precision::Fp16 => "fp16",
        }
    }

    /// File name of the variant beside `model.onnx` in a model version directory.
    pub fn file_name(self) -> String {
        match self {
            Precision::Fp32 => "model.onnx".to_string(),
            other => format!("model.{}.onnx", other.name()),
        }
    }
}

/// Metadata key recording the precision of a variant.
pub const PRECISION_KEY: &str = crate::onnx::meta::PRECISION;

const FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;
const FLOAT16: i32 = pb::tensor_proto::DataType::Float16 as i32;
const UINT8: i32 = pb::tensor_proto::DataType::Uint8 as i32;

/// Writes the `precision` variant of the ONNX file `model` to `out` (atomically), and
/// returns how many operators or tensors changed. The variant is a pure function of the
/// file, so anyone can rebuild and check a published one.
pub fn write_variant(model: &std::path::Path, precision: Precision, out: &std::path::Path) -> Result<usize, crate::onnx::OnnxError> {
    use prost::Message;
    let bytes = std::fs::read(model).map_err(|source| crate::onnx::OnnxError::Read { path: model.to_path_buf(), source })?;
    let mut proto = pb::ModelProto::decode(bytes.as_slice())
        .map_err(|e| crate::onnx::OnnxError::NotOnnx { path: model.to_path_buf(), reason: e.to_string() })?;
    let changed = convert(&mut proto, precision);
    crate::onnx::write_atomic(out, &proto.encode_to_vec())?;
    Ok(changed)
}

/// Rewrites `model` into `precision`; returns how many operators or tensors changed.
pub fn convert(model: &mut pb::ModelProto, precision: Precision) -> usize {
    let Some(graph) = model.graph.as_mut() else { return 0 };
    let changed = match precision {
        Precision::Fp32 => 0,
        Precision::Int8 => quantize_dynamic(graph),
        Precision::Fp16 => fp16_weights(graph),
    };
    model.metadata_props.retain(|e| e.key != PRECISION_KEY);
    model.metadata_props.push(pb::StringStringEntryProto { key: PRECISION_KEY.into(), value: precision.name().into() });
    changed
}

fn f32_values(t: &pb::TensorProto) -> Option<Vec<f32>> {
    if t.data_type != FLOAT || t.segment.is_some() || !t.external_data.is_empty() {
        return None;
    }
    let v: Vec<f32> = if !t.raw_data.is_empty() {
        t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    } else {
        t.float_data.clone()
    };
    (v.len() as i64 == t.dims.iter().product::<i64>()).then_some(v)
}

fn int_attr(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), r#type: pb::attribute_proto::AttributeType::Int as i32, i, ..Default::default() }
}

fn node(op: &str, name: String, inputs: &[&str], outputs: &[&str], attribute: Vec<pb::AttributeProto>) -> pb::NodeProto {
    pb::NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        name,
        op_type: op.into(),
        attribute,
        ..Default::default()
    }
}

fn tensor(name: String, dims: Vec<i64>, data_type: i32, raw_data: Vec<u8>) -> pb::TensorProto {
    pb::TensorProto { dims, data_type, name, raw_data, ..Default::default() }
}

fn f32_tensor(name: String, dims: Vec<i64>, v: &[f32]) -> pb::TensorProto {
    tensor(name, dims, FLOAT, v.iter().flat_map(|x| x.to_le_bytes()).collect())
}

/// Weights of at least this many values are stored in float16 (small tensors such as
/// biases and normalisation statistics are not worth the cast).
const FP16_MIN_VALUES: usize = 256;

fn fp16_weights(graph: &mut pb::GraphProto) -> usize {
    let mut names = Names::of(graph);
    let mut casts = Vec::new();
    let mut changed = 0;
    for t in graph.initializer.iter_mut() {
        let Some(v) = f32_values(t) else { continue };
        if v.len() < FP16_MIN_VALUES {
            continue;
        }
        let original = std::mem::take(&mut t.name);
        t.name = names.fresh(&format!("{original}.fp16"));
        t.data_type = FLOAT16;
        t.float_data.clear();
        t.raw_data = v.iter().flat_map(|x| f16::from_f32(*x).to_bits().to_le_bytes()).collect();
        casts.push(node("Cast", names.fresh(&format!("{original}.to_fp32")), &[&t.name], &[&original], vec![int_attr(
            "to", FLOAT as i64,
        )]));
        changed += 1;
    }
    // Casts first: they read only initializers, and nodes must be topologically sorted.
    casts.append(&mut graph.node);
    graph.node = casts;
    changed
}

/// uint8 weights with zero point 128 and one symmetric scale per output channel (the
/// first axis of `dims` for Conv, the last for MatMul's [K, N]).
fn quantize_weights(v: &[f32], channels: usize, channel_of: impl Fn(usize) -> usize) -> (Vec<u8>, Vec<f32>) {
    let mut max = vec![0f32; channels];
    for (i, x) in v.iter().enumerate() {
        let c = channel_of(i);
        max[c] = max[c].max(x.abs());
    }
    let scale: Vec<f32> = max.iter().map(|m| if *m > 0.0 { m / 127.0 } else { 1.0 }).collect();
    let q = v.iter().enumerate().map(|(i, x)| ((x / scale[channel_of(i)]).round().clamp(-127.0, 127.0) as i32 + 128) as u8).collect();
    (q, scale)
}

fn quantize_dynamic(graph: &mut pb::GraphProto) -> usize {
    let mut names = Names::of(graph);
    let consts: std::collections::HashMap<String, (Vec<i64>, Vec<f32>)> = graph
        .initializer
        .iter()
        .filter_map(|t| f32_values(t).map(|v| (t.name.clone(), (t.dims.clone(), v))))
        .collect();
    let zero_point = names.fresh("quant.weight_zero_point");
    let mut inits = vec![tensor(zero_point.clone(), vec![], UINT8, vec![128])];
    let mut nodes = Vec::with_capacity(graph.node.len());
    let mut changed = 0;
    for n in std::mem::take(&mut graph.node) {
        let weight = n.input.get(1).and_then(|w| consts.get(w));
        let pre = n.name.clone();
        match (n.op_type.as_str(), weight) {
            ("Conv", Some((dims, w))) if n.domain.is_empty() && dims.len() >= 3 => {
                let co = dims[0] as usize;
                let per = w.len() / co;
                let (q, scale) = quantize_weights(w, co, |i| i / per);
                let wq = names.fresh(&format!("{pre}.weight_uint8"));
                inits.push(tensor(wq.clone(), dims.clone(), UINT8, q));
                let mut scale_dims = vec![co as i64];
                scale_dims.extend(std::iter::repeat(1).take(dims.len() - 2));
                let ws = names.fresh(&format!("{pre}.weight_scale"));
                inits.push(f32_tensor(ws.clone(), scale_dims.clone(), &scale));
                let (xq, xs, xz) = (names.fresh(&format!("{pre}.x_uint8")), names.fresh(&format!("{pre}.x_scale")), names.fresh(&format!("{pre}.x_zero_point")));
                nodes.push(node("DynamicQuantizeLinear", names.fresh(&format!("{pre}.quantize")), &[&n.input[0]], &[&xq, &xs, &xz], vec![]));
                let acc = names.fresh(&format!("{pre}.int32"));
                nodes.push(node("ConvInteger", names.fresh(&format!("{pre}.integer")), &[&xq, &wq, &xz, &zero_point], &[&acc], n.attribute.clone()));
                let accf = names.fresh(&format!("{pre}.float"));
                nodes.push(node("Cast", names.fresh(&format!("{pre}.cast")), &[&acc], &[&accf], vec![int_attr("to", FLOAT as i64)]));
                let s = names.fresh(&format!("{pre}.scale"));
                nodes.push(node("Mul", names.fresh(&format!("{pre}.scale")), &[&xs, &ws], &[&s], vec![]));
                let bias = n.input.get(2).filter(|b| !b.is_empty());
                let scaled = if bias.is_some() { names.fresh(&format!("{pre}.scaled")) } else { n.output[0].clone() };
                nodes.push(node("Mul", names.fresh(&format!("{pre}.rescale")), &[&accf, &s], &[&scaled], vec![]));
                if let Some(b) = bias {
                    let (_, bv) = consts.get(b).cloned().unwrap_or_default();
                    let bb = names.fresh(&format!("{pre}.bias"));
                    inits.push(f32_tensor(bb.clone(), scale_dims, &bv));
                    nodes.push(node("Add", names.fresh(&format!("{pre}.add_bias")), &[&scaled, &bb], &[&n.output[0]], vec![]));
                }
                changed += 1;
            }
            ("MatMul", Some((dims, w))) if n.domain.is_empty() && dims.len() == 2 && dims[1] > 1 => {
                let cols = dims[1] as usize;
                let (q, scale) = quantize_weights(w, cols, |i| i % cols);
                let wq = names.fresh(&format!("{pre}.weight_uint8"));
                inits.push(tensor(wq.clone(), dims.clone(), UINT8, q));
                let ws = names.fresh(&format!("{pre}.weight_scale"));
                inits.push(f32_tensor(ws.clone(), vec![cols as i64], &scale));
                let (xq, xs, xz) = (names.fresh(&format!("{pre}.x_uint8")), names.fresh(&format!("{pre}.x_scale")), names.fresh(&format!("{pre}.x_zero_point")));
                nodes.push(node("DynamicQuantizeLinear", names.fresh(&format!("{pre}.quantize")), &[&n.input[0]], &[&xq, &xs, &xz], vec![]));
                let acc = names.fresh(&format!("{pre}.int32"));
                nodes.push(node("MatMulInteger", names.fresh(&format!("{pre}.integer")), &[&xq, &wq, &xz, &zero_point], &[&acc], vec![]));
                let accf = names.fresh(&format!("{pre}.float"));
                nodes.push(node("Cast", names.fresh(&format!("{pre}.cast")), &[&acc], &[&accf], vec![int_attr("to", FLOAT as i64)]));
                let s = names.fresh(&format!("{pre}.scale"));
                nodes.push(node("Mul", names.fresh(&format!("{pre}.scale")), &[&xs, &ws], &[&s], vec![]));
                nodes.push(node("Mul", names.fresh(&format!("{pre}.rescale")), &[&accf, &s], &[&n.output[0]], vec![]));
                changed += 1;
            }
            _ => nodes.push(n),
        }
    }
    graph.node = nodes;
    graph.initializer.extend(inits);
    // Drop the float originals nothing reads any more.
    let read: HashSet<String> = graph.node.iter().flat_map(|n| n.input.iter().cloned()).collect();
    graph.initializer.retain(|t| read.contains(&t.name));
    changed
}
