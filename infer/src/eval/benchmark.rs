//! A benchmark's definition: where its truth file and subset lists are, their weights,
//! the public-leaderboard discard rule, the built-in DREAM definitions, and where the
//! data directory is.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::{self, TruthRow};
use super::EvalError;


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
pub(super) const DEV_DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/dream");

pub(super) const DATA_SOURCES: &str = "The public leaderboard files (public_leaderboard.tsv, \
public_leaderboard_ids/, test_subset_ids/) come from the de Boer lab's \
random-promoter-dream-challenge-2022 repository; the full 71,103-sequence test set \
(filtered_test_data_with_MAUDE_expression.txt, test_subset_ids/all_SNVs_seqs.csv) from the \
challenge data release, Zenodo record 10633252.";

pub(super) const DREAM_PUBLIC_JSON: &str = include_str!("builtin/dream-public.json");
pub(super) const DREAM_TEST_JSON: &str = include_str!("builtin/dream-test.json");

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
    pub(super) fn kind(&self) -> SubsetKind {
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

/// The DREAM data directory: `explicit` (`--data-dir`), else `$DREAM_DATA_DIR`, else the
/// development checkout's `../shared/data/dream`.
pub fn resolve_data_dir(explicit: Option<&Path>) -> Result<PathBuf, EvalError> {
    resolve_data_dir_from(
        explicit,
        std::env::var_os(DATA_DIR_ENV),
        Path::new(DEV_DATA_DIR),
    )
}

pub(super) fn resolve_data_dir_from(
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

    pub(super) fn invalid(&self, message: impl Into<String>) -> EvalError {
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

    pub(super) fn path(&self, file: &Path) -> PathBuf {
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
}
