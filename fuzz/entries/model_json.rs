//! Fuzz entry for the model description (`model.json`) and the preprocessing contract in
//! it: parse, validate, then pad and encode sequences with the preprocessing as scoring
//! does. Shared by fuzz/fuzz_targets/model_json.rs and train/tests/fuzz_replay.rs; the
//! includer provides `spec` (train/src/model/spec.rs) in the parent module.

use super::spec::ModelDescription;
use infer::Preprocessing;

pub fn run(data: &[u8]) {
    if let Ok(desc) = serde_json::from_slice::<ModelDescription>(data) {
        if desc.validate().is_ok() {
            exercise(&desc.preprocessing);
        }
    }
    if let Ok(pre) = serde_json::from_slice::<Preprocessing>(data) {
        if pre.validate().is_ok() {
            exercise(&pre);
        }
    }
}

fn exercise(pre: &Preprocessing) {
    if pre.input_size() > 1 << 16 {
        return;
    }
    // encode_for_scoring's documented contract: room for every input of one sequence.
    let mut x = vec![0f32; pre.input_size() * pre.inputs_per_sequence()];
    for seq in [&b"A"[..], b"ACGTNacgtn", &[b'G'; 300][..]] {
        let _ = pre.encode_for_scoring(seq, &mut x);
        for reverse in [false, true] {
            let _ = pre.encode_record_for_scoring(seq, reverse, &mut x);
        }
        if let Ok(padded) = pre.pad(seq) {
            assert_eq!(padded.len(), pre.length, "padding gave the wrong length");
        }
    }
}
