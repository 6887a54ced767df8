#![no_main]
//! train/src/model/spec.rs needs only serde and infer::Preprocessing; compiled in
//! directly so the harness does not link libtorch.

/// spec.rs reads this constant from the libtorch blocks module; train/tests/fuzz_replay.rs
/// checks the two agree.
mod blocks {
    pub const UNLOCKDNA_HEADS: i64 = 4;
}

#[path = "../../train/src/model/spec.rs"]
#[allow(dead_code)]
mod spec;

#[path = "../entries/model_json.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::run(data));
