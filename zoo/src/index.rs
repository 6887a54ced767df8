//! The registry index (`index.json`): model name -> versions -> files + model card.
//!
//! Maps are `BTreeMap`s so the file is written with sorted keys and diffs stay small
//! and stable. Structure is checked when the index is parsed; the per-file safety checks
//! (paths, hashes, mirror URLs) run when a version is used, so one bad entry does not
//! make `zoo list` unusable, yet nothing from that entry ever touches the disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, ZooError};
use crate::layout::safe_relative_path;
use crate::spec::ModelSpec;

pub const INDEX_FILE: &str = "index.json";
/// Newest index schema this code understands.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    #[serde(default = "schema_one")]
    pub schema: u32,
    #[serde(default)]
    pub models: BTreeMap<String, ModelEntry>,
}

fn schema_one() -> u32 {
    SCHEMA_VERSION
}

impl Default for Index {
    fn default() -> Self {
        Index {
            schema: SCHEMA_VERSION,
            models: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Version that `name` without `@version` means; absent = newest release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Version>,
    #[serde(default)]
    pub versions: BTreeMap<Version, VersionEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionEntry {
    /// Relative path inside `<name>/<version>/` -> size and hash.
    pub files: BTreeMap<String, FileEntry>,
    #[serde(default)]
    pub card: ModelCard,
    /// Set for entries built at pull time from the authors' own file (see `upstream`);
    /// their `files` are empty in the index and filled in the cache manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<crate::upstream::Upstream>,
    /// Set for entries whose registry holds the weights once and whose other artifacts
    /// are built from them at pull time (see `derived`); the cache manifest lists them
    /// among `files` with the hashes the build produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived: Option<crate::derived::Derived>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub size: u64,
    /// Lowercase hex sha256 of the file contents.
    pub sha256: String,
    /// Absolute http(s) URLs holding the same bytes, tried in order after the registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<String>,
}

/// What a user needs to know before trusting a model's numbers. Every field is optional
/// so that partial cards can be published; `zoo info` says what is missing. Unknown
/// fields are kept (`extra`) rather than dropped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Opaque to the zoo; `infer` interprets it (taken from model.json on publish).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Value>,
    /// The input contract (padding, one-hot layout, RC channels...), from model.json.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocessing: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citation: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    /// Which data the number was computed on (e.g. "test, 71,103 sequences").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// How it was measured (subset, weighting, script) so it can be reproduced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A version's files after the safety checks, ready to be fetched.
#[derive(Debug, Clone)]
pub struct CheckedFile {
    /// As written in the index (used in URLs and messages).
    pub name: String,
    /// Same, as a path known to stay inside the version directory.
    pub rel: PathBuf,
    pub entry: FileEntry,
}

impl Index {
    pub fn parse(bytes: &[u8], location: &str) -> Result<Index> {
        let index: Index = serde_json::from_slice(bytes).map_err(|e| ZooError::InvalidIndex {
            location: location.to_string(),
            reason: e.to_string(),
        })?;
        if index.schema > SCHEMA_VERSION {
            return Err(ZooError::InvalidIndex {
                location: location.to_string(),
                reason: format!(
                    "schema {} is newer than this zoo understands ({SCHEMA_VERSION}); upgrade zoo",
                    index.schema
                ),
            });
        }
        Ok(index)
    }

    pub fn load(path: &Path) -> Result<Index> {
        let bytes = std::fs::read(path).map_err(|e| ZooError::io("cannot read", path, e))?;
        Index::parse(&bytes, &path.display().to_string())
    }

    pub fn to_json_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("index serialises");
        s.push('\n');
        s
    }

    /// Replaces `path` atomically: readers see the old or the new index, never half.
    pub fn save_atomic(&self, path: &Path) -> Result<()> {
        crate::atomic::write(path, self.to_json_pretty().as_bytes())
            .map_err(|e| ZooError::io("cannot write", path, e))
    }

    /// The version a spec means and its entry.
    pub fn select(&self, spec: &ModelSpec, registry: &str) -> Result<(Version, &VersionEntry)> {
        let model = self.models.get(&spec.name).ok_or_else(|| ZooError::NotFound {
            name: spec.name.clone(),
            registry: registry.to_string(),
        })?;
        let version = match &spec.version {
            Some(v) => v.clone(),
            None => model.default_version(&spec.name, registry)?.clone(),
        };
        match model.versions.get(&version) {
            Some(entry) => Ok((version, entry)),
            None => Err(ZooError::NoSuchVersion {
                name: spec.name.clone(),
                version: version.to_string(),
                registry: registry.to_string(),
                available: model.available(),
            }),
        }
    }
}

impl ModelEntry {
    /// `default` when set, else the newest release, else the newest pre-release.
    pub fn default_version(&self, name: &str, registry: &str) -> Result<&Version> {
        if let Some(d) = &self.default {
            return self
                .versions
                .get_key_value(d)
                .map(|(k, _)| k)
                .ok_or_else(|| ZooError::InvalidIndex {
                    location: registry.to_string(),
                    reason: format!("model {name:?}: default version {d} is not among its versions"),
                });
        }
        newest(self.versions.keys()).ok_or_else(|| ZooError::NoSuchVersion {
            name: name.to_string(),
            version: "(any)".into(),
            registry: registry.to_string(),
            available: "none".into(),
        })
    }

    pub fn available(&self) -> String {
        if self.versions.is_empty() {
            return "none".into();
        }
        self.versions.keys().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
    }
}

/// Newest release if there is one, else newest pre-release.
pub fn newest<'a>(versions: impl Iterator<Item = &'a Version> + Clone) -> Option<&'a Version> {
    versions
        .clone()
        .filter(|v| v.pre.is_empty())
        .max()
        .or_else(|| versions.max())
}

