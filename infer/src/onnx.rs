//! ONNX files as this project writes and reads them.
//!
//! A model leaves the training stack as one self-describing ONNX file: opset 17, one
//! float32 input [`INPUT`] shaped `[batch, channels, length]` with a symbolic batch
//! dimension, one output [`OUTPUT`] shaped `[batch]` or `[batch, tasks]`, and the whole
//! scoring contract (preprocessing, output names, provenance) in `metadata_props` under
//! the keys of [`meta`]. Nothing else is needed to score a sequence correctly.
//!
//! The writer ([`GraphBuilder`]) builds the protobuf directly from tract's generated
//! `pb` types rather than going through an exporter, because the models are rebuilt
//! from Rust weights; the reader ([`read_metadata`]) decodes only the fields it needs so
//! that a 20 MB model is not copied into memory twice just to look at its description.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use prost::Message;
use tract_onnx::pb;

/// Name of the single graph input, float32 `[batch, channels, length]`.
pub const INPUT: &str = "x";
/// Name of the single graph output, float32 `[batch]` or `[batch, tasks]`.
pub const OUTPUT: &str = "y";
/// Symbolic name of the batch dimension.
pub const BATCH_DIM: &str = "batch";
/// Operator set the writer declares (default ONNX domain).
pub const OPSET: i64 = 17;
/// IR version matching opset 17 (ONNX 1.12); readers older than that refuse newer IRs.
pub const IR_VERSION: i64 = 8;

/// Keys of the `metadata_props` entries that make a model file self-describing.
pub mod meta {
    /// JSON of [`crate::Preprocessing`]: length, flank/padding, alphabet order, channel
    /// layout, N policy, reverse-complement averaging.
    pub const PREPROCESSING: &str = "preprocessing";
    /// JSON array of output names, one per column of `y` (e.g. `["expression"]`,
    /// `["dev","hk"]`).
    pub const OUTPUTS: &str = "outputs";
    /// The full model.json (architecture and hyperparameters); opaque to `infer`.
    pub const MODEL: &str = "model";
    pub const NAME: &str = "name";
    pub const VERSION: &str = "version";
    /// `int8` or `fp16` in a reduced-precision variant (`crate::precision`); absent in
    /// the model as exported.
    pub const PRECISION: &str = "precision";
    pub const LICENSE: &str = "license";
    /// Where the weights come from (paper, checkpoint, training run).
    pub const PROVENANCE: &str = "provenance";
}

#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("cannot read ONNX model {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{} is not an ONNX model: {reason}", path.display())]
    NotOnnx { path: PathBuf, reason: String },
    #[error("cannot write ONNX model {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// A tensor dimension in a graph input or output declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A named, run-time-sized dimension (the batch).
    Sym(&'static str),
    Fixed(i64),
}

/// Element types the models use (float tensors, int64 shapes/indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    F32,
    I64,
}

impl Elem {
    fn data_type(self) -> i32 {
        match self {
            Elem::F32 => pb::tensor_proto::DataType::Float as i32,
            Elem::I64 => pb::tensor_proto::DataType::Int64 as i32,
        }
    }
}

