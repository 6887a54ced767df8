//! Load-time rewrites of an ONNX graph into forms tract runs fast, with the same
//! numbers (to float rounding). They apply to any file, so the models already published
//! in `weights/` and files exported before this code existed get them too; ONNX
//! Runtime, which has its own fusions, reads the file as written.
//!
//! - [`fold_batch_norms`]: an inference-mode `BatchNormalization` whose input comes only
//!   from a `Conv` with constant weights becomes part of that convolution's weights and
//!   bias. tract fuses a following per-channel scale into ungrouped convolutions itself,
//!   but not into grouped ones, where the normalisation then costs a full pass over the
//!   tensor.
//! - [`lower_small_grouped_convs`]: a grouped convolution with a few (2 to 8) channels
//!   per group, which tract runs as one tiny matrix product per group, becomes `m`
//!   depthwise convolutions (tract's direct `DepthWise` kernel) over channel-rotated
//!   copies of the input, summed. DREAM-CNN's EfficientNet blocks use 2 channels per
//!   group.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb;

/// What [`for_tract`] changed, for diagnostics and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rewrites {
    pub batch_norms_folded: usize,
    pub grouped_convs_lowered: usize,
}

/// Every rewrite, in the order that makes them compose (normalisations are folded
/// before a grouped convolution is split, so the split carries them).
pub fn for_tract(model: &mut pb::ModelProto) -> Rewrites {
    let Some(graph) = model.graph.as_mut() else { return Rewrites::default() };
    Rewrites { batch_norms_folded: fold_batch_norms(graph), grouped_convs_lowered: lower_small_grouped_convs(graph) }
}

const FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;
const INT64: i32 = pb::tensor_proto::DataType::Int64 as i32;

/// A float32 constant of the graph: its shape and values.
fn constant_f32(graph: &pb::GraphProto, name: &str) -> Option<(Vec<i64>, Vec<f32>)> {
    let t = graph.initializer.iter().find(|t| t.name == name)?;
    if t.data_type != FLOAT || t.segment.is_some() || !t.external_data.is_empty() {
        return None;
    }
    let n: i64 = t.dims.iter().product();
    let values: Vec<f32> = if !t.raw_data.is_empty() {
        t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    } else {
        t.float_data.clone()
    };
    (values.len() as i64 == n).then(|| (t.dims.clone(), values))
}

fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

/// Names already used anywhere in the graph, to mint new ones (also for `precision`).
pub(crate) struct Names(HashSet<String>);

impl Names {
    pub(crate) fn of(graph: &pb::GraphProto) -> Names {
        let mut set = HashSet::new();
        set.extend(graph.initializer.iter().map(|t| t.name.clone()));
        set.extend(graph.input.iter().chain(&graph.output).chain(&graph.value_info).map(|v| v.name.clone()));
        for n in &graph.node {
            set.extend(n.input.iter().chain(&n.output).cloned());
            set.insert(n.name.clone());
        }
        Names(set)
    }

    pub(crate) fn fresh(&mut self, prefix: &str) -> String {
        let mut candidate = prefix.to_string();
        let mut k = 1;
        while self.0.contains(&candidate) {
            candidate = format!("{prefix}_{k}");
            k += 1;
        }
        self.0.insert(candidate.clone());
        candidate
    }
}

