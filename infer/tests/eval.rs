//! `infer eval` and `infer::eval`: score formula on hand-made cases, index and pair
//! handling, the public-leaderboard discard rule on the real index files, and pinned
//! scores on the real public leaderboard.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use infer::eval::{evaluate, read_predictions, Benchmark, EvalError, Members, SubsetKind};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/dream");

fn data() -> &'static Path {
    Path::new(DATA)
}

/// A small benchmark in a temporary directory: ids 10..=15, a single subset, a pair
/// subset and "all".
struct Tiny {
    dir: tempfile::TempDir,
}

impl Tiny {
    // truth: 10:1 11:2 12:3 13:4 14:5 15:6 (sequence ACGT.. irrelevant)
    fn new() -> Tiny {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut tsv = String::from("index\tsequence\texpression\n");
        for (i, v) in [
            (10, 1.0),
            (11, 2.0),
            (12, 3.0),
            (13, 4.0),
            (14, 5.0),
            (15, 6.0),
        ] {
            tsv.push_str(&format!("{i}\tACGT{i}\t{v}\n"));
        }
        fs::write(d.join("truth.tsv"), tsv).unwrap();
        // single subset {10, 11, 12, 13}; "11" given twice in different spellings
        fs::write(
            d.join("four.json"),
            r#"{"10": 0, "11": 0, "011": 0, "12": 0, "13": 0}"#,
        )
        .unwrap();
        // pairs (alt, ref): (11,10) (13,12) (15,14) (14,10); the last repeated
        fs::write(
            d.join("pairs.csv"),
            ",Unnamed: 0,alt_tag,ref_tag,alt_pos,ref_pos,alt_exp,ref_exp\n\
             0,0,\"a,1\",r,11,10,,\n1,1,a2,r,13,12,,\n2,2,a3,r,15,14,,\n3,3,a4,r,14,10,,\n4,4,a4,r,14,10,,\n",
        )
        .unwrap();
        Tiny { dir }
    }

    fn definition(&self, subsets: &str, discard: &str) -> Benchmark {
        let text = format!(
            r#"{{"name": "tiny",
                "truth": {{"file": "truth.tsv", "header": true, "id_column": 0,
                          "sequence_column": 1, "value_column": 2}},
                "subsets": [{subsets}] {discard} }}"#
        );
        let path = self.dir.path().join("tiny.json");
        fs::write(&path, text).unwrap();
        Benchmark::from_file(&path, None).unwrap()
    }

    fn standard(&self) -> Benchmark {
        self.definition(
            r#"{"name": "all", "kind": "single", "weight": 1, "source": {"format": "all"}},
               {"name": "four", "kind": "single", "weight": 2,
                "source": {"format": "json_keys", "file": "four.json"}},
               {"name": "pairs", "kind": "pairs", "weight": 1,
                "source": {"format": "csv_pairs", "file": "pairs.csv"}}"#,
            "",
        )
    }
}

