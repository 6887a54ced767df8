//! Replays every input the zoo index fuzzer found a crash with
//! (fuzz/regressions/zoo_index/) through the fuzz target's own entry.

#[path = "../../fuzz/entries/zoo_index.rs"]
mod zoo_index_entry;

use std::path::Path;

#[test]
fn fuzz_regressions_zoo_index() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/zoo_index");
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "README.md") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        if std::panic::catch_unwind(|| zoo_index_entry::run(&data)).is_err() {
            panic!("{}: the fuzz regression panics again", path.display());
        }
    }
}
