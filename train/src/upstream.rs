//! Converters for zoo entries that point at the authors' own weights (`zoo::upstream`):
//! the zoo downloads and blob-checks the file, these build the model from it and write
//! the usual artifacts. They live here because the model code does (zoo <- infer <- train).

use std::sync::Arc;

use tch::Device;
use zoo::{ConvertRequest, Converter, Zoo};

use crate::export::{write_artifacts, Provenance};
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
        let mut desc = ModelDescription::legnet();
        desc.preprocessing = match req.upstream.options.get("preprocessing").and_then(|v| v.as_str()) {
            None | Some("upstream") => infer::Preprocessing::legnet_upstream(),
            Some("submission") => infer::Preprocessing::dream_yeast(),
            Some(other) => return Err(format!("unknown legnet preprocessing option {other:?} (upstream, submission)")),
        };
        desc.name = req.name.to_string();
        desc.version = Some(req.version.to_string());
        desc.license = req.entry.card.license.clone();
        let net = PrixFixeNet::from_weights(desc, req.source, Device::Cpu).map_err(|e| format!("{e:#}"))?;
        let mut provenance = Provenance::from_weights_file(req.source).map_err(|e| e.to_string())?;
        provenance.source = req.upstream.url.clone();
        provenance.training = serde_json::json!({
            "git_blob_sha1": req.upstream.git_blob_sha1,
            "upstream": req.upstream.source,
            "trained_by": req.entry.card.extra.get("trained_by"),
            "converted_by": LEGNET_CONVERTER,
        });
        write_artifacts(&net, req.out_dir, provenance).map_err(|e| format!("{e:#}"))?;
        Ok(())
    }
}

/// Every converter this crate provides.
pub fn converters() -> Vec<Arc<dyn Converter>> {
    vec![Arc::new(LegnetConverter)]
}

/// `zoo` configured from the environment, able to build upstream entries.
pub fn zoo_from_env() -> Result<Zoo, zoo::ZooError> {
    Ok(converters().into_iter().fold(Zoo::from_env()?, Zoo::with_converter))
}
