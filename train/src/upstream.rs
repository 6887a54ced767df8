//! Converters for zoo entries that point at the authors' own weights (`zoo::upstream`):
//! the zoo downloads and blob-checks the file, these build the model from it and write
//! the usual artifacts. They live here because the model code does (zoo <- infer <- train).

use std::sync::Arc;

use tch::Device;
use zoo::{ConvertRequest, Converter, Zoo};

use crate::export::{write_artifacts, Provenance, DESCRIPTION_FILE, ONNX_FILE, WEIGHTS_FILE};
use crate::model::{ModelDescription, PrixFixeNet};

/// The authors' LegNet `state_dict` (`torch.save(model.state_dict())`, as in
/// autosome-ru/LegNet `models/*/model_*.pth`) with the published hyper-parameters.
///
/// Converter option `"preprocessing"`: `"upstream"` (default; the authors' maintained
/// `legnet/test.py`, `N` = 0.25 per base, which produced their published predictions) or
/// `"submission"` (the DREAM submission copy, `N` = zeros).
pub struct LegnetConverter;

pub const LEGNET_CONVERTER: &str = "legnet";

impl Converter for LegnetConverter {
    fn name(&self) -> &str {
        LEGNET_CONVERTER
    }

    fn convert(&self, req: &ConvertRequest<'_>) -> Result<(), String> {
        let up = req.upstream.ok_or("the legnet converter reads an upstream file")?;
        let mut desc = ModelDescription::legnet();
        desc.preprocessing = match up.options.get("preprocessing").and_then(|v| v.as_str()) {
            None | Some("upstream") => infer::Preprocessing::legnet_upstream(),
            Some("submission") => infer::Preprocessing::dream_yeast(),
            Some(other) => return Err(format!("unknown legnet preprocessing option {other:?} (upstream, submission)")),
        };
        desc.name = req.name.to_string();
        desc.version = Some(req.version.to_string());
        desc.license = req.entry.card.license.clone();
        let net = PrixFixeNet::from_weights(desc, req.source, Device::Cpu).map_err(|e| format!("{e:#}"))?;
        let mut provenance = Provenance::from_weights_file(req.source).map_err(|e| e.to_string())?;
        provenance.source = up.url.clone();
        provenance.training = serde_json::json!({
            "git_blob_sha1": up.git_blob_sha1,
            "upstream": up.source,
            "trained_by": req.entry.card.extra.get("trained_by"),
            "converted_by": LEGNET_CONVERTER,
        });
        write_artifacts(&net, req.out_dir, provenance).map_err(|e| format!("{e:#}"))?;
        Ok(())
    }
}

/// `model.onnx` of a zoo entry published as weights (`zoo::Derived::onnx`): the network
/// its `model.json` describes, loaded strictly from its `model.safetensors` and exported
/// by the same code as `train export`, so the graph is the one training would have written.
pub struct OnnxExport;

impl Converter for OnnxExport {
    fn name(&self) -> &str {
        zoo::DERIVE_ONNX
    }

    fn convert(&self, req: &ConvertRequest<'_>) -> Result<(), String> {
        let dir = req.source;
        let desc = ModelDescription::from_file(&dir.join(DESCRIPTION_FILE)).map_err(|e| e.to_string())?;
        let net = PrixFixeNet::from_weights(desc, &dir.join(WEIGHTS_FILE), Device::Cpu).map_err(|e| format!("{e:#}"))?;
        net.onnx_graph(&net.desc).save(&req.out_dir.join(ONNX_FILE)).map_err(|e| format!("{e:#}"))
    }
}

/// Every converter this crate provides.
pub fn converters() -> Vec<Arc<dyn Converter>> {
    vec![Arc::new(LegnetConverter), Arc::new(OnnxExport)]
}

/// `zoo` configured from the environment, able to build upstream entries.
pub fn zoo_from_env() -> Result<Zoo, zoo::ZooError> {
    Ok(converters().into_iter().fold(Zoo::from_env()?, Zoo::with_converter))
}
