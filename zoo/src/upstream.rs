//! Index entries that point at the authors' own files instead of our registry.
//!
//! Such an entry names an upstream URL, the file's git blob SHA-1 (`sha1("blob <size>\0"
//! + bytes)`, what `git hash-object` prints and what a git tree records, so it can be
//! checked against the authors' repository without trusting a download) and a converter.
//! `pull` downloads the file with the usual rules (`.part` + Range resume, retries with
//! backoff, the version lock), checks the blob hash, has the converter write `model.onnx`,
//! `model.safetensors` and `model.json`, then records the sha256 of every file in the
//! manifest: from then on the version is verified, resolved and used offline exactly like
//! a registry entry. A wrong blob hash leaves nothing in the cache.
//!
//! Converters live where the model code is (the `train` crate registers LegNet's); the
//! zoo only knows them by name through [`Converter`].

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use indicatif::ProgressBar;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::StatusCode;
use semver::Version;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::error::{Result, ZooError};
use crate::hash::{read_full, sha256_file, BUF_SIZE};
use crate::index::{FileEntry, VersionEntry};
use crate::layout;
use crate::cache::{remove_file_if_exists, Manifest, Pulled, Zoo};

/// Largest upstream file accepted when the index gives no size (model weights are MBs).
pub const MAX_UPSTREAM_BYTES: u64 = 4 << 30;
/// Where the verified upstream file is kept inside the version directory.
pub const UPSTREAM_DIR: &str = "upstream";

/// `upstream` of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    /// Absolute http(s) URL of the authors' file (for git: a `/raw/<commit>/<path>` URL).
    pub url: String,
    /// Lowercase hex git blob SHA-1 of the file.
    pub git_blob_sha1: String,
    /// Bytes, when known; optional because the blob hash already covers the size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Name of the [`Converter`] that turns the file into the usual artifacts.
    pub converter: String,
    /// Free-form settings for the converter (e.g. which preprocessing the weights expect).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub options: serde_json::Value,
    /// Where the file lives, for people (repository, commit, path, license).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source: BTreeMap<String, String>,
}

impl Upstream {
    /// File name the download is kept under (`upstream/<last URL segment>`).
    pub fn file_name(&self) -> String {
        let last = self.url.rsplit('/').next().unwrap_or("").split(['?', '#']).next().unwrap_or("");
        let ok = !last.is_empty() && layout::safe_relative_path(last).is_ok();
        format!("{UPSTREAM_DIR}/{}", if ok { last } else { "weights" })
    }

    /// Structural checks on untrusted index data, before anything touches the disk.
    pub fn check(&self, context: &str) -> Result<()> {
        let bad = |reason: String| ZooError::InvalidIndex { location: context.to_string(), reason };
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            return Err(bad(format!("upstream url {:?} is not an http(s) URL", self.url)));
        }
        if !is_sha1_hex(&self.git_blob_sha1) {
            return Err(bad(format!("upstream git_blob_sha1 {:?} is not 40 hex digits", self.git_blob_sha1)));
        }
        if self.converter.trim().is_empty() {
            return Err(bad("upstream entry names no converter".into()));
        }
        Ok(())
    }
}

