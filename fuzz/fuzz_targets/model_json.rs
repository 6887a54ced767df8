#![no_main]
//! model.json validation asks the block families (train::model::family), which build
//! libtorch tensors, so this target links train (and libtorch: set LIBTORCH as for the
//! main workspace) instead of compiling train/src/model/spec.rs in by #[path].

use train::model::spec;

#[path = "../entries/model_json.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::run(data));
