//! DREAM challenge evaluation (spec/evaluation.md): per-subset Pearson r and Spearman
//! rho, pair-difference correlations, and the challenge's weighted scores.
//!
//! A [`Benchmark`] is data — a truth file, a list of subsets with weights, and an
//! optional rule that drops the public-leaderboard sequences — so the full challenge
//! test set, the public leaderboard, or a user's own definition all score the same way.
//! Ids are test-set indices written in decimal (see [`canonical_id`]).

mod files;
mod report;
pub mod stats;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use files::{canonical_id, read_predictions, TruthRow};
pub use report::{weighted_scores, EvalReport, SubsetResult};

/// Environment variable naming the DREAM data directory when `--data-dir` is not given.
pub const DATA_DIR_ENV: &str = "DREAM_DATA_DIR";

/// Names accepted by [`Benchmark::builtin`].
pub const BUILTIN_BENCHMARKS: &[&str] = &["dream-public", "dream-test"];

/// The challenge's subsets and weights (spec §5); they sum to 4.65.
pub const CHALLENGE_WEIGHTS: &[(&str, f64)] = &[
    ("all", 1.0),
    ("high", 0.3),
    ("low", 0.3),
    ("yeast", 0.3),
    ("random", 0.3),
    ("challenging", 0.5),
    ("SNVs", 1.25),
    ("motif_perturbation", 0.3),
    ("motif_tiling", 0.4),
];

/// The development checkout keeps the data next to the workspace; installed binaries
/// use `--data-dir` or the environment variable instead.
const DEV_DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/dream");

const DATA_SOURCES: &str = "The public leaderboard files (public_leaderboard.tsv, \
public_leaderboard_ids/, test_subset_ids/) come from the de Boer lab's \
random-promoter-dream-challenge-2022 repository; the full 71,103-sequence test set \
(filtered_test_data_with_MAUDE_expression.txt, test_subset_ids/all_SNVs_seqs.csv) from the \
challenge data release, Zenodo record 10633252.";

const DREAM_PUBLIC_JSON: &str = include_str!("builtin/dream-public.json");
const DREAM_TEST_JSON: &str = include_str!("builtin/dream-test.json");

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
}

impl EvalError {
    /// Whether the error is a problem with what the caller supplied (flags, data
    /// directory, definition, predictions) rather than a failure while running. Every
    /// current variant is; an unreadable-but-present file is still the caller's input.
    pub fn is_usage(&self) -> bool {
        true
    }
}

/// Where the ground truth comes from: a tab-separated file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthSource {
    /// Relative paths resolve against the benchmark's base directory.
    pub file: PathBuf,
    /// Whether the first line is a header to skip.
    pub header: bool,
    /// 0-based column holding the id; `null` = the id is the 0-based data row number
    /// (the challenge test file's convention).
    pub id_column: Option<usize>,
    pub sequence_column: usize,
    pub value_column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubsetKind {
    /// Correlate values of the sequences themselves.
    Single,
    /// Correlate differences `value[alt] - value[ref]` over (alt, ref) pairs.
    Pairs,
}

impl std::fmt::Display for SubsetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SubsetKind::Single => "single",
            SubsetKind::Pairs => "pairs",
        })
    }
}

/// Which sequences a subset holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case", deny_unknown_fields)]
pub enum SubsetSource {
    /// Every sequence of the truth file (less the discarded public ones).
    All,
    /// CSV with a header and a `pos` column of test indices (`test_subset_ids/*.csv`).
    CsvPos { file: PathBuf },
    /// CSV with a header and `alt_pos`, `ref_pos` columns.
    CsvPairs { file: PathBuf },
    /// JSON object whose keys are ids (`public_leaderboard_ids/high_exp_indices.json`).
    JsonKeys { file: PathBuf },
    /// JSON object whose keys are `"<alt>,<ref>"`.
    JsonPairKeys { file: PathBuf },
}