fn preds(values: &[(u32, f64)]) -> HashMap<String, f64> {
    values.iter().map(|(i, v)| (i.to_string(), *v)).collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn perfect_predictions_score_one() {
    let t = Tiny::new();
    let b = t.standard();
    // affine transform of the truth: every correlation (and every pair difference) is 1
    let p = preds(&[
        (10, 3.0),
        (11, 5.0),
        (12, 7.0),
        (13, 9.0),
        (14, 11.0),
        (15, 13.0),
    ]);
    let r = evaluate(&b, &p).unwrap();
    assert_eq!(r.weight_sum, 4.0);
    for s in &r.subsets {
        assert!(close(s.pearson.unwrap(), 1.0, 1e-12), "{s:?}");
        assert!(close(s.spearman.unwrap(), 1.0, 1e-12), "{s:?}");
    }
    assert!(close(r.pearson_score.unwrap(), 1.0, 1e-12));
    assert!(close(r.spearman_score.unwrap(), 1.0, 1e-12));
    assert_eq!(r.subset("all").unwrap().n, 6);
    assert_eq!(r.subset("four").unwrap().n, 4, "duplicate ids count once");
    let pairs = r.subset("pairs").unwrap();
    assert_eq!(
        (pairs.n, pairs.kind),
        (4, SubsetKind::Pairs),
        "duplicate pairs count once"
    );
}

#[test]
fn hand_computed_correlations_and_scores() {
    let t = Tiny::new();
    let b = t.standard();
    // predictions 10:1 11:3 12:2 13:4 14:4 15:4
    let p = preds(&[
        (10, 1.0),
        (11, 3.0),
        (12, 2.0),
        (13, 4.0),
        (14, 4.0),
        (15, 4.0),
    ]);
    let r = evaluate(&b, &p).unwrap();

    // four: truth 1 2 3 4, pred 1 3 2 4 -> r = 0.8 (centred sums 4 / sqrt(5*5)),
    // ranks identical to the values -> rho = 0.8.
    let four = r.subset("four").unwrap();
    assert!(close(four.pearson.unwrap(), 0.8, 1e-12), "{four:?}");
    assert!(close(four.spearman.unwrap(), 0.8, 1e-12), "{four:?}");

    // all: truth 1..6 (mean 3.5), pred 1 3 2 4 4 4 (mean 3)
    // dt = -2.5 -1.5 -.5 .5 1.5 2.5 ; dp = -2 0 -1 1 1 1
    // sxy = 5 + 0 + .5 + .5 + 1.5 + 2.5 = 10 ; sxx = 17.5 ; syy = 4+0+1+1+1+1 = 8
    let all = r.subset("all").unwrap();
    let r_all = 10.0 / (17.5f64 * 8.0).sqrt();
    assert!(close(all.pearson.unwrap(), r_all, 1e-12), "{all:?}");
    // pred ranks with the three-way tie: 1 3 2 5 5 5 (mean 3.5)
    // dr = -2.5 -.5 -1.5 1.5 1.5 1.5 ; sxy = 6.25+.75+.75+.75+2.25+3.75 = 14.5
    // syy = 6.25+.25+2.25+3*2.25 = 15.5 ; rho = 14.5 / sqrt(17.5*15.5)
    let rho_all = 14.5 / (17.5f64 * 15.5).sqrt();
    assert!(close(all.spearman.unwrap(), rho_all, 1e-12), "{all:?}");

    // pairs (alt-ref): truth (11,10)=1 (13,12)=1 (15,14)=1 (14,10)=4
    //                  pred  (11,10)=2 (13,12)=2 (15,14)=0 (14,10)=3
    // dt = -.75 -.75 -.75 2.25 ; dp = .25 .25 -1.75 1.25
    // sxy = -.1875-.1875+1.3125+2.8125 = 3.75 ; sxx = 3*.5625+5.0625 = 6.75 ;
    // syy = .0625+.0625+3.0625+1.5625 = 4.75
    let pairs = r.subset("pairs").unwrap();
    let r_pairs = 3.75 / (6.75f64 * 4.75).sqrt();
    assert!(close(pairs.pearson.unwrap(), r_pairs, 1e-12), "{pairs:?}");
    // ranks: truth 2 2 2 4 ; pred 2.5 2.5 1 4 -> dt = -.5 -.5 -.5 1.5 ; dp = 0 0 -1.5 1.5
    // sxy = .75 + 2.25 = 3 ; sxx = 3 ; syy = 4.5 ; rho = 3 / sqrt(13.5)
    let rho_pairs = 3.0 / 13.5f64.sqrt();
    assert!(
        close(pairs.spearman.unwrap(), rho_pairs, 1e-12),
        "{pairs:?}"
    );

    // weights all 1, four 2, pairs 1 (sum 4)
    let ps = (r_all.powi(2) + 2.0 * 0.64 + r_pairs.powi(2)) / 4.0;
    let ss = (rho_all + 2.0 * 0.8 + rho_pairs) / 4.0;
    assert!(close(r.pearson_score.unwrap(), ps, 1e-12));
    assert!(close(r.spearman_score.unwrap(), ss, 1e-12));
    assert!(
        r.notes.iter().all(|n| !n.contains("challenge subsets")),
        "{:?}",
        r.notes
    );
}

#[test]
fn anticorrelation_raises_pearson_score_but_not_spearman() {
    let t = Tiny::new();
    let b = t.definition(
        r#"{"name": "four", "kind": "single", "weight": 1,
            "source": {"format": "json_keys", "file": "four.json"}}"#,
        "",
    );
    let p = preds(&[(10, 4.0), (11, 3.0), (12, 2.0), (13, 1.0)]);
    let r = evaluate(&b, &p).unwrap();
    assert!(close(r.subsets[0].pearson.unwrap(), -1.0, 1e-12));
    assert!(close(r.pearson_score.unwrap(), 1.0, 1e-12), "r^2 = 1");
    assert!(close(r.spearman_score.unwrap(), -1.0, 1e-12));
}