/// A node attribute: name and value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Int(&'static str, i64),
    Ints(&'static str, Vec<i64>),
    Float(&'static str, f32),
    Floats(&'static str, Vec<f32>),
    String(&'static str, String),
}

impl Attr {
    fn into_proto(self) -> pb::AttributeProto {
        use pb::attribute_proto::AttributeType as T;
        let mut a = pb::AttributeProto::default();
        match self {
            Attr::Int(n, v) => {
                a.name = n.into();
                a.r#type = T::Int as i32;
                a.i = v;
            }
            Attr::Ints(n, v) => {
                a.name = n.into();
                a.r#type = T::Ints as i32;
                a.ints = v;
            }
            Attr::Float(n, v) => {
                a.name = n.into();
                a.r#type = T::Float as i32;
                a.f = v;
            }
            Attr::Floats(n, v) => {
                a.name = n.into();
                a.r#type = T::Floats as i32;
                a.floats = v;
            }
            Attr::String(n, v) => {
                a.name = n.into();
                a.r#type = T::String as i32;
                a.s = v.into_bytes();
            }
        }
        a
    }
}

/// Incremental builder of a single-graph ONNX model.
///
/// Names are the only wiring in ONNX, so every value name the builder hands out
/// (initialisers, [`GraphBuilder::fresh`], [`GraphBuilder::op`]) is unique within the
/// graph; names passed explicitly to [`GraphBuilder::node`] are recorded so that later
/// fresh names cannot collide with them.
#[derive(Debug, Clone)]
pub struct GraphBuilder {
    graph: pb::GraphProto,
    metadata: Vec<(String, String)>,
    used: HashSet<String>,
    producer: String,
}

impl GraphBuilder {
    pub fn new(name: &str) -> GraphBuilder {
        GraphBuilder {
            graph: pb::GraphProto { name: name.to_string(), ..Default::default() },
            metadata: Vec::new(),
            used: HashSet::new(),
            producer: format!("infer {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Overrides the `producer_name` recorded in the file (default `infer <version>`).
    pub fn producer(&mut self, producer: &str) -> &mut Self {
        self.producer = producer.to_string();
        self
    }

    /// A name not used yet in this graph: `prefix` itself if free, else `prefix_1`,
    /// `prefix_2`, ...
    pub fn fresh(&mut self, prefix: &str) -> String {
        let mut candidate = prefix.to_string();
        let mut k = 1usize;
        while self.used.contains(&candidate) {
            candidate = format!("{prefix}_{k}");
            k += 1;
        }
        self.used.insert(candidate.clone());
        candidate
    }

    fn value_info(name: &str, elem: Elem, dims: &[Dim]) -> pb::ValueInfoProto {
        use pb::tensor_shape_proto::{dimension::Value, Dimension};
        let dim = dims
            .iter()
            .map(|d| Dimension {
                denotation: String::new(),
                value: Some(match d {
                    Dim::Sym(s) => Value::DimParam(s.to_string()),
                    Dim::Fixed(n) => Value::DimValue(*n),
                }),
            })
            .collect();
        pb::ValueInfoProto {
            name: name.to_string(),
            r#type: Some(pb::TypeProto {
                denotation: String::new(),
                value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                    elem_type: elem.data_type(),
                    shape: Some(pb::TensorShapeProto { dim }),
                })),
            }),
            ..Default::default()
        }
    }

    /// Declares a graph input. The name is used verbatim (it is the model's interface).
    pub fn input(&mut self, name: &str, elem: Elem, dims: &[Dim]) -> &mut Self {
        self.used.insert(name.to_string());
        self.graph.input.push(Self::value_info(name, elem, dims));
        self
    }

    /// Declares a graph output; some node must produce a value of that name.
    pub fn output(&mut self, name: &str, elem: Elem, dims: &[Dim]) -> &mut Self {
        self.used.insert(name.to_string());
        self.graph.output.push(Self::value_info(name, elem, dims));
        self
    }

    fn initializer(&mut self, name: &str, shape: &[i64], elem: Elem, raw: Vec<u8>) -> String {
        let name = self.fresh(name);
        self.graph.initializer.push(pb::TensorProto {
            dims: shape.to_vec(),
            data_type: elem.data_type(),
            name: name.clone(),
            raw_data: raw,
            ..Default::default()
        });
        name
    }

    /// Adds a float32 constant tensor (stored little-endian in `raw_data`) and returns
    /// its unique name. A length that disagrees with the shape is a bug in the exporter,
    /// hence the panic rather than an error.
    pub fn initializer_f32(&mut self, name: &str, shape: &[i64], data: &[f32]) -> String {
        let n: i64 = shape.iter().product();
        assert_eq!(n as usize, data.len(), "initializer {name}: shape {shape:?} needs {n} values");
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, shape, Elem::F32, raw)
    }

    /// Adds an int64 constant tensor (shapes, axes, bin indices) and returns its name.
    pub fn initializer_i64(&mut self, name: &str, shape: &[i64], data: &[i64]) -> String {
        let n: i64 = shape.iter().product();
        assert_eq!(n as usize, data.len(), "initializer {name}: shape {shape:?} needs {n} values");
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, shape, Elem::I64, raw)
    }

    /// Adds a node with explicitly named outputs. An empty input name marks an omitted
    /// optional input (ONNX convention, e.g. LSTM's `sequence_lens`).
    pub fn node(&mut self, op_type: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<Attr>) -> &mut Self {
        for o in outputs {
            self.used.insert(o.to_string());
        }
        let node_name = self.fresh(&format!("{op_type}_node"));
        self.graph.node.push(pb::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name: node_name,
            op_type: op_type.to_string(),
            attribute: attrs.into_iter().map(Attr::into_proto).collect(),
            ..Default::default()
        });
        self
    }

    /// Adds a single-output node whose output gets a fresh name derived from the
    /// operator, and returns that name: the common case when chaining layers.
    pub fn op(&mut self, op_type: &str, inputs: &[&str], attrs: Vec<Attr>) -> String {
        let out = self.fresh(&op_type.to_ascii_lowercase());
        self.node(op_type, inputs, &[&out], attrs);
        out
    }

    /// Records a `metadata_props` entry; a repeated key replaces the earlier value
    /// (ONNX wants keys distinct).
    pub fn metadata(&mut self, key: &str, value: &str) -> &mut Self {
        if let Some(slot) = self.metadata.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value.to_string();
        } else {
            self.metadata.push((key.to_string(), value.to_string()));
        }
        self
    }

    pub fn to_model(&self) -> pb::ModelProto {
        pb::ModelProto {
            ir_version: IR_VERSION,
            opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: OPSET }],
            producer_name: self.producer.clone(),
            producer_version: String::new(),
            graph: Some(self.graph.clone()),
            metadata_props: self
                .metadata
                .iter()
                .map(|(k, v)| pb::StringStringEntryProto { key: k.clone(), value: v.clone() })
                .collect(),
            ..Default::default()
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_model().encode_to_vec()
    }

    /// Writes the model atomically: a temporary file in the target directory renamed
    /// over `path`, so a reader never sees a half-written model.
    #[cfg(feature = "native")]
    pub fn save(&self, path: &Path) -> Result<(), OnnxError> {
        write_atomic(path, &self.to_bytes())
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
#[cfg(feature = "native")]
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OnnxError> {
    crate::atomic::write(path, bytes).map_err(|source| OnnxError::Write { path: path.to_path_buf(), source })
}

/// The parts of `ModelProto` the reader needs. Protobuf skips unknown fields, so the
/// graph (with all weights) is stepped over instead of decoded and copied.
#[derive(Clone, PartialEq, prost::Message)]
struct ModelHeader {
    #[prost(int64, tag = "1")]
    ir_version: i64,
    #[prost(message, repeated, tag = "8")]
    opset_import: Vec<pb::OperatorSetIdProto>,
    #[prost(message, repeated, tag = "14")]
    metadata_props: Vec<pb::StringStringEntryProto>,
}

/// Reads the `metadata_props` of an ONNX file.
pub fn read_metadata(path: &Path) -> Result<BTreeMap<String, String>, OnnxError> {
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Read { path: path.to_path_buf(), source })?;
    metadata_from_bytes(&bytes).map_err(|reason| OnnxError::NotOnnx { path: path.to_path_buf(), reason })
}

