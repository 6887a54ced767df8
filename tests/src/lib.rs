//! Helpers the end-to-end tests in tests/tests/ share: the workspace's binaries, the
//! repository and fixture paths, and running a command that must succeed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A binary `cargo test --workspace` built next to the running test.
pub fn bin(name: &str) -> PathBuf {
    // target/<profile>/deps/<test>-<hash> -> target/<profile>/<name>
    let exe = std::env::current_exe().unwrap();
    let p = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(p.is_file(), "{} not built: run `cargo test --workspace`", p.display());
    p
}

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A path under the shared fixtures and data (`../shared` next to the repository).
pub fn shared(rel: &str) -> PathBuf {
    root().join("../shared").join(rel)
}

/// The built-in registry's index, `weights/index.json`.
pub fn weights_index() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("weights/index.json")).unwrap()).unwrap()
}

/// Runs `cmd`, failing the test with its stderr unless it succeeds.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed ({:?}):\n{}",
        cmd,
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A zoo cache of its own; the registry is the repository's weights/ (no network).
pub fn isolated<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    cmd.env("ZOO_HOME", home).env_remove("ZOO_OFFLINE").env_remove("ZOO_REGISTRY")
}

/// The rows of a reference `predict.tsv` fixture: raw sequence -> the team's prediction.
pub fn predict_rows(path: &Path) -> Vec<(String, f64)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (s, v) = l.split_once('\t').unwrap();
            (s.to_string(), v.parse().unwrap())
        })
        .collect()
}
