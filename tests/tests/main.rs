//! The package's integration tests, one binary: each module below was a test binary
//! of its own, and every one of them linked the whole crate and its dependencies
//! (tract, ONNX Runtime, libtorch), which filled the CI machine's disk.

mod browser;
mod e2e;
mod kill;
mod legnet_online;
mod legnet_upstream;
mod published;
mod teams;
