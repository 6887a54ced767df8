//! Replays every input the fuzzers found a crash with (fuzz/regressions/<target>/ for
//! pth, safetensors, model_json) through the fuzz targets' own entries.

use train::model::spec;
use train::pth;

#[path = "../../fuzz/entries/pth.rs"]
mod pth_entry;
#[path = "../../fuzz/entries/safetensors.rs"]
mod safetensors_entry;
#[path = "../../fuzz/entries/model_json.rs"]
mod model_json_entry;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions").join(target);
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "README.md") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("{}: the fuzz regression panics again", path.display());
        }
    }
}

#[test]
fn fuzz_regressions_pth() {
    replay("pth", pth_entry::run);
}

#[test]
fn fuzz_regressions_safetensors() {
    replay("safetensors", safetensors_entry::run);
}

#[test]
fn fuzz_regressions_model_json() {
    replay("model_json", model_json_entry::run);
}