#[test]
fn pair_correlation_uses_differences_not_values() {
    let t = Tiny::new();
    let b = t.definition(
        r#"{"name": "pairs", "kind": "pairs", "weight": 1,
            "source": {"format": "csv_pairs", "file": "pairs.csv"}}"#,
        "",
    );
    // Shifting both members of every pair by a per-pair constant changes the values
    // but not the differences: a perfect difference predictor still scores 1 even
    // though its values are uncorrelated with the truth.
    // Truth differences: (11,10)=1 (13,12)=1 (15,14)=1 (14,10)=4; these predictions give
    // 1 1 1 3 -> not perfect; instead give differences 2x the truth's: 2 2 2 8.
    let p = preds(&[
        (10, 100.0),
        (11, 102.0),
        (12, -50.0),
        (13, -48.0),
        (14, 108.0),
        (15, 110.0),
    ]);
    let r = evaluate(&b, &p).unwrap();
    assert!(
        close(r.subsets[0].pearson.unwrap(), 1.0, 1e-12),
        "{:?}",
        r.subsets[0]
    );
    // predicted differences of the opposite sign give r = -1
    let p = preds(&[
        (10, 100.0),
        (11, 98.0),
        (12, -50.0),
        (13, -52.0),
        (14, 92.0),
        (15, 90.0),
    ]);
    let r = evaluate(&b, &p).unwrap();
    assert!(
        close(r.subsets[0].pearson.unwrap(), -1.0, 1e-12),
        "{:?}",
        r.subsets[0]
    );
}

#[test]
fn missing_predictions_are_an_error_naming_ids_and_count() {
    let t = Tiny::new();
    let b = t.standard();
    let p = preds(&[(10, 1.0), (11, 2.0), (13, 4.0), (14, 5.0)]);
    let e = evaluate(&b, &p).unwrap_err();
    match &e {
        EvalError::MissingPredictions {
            count,
            needed,
            examples,
            ..
        } => {
            assert_eq!((*count, *needed), (2, 6));
            assert_eq!(examples, &vec!["12".to_string(), "15".to_string()]);
        }
        other => panic!("unexpected {other}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("12") && msg.contains("15") && msg.contains("2 of the 6"),
        "{msg}"
    );
    // extra predictions are fine
    let mut p = preds(&[
        (10, 1.0),
        (11, 3.0),
        (12, 2.0),
        (13, 4.0),
        (14, 4.0),
        (15, 4.0),
    ]);
    p.insert("999".into(), 0.0);
    evaluate(&b, &p).unwrap();
    // a non-finite prediction for a needed id is rejected
    p.insert("12".into(), f64::NAN);
    assert!(matches!(
        evaluate(&b, &p),
        Err(EvalError::NonFinitePrediction { .. })
    ));
}

#[test]
fn constant_predictions_give_undefined_scores_not_nan() {
    let t = Tiny::new();
    let b = t.standard();
    let p = preds(&[
        (10, 1.0),
        (11, 1.0),
        (12, 1.0),
        (13, 1.0),
        (14, 1.0),
        (15, 1.0),
    ]);
    let r = evaluate(&b, &p).unwrap();
    assert_eq!(r.pearson_score, None);
    assert_eq!(r.spearman_score, None);
    assert!(
        r.notes.iter().any(|n| n.contains("undefined")),
        "{:?}",
        r.notes
    );
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["pearson_score"].is_null());
    assert!(r.to_string().contains("undefined"));
}

