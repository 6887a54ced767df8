#![no_main]
//! train/src/pth is pure Rust (zip + pickle); compiling its source in directly keeps
//! libtorch, which the train crate links, out of the harness.

#[path = "../../train/src/pth/mod.rs"]
#[allow(dead_code)]
mod pth;

#[path = "../entries/pth.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::run(data));
