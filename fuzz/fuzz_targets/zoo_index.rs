#![no_main]

#[path = "../entries/zoo_index.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::run(data));
