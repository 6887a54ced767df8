//! `zoo publish`: copy a `train export` directory into a directory registry.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;
use semver::Version;

use crate::derived::Derived;
use crate::error::{Result, ZooError};
use crate::index::{newest, FileEntry, Index, ModelCard, ModelEntry, VersionEntry, INDEX_FILE};
use crate::layout::safe_relative_path;
use crate::spec::validate_name;

/// Card fields, if present, in an export directory.
pub const CARD_FILE: &str = "card.json";
/// Model description written by `train export`; its `architecture` and `preprocessing`
/// keys are copied into the card.
pub const MODEL_JSON: &str = "model.json";
/// In a published version directory until its index entry is written.
const INCOMPLETE_MARKER: &str = ".publishing-incomplete";

#[derive(Debug, Clone)]
pub struct Published {
    pub name: String,
    pub version: Version,
    /// `<registry>/<name>/<version>`.
    pub dir: PathBuf,
    pub entry: VersionEntry,
}

/// Copies every regular file under `src_dir` to `<registry_dir>/<name>/<version>/`,
/// records sizes and sha256 in `index.json` and makes the newest release the default.
/// `card` overrides `card.json` from `src_dir`; `architecture`/`preprocessing` missing
/// from the card are filled from `model.json`. Published versions are immutable: an
/// existing version (in the index or on disk) is an error, never overwritten. With
/// `derived`, the files it names are left out and built at pull time instead.
pub fn publish(
    src_dir: &Path,
    registry_dir: &Path,
    name: &str,
    version: &Version,
    card: Option<ModelCard>,
    derived: Option<Derived>,
) -> Result<Published> {
    validate_name(name).map_err(|reason| ZooError::InvalidSpec {
        spec: name.to_string(),
        reason,
    })?;
    if !src_dir.is_dir() {
        return Err(ZooError::InvalidInput {
            path: src_dir.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let mut sources = collect_files(src_dir)?;
    if let Some(d) = &derived {
        sources.retain(|(rel, _)| !d.files.contains(rel));
    }
    if sources.is_empty() {
        return Err(ZooError::InvalidInput {
            path: src_dir.to_path_buf(),
            reason: "no files to publish".into(),
        });
    }
    let card = build_card(src_dir, card)?;

    std::fs::create_dir_all(registry_dir).map_err(|e| ZooError::io("cannot create", registry_dir, e))?;
    // Two publishers must not both read-modify-write the index; the lock is on the
    // directory itself so the registry gains no lock file.
    let dir_handle = File::open(registry_dir).map_err(|e| ZooError::io("cannot open", registry_dir, e))?;
    FileExt::lock_exclusive(&dir_handle).map_err(|e| ZooError::io("cannot lock", registry_dir, e))?;

    let index_path = registry_dir.join(INDEX_FILE);
    let mut index = if index_path.exists() {
        Index::load(&index_path)?
    } else {
        Index::default()
    };
    let target = registry_dir.join(name).join(version.to_string());
    // A publish killed between moving the files into place and writing the index leaves
    // a version directory the index does not list, marked incomplete; under the lock it
    // can only be such a remain, and it would block every retry.
    let in_index = index.models.get(name).is_some_and(|m| m.versions.contains_key(version));
    if target.join(INCOMPLETE_MARKER).exists() {
        if in_index {
            let _ = std::fs::remove_file(target.join(INCOMPLETE_MARKER));
        } else {
            std::fs::remove_dir_all(&target).map_err(|e| ZooError::io("cannot remove the remains of an interrupted publish", &target, e))?;
        }
    }
    let already = index
        .models
        .get(name)
        .is_some_and(|m| m.versions.contains_key(version));
    if already || target.exists() {
        return Err(ZooError::AlreadyPublished {
            name: name.to_string(),
            version: version.to_string(),
            registry: registry_dir.to_path_buf(),
        });
    }

    let model_dir = registry_dir.join(name);
    std::fs::create_dir_all(&model_dir).map_err(|e| ZooError::io("cannot create", &model_dir, e))?;
    // Staging directories of publishes killed before their rename (we hold the lock).
    if let Ok(entries) = std::fs::read_dir(&model_dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(".publishing-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let staging = tempfile::Builder::new()
        .prefix(".publishing-")
        .tempdir_in(&model_dir)
        .map_err(|e| ZooError::io("cannot create a staging directory in", &model_dir, e))?;
    // tempfile makes the directory owner-only; a published version is for everyone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| ZooError::io("cannot set permissions of", staging.path(), e))?;
    }
    let mut files = BTreeMap::new();
    for (rel_name, src) in &sources {
        let dst = staging.path().join(rel_name);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ZooError::io("cannot create", parent, e))?;
        }
        let (size, sha256) = crate::hash::copy_hashing(src, &dst, &mut |_| {})?;
        files.insert(
            rel_name.clone(),
            FileEntry {
                size,
                sha256,
                mirrors: Vec::new(),
            },
        );
    }
    let marker = staging.path().join(INCOMPLETE_MARKER);
    File::create(&marker).map_err(|e| ZooError::io("cannot create", &marker, e))?;
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, &target) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(ZooError::io("cannot move into place", target, e));
    }

    let entry = VersionEntry { files, card, upstream: None, derived };
    let model = index.models.entry(name.to_string()).or_insert_with(|| ModelEntry {
        description: None,
        default: None,
        versions: BTreeMap::new(),
    });
    model.versions.insert(version.clone(), entry.clone());
    model.default = newest(model.versions.keys()).cloned();
    if let Err(e) = index.save_atomic(&index_path) {
        // Files without an index entry would block a retry with "already published".
        let _ = std::fs::remove_dir_all(&target);
        return Err(e);
    }
    let _ = std::fs::remove_file(target.join(INCOMPLETE_MARKER));
    Ok(Published {
        name: name.to_string(),
        version: version.clone(),
        dir: target,
        entry,
    })
}

