#![no_main]

#[path = "../entries/onnx.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(
    // libfuzzer-sys aborts on every panic, even one the code under test catches: infer
    // catches tract's panics on malformed graphs and turns them into load errors. A
    // panic that escapes is still caught by libfuzzer-sys around each input and reported.
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| entry::run(data)
);