/// Decodes the `metadata_props` of an in-memory ONNX model.
pub fn metadata_from_bytes(bytes: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let header = ModelHeader::decode(bytes).map_err(|e| format!("protobuf decoding failed ({e})"))?;
    // Any byte soup that happens to parse has no IR version or opset; a real model has both.
    if header.ir_version <= 0 || header.opset_import.is_empty() {
        return Err("no IR version or operator set declared".to_string());
    }
    let mut map = BTreeMap::new();
    for entry in header.metadata_props {
        map.insert(entry.key, entry.value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_names_are_unique_and_respect_explicit_names() {
        let mut g = GraphBuilder::new("t");
        g.input("x", Elem::F32, &[Dim::Sym("batch"), Dim::Fixed(4)]);
        assert_eq!(g.fresh("x"), "x_1");
        assert_eq!(g.fresh("conv"), "conv");
        assert_eq!(g.fresh("conv"), "conv_1");
        let w = g.initializer_f32("conv", &[2], &[1.0, 2.0]);
        assert_eq!(w, "conv_2");
    }

    #[test]
    fn metadata_round_trips_and_garbage_is_refused() {
        let mut g = GraphBuilder::new("t");
        g.input("x", Elem::F32, &[Dim::Sym("batch")]);
        g.output("y", Elem::F32, &[Dim::Sym("batch")]);
        g.node("Identity", &["x"], &["y"], vec![]);
        g.metadata(meta::NAME, "first").metadata(meta::NAME, "dream-rnn").metadata(meta::OUTPUTS, "[\"expression\"]");
        let bytes = g.to_bytes();
        let m = metadata_from_bytes(&bytes).unwrap();
        assert_eq!(m.get(meta::NAME).map(String::as_str), Some("dream-rnn"));
        assert_eq!(m.len(), 2);
        assert!(metadata_from_bytes(b"ACGT\tnot a model\n").is_err());
        assert!(metadata_from_bytes(&[]).is_err());
    }
}
