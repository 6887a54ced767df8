//! The package's integration tests, one binary: each module below was a test binary
//! of its own, and every one of them linked the whole crate and its dependencies
//! (tract, ONNX Runtime, libtorch), which filled the CI machine's disk.

mod support;

mod atomic;
mod derived;
mod fuzz_replay;
mod upstream;
mod zoo;
