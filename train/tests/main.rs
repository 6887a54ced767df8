//! The package's integration tests, one binary: each module below was a test binary
//! of its own, and every one of them linked the whole crate and its dependencies
//! (tract, ONNX Runtime, libtorch), which filled the CI machine's disk.

mod cli_regressions;
mod compact;
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