fn tensor_f32(name: String, dims: Vec<i64>, values: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        dims,
        data_type: FLOAT,
        name,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn tensor_i64(name: String, dims: Vec<i64>, values: &[i64]) -> pb::TensorProto {
    pb::TensorProto {
        dims,
        data_type: INT64,
        name,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// How many times each value is read (node inputs and graph outputs).
fn readers(graph: &pb::GraphProto) -> HashMap<String, usize> {
    let mut count = HashMap::new();
    for n in &graph.node {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            *count.entry(i.clone()).or_default() += 1;
        }
    }
    for o in &graph.output {
        *count.entry(o.name.clone()).or_default() += 1;
    }
    count
}

/// Folds `BatchNormalization(Conv(x, W, b))` into `Conv(x, W', b')`: per output channel
/// `a = scale / sqrt(var + eps)`, `W' = W a`, `b' = (b - mean) a + beta`, computed in f64.
/// Returns how many were folded.
pub fn fold_batch_norms(graph: &mut pb::GraphProto) -> usize {
    let readers = readers(graph);
    let producer: HashMap<String, usize> =
        graph.node.iter().enumerate().flat_map(|(i, n)| n.output.iter().map(move |o| (o.clone(), i))).collect();
    let mut names = Names::of(graph);
    let mut folded = Vec::new();
    let mut new_inits = Vec::new();
    for (bn_ix, bn) in graph.node.iter().enumerate() {
        if bn.op_type != "BatchNormalization" || !bn.domain.is_empty() || bn.input.len() != 5 {
            continue;
        }
        // Training-mode outputs (running statistics) would need the unfused node.
        if bn.output.iter().skip(1).any(|o| !o.is_empty()) {
            continue;
        }
        if attr(bn, "training_mode").is_some_and(|a| a.i != 0) {
            continue;
        }
        let Some(&conv_ix) = producer.get(&bn.input[0]) else { continue };
        let conv = &graph.node[conv_ix];
        if conv.op_type != "Conv" || !conv.domain.is_empty() || readers.get(&bn.input[0]) != Some(&1) {
            continue;
        }
        let Some((w_dims, w)) = conv.input.get(1).and_then(|n| constant_f32(graph, n)) else { continue };
        let out_ch = w_dims[0] as usize;
        let bias = match conv.input.get(2).filter(|n| !n.is_empty()) {
            Some(n) => match constant_f32(graph, n) {
                Some((_, b)) if b.len() == out_ch => b,
                _ => continue,
            },
            None => vec![0.0; out_ch],
        };
        let stats: Option<Vec<Vec<f32>>> = bn.input[1..5]
            .iter()
            .map(|n| constant_f32(graph, n).map(|(_, v)| v).filter(|v| v.len() == out_ch))
            .collect();
        let Some(stats) = stats else { continue };
        let eps = attr(bn, "epsilon").map_or(1e-5, |a| a.f) as f64;
        let (scale, beta, mean, var) = (&stats[0], &stats[1], &stats[2], &stats[3]);
        let a: Vec<f64> = (0..out_ch).map(|c| scale[c] as f64 / (var[c] as f64 + eps).sqrt()).collect();
        let per_out = w.len() / out_ch;
        let w2: Vec<f32> = w.iter().enumerate().map(|(i, v)| (*v as f64 * a[i / per_out]) as f32).collect();
        let b2: Vec<f32> =
            (0..out_ch).map(|c| ((bias[c] as f64 - mean[c] as f64) * a[c] + beta[c] as f64) as f32).collect();
        let w_name = names.fresh(&format!("{}.bn_folded_weight", conv.name));
        let b_name = names.fresh(&format!("{}.bn_folded_bias", conv.name));
        new_inits.push(tensor_f32(w_name.clone(), w_dims, &w2));
        new_inits.push(tensor_f32(b_name.clone(), vec![out_ch as i64], &b2));
        folded.push((conv_ix, bn_ix, w_name, b_name, bn.output[0].clone()));
    }
    let count = folded.len();
    let mut drop = HashSet::new();
    for (conv_ix, bn_ix, w_name, b_name, y) in folded {
        let conv = &mut graph.node[conv_ix];
        conv.input.truncate(1);
        conv.input.push(w_name);
        conv.input.push(b_name);
        conv.output[0] = y;
        drop.insert(bn_ix);
    }
    graph.initializer.extend(new_inits);
    let mut ix = 0;
    graph.node.retain(|_| {
        ix += 1;
        !drop.contains(&(ix - 1))
    });
    drop_unused_initializers(graph);
    count
}

/// Rewrites each `Conv` with `group = C / m` (`C` input and output channels, `m` in 2..=8
/// channels per group) as `m` depthwise convolutions summed: rotation `r` reads input
/// channel `base + (j + r) % m` for output channel `base + j` of every group, with weight
/// `W[c, (j + r) % m, :]`. Returns how many were lowered.
pub fn lower_small_grouped_convs(graph: &mut pb::GraphProto) -> usize {
    let mut names = Names::of(graph);
    let mut lowered = 0;
    let mut nodes = Vec::with_capacity(graph.node.len());
    let mut new_inits = Vec::new();
    for node in std::mem::take(&mut graph.node) {
        let Some((parts, inits)) = lower_grouped_conv(graph, &node, &mut names) else {
            nodes.push(node);
            continue;
        };
        lowered += 1;
        nodes.extend(parts);
        new_inits.extend(inits);
    }
    graph.node = nodes;
    graph.initializer.extend(new_inits);
    drop_unused_initializers(graph);
    lowered
}

fn lower_grouped_conv(
    graph: &pb::GraphProto,
    conv: &pb::NodeProto,
    names: &mut Names,
) -> Option<(Vec<pb::NodeProto>, Vec<pb::TensorProto>)> {
    if conv.op_type != "Conv" || !conv.domain.is_empty() {
        return None;
    }
    let group = attr(conv, "group").map_or(1, |a| a.i);
    if group <= 1 || attr(conv, "auto_pad").is_some_and(|a| !a.s.is_empty() && a.s != b"NOTSET") {
        return None;
    }
    let (w_dims, w) = constant_f32(graph, conv.input.get(1)?)?;
    let (channels, m) = (w_dims[0], w_dims[1]);
    if !(2..=8).contains(&m) || channels != group * m {
        return None;
    }
    let bias = match conv.input.get(2).filter(|n| !n.is_empty()) {
        Some(n) => Some(constant_f32(graph, n)?.1),
        None => None,
    };
    let (c, m) = (channels as usize, m as usize);
    let taps: usize = w_dims[2..].iter().product::<i64>() as usize;
    let mut attrs: Vec<pb::AttributeProto> = conv.attribute.iter().filter(|a| a.name != "group").cloned().collect();
    attrs.push(pb::AttributeProto {
        name: "group".into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i: channels,
        ..Default::default()
    });
    let mut dw_dims = w_dims.clone();
    dw_dims[1] = 1;
    let x = &conv.input[0];
    let mut nodes = Vec::new();
    let mut inits = Vec::new();
    let mut terms = Vec::new();
    for r in 0..m {
        let src = |ch: usize| ch - ch % m + (ch % m + r) % m;
        let input = if r == 0 {
            x.clone()
        } else {
            let idx = names.fresh(&format!("{}.rotate{r}_channels", conv.name));
            inits.push(tensor_i64(idx.clone(), vec![c as i64], &(0..c).map(|ch| src(ch) as i64).collect::<Vec<_>>()));
            let rotated = names.fresh(&format!("{}.rotate{r}", conv.name));
            nodes.push(node("Gather", &names.fresh(&format!("{}.rotate{r}", conv.name)), &[x, &idx], &rotated, vec![
                pb::AttributeProto {
                    name: "axis".into(),
                    r#type: pb::attribute_proto::AttributeType::Int as i32,
                    i: 1,
                    ..Default::default()
                },
            ]));
            rotated
        };
        let mut dw = Vec::with_capacity(c * taps);
        for ch in 0..c {
            let from = (ch * m + (ch % m + r) % m) * taps;
            dw.extend_from_slice(&w[from..from + taps]);
        }
        let w_name = names.fresh(&format!("{}.depthwise{r}_weight", conv.name));
        inits.push(tensor_f32(w_name.clone(), dw_dims.clone(), &dw));
        let mut inputs = vec![input.as_str(), w_name.as_str()];
        let b_name;
        if r == 0 {
            if let Some(b) = &bias {
                b_name = names.fresh(&format!("{}.depthwise_bias", conv.name));
                inits.push(tensor_f32(b_name.clone(), vec![channels], b));
                inputs.push(&b_name);
            }
        }
        let y = names.fresh(&format!("{}.depthwise{r}", conv.name));
        nodes.push(node("Conv", &names.fresh(&format!("{}.depthwise{r}", conv.name)), &inputs, &y, attrs.clone()));
        terms.push(y);
    }
    let mut acc = terms[0].clone();
    for (k, t) in terms.iter().enumerate().skip(1) {
        let out = if k + 1 == terms.len() { conv.output[0].clone() } else { names.fresh(&format!("{}.sum{k}", conv.name)) };
        nodes.push(node("Add", &names.fresh(&format!("{}.sum{k}", conv.name)), &[&acc, t], &out, vec![]));
        acc = out;
    }
    Some((nodes, inits))
}

fn node(op: &str, name: &str, inputs: &[&str], output: &str, attribute: Vec<pb::AttributeProto>) -> pb::NodeProto {
    pb::NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.to_string()],
        name: name.to_string(),
        op_type: op.to_string(),
        attribute,
        ..Default::default()
    }
}

/// Removes initializers no node or output reads any more (the originals of rewritten
/// weights), so they are not parsed and kept in memory.
fn drop_unused_initializers(graph: &mut pb::GraphProto) {
    let read = readers(graph);
    let inputs: HashSet<&str> = graph.input.iter().map(|v| v.name.as_str()).collect();
    let keep: Vec<bool> =
        graph.initializer.iter().map(|t| read.contains_key(&t.name) || inputs.contains(t.name.as_str())).collect();
    let mut k = keep.into_iter();
    graph.initializer.retain(|_| k.next().unwrap_or(true));
}
