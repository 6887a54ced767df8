//! The one way this project writes a file that others read (registry index, cache
//! manifests, models, scores, checkpoints): a temporary file beside the target, synced,
//! then renamed over it, so a reader or a crash never leaves half a file. `infer` and
//! `train` re-export this module as `infer::atomic`.
//!
//! Files are created with mode 0644 less the process umask, like any file a shell
//! creates (tempfile's own default is 0600, which left a published `index.json`
//! readable by its owner only).

use std::io::Write;
use std::path::Path;

/// Mode of every file written here, before the umask.
pub const FILE_MODE: u32 = 0o644;

/// The directory a target lives in (`.` for a bare file name).
fn parent_of(target: &Path) -> &Path {
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A temporary file in the directory of `target`, created with [`FILE_MODE`] (less the
/// umask); write it, then [`commit`] it (or `persist` it yourself).
pub fn temp_beside(target: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(".tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(FILE_MODE));
    }
    b.tempfile_in(parent_of(target))
}

/// Syncs `tmp` and renames it over `target`, then syncs the directory so the rename
/// itself survives a power cut.
pub fn commit(tmp: tempfile::NamedTempFile, target: &Path) -> std::io::Result<()> {
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    sync_dir(parent_of(target));
    Ok(())
}

/// Writes `bytes` to `path` atomically (see the module documentation).
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = temp_beside(path)?;
    tmp.write_all(bytes)?;
    commit(tmp, path)
}

/// Best effort: a directory cannot be opened for syncing on every platform, and the
/// data itself is already synced.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
