//! Fuzz entry for the zoo registry index (`index.json`) and what `zoo` does with one:
//! version selection, file-list checks, the write-back round trip. Shared by
//! fuzz/fuzz_targets/zoo_index.rs and zoo/tests/fuzz_replay.rs.

pub fn run(data: &[u8]) {
    let Ok(index) = zoo::Index::parse(data, "fuzz") else { return };
    for (name, model) in &index.models {
        let _ = model.default_version(name, "fuzz");
        let _ = model.available();
        if let Ok(spec) = zoo::ModelSpec::parse(name) {
            let _ = index.select(&spec, "fuzz");
        }
        for (version, entry) in &model.versions {
            let _ = entry.checked_files(&format!("{name}@{version}"));
            let _ = entry.total_size();
        }
    }
    let text = index.to_json_pretty();
    let again = zoo::Index::parse(text.as_bytes(), "fuzz round trip")
        .unwrap_or_else(|e| panic!("an index this zoo wrote does not read back: {e}"));
    assert_eq!(again.to_json_pretty(), text, "index round trip changed it");
}
