//! The page's scoring API, run natively (its success paths call no JavaScript): a batch
//! read, run and finished through `Model` must give what `Scorer` gives `infer score`.

#[path = "../../../infer/tests/support/mod.rs"]
mod support;

use infer::preprocess::Padding;
use infer::scorer::{Scorer, ScorerOptions};
use infer::window::{Align, Longer, Window};
use infer_wasm::Model;
use support::Reference as _;

/// Regression: the page upper-cased every input, so a case-sensitive model (Camformer's
/// one-hot has no lower case) scored lower-case bases as upper case, unlike `infer score`.
#[test]
fn page_keeps_lower_case_for_a_case_sensitive_model_as_infer_score_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("case.onnx");
    // Case matters only in a window-padded model (Camformer's kind).
    let mut pre = support::short_preprocessing(20);
    pre.padding = Padding::Window(Window {
        align: Align::Center,
        left_flank: String::new(),
        right_flank: String::new(),
        longer: Longer::Error,
    });
    pre.rules.case_sensitive = true;
    support::BiLstm::random(5, 20, 3, 2, 11).write(&path, &pre, &["dev", "hk"]);
    let bytes = std::fs::read(&path).unwrap();

    let upper = b"ACGTTGCAACGTTGCAACGT".to_vec();
    let mixed = b"ACGTtgcaACGTTGCAacgt".to_vec();
    let mut model = Model::new("case.onnx", &bytes, 4).unwrap();
    let text = format!(">up\n{}\n>mixed\n{}\n", String::from_utf8_lossy(&upper), String::from_utf8_lossy(&mixed));
    model.begin("input", text).unwrap();
    let batch = model.read(4).unwrap();
    assert!(batch.done);
    assert_eq!(batch.ids, ["up", "mixed"]);
    let rows = model.run(batch.x.clone(), 2).unwrap();
    let page = model.finish(batch.ids.clone(), rows);

    let opts = ScorerOptions { batch_size: 4, threads: 1, ..ScorerOptions::default() };
    let mut scorer = Scorer::from_bytes("case.onnx", &bytes, &opts).unwrap();
    let want = scorer.score(&[upper.as_slice(), mixed.as_slice()]).unwrap();
    assert_eq!(page.values.len(), want.len());
    for (got, want) in page.values.iter().zip(&want) {
        assert!((got - want).abs() <= 1e-6, "page {got} vs Scorer {want}");
    }
    // Lower case is not upper case to this model: the two sequences must differ.
    assert!((page.values[0] - page.values[2]).abs() > 1e-6, "{:?}", page.values);
    assert!(page.tsv.starts_with("up\t") && page.tsv.contains("\nmixed\t"), "{}", page.tsv);
}
