//! Where models are published: a local directory or an http(s) base URL holding
//! `index.json` and `<name>/<version>/<files>`.

use std::fmt;
use std::path::{Path, PathBuf};

use semver::Version;

use crate::error::{Result, ZooError};
use crate::fetch::Source;
use crate::index::{CheckedFile, INDEX_FILE};
use crate::layout;

/// The registry shipped with this repository (`weights/`), found at compile time so a
/// fresh clone works with no configuration and no network.
pub const BUILTIN_REGISTRY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../weights");

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registry {
    /// A directory holding `index.json` and `<name>/<version>/<files>`.
    Local { dir: PathBuf },
    /// An http(s) base URL under which the same layout is served.
    Http { base: String },
}

impl Registry {
    /// Accepts `https://...`, `http://...`, `file:///abs/dir` or a plain directory path;
    /// a location ending in `index.json` means its directory.
    pub fn parse(s: &str) -> Result<Registry> {
        let invalid = |reason: &str| ZooError::InvalidRegistry {
            registry: s.to_string(),
            reason: reason.to_string(),
        };
        let s_trim = s.trim();
        if s_trim.is_empty() {
            return Err(invalid("empty registry location"));
        }
        if s_trim.starts_with("http://") || s_trim.starts_with("https://") {
            let base = s_trim.trim_end_matches('/');
            let base = base.strip_suffix(&format!("/{INDEX_FILE}")).unwrap_or(base);
            if base.split_once("://").is_none_or(|(_, host)| host.is_empty()) {
                return Err(invalid("URL has no host"));
            }
            return Ok(Registry::Http {
                base: base.to_string(),
            });
        }
        let path = if let Some(rest) = s_trim.strip_prefix("file://") {
            let rest = rest.strip_prefix("localhost").unwrap_or(rest);
            if !rest.starts_with('/') {
                return Err(invalid("file:// URLs must hold an absolute path (file:///dir)"));
            }
            PathBuf::from(percent_decode(rest).ok_or_else(|| invalid("bad %-escape in file:// URL"))?)
        } else if s_trim.contains("://") {
            return Err(invalid("unsupported scheme; use https://, http://, file:// or a path"));
        } else {
            PathBuf::from(s_trim)
        };
        let path = std::path::absolute(&path).unwrap_or(path);
        let dir = if path.file_name().is_some_and(|f| f == INDEX_FILE) {
            path.parent().map(Path::to_path_buf).unwrap_or(path)
        } else {
            path
        };
        Ok(Registry::Local { dir })
    }

    pub fn builtin() -> Registry {
        let raw = PathBuf::from(BUILTIN_REGISTRY_DIR);
        Registry::Local {
            dir: raw.canonicalize().unwrap_or(raw),
        }
    }

    pub fn local_dir(&self) -> Option<&Path> {
        match self {
            Registry::Local { dir } => Some(dir),
            Registry::Http { .. } => None,
        }
    }

    pub(crate) fn index_location(&self) -> String {
        match self {
            Registry::Local { dir } => dir.join(INDEX_FILE).display().to_string(),
            Registry::Http { base } => format!("{base}/{INDEX_FILE}"),
        }
    }

    /// The registry's own copy first, then the index's mirrors.
    pub(crate) fn sources(&self, name: &str, version: &Version, file: &CheckedFile) -> Vec<Source> {
        let primary = match self {
            Registry::Local { dir } => Source::Local(layout::registry_file(dir, name, version, &file.rel)),
            Registry::Http { base } => Source::Url(layout::registry_url(base, name, version, &file.name)),
        };
        std::iter::once(primary)
            .chain(file.entry.mirrors.iter().cloned().map(Source::Url))
            .collect()
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Registry::Local { dir } => write!(f, "{}", dir.display()),
            Registry::Http { base } => f.write_str(base),
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_locations_parse() {
        assert_eq!(
            Registry::parse("https://example.org/zoo/").unwrap(),
            Registry::Http { base: "https://example.org/zoo".into() }
        );
        assert_eq!(
            Registry::parse("http://127.0.0.1:8000/r/index.json").unwrap(),
            Registry::Http { base: "http://127.0.0.1:8000/r".into() }
        );
        assert_eq!(
            Registry::parse("file:///tmp/my%20weights").unwrap(),
            Registry::Local { dir: "/tmp/my weights".into() }
        );
        assert_eq!(
            Registry::parse("/srv/weights/index.json").unwrap(),
            Registry::Local { dir: "/srv/weights".into() }
        );
        for bad in ["", "ftp://x/y", "file://relative/dir", "https://"] {
            assert!(matches!(Registry::parse(bad), Err(ZooError::InvalidRegistry { .. })), "{bad}");
        }
    }

    #[test]
    fn builtin_registry_is_the_repository_weights_dir() {
        let Registry::Local { dir } = Registry::builtin() else { panic!() };
        assert!(dir.join(INDEX_FILE).is_file(), "{}", dir.display());
    }
}