pub fn is_sha1_hex(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `git hash-object` of a file: SHA-1 of `"blob <size>\0"` followed by the bytes.
pub fn git_blob_sha1_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = File::open(path)?;
    let size = f.metadata()?.len();
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {size}\0").as_bytes());
    let mut buf = vec![0u8; BUF_SIZE];
    let mut total = 0u64;
    loop {
        let n = read_full(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    if total != size {
        return Err(std::io::Error::other(format!("{} changed while being hashed", path.display())));
    }
    Ok((size, hex::encode(hasher.finalize())))
}

pub fn git_blob_sha1(bytes: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

/// What a converter is given.
pub struct ConvertRequest<'a> {
    pub name: &'a str,
    pub version: &'a Version,
    /// The downloaded, blob-verified upstream file; for a derived entry, the version
    /// directory holding its verified published files.
    pub source: &'a Path,
    /// `None` for a derived entry.
    pub upstream: Option<&'a Upstream>,
    pub entry: &'a VersionEntry,
    /// Empty directory to write `model.onnx`, `model.safetensors`, `model.json` into.
    pub out_dir: &'a Path,
}

/// Turns an upstream file into the artifacts every zoo model has. Implemented where the
/// model code lives (the zoo cannot depend on it).
pub trait Converter: Send + Sync {
    /// The name index entries use (`upstream.converter`).
    fn name(&self) -> &str;
    fn convert(&self, req: &ConvertRequest<'_>) -> std::result::Result<(), String>;
}

/// The converters a [`Zoo`] can run.
#[derive(Clone, Default)]
pub struct Converters(Vec<Arc<dyn Converter>>);

impl Converters {
    pub fn add(&mut self, c: Arc<dyn Converter>) {
        self.0.retain(|o| o.name() != c.name());
        self.0.push(c);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Converter>> {
        self.0.iter().find(|c| c.name() == name)
    }
}

/// Files the conversion of an upstream file must leave.
pub const CONVERTED_FILES: [&str; 3] = ["model.onnx", "model.safetensors", "model.json"];

/// Whether a cached version was built from the same upstream file the index now names.
pub(crate) fn same_upstream(cached: &VersionEntry, index: &VersionEntry) -> bool {
    match (&cached.upstream, &index.upstream) {
        (Some(a), Some(b)) => {
            a.git_blob_sha1.eq_ignore_ascii_case(&b.git_blob_sha1) && a.converter == b.converter && a.options == b.options
        }
        _ => false,
    }
}

impl Zoo {
    /// `pull` of an entry with `upstream`: download, blob check, conversion, manifest.
    pub(crate) fn pull_upstream(&self, name: &str, version: &Version, entry: &VersionEntry) -> Result<Pulled> {
        let label = format!("{name}@{version}");
        let up = entry.upstream.as_ref().expect("caller checked");
        up.check(&label)?;
        let Some(converter) = self.converters().get(&up.converter).cloned() else {
            return Err(ZooError::NeedsConverter {
                model: label,
                converter: up.converter.clone(),
                url: up.url.clone(),
            });
        };
        let _lock = self.lock_version(name, version)?;
        if let Some(c) = self.cached_version(name, version)? {
            if same_upstream(&c.manifest.entry, entry) {
                return Ok(Pulled { name: name.into(), version: version.clone(), dir: c.dir, fetched_files: 0, fetched_bytes: 0 });
            }
        }
        let dir = layout::version_dir(&self.home, name, version);
        let manifest_path = layout::manifest_path(&self.home, name, version);
        // From here the version is incomplete until the manifest is rewritten.
        remove_file_if_exists(&manifest_path)?;

        let source_rel = up.file_name();
        let source = dir.join(&source_rel);
        let parent = source.parent().expect("has a parent");
        std::fs::create_dir_all(parent).map_err(|e| ZooError::io("cannot create", parent, e))?;
        let part = layout::part_path(&source);
        let pb = self.progress_bar(up.size.unwrap_or(0), &label);
        let fetched = match self.fetch_upstream(up, &source, &part, &label, &pb) {
            Ok(n) => n,
            Err(e) => {
                pb.abandon();
                if !part.exists() {
                    self.prune_empty_dirs(name, version, Path::new(&source_rel));
                }
                return Err(e);
            }
        };
        pb.finish_and_clear();

        // The converter writes into a fresh directory beside the version; only complete
        // artifacts are moved in.
        let models = layout::models_root(&self.home).join(name);
        let staging = tempfile::Builder::new()
            .prefix(".convert-")
            .tempdir_in(&models)
            .map_err(|e| ZooError::io("cannot create a temporary directory in", &models, e))?;
        let started = Instant::now();
        let req = ConvertRequest { name, version, source: &source, upstream: Some(up), entry, out_dir: staging.path() };
        converter.convert(&req).map_err(|reason| ZooError::Conversion { model: label.clone(), reason })?;
        let seconds = started.elapsed().as_secs_f64();
        let mut files = BTreeMap::new();
        for f in CONVERTED_FILES {
            let from = staging.path().join(f);
            let to = dir.join(f);
            let (size, sha256) = sha256_file(&from).map_err(|e| ZooError::Conversion {
                model: label.clone(),
                reason: format!("converter {:?} did not write {f}: {e}", up.converter),
            })?;
            std::fs::rename(&from, &to).map_err(|e| ZooError::io("cannot move into place", &to, e))?;
            files.insert(f.to_string(), FileEntry { size, sha256, mirrors: Vec::new() });
        }
        let (size, sha256) = sha256_file(&source).map_err(|e| ZooError::io("cannot read", &source, e))?;
        files.insert(source_rel, FileEntry { size, sha256, mirrors: Vec::new() });
        let mut converted = entry.clone();
        converted.files = files;
        let mut card = converted.card.clone();
        card.extra.insert(
            "converted".into(),
            serde_json::json!({ "converter": up.converter, "seconds": (seconds * 100.0).round() / 100.0 }),
        );
        converted.card = card;
        let manifest =
            Manifest { name: name.to_string(), version: version.clone(), registry: self.registry().to_string(), entry: converted };
        crate::cache::write_json_atomic(&manifest_path, &manifest)?;
        Ok(Pulled { name: name.into(), version: version.clone(), dir, fetched_files: 1, fetched_bytes: fetched })
    }

    /// Leaves the blob-verified file at `dest` (or fails with nothing but a resumable
    /// `.part` after a network problem, and nothing at all after a content mismatch).
    fn fetch_upstream(&self, up: &Upstream, dest: &Path, part: &Path, label: &str, pb: &ProgressBar) -> Result<u64> {
        let want = up.git_blob_sha1.to_ascii_lowercase();
        if let Ok((_, sha)) = git_blob_sha1_file(dest) {
            if sha == want {
                return Ok(0);
            }
            remove_file_if_exists(dest)?;
        }
        let mut resumed = std::fs::metadata(part).is_ok_and(|m| m.len() > 0);
        loop {
            let len = self.download_resumable(&up.url, part, up.size, label, pb)?;
            let (_, actual) = git_blob_sha1_file(part).map_err(|e| ZooError::io("cannot read", part, e))?;
            if actual == want && up.size.is_none_or(|s| s == len) {
                std::fs::rename(part, dest).map_err(|e| ZooError::io("cannot move into place", dest, e))?;
                return Ok(len);
            }
            remove_file_if_exists(part)?;
            if resumed {
                // The kept prefix may be what is wrong; one clean download decides.
                resumed = false;
                pb.set_position(0);
                continue;
            }
            return Err(ZooError::GitBlobMismatch { file: format!("{label} ({})", up.url), expected: want, actual });
        }
    }

    /// GET `url` into `part`, resuming what is there with Range; retries transient
    /// failures with backoff. Returns the final length; the content is judged by the caller.
    fn download_resumable(&self, url: &str, part: &Path, size: Option<u64>, label: &str, pb: &ProgressBar) -> Result<u64> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(part)
            .map_err(|e| ZooError::io("cannot open", part, e))?;
        let mut len = file.metadata().map_err(|e| ZooError::io("cannot stat", part, e))?.len();
        if size.is_some_and(|s| len > s) {
            len = 0;
        }
        let truncate = |file: &mut File, to: u64| -> Result<()> {
            file.set_len(to)
                .and_then(|_| file.seek(SeekFrom::Start(to)).map(|_| ()))
                .map_err(|e| ZooError::io("cannot truncate", part, e))
        };
        truncate(&mut file, len)?;
        pb.set_position(len);
        let limit = size.unwrap_or(MAX_UPSTREAM_BYTES);
        let mut buf = vec![0u8; BUF_SIZE];
        let mut failures = 0u32;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let before = len;
            let outcome: Result<bool> = (|| {
                let mut req = self.fetcher.client()?.get(url);
                if len > 0 {
                    req = req.header(RANGE, format!("bytes={len}-"));
                }
                let mut resp = req.send().map_err(|e| crate::fetch::classify(&e, url))?;
                let status = resp.status();
                if status == StatusCode::RANGE_NOT_SATISFIABLE && len > 0 {
                    // Everything is already here (or the prefix is wrong: the hash decides).
                    return Ok(true);
                }
                if !status.is_success() {
                    return Err(ZooError::Http { status: status.as_u16(), url: resp.url().to_string() });
                }
                let header = |name| resp.headers().get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok()).map(str::to_string);
                let total = if status == StatusCode::PARTIAL_CONTENT {
                    match header(CONTENT_RANGE).as_deref().and_then(crate::fetch::parse_content_range) {
                        Some((start, total)) if start == len => total,
                        _ => {
                            // A range we did not ask for: start over rather than splice.
                            len = 0;
                            truncate(&mut file, 0)?;
                            pb.set_position(0);
                            return Ok(false);
                        }
                    }
                } else {
                    if len > 0 {
                        len = 0;
                        truncate(&mut file, 0)?;
                        pb.set_position(0);
                    }
                    header(CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok())
                };
                if let (Some(want), Some(got)) = (size, total) {
                    if want != got {
                        return Err(ZooError::SizeMismatch { file: label.to_string(), expected: want, actual: got });
                    }
                }
                if pb.length().unwrap_or(0) == 0 {
                    if let Some(t) = total {
                        pb.set_length(t);
                    }
                }
                loop {
                    let n = read_full(&mut resp, &mut buf).map_err(|e| crate::fetch::classify_io(&e, url))?;
                    if n == 0 {
                        break;
                    }
                    if len + n as u64 > total.unwrap_or(limit).min(limit) {
                        return Err(ZooError::SizeMismatch {
                            file: label.to_string(),
                            expected: total.unwrap_or(limit),
                            actual: len + n as u64,
                        });
                    }
                    file.write_all(&buf[..n]).map_err(|e| ZooError::io("cannot write", part, e))?;
                    len += n as u64;
                    pb.inc(n as u64);
                }
                match total {
                    Some(t) if len < t => Err(ZooError::Network {
                        url: url.to_string(),
                        message: format!("connection closed after {len} of {t} bytes"),
                    }),
                    _ => Ok(true),
                }
            })();
            match outcome {
                Ok(true) => {
                    file.sync_all().map_err(|e| ZooError::io("cannot write", part, e))?;
                    return Ok(len);
                }
                Ok(false) => continue,
                Err(e @ ZooError::SizeMismatch { .. }) => {
                    drop(file);
                    let _ = std::fs::remove_file(part);
                    return Err(e);
                }
                Err(e) if e.is_transient() && attempts < 100 => {
                    failures = if len > before { 1 } else { failures + 1 };
                    if failures > self.fetcher.net().retries {
                        return Err(e);
                    }
                    self.fetcher.backoff(failures);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_sha1_matches_git_hash_object() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(git_blob_sha1(b"hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
        // `git hash-object -t blob /dev/null`.
        assert_eq!(git_blob_sha1(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello\n").unwrap();
        assert_eq!(git_blob_sha1_file(&p).unwrap(), (6, "ce013625030ba8dba906f756967f9e9ca394464a".to_string()));
    }

    #[test]
    fn upstream_file_names_and_checks() {
        let up = Upstream {
            url: "https://github.com/autosome-ru/LegNet/raw/63773bb04a85dea33bdbf2e2350f7483cc2c96b5/models/dream2022/model_80.pth".into(),
            git_blob_sha1: "7d314e2f2f9bb1aba4a5a91d4598f687df12e3ce".into(),
            size: None,
            converter: "legnet".into(),
            options: serde_json::Value::Null,
            source: BTreeMap::new(),
        };
        assert_eq!(up.file_name(), "upstream/model_80.pth");
        up.check("c").unwrap();
        let odd = Upstream { url: "https://h/..".into(), ..up.clone() };
        assert_eq!(odd.file_name(), "upstream/weights");
        assert!(Upstream { git_blob_sha1: "abc".into(), ..up.clone() }.check("c").is_err());
        assert!(Upstream { url: "ftp://x/y".into(), ..up.clone() }.check("c").is_err());
        assert!(Upstream { converter: " ".into(), ..up }.check("c").is_err());
    }
}
