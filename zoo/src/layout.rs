//! Where things live, as pure functions (no I/O) so the layout is testable and
//! documented in one place.
//!
//! Cache (`$ZOO_HOME`, else `$XDG_CACHE_HOME/zoo`, else `~/.cache/zoo`):
//!
//! ```text
//! models/<name>/<version>/<file>         verified model files: what `resolve` returns
//! models/<name>/<version>/<file>.part    a download in progress (resumed with Range)
//! meta/<name>/<version>.json             manifest: the index entry the files were checked
//!                                        against; written last, so it marks "complete"
//! meta/<name>/<version>.lock             exclusive lock held while pulling/removing
//! ```
//!
//! Registry (a directory or an http(s) base URL):
//!
//! ```text
//! index.json
//! <name>/<version>/<file>
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use semver::Version;

/// Suffix of partial downloads; index file names may not end with it.
pub const PART_SUFFIX: &str = ".part";

pub fn home_dir(zoo_home: Option<OsString>, xdg_cache: Option<PathBuf>) -> Option<PathBuf> {
    match zoo_home {
        Some(h) if !h.is_empty() => Some(PathBuf::from(h)),
        _ => xdg_cache.map(|c| c.join("zoo")),
    }
}

pub fn models_root(home: &Path) -> PathBuf {
    home.join("models")
}

pub fn version_dir(home: &Path, name: &str, version: &Version) -> PathBuf {
    home.join("models").join(name).join(version.to_string())
}

pub fn meta_dir(home: &Path, name: &str) -> PathBuf {
    home.join("meta").join(name)
}

pub fn manifest_path(home: &Path, name: &str, version: &Version) -> PathBuf {
    meta_dir(home, name).join(format!("{version}.json"))
}

pub fn lock_path(home: &Path, name: &str, version: &Version) -> PathBuf {
    meta_dir(home, name).join(format!("{version}.lock"))
}

pub fn part_path(final_path: &Path) -> PathBuf {
    let mut s = final_path.as_os_str().to_owned();
    s.push(PART_SUFFIX);
    PathBuf::from(s)
}

/// Path of a file inside a directory registry.
pub fn registry_file(registry_dir: &Path, name: &str, version: &Version, rel: &Path) -> PathBuf {
    registry_dir.join(name).join(version.to_string()).join(rel)
}

/// URL of a file inside an http(s) registry whose base (the directory holding
/// `index.json`) is `base`.
pub fn registry_url(base: &str, name: &str, version: &Version, rel: &str) -> String {
    let mut url = base.trim_end_matches('/').to_string();
    for seg in [name, &version.to_string()].into_iter().chain(rel.split('/')) {
        url.push('/');
        url.push_str(&percent_encode_segment(seg));
    }
    url
}

/// Checks a file name taken from an index (untrusted input) and returns it as a
/// relative path that stays inside the model directory.
pub fn safe_relative_path(path: &str) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.contains('\0') {
        return Err("contains a NUL byte".into());
    }
    if path.contains('\\') {
        return Err("contains a backslash (use '/' separators)".into());
    }
    if path.starts_with('/') {
        return Err("absolute path".into());
    }
    let mut out = PathBuf::new();
    for comp in path.split('/') {
        match comp {
            "" => return Err("empty path component ('//' or trailing '/')".into()),
            "." | ".." => return Err(format!("path component {comp:?} is not allowed")),
            _ if comp.contains(':') => {
                return Err("':' is not allowed (drive letters, alternate streams)".into())
            }
            _ if comp.len() > 255 => return Err("path component longer than 255 bytes".into()),
            _ => out.push(comp),
        }
    }
    if path.ends_with(PART_SUFFIX) {
        return Err(format!("names ending in {PART_SUFFIX:?} are reserved for partial downloads"));
    }
    Ok(out)
}

fn percent_encode_segment(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len());
    for b in seg.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn home_prefers_zoo_home() {
        assert_eq!(
            home_dir(Some("/z".into()), Some("/c".into())),
            Some(PathBuf::from("/z"))
        );
        assert_eq!(home_dir(Some("".into()), Some("/c".into())), Some(PathBuf::from("/c/zoo")));
        assert_eq!(home_dir(None, Some("/c".into())), Some(PathBuf::from("/c/zoo")));
        assert_eq!(home_dir(None, None), None);
    }

    #[test]
    fn cache_paths() {
        let h = Path::new("/h");
        assert_eq!(version_dir(h, "dream-rnn", &v("0.1.0")), Path::new("/h/models/dream-rnn/0.1.0"));
        assert_eq!(manifest_path(h, "dream-rnn", &v("0.1.0")), Path::new("/h/meta/dream-rnn/0.1.0.json"));
        assert_eq!(lock_path(h, "dream-rnn", &v("1.0.0-rc.1")), Path::new("/h/meta/dream-rnn/1.0.0-rc.1.lock"));
        assert_eq!(part_path(Path::new("/h/x/model.onnx")), Path::new("/h/x/model.onnx.part"));
    }

    #[test]
    fn registry_locations() {
        assert_eq!(
            registry_file(Path::new("/w"), "m", &v("0.1.0"), Path::new("a/b.onnx")),
            Path::new("/w/m/0.1.0/a/b.onnx")
        );
        assert_eq!(
            registry_url("http://h:1/base/", "m", &v("0.1.0"), "sub/a b.onnx"),
            "http://h:1/base/m/0.1.0/sub/a%20b.onnx"
        );
    }

    #[test]
    fn safe_paths_accepted() {
        assert_eq!(safe_relative_path("model.onnx").unwrap(), Path::new("model.onnx"));
        assert_eq!(safe_relative_path("onnx/model.onnx").unwrap(), Path::new("onnx/model.onnx"));
        assert_eq!(safe_relative_path("..weird-but-fine").unwrap(), Path::new("..weird-but-fine"));
    }

    #[test]
    fn escaping_paths_rejected() {
        for bad in [
            "", "../x", "a/../../x", "..", ".", "/etc/passwd", "a//b", "a/", "a\\..\\b",
            "C:/x", "./a", "model.onnx.part", "a\0b",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad:?} accepted");
        }
    }
}