#[test]
fn subset_ids_must_exist_in_truth_and_subsets_need_two_members() {
    let t = Tiny::new();
    fs::write(
        t.dir.path().join("bad.json"),
        r#"{"10": 0, "77": 0, "78": 0}"#,
    )
    .unwrap();
    let b = t.definition(
        r#"{"name": "bad", "kind": "single", "weight": 1,
            "source": {"format": "json_keys", "file": "bad.json"}}"#,
        "",
    );
    let p = preds(&[(10, 1.0)]);
    let e = evaluate(&b, &p).unwrap_err().to_string();
    assert!(
        e.contains("bad") && e.contains("2 such ids") && e.contains("truth.tsv"),
        "{e}"
    );

    fs::write(t.dir.path().join("one.json"), r#"{"10": 0}"#).unwrap();
    let b = t.definition(
        r#"{"name": "one", "kind": "single", "weight": 1,
            "source": {"format": "json_keys", "file": "one.json"}}"#,
        "",
    );
    assert!(matches!(
        evaluate(&b, &p),
        Err(EvalError::SubsetTooSmall { n: 1, .. })
    ));
}

#[test]
fn discard_rule_on_a_tiny_benchmark() {
    let t = Tiny::new();
    let d = t.dir.path();
    // public singles {13}; public pair (11,10) -> public indices {10, 11, 13}
    fs::write(d.join("pub_single.json"), r#"{"13": 0.5}"#).unwrap();
    fs::write(d.join("pub_pairs.json"), r#"{"11,10": [1, 2]}"#).unwrap();
    fs::write(
        d.join("upper.json"),
        r#"{"12": 0, "13": 0, "14": 0, "15": 0}"#,
    )
    .unwrap();
    let b = t.definition(
        r#"{"name": "all", "kind": "single", "weight": 1, "source": {"format": "all"}},
           {"name": "upper", "kind": "single", "weight": 1,
            "source": {"format": "json_keys", "file": "upper.json"}},
           {"name": "pairs", "kind": "pairs", "weight": 1,
            "source": {"format": "csv_pairs", "file": "pairs.csv"}}"#,
        r#", "discard_public": {"single_files": ["pub_single.json"], "pair_files": ["pub_pairs.json"]}"#,
    );
    let ids: Vec<String> = (10..=15).map(|i| i.to_string()).collect();
    let sel = b.selections(&ids).unwrap();
    assert_eq!(
        sel[0].members,
        Members::Single(vec!["12".into(), "14".into(), "15".into()])
    );
    assert_eq!(sel[0].discarded, 3);
    let Members::Single(upper) = &sel[1].members else {
        panic!()
    };
    let mut upper = upper.clone();
    upper.sort();
    assert_eq!(upper, vec!["12", "14", "15"]);
    assert_eq!(sel[1].discarded, 1);
    // pairs: only the exact public tuple (11,10) goes; (14,10) stays although 10 is public
    let Members::Pairs(pairs) = &sel[2].members else {
        panic!()
    };
    assert_eq!(pairs.len(), 3);
    assert!(pairs.contains(&("14".into(), "10".into())));
    assert!(!pairs.contains(&("11".into(), "10".into())));
}

// ---- real data ------------------------------------------------------------------

#[test]
fn dream_test_index_files_and_discard_match_the_spec_counts() {
    let mut b = Benchmark::builtin("dream-test", Some(data())).unwrap();
    // all_SNVs_seqs.csv is not available here (only in the challenge data release)
    assert!(!data().join("test_subset_ids/all_SNVs_seqs.csv").exists());
    b.subsets.retain(|s| s.name != "SNVs");
    let public = b.public_sets().unwrap();
    assert_eq!(public.indices.len(), 9045);
    assert_eq!(public.pairs.len(), 4670 + 328 + 263);
    let ids: Vec<String> = (0..71_103).map(|i| i.to_string()).collect();
    let sel = b.selections(&ids).unwrap();
    let got: Vec<(&str, usize, usize)> = sel
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.members.len() + s.discarded,
                s.members.len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("all", 71_103, 62_058),
            ("high", 968, 872),
            ("low", 997, 898),
            ("yeast", 578, 370),
            ("random", 6_349, 5_616),
            ("challenging", 1_953, 1_758),
            ("motif_perturbation", 3_287, 2_959),
            ("motif_tiling", 2_624, 2_361),
        ]
    );
}

#[test]
fn dream_test_without_the_test_file_says_where_to_get_it() {
    let b = Benchmark::builtin("dream-test", Some(data())).unwrap();
    let e = b.sequences().unwrap_err().to_string();
    assert!(
        e.contains("filtered_test_data_with_MAUDE_expression.txt"),
        "{e}"
    );
    assert!(e.contains("Zenodo"), "{e}");
}

