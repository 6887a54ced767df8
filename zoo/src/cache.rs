//! The cache and the operations on it: resolve, pull, verify, remove. (Registries are
//! in `registry`, configuration from the environment in `config`.)
//!
//! Local registries (the repository's `weights/`, `file://` URLs, plain paths) are
//! pulled exactly like remote ones: files are copied into the cache and verified. The
//! cache is then the single place `resolve` answers from, so a model pulled once keeps
//! working offline and no caller ever reads unverified bytes from a registry checkout.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use semver::Version;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ZooError};
use crate::fetch::{Fetcher, NetConfig};
use crate::hash::sha256_file;
use crate::index::{newest, Index, VersionEntry, INDEX_FILE};
use crate::layout;
use crate::registry::Registry;
use crate::spec::ModelSpec;

/// What the cache keeps beside a complete version: the index entry its files were
/// verified against (lets `verify`, `info` and offline use work without the registry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub version: Version,
    /// Where it was pulled from (informational).
    pub registry: String,
    pub entry: VersionEntry,
}

#[derive(Debug, Clone)]
pub struct CachedVersion {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

#[derive(Debug, Clone)]
pub struct Pulled {
    pub name: String,
    pub version: Version,
    pub dir: PathBuf,
    /// Files downloaded or copied by this call (0 when the cache already had them).
    pub fetched_files: usize,
    pub fetched_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub name: String,
    pub version: Version,
    pub dir: PathBuf,
    /// Empty when every file matched; otherwise one line per problem.
    pub problems: Vec<String>,
}

pub struct Zoo {
    registry: Registry,
    pub(crate) home: PathBuf,
    offline: bool,
    progress: bool,
    pub(crate) fetcher: Fetcher,
    converters: crate::upstream::Converters,
}

impl fmt::Debug for Zoo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Zoo")
            .field("registry", &self.registry)
            .field("home", &self.home)
            .field("offline", &self.offline)
            .finish()
    }
}

impl Zoo {
    pub fn new(registry: Registry, home: impl Into<PathBuf>) -> Zoo {
        Zoo {
            registry,
            home: home.into(),
            offline: false,
            progress: false,
            fetcher: Fetcher::new(NetConfig::default()),
            converters: Default::default(),
        }
    }

    pub fn with_offline(mut self, offline: bool) -> Zoo {
        self.offline = offline;
        self
    }

    pub fn with_progress(mut self, progress: bool) -> Zoo {
        self.progress = progress;
        self
    }

    pub fn with_net(mut self, net: NetConfig) -> Zoo {
        self.fetcher = Fetcher::new(net);
        self
    }

    /// Lets `pull` build upstream entries that name this converter.
    pub fn with_converter(mut self, converter: std::sync::Arc<dyn crate::upstream::Converter>) -> Zoo {
        self.converters.add(converter);
        self
    }

    pub(crate) fn converters(&self) -> &crate::upstream::Converters {
        &self.converters
    }

