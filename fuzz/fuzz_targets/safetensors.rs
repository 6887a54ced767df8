#![no_main]
//! See pth.rs: the reader is compiled in from train/src/pth without libtorch.

#[path = "../../train/src/pth/mod.rs"]
#[allow(dead_code)]
mod pth;

#[path = "../entries/safetensors.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::run(data));
