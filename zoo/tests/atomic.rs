//! The one atomic writer (`zoo::atomic`, re-exported as `infer::atomic`): permissions and
//! no leftovers.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Mode bits a process with this umask gives a file created with `mode`.
fn expected(mode: u32) -> u32 {
    // Linux reports the umask in /proc; elsewhere assume the usual 022.
    let mask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022);
    mode & !mask
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn publish_wrote_index_json_owner_only_0600() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("run");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("model.onnx"), b"onnx bytes").unwrap();
    let registry = tmp.path().join("registry");
    let version = semver::Version::parse("1.2.3").unwrap();
    let published = zoo::publish(&src, &registry, "tiny", &version, None, None).unwrap();
    let index = registry.join("index.json");
    assert_eq!(mode(&index), expected(0o644), "index.json mode {:o}", mode(&index));
    // The published version directory came from a tempdir (0700) too.
    assert_eq!(mode(&published.dir), 0o755, "version dir mode {:o}", mode(&published.dir));
    assert_eq!(mode(&published.dir.join("model.onnx")), expected(0o644));
}

#[test]
fn atomic_write_replaces_whole_and_leaves_no_temporary() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("scores.tsv");
    zoo::atomic::write(&path, b"old\n").unwrap();
    zoo::atomic::write(&path, b"new contents\n").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new contents\n");
    assert_eq!(mode(&path), expected(0o644));
    let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("scores.tsv")], "leftovers: {names:?}");
    // A bare file name writes into the current directory's parent "." without panicking.
    assert!(zoo::atomic::write(Path::new(""), b"x").is_err());
}
