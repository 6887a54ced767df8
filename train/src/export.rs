//! The artifact directory every model leaves the training stack as:
//! `model.safetensors` (reference names), `model.json` (description) and `model.onnx`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::model::PrixFixeNet;

pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const DESCRIPTION_FILE: &str = "model.json";
pub const ONNX_FILE: &str = "model.onnx";

/// Where a model's weights came from, recorded in model.json and the ONNX metadata.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Provenance {
    pub source: String,
    pub source_sha256: Option<String>,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub training: serde_json::Value,
}

impl Provenance {
    pub fn from_weights_file(path: &Path) -> std::io::Result<Self> {
        Ok(Provenance {
            source: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            source_sha256: Some(sha256_file(path)?),
            created_by: concat!("train ", env!("CARGO_PKG_VERSION")).to_string(),
            training: serde_json::Value::Null,
        })
    }
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    zoo::hash::sha256_file(path).map(|(_, hex)| hex)
}

/// Writes the three artifacts into `out` (created if needed), each atomically.
pub fn write_artifacts(net: &PrixFixeNet, out: &Path, provenance: Provenance) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut desc = net.desc.clone();
    desc.provenance = serde_json::to_value(&provenance)?;
    let weights = out.join(WEIGHTS_FILE);
    net.store.save_safetensors(&weights)?;
    let json = out.join(DESCRIPTION_FILE);
    let text = serde_json::to_string_pretty(&desc)? + "\n";
    infer::atomic::write(&json, text.as_bytes())?;
    let onnx = out.join(ONNX_FILE);
    net.onnx_graph(&desc).save(&onnx)?;
    Ok(vec![weights, json, onnx])
}