impl VersionEntry {
    /// Rejects anything in this entry that could write outside the model directory or
    /// can never verify; `context` names the entry in messages (`dream-rnn@0.1.0`).
    pub fn checked_files(&self, context: &str) -> Result<Vec<CheckedFile>> {
        if self.files.is_empty() {
            return Err(ZooError::InvalidIndex {
                location: context.to_string(),
                reason: "version lists no files".into(),
            });
        }
        let mut out = Vec::with_capacity(self.files.len());
        for (name, entry) in &self.files {
            let rel = safe_relative_path(name).map_err(|reason| ZooError::UnsafePath {
                path: name.clone(),
                context: context.to_string(),
                reason,
            })?;
            if !is_sha256_hex(&entry.sha256) {
                return Err(ZooError::InvalidIndex {
                    location: context.to_string(),
                    reason: format!("file {name:?}: sha256 {:?} is not 64 hex digits", entry.sha256),
                });
            }
            for m in &entry.mirrors {
                if !(m.starts_with("https://") || m.starts_with("http://")) {
                    return Err(ZooError::InvalidIndex {
                        location: context.to_string(),
                        reason: format!("file {name:?}: mirror {m:?} is not an http(s) URL"),
                    });
                }
            }
            let mut entry = entry.clone();
            entry.sha256.make_ascii_lowercase();
            out.push(CheckedFile {
                name: name.clone(),
                rel,
                entry,
            });
        }
        // A file "a" and a file "a/b" cannot both exist.
        for f in &out {
            if out.iter().any(|g| g.rel != f.rel && g.rel.starts_with(&f.rel)) {
                return Err(ZooError::UnsafePath {
                    path: f.name.clone(),
                    context: context.to_string(),
                    reason: "is both a file and a directory of other files".into(),
                });
            }
        }
        Ok(out)
    }

    /// Files fetched from the registry plus those built at pull time; sizes of the
    /// latter are known only after a pull.
    pub fn total_size(&self) -> u64 {
        self.files.values().map(|f| f.size).sum::<u64>()
            + if self.files.is_empty() { self.upstream.as_ref().and_then(|u| u.size).unwrap_or(0) } else { 0 }
    }
}

pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn sample() -> Index {
        let json = format!(
            r#"{{"schema": 1, "models": {{
                "dream-rnn": {{"versions": {{
                    "0.1.0": {{"files": {{"model.onnx": {{"size": 3, "sha256": "{SHA}"}}}}}},
                    "0.2.0": {{"files": {{"model.onnx": {{"size": 3, "sha256": "{SHA}"}}}},
                              "card": {{"license": "MIT", "metrics": [{{"name": "pearson", "value": 0.8, "how": "test set"}}], "custom": 1}}}},
                    "0.3.0-rc.1": {{"files": {{"model.onnx": {{"size": 3, "sha256": "{SHA}"}}}}}}
                }}}},
                "pinned": {{"default": "0.1.0", "versions": {{
                    "0.1.0": {{"files": {{"a": {{"size": 3, "sha256": "{SHA}"}}}}}},
                    "0.2.0": {{"files": {{"a": {{"size": 3, "sha256": "{SHA}"}}}}}}
                }}}}
            }}}}"#
        );
        Index::parse(json.as_bytes(), "test").unwrap()
    }

    #[test]
    fn default_is_newest_release_unless_pinned() {
        let idx = sample();
        let (v, _) = idx.select(&ModelSpec::parse("dream-rnn").unwrap(), "r").unwrap();
        assert_eq!(v.to_string(), "0.2.0");
        let (v, _) = idx.select(&ModelSpec::parse("pinned").unwrap(), "r").unwrap();
        assert_eq!(v.to_string(), "0.1.0");
        let (v, _) = idx.select(&ModelSpec::parse("dream-rnn@0.3.0-rc.1").unwrap(), "r").unwrap();
        assert_eq!(v.to_string(), "0.3.0-rc.1");
    }

    #[test]
    fn unknown_model_and_version() {
        let idx = sample();
        let e = idx.select(&ModelSpec::parse("nope").unwrap(), "r").unwrap_err();
        assert!(matches!(e, ZooError::NotFound { .. }));
        let e = idx.select(&ModelSpec::parse("dream-rnn@9.9.9").unwrap(), "r").unwrap_err();
        assert!(e.to_string().contains("0.1.0, 0.2.0, 0.3.0-rc.1"), "{e}");
    }

    #[test]
    fn round_trip_keeps_unknown_card_fields_and_sorted_keys() {
        let idx = sample();
        let text = idx.to_json_pretty();
        let again = Index::parse(text.as_bytes(), "again").unwrap();
        assert_eq!(idx, again);
        assert!(text.contains("\"custom\": 1"));
        assert!(text.find("\"dream-rnn\"").unwrap() < text.find("\"pinned\"").unwrap());
    }

    #[test]
    fn parse_errors_name_the_location() {
        let e = Index::parse(b"{\"models\": {\"m\": {\"versions\": {\"1.0\": {}}}}}", "/x/index.json").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/x/index.json") && msg.contains("line 1"), "{msg}");
        let e = Index::parse(b"{\"schema\": 99}", "i").unwrap_err();
        assert!(e.to_string().contains("newer"));
    }

    #[test]
    fn checked_files_rejects_traversal_and_bad_hashes() {
        let mut entry = sample().models["dream-rnn"].versions[&Version::new(0, 1, 0)].clone();
        assert_eq!(entry.checked_files("c").unwrap().len(), 1);
        let good = entry.files["model.onnx"].clone();
        entry.files.insert("../evil".into(), good.clone());
        assert!(matches!(entry.checked_files("c"), Err(ZooError::UnsafePath { .. })));
        entry.files.remove("../evil");
        entry.files.insert("x".into(), FileEntry { sha256: "zz".into(), ..good.clone() });
        assert!(matches!(entry.checked_files("c"), Err(ZooError::InvalidIndex { .. })));
        entry.files.remove("x");
        entry.files.insert("d".into(), good.clone());
        entry.files.insert("d/e".into(), good);
        assert!(matches!(entry.checked_files("c"), Err(ZooError::UnsafePath { .. })));
    }

    #[test]
    fn empty_registry_parses() {
        let idx = Index::parse(br#"{"schema": 1, "models": {}}"#, "e").unwrap();
        assert!(idx.models.is_empty());
    }
}