/// Regular files under `dir` as ('/'-separated relative name, path), sorted.
fn collect_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| ZooError::io("cannot list", &d, e))?;
        for ent in rd {
            let ent = ent.map_err(|e| ZooError::io("cannot list", &d, e))?;
            let path = ent.path();
            let fname = ent.file_name().into_string().map_err(|_| ZooError::InvalidInput {
                path: path.clone(),
                reason: "file name is not UTF-8".into(),
            })?;
            let rel = if prefix.is_empty() { fname } else { format!("{prefix}/{fname}") };
            let ft = ent.file_type().map_err(|e| ZooError::io("cannot stat", &path, e))?;
            if ft.is_dir() {
                stack.push((path, rel));
            } else if ft.is_file() {
                safe_relative_path(&rel).map_err(|reason| ZooError::InvalidInput {
                    path: path.clone(),
                    reason: format!("cannot be published under this name: {reason}"),
                })?;
                out.push((rel, path));
            } else {
                return Err(ZooError::InvalidInput {
                    path,
                    reason: "not a regular file (symlinks and special files are not published; copy the file in)".into(),
                });
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).map_err(|e| ZooError::io("cannot read", path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| ZooError::InvalidInput {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn build_card(src_dir: &Path, card: Option<ModelCard>) -> Result<ModelCard> {
    let mut card = match card {
        Some(c) => c,
        None => {
            let path = src_dir.join(CARD_FILE);
            if path.is_file() {
                serde_json::from_value(read_json(&path)?).map_err(|e| ZooError::InvalidInput {
                    path,
                    reason: format!("not a model card: {e}"),
                })?
            } else {
                ModelCard::default()
            }
        }
    };
    let model_json = src_dir.join(MODEL_JSON);
    if model_json.is_file() {
        let v = read_json(&model_json)?;
        if card.architecture.is_none() {
            card.architecture = v.get("architecture").cloned();
        }
        if card.preprocessing.is_none() {
            card.preprocessing = v.get("preprocessing").cloned();
        }
    }
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_merges_model_json_fields() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(MODEL_JSON), r#"{"architecture": {"kind": "dream-rnn"}, "preprocessing": {"length": 150}, "other": 1}"#).unwrap();
        std::fs::write(d.path().join(CARD_FILE), r#"{"license": "MIT", "architecture": "from card"}"#).unwrap();
        let card = build_card(d.path(), None).unwrap();
        assert_eq!(card.license.as_deref(), Some("MIT"));
        assert_eq!(card.architecture, Some(serde_json::json!("from card")));
        assert_eq!(card.preprocessing, Some(serde_json::json!({"length": 150})));
    }

    #[test]
    fn bad_card_json_names_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(CARD_FILE), "{\n  \"license\": }").unwrap();
        let e = build_card(d.path(), None).unwrap_err().to_string();
        assert!(e.contains("card.json") && e.contains("line 2"), "{e}");
    }
}
