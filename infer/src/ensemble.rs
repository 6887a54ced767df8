//! Ensembles as one model: the members' ONNX graphs side by side in one graph, fed the
//! same input, their outputs averaged by an ONNX `Mean` node. Every backend (tract, ONNX
//! Runtime, the browser) then scores an ensemble like any single model, with one
//! forward pass per batch and the members' shared preprocessing (reverse-complement
//! averaging included: the mean of averages is the average of means).
//!
//! Members must agree on the scoring contract: the same preprocessing and output names
//! (and so the same input and output shapes). Each member's tensors and nodes are renamed
//! under a prefix `m{i}.`; the merged model's metadata is member 0's, plus
//! [`meta::ENSEMBLE`](crate::onnx::meta) listing the members.

use std::path::Path;

use prost::Message;
use tract_onnx::pb;

use crate::onnx::{meta, INPUT, OUTPUT};

/// Metadata key: JSON array with one entry per member (`{"source": ...}`).
pub const ENSEMBLE_KEY: &str = "ensemble";

#[derive(Debug, thiserror::Error)]
pub enum EnsembleError {
    #[error("an ensemble needs at least two members, got {0}")]
    TooFew(usize),
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: {what} differs from the first member's; ensemble members must share preprocessing and outputs")]
    Mismatch { path: String, what: &'static str },
    #[error("{path}: the graph has subgraphs (node '{node}'), which merging does not rename")]
    Subgraph { path: String, node: String },
}

fn metadata(m: &pb::ModelProto, key: &str) -> Option<String> {
    m.metadata_props.iter().find(|e| e.key == key).map(|e| e.value.clone())
}

/// Renames one member's graph under `prefix`, keeping the shared input name, and
/// returns its renamed output.
fn rename_member(g: &mut pb::GraphProto, prefix: &str, path: &str) -> Result<String, EnsembleError> {
    let rename = |n: &mut String| {
        if !n.is_empty() && n != INPUT {
            *n = format!("{prefix}{n}");
        }
    };
    for node in &mut g.node {
        if node.attribute.iter().any(|a| a.g.is_some() || !a.graphs.is_empty()) {
            return Err(EnsembleError::Subgraph { path: path.to_string(), node: node.name.clone() });
        }
        node.input.iter_mut().for_each(rename);
        node.output.iter_mut().for_each(rename);
        rename(&mut node.name);
    }
    for t in &mut g.initializer {
        rename(&mut t.name);
    }
    for v in g.value_info.iter_mut().chain(g.output.iter_mut()) {
        rename(&mut v.name);
    }
    Ok(format!("{prefix}{OUTPUT}"))
}

/// One ONNX model averaging the models in `members` (each a `model.onnx` this project
/// wrote). `sources` (one per member) are recorded in the metadata.
pub fn merge(members: &[&Path], sources: &[String]) -> Result<pb::ModelProto, EnsembleError> {
    if members.len() < 2 {
        return Err(EnsembleError::TooFew(members.len()));
    }
    let mut merged: Option<pb::ModelProto> = None;
    let mut member_outputs = Vec::new();
    for (i, path) in members.iter().enumerate() {
        let shown = path.display().to_string();
        let read = |reason: String| EnsembleError::Read { path: shown.clone(), reason };
        let bytes = std::fs::read(path).map_err(|e| read(e.to_string()))?;
        let mut model = pb::ModelProto::decode(bytes.as_slice()).map_err(|e| read(format!("not an ONNX model ({e})")))?;
        let mut graph = model.graph.take().ok_or_else(|| read("no graph".into()))?;
        if let Some(first) = &merged {
            for (key, what) in [(meta::PREPROCESSING, "preprocessing"), (meta::OUTPUTS, "output names")] {
                if metadata(first, key) != metadata(&model, key) {
                    return Err(EnsembleError::Mismatch { path: shown, what });
                }
            }
            if first.opset_import != model.opset_import {
                return Err(EnsembleError::Mismatch { path: shown, what: "operator set" });
            }
        }
        member_outputs.push(rename_member(&mut graph, &format!("m{i}."), &shown)?);
        match &mut merged {
            None => {
                let mut g = graph;
                g.output.clear();
                model.graph = Some(g);
                merged = Some(model);
            }
            Some(m) => {
                let g = m.graph.as_mut().expect("merged graph");
                g.node.extend(graph.node);
                g.initializer.extend(graph.initializer);
                g.value_info.extend(graph.value_info);
            }
        }
    }
    let mut model = merged.expect("at least two members");
    // The declared output keeps member 0's type and shape under the plain name.
    let first_bytes = std::fs::read(members[0]).map_err(|e| EnsembleError::Read { path: members[0].display().to_string(), reason: e.to_string() })?;
    let first = pb::ModelProto::decode(first_bytes.as_slice())
        .map_err(|e| EnsembleError::Read { path: members[0].display().to_string(), reason: e.to_string() })?;
    let out_decl = first.graph.and_then(|g| g.output.into_iter().find(|o| o.name == OUTPUT));
    let g = model.graph.as_mut().expect("merged graph");
    g.node.push(pb::NodeProto {
        input: member_outputs,
        output: vec![OUTPUT.to_string()],
        name: "ensemble_mean".into(),
        op_type: "Mean".into(),
        ..Default::default()
    });
    g.output = out_decl.into_iter().collect();
    g.name = format!("ensemble of {}", members.len());
    let list: Vec<serde_json::Value> = sources.iter().map(|s| serde_json::json!({ "source": s })).collect();
    model.metadata_props.retain(|e| e.key != ENSEMBLE_KEY);
    model.metadata_props.push(pb::StringStringEntryProto {
        key: ENSEMBLE_KEY.into(),
        value: serde_json::Value::Array(list).to_string(),
    });
    Ok(model)
}

/// [`merge`], written atomically to `out`.
pub fn write(members: &[&Path], sources: &[String], out: &Path) -> anyhow::Result<()> {
    let model = merge(members, sources)?;
    crate::onnx::write_atomic(out, &model.encode_to_vec())?;
    Ok(())
}
