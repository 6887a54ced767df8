//! The package's integration tests, one binary: each module below was a test binary
//! of its own, and every one of them linked the whole crate and its dependencies
//! (tract, ONNX Runtime, libtorch), which filled the CI machine's disk.

mod support;

mod backend;
mod check_cli;
mod effects;
mod ensemble;
mod eval;
mod from_bytes;
mod fuzz_replay;
mod input;
mod limits;
mod preprocess;
mod rewrite;
mod score;
mod shard;
mod telemetry;
mod workflow;