    pub fn with_registry(mut self, registry: Registry) -> Zoo {
        self.registry = registry;
        self
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// The registry's index (never consulted offline).
    pub fn index(&self) -> Result<Index> {
        if self.offline {
            return Err(ZooError::Offline {
                what: format!("the registry index ({})", self.registry.index_location()),
                home: self.home.clone(),
            });
        }
        match &self.registry {
            Registry::Local { dir } => Index::load(&dir.join(INDEX_FILE)),
            Registry::Http { .. } => {
                let url = self.registry.index_location();
                let bytes = self.fetcher.get_bytes(&url)?;
                Index::parse(&bytes, &url)
            }
        }
    }

    /// Local directory holding the files of `spec`, pulling them if the cache lacks them.
    /// A cached version is recognised by its manifest and file sizes (no re-hash: that
    /// is `verify`'s job), so resolving a cached model costs no I/O beyond a few stats and
    /// no network when the version is given.
    pub fn resolve(&self, spec: &ModelSpec) -> Result<PathBuf> {
        if let Some(v) = &spec.version {
            if let Some(c) = self.cached_version(&spec.name, v)? {
                return Ok(c.dir);
            }
        }
        if self.offline {
            return self.offline_pick(spec).map(|c| c.dir);
        }
        let index = self.index()?;
        let (version, entry) = index.select(spec, &self.registry.to_string())?;
        if let Some(c) = self.cached_version(&spec.name, &version)? {
            if c.manifest.entry.files == entry.files
                || crate::upstream::same_upstream(&c.manifest.entry, entry)
                || crate::derived::same_derived(&c.manifest.entry, entry)
            {
                return Ok(c.dir);
            }
        }
        self.pull_entry(&spec.name, &version, entry).map(|p| p.dir)
    }

    /// Fetches `spec` into the cache (or confirms, by re-hashing, that it is there).
    pub fn pull(&self, spec: &ModelSpec) -> Result<Pulled> {
        if self.offline {
            let c = self.offline_pick(spec)?;
            let report = self.verify_one(&c)?;
            if let Some(p) = report.problems.first() {
                return Err(ZooError::Offline {
                    what: format!("a verified copy of {}@{} ({p})", c.manifest.name, c.manifest.version),
                    home: self.home.clone(),
                });
            }
            return Ok(Pulled {
                name: c.manifest.name,
                version: c.manifest.version,
                dir: c.dir,
                fetched_files: 0,
                fetched_bytes: 0,
            });
        }
        let index = self.index()?;
        let (version, entry) = index.select(spec, &self.registry.to_string())?;
        self.pull_entry(&spec.name, &version, entry)
    }

    /// Model card and files of `spec`: from the registry, or offline from the cache.
    pub fn describe(&self, spec: &ModelSpec) -> Result<(Version, VersionEntry)> {
        if self.offline {
            let c = self.offline_pick(spec)?;
            return Ok((c.manifest.version, c.manifest.entry));
        }
        let index = self.index()?;
        let (v, e) = index.select(spec, &self.registry.to_string())?;
        Ok((v, e.clone()))
    }

    fn offline_pick(&self, spec: &ModelSpec) -> Result<CachedVersion> {
        let found = match &spec.version {
            Some(v) => self.cached_version(&spec.name, v)?,
            None => {
                let mut all: Vec<_> = self
                    .cached()?
                    .into_iter()
                    .filter(|c| c.manifest.name == spec.name)
                    .collect();
                let versions: Vec<Version> = all.iter().map(|c| c.manifest.version.clone()).collect();
                let pick = newest(versions.iter()).cloned();
                all.retain(|c| Some(&c.manifest.version) == pick.as_ref());
                all.pop()
            }
        };
        found.ok_or_else(|| ZooError::Offline {
            what: spec.to_string(),
            home: self.home.clone(),
        })
    }

    /// A complete cached version (manifest present, every file of the right size).
    pub fn cached_version(&self, name: &str, version: &Version) -> Result<Option<CachedVersion>> {
        let mpath = layout::manifest_path(&self.home, name, version);
        let bytes = match std::fs::read(&mpath) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ZooError::io("cannot read", mpath, e)),
        };
        // A damaged manifest only means "not complete": the next pull rewrites it.
        let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
            return Ok(None);
        };
        if manifest.name != name || &manifest.version != version {
            return Ok(None);
        }
        let dir = layout::version_dir(&self.home, name, version);
        let Ok(files) = manifest.entry.checked_files(&format!("{name}@{version}")) else {
            return Ok(None);
        };
        for f in &files {
            match std::fs::metadata(dir.join(&f.rel)) {
                Ok(m) if m.is_file() && m.len() == f.entry.size => {}
                _ => return Ok(None),
            }
        }
        Ok(Some(CachedVersion { dir, manifest }))
    }

    /// Every complete version in the cache, sorted by name then version.
    pub fn cached(&self) -> Result<Vec<CachedVersion>> {
        let meta = self.home.join("meta");
        let mut out = Vec::new();
        for name in list_dir(&meta)? {
            if crate::spec::validate_name(&name).is_err() {
                continue;
            }
            for file in list_dir(&meta.join(&name))? {
                let Some(v) = file.strip_suffix(".json").and_then(|v| Version::parse(v).ok()) else {
                    continue;
                };
                if let Some(c) = self.cached_version(&name, &v)? {
                    out.push(c);
                }
            }
        }
        out.sort_by(|a, b| (&a.manifest.name, &a.manifest.version).cmp(&(&b.manifest.name, &b.manifest.version)));
        Ok(out)
    }

    pub(crate) fn lock_version(&self, name: &str, version: &Version) -> Result<File> {
        let path = layout::lock_path(&self.home, name, version);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ZooError::io("cannot create", parent, e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| ZooError::io("cannot open lock file", &path, e))?;
        let got = FileExt::try_lock_exclusive(&file).map_err(|e| ZooError::io("cannot lock", &path, e))?;
        if !got {
            if self.progress {
                eprintln!("zoo: waiting for another process working on {name}@{version}");
            }
            FileExt::lock_exclusive(&file).map_err(|e| ZooError::io("cannot lock", &path, e))?;
        }
        Ok(file)
    }

    pub(crate) fn progress_bar(&self, total: u64, label: &str) -> ProgressBar {
        if !self.progress || total == 0 {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_message(label.to_string());
        pb
    }

    fn pull_entry(&self, name: &str, version: &Version, entry: &VersionEntry) -> Result<Pulled> {
        if entry.upstream.is_some() {
            return self.pull_upstream(name, version, entry);
        }
        let label = format!("{name}@{version}");
        // Every file name is checked before anything touches the disk.
        let files = entry.checked_files(&label)?;
        self.check_derivable(&label, entry)?;
        let _lock = self.lock_version(name, version)?;
        let dir = layout::version_dir(&self.home, name, version);
        let manifest_path = layout::manifest_path(&self.home, name, version);

        // The lock only orders cooperating processes; what is on disk is judged by hash.
        let mut todo = Vec::new();
        for f in &files {
            let path = dir.join(&f.rel);
            match sha256_file(&path) {
                Ok((size, sha)) if size == f.entry.size && sha == f.entry.sha256 => {}
                Ok(_) => {
                    remove_file_if_exists(&path)?;
                    todo.push(f);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => todo.push(f),
                Err(e) => return Err(ZooError::io("cannot read", path, e)),
            }
        }
        let up_to_date = |c: crate::CachedVersion| &c.manifest.entry == entry || crate::derived::same_derived(&c.manifest.entry, entry);
        if todo.is_empty() && self.cached_version(name, version)?.is_some_and(up_to_date) {
            return Ok(Pulled {
                name: name.to_string(),
                version: version.clone(),
                dir,
                fetched_files: 0,
                fetched_bytes: 0,
            });
        }
        // From here the version is incomplete until the manifest is rewritten.
        remove_file_if_exists(&manifest_path)?;

        let total: u64 = todo.iter().map(|f| f.entry.size).sum();
        let pb = self.progress_bar(total, &label);
        for f in &todo {
            let path = dir.join(&f.rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| ZooError::io("cannot create", parent, e))?;
            }
            let part = layout::part_path(&path);
            let file_label = format!("{label}/{}", f.name);
            let sources = self.registry.sources(name, version, f);
            if let Err(e) = self.fetcher.fetch_file(&sources, &part, &f.entry, &file_label, &pb) {
                pb.abandon();
                self.prune_empty_dirs(name, version, &f.rel);
                return Err(e);
            }
            std::fs::rename(&part, &path).map_err(|e| ZooError::io("cannot move into place", &path, e))?;
        }
        pb.finish_and_clear();

        let manifest = Manifest {
            name: name.to_string(),
            version: version.clone(),
            registry: self.registry.to_string(),
            entry: self.derive(name, version, entry, &dir)?,
        };
        write_json_atomic(&manifest_path, &manifest)?;
        Ok(Pulled {
            name: name.to_string(),
            version: version.clone(),
            dir,
            fetched_files: todo.len(),
            fetched_bytes: total,
        })
    }

    /// After a failed pull, leaves no empty directories behind (a failed first pull
    /// leaves the cache as it was, apart from resumable `.part` files and the lock).
    pub(crate) fn prune_empty_dirs(&self, name: &str, version: &Version, rel: &Path) {
        let vdir = layout::version_dir(&self.home, name, version);
        let mut p = vdir.join(rel);
        while p.pop() && p.starts_with(&vdir) {
            if std::fs::remove_dir(&p).is_err() {
                return;
            }
        }
        let _ = std::fs::remove_dir(layout::models_root(&self.home).join(name));
    }

    /// Re-hashes cached versions (all, or those matching `filter`). A version that fails
    /// loses its manifest, so the next `resolve`/`pull` repairs it instead of using it.
    pub fn verify(&self, filter: Option<&ModelSpec>) -> Result<Vec<VerifyReport>> {
        let mut reports = Vec::new();
        for c in self.cached_including_damaged()? {
            if let Some(f) = filter {
                if f.name != c.manifest.name || f.version.as_ref().is_some_and(|v| v != &c.manifest.version) {
                    continue;
                }
            }
            let _lock = self.lock_version(&c.manifest.name, &c.manifest.version)?;
            let report = self.verify_one(&c)?;
            if !report.problems.is_empty() {
                remove_file_if_exists(&layout::manifest_path(&self.home, &c.manifest.name, &c.manifest.version))?;
            }
            reports.push(report);
        }
        Ok(reports)
    }

    /// Versions with a readable manifest, whether or not their files are intact.
    fn cached_including_damaged(&self) -> Result<Vec<CachedVersion>> {
        let meta = self.home.join("meta");
        let mut out = Vec::new();
        for name in list_dir(&meta)? {
            for file in list_dir(&meta.join(&name))? {
                if !file.ends_with(".json") {
                    continue;
                }
                let path = meta.join(&name).join(&file);
                let bytes = std::fs::read(&path).map_err(|e| ZooError::io("cannot read", &path, e))?;
                let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
                    continue;
                };
                if crate::spec::validate_name(&manifest.name).is_err() || manifest.name != name {
                    continue;
                }
                let dir = layout::version_dir(&self.home, &manifest.name, &manifest.version);
                out.push(CachedVersion { dir, manifest });
            }
        }
        out.sort_by(|a, b| (&a.manifest.name, &a.manifest.version).cmp(&(&b.manifest.name, &b.manifest.version)));
        Ok(out)
    }

    fn verify_one(&self, c: &CachedVersion) -> Result<VerifyReport> {
        let m = &c.manifest;
        let mut problems = Vec::new();
        match m.entry.checked_files(&format!("{}@{}", m.name, m.version)) {
            Err(e) => problems.push(e.to_string()),
            Ok(files) => {
                for f in files {
                    let path = c.dir.join(&f.rel);
                    match sha256_file(&path) {
                        Ok((size, _)) if size != f.entry.size => {
                            problems.push(format!("{}: size {size}, expected {}", f.name, f.entry.size))
                        }
                        Ok((_, sha)) if sha != f.entry.sha256 => problems.push(format!(
                            "{}: sha256 {sha}, expected {}",
                            f.name, f.entry.sha256
                        )),
                        Ok(_) => {}
                        Err(e) => problems.push(format!("{}: {e}", f.name)),
                    }
                }
            }
        }
        Ok(VerifyReport {
            name: m.name.clone(),
            version: m.version.clone(),
            dir: c.dir.clone(),
            problems,
        })
    }

    /// Deletes cached versions of `spec` (one version, or all of that name). Returns the
    /// versions removed.
    pub fn remove(&self, spec: &ModelSpec) -> Result<Vec<Version>> {
        let mut versions: Vec<Version> = match &spec.version {
            Some(v) => vec![v.clone()],
            None => {
                let mut vs: Vec<Version> = list_dir(&layout::models_root(&self.home).join(&spec.name))?
                    .iter()
                    .chain(list_dir(&layout::meta_dir(&self.home, &spec.name))?.iter())
                    .filter_map(|f| Version::parse(f.strip_suffix(".json").unwrap_or(f)).ok())
                    .collect();
                vs.sort();
                vs.dedup();
                vs
            }
        };
        versions.retain(|v| {
            layout::version_dir(&self.home, &spec.name, v).exists()
                || layout::manifest_path(&self.home, &spec.name, v).exists()
        });
        if versions.is_empty() {
            return Err(ZooError::NotCached {
                what: spec.to_string(),
                home: self.home.clone(),
            });
        }
        for v in &versions {
            let _lock = self.lock_version(&spec.name, v)?;
            // Manifest first: a reader never sees "complete" with files half gone.
            remove_file_if_exists(&layout::manifest_path(&self.home, &spec.name, v))?;
            let dir = layout::version_dir(&self.home, &spec.name, v);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ZooError::io("cannot remove", dir, e)),
            }
        }
        let _ = std::fs::remove_dir(layout::models_root(&self.home).join(&spec.name));
        Ok(versions)
    }
}

pub(crate) fn remove_file_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ZooError::io("cannot remove", path, e)),
    }
}

/// File names (UTF-8 only) in a directory; a missing directory is empty.
fn list_dir(dir: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ZooError::io("cannot list", dir, e)),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| ZooError::io("cannot list", dir, e))?;
        if let Ok(name) = ent.file_name().into_string() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

pub(crate) fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ZooError::io("cannot create", dir, e))?;
    let mut text = serde_json::to_vec_pretty(value)
        .map_err(|e| ZooError::io("cannot serialise", path, std::io::Error::other(e)))?;
    text.push(b'\n');
    crate::atomic::write(path, &text).map_err(|e| ZooError::io("cannot write", path, e))
}
