//! Index entries whose registry holds the weights once and whose other artifacts are
//! built from them at pull time.
//!
//! A model published as `model.safetensors` + `model.json` can have its `model.onnx`
//! exported on the user's machine instead of being stored (and cloned) twice: the entry
//! names the files to build and the [`Converter`](crate::Converter) that builds them. `pull`
//! fetches and verifies the published files as usual, runs the converter on the version
//! directory, moves the complete outputs in and records their sha256 in the manifest:
//! from then on the version is verified, resolved and used offline exactly like any
//! other. A program without the converter (`zoo`, `infer`) stops before downloading with
//! a message naming `train pull`, which has it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::cache::{remove_file_if_exists, Zoo};
use crate::error::{Result, ZooError};
use crate::hash::sha256_file;
use crate::index::{FileEntry, VersionEntry};
use crate::layout::{self, safe_relative_path};
use crate::upstream::ConvertRequest;

/// The converter name for "export `model.onnx` from `model.safetensors` + `model.json`"
/// (registered by the `train` crate, where the model code lives).
pub const DERIVE_ONNX: &str = "onnx-export";

/// `derived` of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derived {
    /// Name of the converter that writes `files` from the version's published files.
    pub converter: String,
    /// Paths inside the version directory it writes (none of them published).
    pub files: Vec<String>,
}

impl Derived {
    /// `model.onnx` exported from the published weights.
    pub fn onnx() -> Derived {
        Derived { converter: DERIVE_ONNX.into(), files: vec!["model.onnx".into()] }
    }

    fn check(&self, entry: &VersionEntry, context: &str) -> Result<()> {
        if self.files.is_empty() {
            return Err(ZooError::InvalidIndex { location: context.into(), reason: "derived lists no files".into() });
        }
        for f in &self.files {
            safe_relative_path(f).map_err(|reason| ZooError::UnsafePath {
                path: f.clone(),
                context: context.into(),
                reason,
            })?;
            if entry.files.contains_key(f) {
                return Err(ZooError::InvalidIndex {
                    location: context.into(),
                    reason: format!("{f:?} is both published and derived"),
                });
            }
        }
        Ok(())
    }
}

/// Whether a cached version was built from the files the index now publishes, by the
/// same converter.
pub(crate) fn same_derived(cached: &VersionEntry, index: &VersionEntry) -> bool {
    index.derived.is_some()
        && cached.derived == index.derived
        && index.files.iter().all(|(name, f)| cached.files.get(name) == Some(f))
}

impl Zoo {
    /// Fails before anything is downloaded when this program cannot build the entry.
    pub(crate) fn check_derivable(&self, label: &str, entry: &VersionEntry) -> Result<()> {
        let Some(d) = &entry.derived else { return Ok(()) };
        d.check(entry, label)?;
        if self.converters().get(&d.converter).is_none() {
            return Err(ZooError::NeedsDerivation {
                model: label.to_string(),
                converter: d.converter.clone(),
                files: d.files.join(", "),
            });
        }
        Ok(())
    }

    /// Builds the derived files of a version whose published files are verified in
    /// `dir`; returns the entry the manifest records (published + derived files).
    pub(crate) fn derive(&self, name: &str, version: &Version, entry: &VersionEntry, dir: &Path) -> Result<VersionEntry> {
        let label = format!("{name}@{version}");
        let Some(d) = &entry.derived else { return Ok(entry.clone()) };
        self.check_derivable(&label, entry)?;
        let converter = self.converters().get(&d.converter).cloned().expect("checked");
        // Outputs are written beside the version and moved in only when all are there.
        let models = layout::models_root(self.home()).join(name);
        let staging = tempfile::Builder::new()
            .prefix(".derive-")
            .tempdir_in(&models)
            .map_err(|e| ZooError::io("cannot create a temporary directory in", &models, e))?;
        let started = Instant::now();
        let req = ConvertRequest { name, version, source: dir, upstream: None, entry, out_dir: staging.path() };
        converter.convert(&req).map_err(|reason| ZooError::Conversion { model: label.clone(), reason })?;
        let seconds = started.elapsed().as_secs_f64();
        let mut built = BTreeMap::new();
        for f in &d.files {
            let from = staging.path().join(f);
            let (size, sha256) = sha256_file(&from).map_err(|e| ZooError::Conversion {
                model: label.clone(),
                reason: format!("converter {:?} did not write {f}: {e}", d.converter),
            })?;
            built.insert(f.clone(), (from, FileEntry { size, sha256, mirrors: Vec::new() }));
        }
        let mut merged = entry.clone();
        for (f, (from, file)) in built {
            let to = dir.join(&f);
            remove_file_if_exists(&to)?;
            std::fs::rename(&from, &to).map_err(|e| ZooError::io("cannot move into place", &to, e))?;
            merged.files.insert(f, file);
        }
        merged.card.extra.insert(
            "derived".into(),
            serde_json::json!({ "converter": d.converter, "seconds": (seconds * 100.0).round() / 100.0 }),
        );
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::ModelCard;

    const SHA: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn entry(files: &[&str], derived: Option<Derived>) -> VersionEntry {
        let files = files
            .iter()
            .map(|f| (f.to_string(), FileEntry { size: 3, sha256: SHA.into(), mirrors: vec![] }))
            .collect();
        VersionEntry { files, card: ModelCard::default(), upstream: None, derived }
    }

    #[test]
    fn a_derived_file_may_not_also_be_published_or_leave_the_version_directory() {
        let ok = entry(&["model.safetensors"], Some(Derived::onnx()));
        assert!(Derived::onnx().check(&ok, "m@1.0.0").is_ok());
        let both = entry(&["model.safetensors", "model.onnx"], Some(Derived::onnx()));
        assert!(matches!(Derived::onnx().check(&both, "m@1.0.0"), Err(ZooError::InvalidIndex { .. })));
        let escape = Derived { converter: DERIVE_ONNX.into(), files: vec!["../x.onnx".into()] };
        assert!(matches!(escape.check(&ok, "m@1.0.0"), Err(ZooError::UnsafePath { .. })));
        let none = Derived { converter: DERIVE_ONNX.into(), files: vec![] };
        assert!(matches!(none.check(&ok, "m@1.0.0"), Err(ZooError::InvalidIndex { .. })));
    }

    #[test]
    fn a_cached_derivation_counts_only_while_the_published_files_are_unchanged() {
        let index = entry(&["model.safetensors"], Some(Derived::onnx()));
        let cached = entry(&["model.safetensors", "model.onnx"], Some(Derived::onnx()));
        assert!(same_derived(&cached, &index));
        let mut republished = index.clone();
        republished.files.get_mut("model.safetensors").unwrap().size = 4;
        assert!(!same_derived(&cached, &republished));
        let plain = entry(&["model.safetensors"], None);
        assert!(!same_derived(&cached, &plain), "an entry without derived files never matches this way");
    }
}