impl SubsetSource {
    fn kind(&self) -> SubsetKind {
        match self {
            SubsetSource::All | SubsetSource::CsvPos { .. } | SubsetSource::JsonKeys { .. } => {
                SubsetKind::Single
            }
            SubsetSource::CsvPairs { .. } | SubsetSource::JsonPairKeys { .. } => SubsetKind::Pairs,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsetDef {
    pub name: String,
    pub kind: SubsetKind,
    pub weight: f64,
    pub source: SubsetSource,
}

/// The public-leaderboard discard rule (spec §3): single subsets and "all" lose every
/// public index (public singles and both members of public pairs); pair subsets lose a
/// pair only when that exact (alt, ref) tuple was public.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicLeaderboard {
    /// JSON files whose keys are public single indices.
    pub single_files: Vec<PathBuf>,
    /// JSON files whose keys are public `"<alt>,<ref>"` pairs.
    pub pair_files: Vec<PathBuf>,
}

/// A benchmark definition (JSON, see `builtin/dream-test.json` for a full example).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Benchmark {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub truth: TruthSource,
    pub subsets: Vec<SubsetDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discard_public: Option<PublicLeaderboard>,
    /// Directory that relative file paths resolve against; not part of the JSON.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// What the discard rule removes (spec §3).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublicSets {
    /// Public single indices plus both members of every public pair.
    pub indices: HashSet<String>,
    /// Public (alt, ref) pairs.
    pub pairs: HashSet<(String, String)>,
}

/// The members of one subset after the discard rule, ready to score.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub name: String,
    pub kind: SubsetKind,
    pub weight: f64,
    pub members: Members,
    /// How many members the discard rule removed.
    pub discarded: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Members {
    Single(Vec<String>),
    /// (alt, ref)
    Pairs(Vec<(String, String)>),
}

impl Members {
    pub fn len(&self) -> usize {
        match self {
            Members::Single(v) => v.len(),
            Members::Pairs(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The DREAM data directory: `explicit` (`--data-dir`), else `$DREAM_DATA_DIR`, else the
/// development checkout's `../shared/data/dream`.
pub fn resolve_data_dir(explicit: Option<&Path>) -> Result<PathBuf, EvalError> {
    resolve_data_dir_from(
        explicit,
        std::env::var_os(DATA_DIR_ENV),
        Path::new(DEV_DATA_DIR),
    )
}

fn resolve_data_dir_from(
    explicit: Option<&Path>,
    env: Option<OsString>,
    dev: &Path,
) -> Result<PathBuf, EvalError> {
    // An explicit choice that is wrong must not quietly fall through to another one.
    let (candidate, what) = match (explicit, env.filter(|v| !v.is_empty())) {
        (Some(p), _) => (p.to_path_buf(), "--data-dir"),
        (None, Some(v)) => (PathBuf::from(v), DATA_DIR_ENV),
        (None, None) => (dev.to_path_buf(), "the development checkout's data"),
    };
    if candidate.is_dir() {
        Ok(candidate)
    } else {
        Err(EvalError::DataDirNotFound {
            tried: format!("{} ({what})", candidate.display()),
        })
    }
}

impl Benchmark {
    /// A built-in benchmark (`dream-public` or `dream-test`) reading its files from the
    /// data directory chosen by [`resolve_data_dir`].
    pub fn builtin(name: &str, data_dir: Option<&Path>) -> Result<Benchmark, EvalError> {
        let text = match name {
            "dream-public" => DREAM_PUBLIC_JSON,
            "dream-test" => DREAM_TEST_JSON,
            _ => return Err(EvalError::UnknownBenchmark(name.to_string())),
        };
        let base = resolve_data_dir(data_dir)?;
        Self::from_json_str(text, Path::new(name), base)
    }

    /// Parses a definition; `origin` names it in error messages.
    pub fn from_json_str(
        text: &str,
        origin: &Path,
        base_dir: PathBuf,
    ) -> Result<Benchmark, EvalError> {
        let mut b: Benchmark = serde_json::from_str(text).map_err(|e| EvalError::Parse {
            path: origin.to_path_buf(),
            line: Some(e.line()),
            message: format!("not a benchmark definition: {e}"),
        })?;
        b.base_dir = base_dir;
        b.validate()?;
        Ok(b)
    }

    /// Reads a definition file. Relative paths inside it resolve against `data_dir`
    /// when given, else against the file's own directory.
    pub fn from_file(path: &Path, data_dir: Option<&Path>) -> Result<Benchmark, EvalError> {
        let text = files::read_text(path)?;
        let base = match data_dir {
            Some(d) => d.to_path_buf(),
            None => path.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        Self::from_json_str(&text, path, base)
    }

    /// A built-in name or a definition file path, as `infer eval --benchmark` takes it.
    pub fn load(spec: &str, data_dir: Option<&Path>) -> Result<Benchmark, EvalError> {
        if BUILTIN_BENCHMARKS.contains(&spec) {
            return Self::builtin(spec, data_dir);
        }
        let path = Path::new(spec);
        if path.is_file() || spec.ends_with(".json") {
            return Self::from_file(path, data_dir);
        }
        Err(EvalError::UnknownBenchmark(spec.to_string()))
    }

    fn invalid(&self, message: impl Into<String>) -> EvalError {
        EvalError::InvalidBenchmark {
            name: self.name.clone(),
            message: message.into(),
        }
    }

    /// Checks the definition's internal consistency (files are read later).
    pub fn validate(&self) -> Result<(), EvalError> {
        if self.name.trim().is_empty() {
            return Err(self.invalid("`name` is empty"));
        }
        if self.subsets.is_empty() {
            return Err(self.invalid("no subsets"));
        }
        let t = &self.truth;
        let mut columns = vec![t.sequence_column, t.value_column];
        columns.extend(t.id_column);
        let distinct: HashSet<usize> = columns.iter().copied().collect();
        if distinct.len() != columns.len() {
            return Err(self.invalid("truth columns (id, sequence, value) must be distinct"));
        }
        let mut names = HashSet::new();
        for s in &self.subsets {
            if s.name.trim().is_empty() {
                return Err(self.invalid("a subset has an empty name"));
            }
            if !names.insert(s.name.as_str()) {
                return Err(self.invalid(format!("subset `{}` is defined twice", s.name)));
            }
            if !(s.weight.is_finite() && s.weight >= 0.0) {
                return Err(self.invalid(format!(
                    "subset `{}` has weight {}, expected a finite number >= 0",
                    s.name, s.weight
                )));
            }
            if s.kind != s.source.kind() {
                return Err(self.invalid(format!(
                    "subset `{}` is of kind `{}` but its source format holds {} data",
                    s.name,
                    s.kind,
                    s.source.kind()
                )));
            }
        }
        let total: f64 = self.subsets.iter().map(|s| s.weight).sum();
        if total <= 0.0 {
            return Err(self.invalid("the subset weights sum to 0"));
        }
        Ok(())
    }

    fn path(&self, file: &Path) -> PathBuf {
        files::resolve(&self.base_dir, file)
    }

    /// The truth file's path, resolved.
    pub fn truth_path(&self) -> PathBuf {
        self.path(&self.truth.file)
    }

    /// Every row of the truth file.
    pub fn truth(&self) -> Result<Vec<TruthRow>, EvalError> {
        let t = &self.truth;
        files::read_truth_tsv(
            &self.truth_path(),
            t.header,
            t.id_column,
            t.sequence_column,
            t.value_column,
        )
    }

    /// The `(id, raw sequence)` pairs a model must score for this benchmark (every row
    /// of the truth file; ids are test indices).
    pub fn sequences(&self) -> Result<Vec<(String, String)>, EvalError> {
        Ok(self
            .truth()?
            .into_iter()
            .map(|r| (r.id, r.sequence))
            .collect())
    }

    /// The public-leaderboard sets; empty when the definition has no discard rule.
    pub fn public_sets(&self) -> Result<PublicSets, EvalError> {
        let mut indices = HashSet::new();
        let mut pairs = HashSet::new();
        if let Some(rule) = &self.discard_public {
            for f in &rule.single_files {
                indices.extend(files::read_json_keys(&self.path(f))?);
            }
            for f in &rule.pair_files {
                for (alt, reference) in files::read_json_pair_keys(&self.path(f))? {
                    indices.insert(alt.clone());
                    indices.insert(reference.clone());
                    pairs.insert((alt, reference));
                }
            }
        }
        Ok(PublicSets { indices, pairs })
    }

    /// Every subset's members after the discard rule. `all_ids` are the truth file's
    /// ids in file order; every member must be one of them.
    pub fn selections(&self, all_ids: &[String]) -> Result<Vec<Selection>, EvalError> {
        let PublicSets {
            indices: public_indices,
            pairs: public_pairs,
        } = self.public_sets()?;
        let known: HashSet<&str> = all_ids.iter().map(String::as_str).collect();
        let discarding = self.discard_public.is_some();
        let mut out = Vec::with_capacity(self.subsets.len());
        for s in &self.subsets {
            let (members, before) = match &s.source {
                SubsetSource::All => {
                    let kept: Vec<String> = all_ids
                        .iter()
                        .filter(|id| !public_indices.contains(*id))
                        .cloned()
                        .collect();
                    (Members::Single(kept), all_ids.len())
                }
                SubsetSource::CsvPos { file } | SubsetSource::JsonKeys { file } => {
                    let path = self.path(file);
                    let ids = match &s.source {
                        SubsetSource::CsvPos { .. } => files::read_csv_pos(&path)?,
                        _ => dedup(files::read_json_keys(&path)?),
                    };
                    let before = ids.len();
                    let kept: Vec<String> = ids
                        .into_iter()
                        .filter(|id| !public_indices.contains(id))
                        .collect();
                    (Members::Single(kept), before)
                }
                SubsetSource::CsvPairs { file } | SubsetSource::JsonPairKeys { file } => {
                    let path = self.path(file);
                    let pairs = match &s.source {
                        SubsetSource::CsvPairs { .. } => files::read_csv_pairs(&path)?,
                        _ => dedup(files::read_json_pair_keys(&path)?),
                    };
                    let before = pairs.len();
                    let kept: Vec<(String, String)> = pairs
                        .into_iter()
                        .filter(|p| !public_pairs.contains(p))
                        .collect();
                    (Members::Pairs(kept), before)
                }
            };
            let unknown: Vec<&str> = match &members {
                Members::Single(v) => v
                    .iter()
                    .map(String::as_str)
                    .filter(|id| !known.contains(id))
                    .collect(),
                Members::Pairs(v) => v
                    .iter()
                    .flat_map(|(a, r)| [a.as_str(), r.as_str()])
                    .filter(|id| !known.contains(id))
                    .collect(),
            };
            if let Some(first) = unknown.first() {
                return Err(EvalError::UnknownId {
                    subset: s.name.clone(),
                    id: first.to_string(),
                    count: unknown.len(),
                    truth: self.truth_path(),
                });
            }
            if members.len() < 2 {
                return Err(EvalError::SubsetTooSmall {
                    subset: s.name.clone(),
                    n: members.len(),
                    after_discard: discarding && before >= 2,
                });
            }
            out.push(Selection {
                name: s.name.clone(),
                kind: s.kind,
                weight: s.weight,
                discarded: before - members.len(),
                members,
            });
        }
        Ok(out)
    }
}

fn dedup<T: Clone + Eq + std::hash::Hash>(items: Vec<T>) -> Vec<T> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|x| seen.insert(x.clone()))
        .collect()
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