#[test]
fn public_leaderboard_tsv_agrees_with_ground_json() {
    let b = Benchmark::builtin("dream-public", Some(data())).unwrap();
    let truth = b.truth().unwrap();
    assert_eq!(truth.len(), 9045);
    let ground: HashMap<String, f64> =
        read_predictions(&data().join("public_leaderboard_ids/ground.json")).unwrap();
    assert_eq!(ground.len(), 9045);
    for row in &truth {
        assert_eq!(ground.get(&row.id), Some(&row.value), "id {}", row.id);
        assert_eq!(row.sequence.len(), 110);
    }
    let seqs = b.sequences().unwrap();
    assert_eq!(seqs.len(), 9045);
    assert_eq!(seqs[0].0, "2");
    assert!(seqs[0].1.starts_with("TGCATTTTTTTCACATC"));
}

/// The noise formula is exact in IEEE arithmetic, so Python computes the same
/// predictions: ((i * 2654435761) mod 2^32) / 2^32 - 0.5, then floor((truth + noise)
/// * 20) / 20, which also creates many ties for the rank correlation.
fn noisy_public_predictions(b: &Benchmark) -> HashMap<String, f64> {
    b.truth()
        .unwrap()
        .into_iter()
        .map(|r| {
            let i: u64 = r.id.parse().unwrap();
            let noise = ((i * 2_654_435_761) % (1u64 << 32)) as f64 / 4_294_967_296.0 - 0.5;
            (r.id, ((r.value + noise) * 20.0).floor() / 20.0)
        })
        .collect()
}

/// Pinned against scipy 1.17.1 (pearsonr / spearmanr) run once on the same predictions by
/// an independent script following spec/evaluation.md.
#[test]
fn dream_public_scores_match_scipy_reference() {
    let b = Benchmark::builtin("dream-public", Some(data())).unwrap();
    let r = evaluate(&b, &noisy_public_predictions(&b)).unwrap();
    let expected = [
        ("all", 9045, 0.9368849348335826, 0.9401551942889479),
        ("high", 96, 0.2987329426523181, 0.2549421791138981),
        ("low", 99, 0.39613640023245306, 0.29993905808893695),
        ("yeast", 208, 0.9114540421331477, 0.9181158953631744),
        ("random", 733, 0.9037695577763227, 0.9011094628718465),
        ("challenging", 195, 0.9434090027265177, 0.9331520579137648),
        ("SNVs", 4670, 0.4721697140663847, 0.3688203217725899),
        (
            "motif_perturbation",
            328,
            0.8223631687469278,
            0.743038561268556,
        ),
        ("motif_tiling", 263, 0.6944916124293228, 0.6034286143171623),
    ];
    assert_eq!(r.subsets.len(), expected.len());
    for (s, (name, n, pr, sp)) in r.subsets.iter().zip(expected) {
        assert_eq!((s.name.as_str(), s.n, s.discarded), (name, n, 0));
        assert!(
            close(s.pearson.unwrap(), pr, 1e-12),
            "{name} r {:?} vs {pr}",
            s.pearson
        );
        assert!(
            close(s.spearman.unwrap(), sp, 1e-12),
            "{name} rho {:?} vs {sp}",
            s.spearman
        );
    }
    assert!(close(r.weight_sum, 4.65, 1e-12));
    assert!(close(r.pearson_score.unwrap(), 0.5516924168063981, 1e-12));
    assert!(close(r.spearman_score.unwrap(), 0.6546820684301841, 1e-12));
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}

#[test]
fn truth_as_predictions_scores_one_on_dream_public() {
    let b = Benchmark::builtin("dream-public", Some(data())).unwrap();
    let truth: HashMap<String, f64> = b
        .truth()
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.value))
        .collect();
    let r = evaluate(&b, &truth).unwrap();
    assert!(close(r.pearson_score.unwrap(), 1.0, 1e-12));
    assert!(close(r.spearman_score.unwrap(), 1.0, 1e-12));
}

