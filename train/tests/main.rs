//! The package's integration tests, one binary: each module below was a test binary
//! of its own, and every one of them linked the whole crate and its dependencies
//! (tract, ONNX Runtime, libtorch), which filled the CI machine's disk.

mod cli_regressions;
mod compact;
mod recompute;
mod fit;
mod formats;
mod fuzz_replay;
mod legnet;
mod models;
mod pth;
mod recipe;
mod submissions;
mod team_recipes;
mod toy_family;

/// libtorch's random generator is one per process: a test that trains in this process
/// and compares seeded runs holds this, so no other such test reseeds or draws from it
/// in between.
pub(crate) fn torch_rng() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
