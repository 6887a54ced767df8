//! DREAM challenge evaluation (spec/evaluation.md): per-subset Pearson r and Spearman
//! rho, pair-difference correlations, and the challenge's weighted scores.
//!
//! A [`Benchmark`] is data — a truth file, a list of subsets with weights, and an
//! optional rule that drops the public-leaderboard sequences — so the full challenge
//! test set, the public leaderboard, or a user's own definition all score the same way.
//! Ids are test-set indices written in decimal (see [`canonical_id`]).

mod benchmark;
mod files;
mod report;
mod select;
pub mod stats;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
#[cfg(test)]
use std::path::Path;

pub use benchmark::*;
use benchmark::DATA_SOURCES;
#[cfg(test)]
use benchmark::{resolve_data_dir_from, DREAM_PUBLIC_JSON, DREAM_TEST_JSON};
pub use files::{canonical_id, read_predictions, TruthRow};
pub use select::{Members, PublicSets, Selection};
pub use report::{weighted_scores, EvalReport, SubsetResult};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("DREAM data directory not found (looked for {tried}); pass --data-dir DIR or set {env}. {sources}", env = DATA_DIR_ENV, sources = DATA_SOURCES)]
    DataDirNotFound { tried: String },
    #[error("unknown benchmark `{0}`: the built-ins are dream-public and dream-test; anything else must be a benchmark definition JSON file")]
    UnknownBenchmark(String),
    #[error("{}: file not found; point --data-dir (or {env}) at the directory holding it. {sources}", .path.display(), env = DATA_DIR_ENV, sources = DATA_SOURCES)]
    MissingFile { path: PathBuf },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}{}: {message}", .path.display(), .line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("invalid benchmark definition `{name}`: {message}")]
    InvalidBenchmark { name: String, message: String },
    #[error("subset `{subset}` refers to id `{id}`, which is not in the truth file {} ({count} such ids in this subset)", .truth.display())]
    UnknownId {
        subset: String,
        id: String,
        count: usize,
        truth: PathBuf,
    },
    #[error("subset `{subset}` has {n} members{after}; a correlation needs at least 2", after = if *.after_discard { " after discarding the public leaderboard" } else { "" })]
    SubsetTooSmall {
        subset: String,
        n: usize,
        after_discard: bool,
    },
    #[error("missing predictions for {count} of the {needed} sequences benchmark `{benchmark}` scores (first missing ids: {})", .examples.join(", "))]
    MissingPredictions {
        benchmark: String,
        count: usize,
        needed: usize,
        examples: Vec<String>,
    },
    #[error("prediction for id `{id}` is {value}, not a finite number")]
    NonFinitePrediction { id: String, value: f64 },
    #[error("benchmark sequence {id}: {problem}")]
    BenchmarkSequence { id: String, problem: crate::preprocess::PreprocessError },
    #[error(transparent)]
    Score(#[from] crate::scorer::ScoreError),
}

impl EvalError {
    /// Whether the error is a problem with what the caller supplied (flags, data
    /// directory, definition, predictions) rather than a failure while running. An
    /// unreadable-but-present file is still the caller's input; a model that fails on
    /// the benchmark's own sequences is not.
    pub fn is_usage(&self) -> bool {
        !matches!(self, EvalError::BenchmarkSequence { .. } | EvalError::Score(_))
    }
}