#[test]
fn dropping_a_challenge_subset_renormalises_and_says_so() {
    let mut b = Benchmark::builtin("dream-public", Some(data())).unwrap();
    let full = evaluate(&b, &noisy_public_predictions(&b)).unwrap();
    b.subsets.retain(|s| s.name != "SNVs");
    let part = evaluate(&b, &noisy_public_predictions(&b)).unwrap();
    assert!(close(part.weight_sum, 3.4, 1e-12));
    let num: f64 = full
        .subsets
        .iter()
        .filter(|s| s.name != "SNVs")
        .map(|s| s.weight * s.pearson.unwrap().powi(2))
        .sum();
    assert!(close(part.pearson_score.unwrap(), num / 3.4, 1e-12));
    assert!(
        part.notes
            .iter()
            .any(|n| n.contains("SNVs") && n.contains("3.40")),
        "{:?}",
        part.notes
    );
}

// ---- predictions files and the CLI -------------------------------------------------

#[test]
fn predictions_tsv_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.tsv");
    fs::write(&p, "id\tprediction\textra\n0\t1.5\tx\n007\t-2\n\n").unwrap();
    let m = read_predictions(&p).unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m["7"], -2.0);
    // header-less file: first line is data
    fs::write(&p, "0\t1.5\n1\t2.5\n").unwrap();
    assert_eq!(read_predictions(&p).unwrap().len(), 2);
    for (bad, what) in [
        ("id\tp\n0\tabc\n", "line 2"),
        ("id\tp\n0\t1\n0\t2\n", "line 3"),
        ("id\tp\n0\t1\n\n1\t2\n", "line 3"),
        ("id\tp\n0 1\n", "line 2"),
        ("id\tp\n5\tinf\n", "line 2"),
    ] {
        fs::write(&p, bad).unwrap();
        let e = read_predictions(&p).unwrap_err().to_string();
        assert!(e.contains("p.tsv") && e.contains(what), "{bad:?}: {e}");
    }
}

fn infer_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_infer"))
}

fn write_public_predictions(path: &Path, skip: usize) {
    let b = Benchmark::builtin("dream-public", Some(data())).unwrap();
    let p = noisy_public_predictions(&b);
    let mut text = String::from("id\tprediction\n");
    for (id, _) in b.sequences().unwrap().into_iter().skip(skip) {
        text.push_str(&format!("{id}\t{}\n", p[&id]));
    }
    fs::write(path, text).unwrap();
}

#[test]
fn cli_prints_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let preds = dir.path().join("preds.tsv");
    write_public_predictions(&preds, 0);
    let json: PathBuf = dir.path().join("report.json");
    let out = infer_bin()
        .args([
            "eval",
            "--benchmark",
            "dream-public",
            "--data-dir",
            DATA,
            "--predictions",
        ])
        .arg(&preds)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("motif_perturbation") && stdout.contains("0.551692"),
        "{stdout}"
    );
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    assert!(close(
        v["pearson_score"].as_f64().unwrap(),
        0.5516924168063981,
        1e-12
    ));
    assert!(close(
        v["spearman_score"].as_f64().unwrap(),
        0.6546820684301841,
        1e-12
    ));
    assert_eq!(v["subsets"].as_array().unwrap().len(), 9);
    assert_eq!(v["subsets"][6]["name"], "SNVs");
    assert_eq!(v["subsets"][6]["kind"], "pairs");
    assert_eq!(v["subsets"][6]["n"], 4670);
    // no temporary files left behind
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn cli_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let preds = dir.path().join("preds.tsv");
    write_public_predictions(&preds, 3);
    let out = infer_bin()
        .args(["eval", "--data-dir", DATA, "--predictions"])
        .arg(&preds)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing predictions for 3"), "{stderr}");

    let out = infer_bin()
        .args(["eval", "--benchmark", "no-such-benchmark", "--predictions"])
        .arg(&preds)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown benchmark"));

    let out = infer_bin()
        .args(["eval", "--data-dir"])
        .arg(dir.path().join("nowhere"))
        .arg("--predictions")
        .arg(&preds)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere"));

    // A model that exists nowhere (no file, no directory, not in the zoo).
    let out = infer_bin()
        .args(["eval", "--model", "no-such-model@9.9.9"])
        .env("ZOO_HOME", dir.path().join("zoo-home"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-model"));
}