/// Scores the benchmark's sequences with a model, exactly as `infer score` would, and
/// returns (id, prediction of output `column`) in the benchmark's order. `progress` is
/// told (sequences scored so far, all of them) after each batch. Every engine goes through here:
/// `infer eval` with tract or ONNX Runtime, `train eval` with libtorch.
pub fn predict(
    scorer: &mut crate::scorer::Scorer,
    b: &Benchmark,
    column: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<(String, f32)>, EvalError> {
    let seqs = b.sequences()?;
    let n_out = scorer.outputs().len();
    let total = seqs.len();
    let mut out = Vec::with_capacity(total);
    crate::batch::score_all(
        scorer,
        seqs.into_iter().map(Ok::<_, EvalError>),
        |(id, _): &(String, String), problem| Err(EvalError::BenchmarkSequence { id: id.clone(), problem }),
        |chunk, scores| {
            out.extend(chunk.iter().zip(scores.chunks_exact(n_out)).map(|((id, _), row)| (id.clone(), row[column])));
            progress(out.len(), total);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Writes predictions as `infer score` does (`id<TAB>prediction`, a header), atomically.
pub fn write_predictions(path: &std::path::Path, scored: &[(String, f32)]) -> std::io::Result<()> {
    let mut lines = String::from("id\tprediction\n");
    for (id, v) in scored {
        lines.push_str(&format!("{id}\t{v}\n"));
    }
    crate::atomic::write(path, lines.as_bytes())
}

/// The column of a model's outputs to evaluate: the one named (`--output NAME`), or the
/// only one; the error is the message for the user.
pub fn output_column(outputs: &[String], wanted: Option<&str>) -> Result<usize, String> {
    match wanted {
        Some(name) => outputs
            .iter()
            .position(|o| o == name)
            .ok_or_else(|| format!("--output {name}: the model's outputs are {}", outputs.join(", "))),
        None if outputs.len() == 1 => Ok(0),
        None => Err(format!(
            "the model has {} outputs ({}); choose one with --output NAME",
            outputs.len(),
            outputs.join(", ")
        )),
    }
}

/// Scores predictions (keyed by canonical id) on a benchmark. Every id the benchmark
/// uses must have a finite prediction; extra predictions are ignored.
pub fn evaluate(
    b: &Benchmark,
    predictions: &HashMap<String, f64>,
) -> Result<EvalReport, EvalError> {
    let truth = b.truth()?;
    let ids: Vec<String> = truth.iter().map(|r| r.id.clone()).collect();
    let truth_of: HashMap<&str, f64> = truth.iter().map(|r| (r.id.as_str(), r.value)).collect();
    let selections = b.selections(&ids)?;

    let mut needed: HashSet<&str> = HashSet::new();
    for s in &selections {
        match &s.members {
            Members::Single(v) => needed.extend(v.iter().map(String::as_str)),
            Members::Pairs(v) => {
                needed.extend(v.iter().flat_map(|(a, r)| [a.as_str(), r.as_str()]))
            }
        }
    }
    // Truth-file order makes the reported examples stable from run to run.
    let missing: Vec<&str> = ids
        .iter()
        .map(String::as_str)
        .filter(|id| needed.contains(id) && !predictions.contains_key(*id))
        .collect();
    if !missing.is_empty() {
        return Err(EvalError::MissingPredictions {
            benchmark: b.name.clone(),
            count: missing.len(),
            needed: needed.len(),
            examples: missing.iter().take(5).map(|s| s.to_string()).collect(),
        });
    }
    for id in ids.iter().filter(|id| needed.contains(id.as_str())) {
        let v = predictions[id];
        if !v.is_finite() {
            return Err(EvalError::NonFinitePrediction {
                id: id.clone(),
                value: v,
            });
        }
    }

    let mut results = Vec::with_capacity(selections.len());
    for s in &selections {
        let (t, p): (Vec<f64>, Vec<f64>) = match &s.members {
            Members::Single(v) => v
                .iter()
                .map(|id| (truth_of[id.as_str()], predictions[id]))
                .unzip(),
            // alt - ref for both vectors; the reference computes ref - alt for both,
            // which leaves every correlation unchanged.
            Members::Pairs(v) => v
                .iter()
                .map(|(a, r)| {
                    (
                        truth_of[a.as_str()] - truth_of[r.as_str()],
                        predictions[a] - predictions[r],
                    )
                })
                .unzip(),
        };
        results.push(SubsetResult {
            name: s.name.clone(),
            kind: s.kind,
            n: s.members.len(),
            discarded: s.discarded,
            weight: s.weight,
            pearson: stats::pearson(&t, &p),
            spearman: stats::spearman(&t, &p),
        });
    }
    Ok(EvalReport::from_results(b, results))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_definitions_parse_and_validate() {
        for (name, text) in [
            ("dream-public", DREAM_PUBLIC_JSON),
            ("dream-test", DREAM_TEST_JSON),
        ] {
            let b = Benchmark::from_json_str(text, Path::new(name), PathBuf::new()).unwrap();
            assert_eq!(b.name, name);
            let names: Vec<&str> = b.subsets.iter().map(|s| s.name.as_str()).collect();
            let challenge: Vec<&str> = CHALLENGE_WEIGHTS.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, challenge);
            for (s, (_, w)) in b.subsets.iter().zip(CHALLENGE_WEIGHTS) {
                assert_eq!(s.weight, *w, "{name}/{}", s.name);
            }
        }
        let total: f64 = CHALLENGE_WEIGHTS.iter().map(|(_, w)| w).sum();
        assert!((total - 4.65).abs() < 1e-12);
    }

    #[test]
    fn data_dir_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let missing = d.join("nope");
        // explicit wins over env and dev
        assert_eq!(
            resolve_data_dir_from(Some(d), Some(missing.clone().into()), &missing).unwrap(),
            d
        );
        // explicit but missing: error naming it, no fallback to a valid env dir
        let e = resolve_data_dir_from(Some(&missing), Some(d.into()), d).unwrap_err();
        assert!(e.to_string().contains("--data-dir"), "{e}");
        assert!(e.to_string().contains("nope"), "{e}");
        // env over dev
        assert_eq!(
            resolve_data_dir_from(None, Some(d.into()), &missing).unwrap(),
            d
        );
        // dev as last resort, and a clear error pointing at the sources
        assert_eq!(resolve_data_dir_from(None, None, d).unwrap(), d);
        let e = resolve_data_dir_from(None, None, &missing)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Zenodo") && e.contains(DATA_DIR_ENV), "{e}");
    }

    #[test]
    fn kind_must_match_source() {
        let text = r#"{"name":"x","truth":{"file":"t.tsv","header":false,"id_column":null,
            "sequence_column":0,"value_column":1},
            "subsets":[{"name":"p","kind":"single","weight":1,
                        "source":{"format":"json_pair_keys","file":"p.json"}}]}"#;
        let e = Benchmark::from_json_str(text, Path::new("x.json"), PathBuf::new()).unwrap_err();
        assert!(matches!(e, EvalError::InvalidBenchmark { .. }), "{e}");
        let typo = text.replace("\"weight\"", "\"wieght\"");
        let e = Benchmark::from_json_str(&typo, Path::new("x.json"), PathBuf::new()).unwrap_err();
        assert!(e.to_string().contains("x.json"), "{e}");
    }
}
