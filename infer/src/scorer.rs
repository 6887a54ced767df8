//! [`Scorer`]: the one way to turn raw sequences into model predictions, shared by
//! `infer score`, the evaluation and fine-tuning.
//!
//! It reproduces the reference predictor (spec training.md §7): pad/trim each raw
//! sequence, encode it with reverse flag 0 and singleton 0, and — when the model's
//! preprocessing asks for reverse-complement averaging — also encode the reverse
//! complement of the *padded* sequence with reverse flag 1, run both through the model
//! in the same forward pass and return their mean.
//!
//! Batching: `batch_size` counts sequences, not network rows. With averaging a pass
//! holds `2 * batch_size` rows, laid out `[fwd 0, rc 0, fwd 1, rc 1, ...]`, so a short
//! last batch is a prefix of a full one; tract's fixed-size plan gets it zero-padded and
//! the padding rows dropped (see [`crate::backend::TractBackend`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::backend::{self, Backend, BackendError, BackendKind, BackendOptions};
use crate::onnx::{self, meta, OnnxError};
use crate::preprocess::{PreprocessError, Preprocessing};
#[cfg(feature = "native")]
use crate::precision::Precision;

/// How to run a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScorerOptions {
    pub backend: BackendKind,
    /// Sequences per forward pass (each is 2 network rows with RC averaging).
    pub batch_size: usize,
    /// Intra-op threads; 0 means all cores.
    pub threads: usize,
    /// `Some(false)` turns reverse-complement averaging off (`--no-rc-average`);
    /// `None` follows the model's preprocessing.
    pub rc_average: Option<bool>,
}

impl Default for ScorerOptions {
    fn default() -> Self {
        ScorerOptions { backend: BackendKind::Auto, batch_size: 256, threads: 0, rc_average: None }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("model {source_spec:?} not found: {reason}")]
    ModelNotFound { source_spec: String, reason: String },
    #[cfg(feature = "native")]
    #[error(transparent)]
    Zoo(#[from] zoo::ZooError),
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    #[error("{} lacks the metadata entry {key:?}; it was not exported by this project's `train export`", path.display())]
    MissingMetadata { path: PathBuf, key: &'static str },
    #[error("{}: invalid metadata entry {key:?}: {message}", path.display())]
    BadMetadata { path: PathBuf, key: &'static str, message: String },
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("batch size must be at least 1")]
    ZeroBatchSize,
    /// A sequence the preprocessing rejects; `index` is its position in the slice given
    /// to [`Scorer::score`], so the caller can name the record.
    #[error("sequence {} of the batch: {source}", index + 1)]
    Sequence { index: usize, source: PreprocessError },
    #[error("the model returned {got} values for {sequences} sequences x {outputs} outputs ({rows} rows)")]
    OutputShape { sequences: usize, outputs: usize, rows: usize, got: usize },
}

/// What the model file says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// The ONNX file actually loaded.
    pub path: PathBuf,
    pub name: Option<String>,
    pub version: Option<String>,
    pub license: Option<String>,
    pub provenance: Option<String>,
    /// Every `metadata_props` entry, including the ones above.
    pub metadata: BTreeMap<String, String>,
}

/// A model opened for scoring.
pub struct Scorer {
    backend: Box<dyn Backend>,
    preprocessing: Preprocessing,
    outputs: Vec<String>,
    batch_size: usize,
    info: ModelInfo,
    /// Reused input buffer of `batch_size * inputs_per_sequence * input_size` floats.
    x: Vec<f32>,
}

impl std::fmt::Debug for Scorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scorer")
            .field("backend", &self.backend.describe())
            .field("preprocessing", &self.preprocessing)
            .field("outputs", &self.outputs)
            .field("batch_size", &self.batch_size)
            .field("model", &self.info.path)
            .finish()
    }
}

#[cfg(feature = "native")]
/// Where a `--model` argument points: an existing file is the ONNX model itself, an
/// existing directory holds `model.onnx`, anything else is a zoo spec `name[@version]`
/// resolved through `zoo` (downloaded into its cache if needed).
pub fn resolve_model(zoo: &zoo::Zoo, source: &str) -> Result<PathBuf, ScoreError> {
    resolve_variant(zoo, source, Precision::Fp32)
}

#[cfg(feature = "native")]
/// As [`resolve_model`], for a published precision variant (`model.int8.onnx` beside
/// `model.onnx` in a directory or zoo version). A variant exists only where it was
/// measured faster with a dream-public score loss under 0.005, so a missing one is an
/// error that says so, never a silent fall-back to float32.
pub fn resolve_variant(zoo: &zoo::Zoo, source: &str, precision: Precision) -> Result<PathBuf, ScoreError> {
    let path = Path::new(source);
    let not_found = |reason: String| ScoreError::ModelNotFound { source_spec: source.to_string(), reason };
    let file = precision.file_name();
    let in_dir = |dir: &Path, what: &str| -> Result<PathBuf, ScoreError> {
        let model = dir.join(&file);
        if model.is_file() {
            return Ok(model);
        }
        Err(not_found(match precision {
            Precision::Fp32 => format!("{what} {} has no {file}", dir.display()),
            p => format!(
                "{what} {} has no {} variant ({file}): variants are published only where they score faster \
                 with a dream-public score loss under 0.005; leave out --precision for the model as exported",
                dir.display(),
                p.name()
            ),
        }))
    };
    if path.is_file() {
        if precision != Precision::Fp32 {
            return Err(not_found(format!(
                "--precision {} picks a published variant of a zoo model or a model directory, and {source} is a \
                 single file (give the variant's file itself, e.g. one made by precision-variant)",
                precision.name()
            )));
        }
        return Ok(path.to_path_buf());
    }
    if path.is_dir() {
        return in_dir(path, "directory");
    }
    // Zoo names never contain a path separator or end in .onnx; saying "no such file"
    // is more helpful than a spec-syntax error for what was clearly meant as a path.
    if source.contains(std::path::MAIN_SEPARATOR) || source.contains('/') || source.ends_with(".onnx") {
        return Err(not_found("no such file or directory".to_string()));
    }
    let spec = zoo::ModelSpec::parse(source)?;
    let dir = zoo.resolve(&spec)?;
    if precision != Precision::Fp32 && !dir.join(&file).is_file() {
        // A copy pulled before the variant was published: a pull brings the version up
        // to what the registry lists now (offline, the error below says what is missing).
        if let Ok(pulled) = zoo.pull(&spec) {
            return in_dir(&pulled.dir, "zoo directory");
        }
    }
    in_dir(&dir, "zoo directory")
}

/// Reads and checks the scoring contract stored in an ONNX file's metadata.
pub fn read_model_description(path: &Path) -> Result<(ModelInfo, Preprocessing, Vec<String>), ScoreError> {
    describe_metadata(path, onnx::read_metadata(path)?)
}

/// Checks the scoring contract in `metadata` (the `metadata_props` of the model `path`).
fn describe_metadata(
    path: &Path,
    metadata: BTreeMap<String, String>,
) -> Result<(ModelInfo, Preprocessing, Vec<String>), ScoreError> {
    let get = |key: &'static str| {
        metadata.get(key).ok_or_else(|| ScoreError::MissingMetadata { path: path.to_path_buf(), key })
    };
    let bad = |key: &'static str, message: String| ScoreError::BadMetadata { path: path.to_path_buf(), key, message };
    let preprocessing: Preprocessing =
        serde_json::from_str(get(meta::PREPROCESSING)?).map_err(|e| bad(meta::PREPROCESSING, e.to_string()))?;
    preprocessing.validate().map_err(|e| bad(meta::PREPROCESSING, e.to_string()))?;
    let outputs: Vec<String> =
        serde_json::from_str(get(meta::OUTPUTS)?).map_err(|e| bad(meta::OUTPUTS, e.to_string()))?;
    if outputs.is_empty() {
        return Err(bad(meta::OUTPUTS, "no output names".to_string()));
    }
    if let Some(name) = outputs.iter().find(|n| n.is_empty() || n.contains(['\t', '\n', '\r'])) {
        return Err(bad(meta::OUTPUTS, format!("output name {name:?} cannot be a TSV column header")));
    }
    let info = ModelInfo {
        path: path.to_path_buf(),
        name: metadata.get(meta::NAME).cloned(),
        version: metadata.get(meta::VERSION).cloned(),
        license: metadata.get(meta::LICENSE).cloned(),
        provenance: metadata.get(meta::PROVENANCE).cloned(),
        metadata: metadata.clone(),
    };
    Ok((info, preprocessing, outputs))
}

/// What every constructor applies before building its engine: a positive batch size,
/// and `rc_average` overriding the model's choice (the engine's row count depends on it).
fn apply_options(mut preprocessing: Preprocessing, opts: &ScorerOptions) -> Result<Preprocessing, ScoreError> {
    if opts.batch_size == 0 {
        return Err(ScoreError::ZeroBatchSize);
    }
    if let Some(rc) = opts.rc_average {
        preprocessing.rc_average = rc;
    }
    Ok(preprocessing)
}

/// The batches an engine will be given: `batch_size` sequences of network rows each.
fn engine_shape(preprocessing: &Preprocessing, opts: &ScorerOptions, threads: usize) -> BackendOptions {
    BackendOptions {
        max_rows: opts.batch_size * preprocessing.inputs_per_sequence(),
        channels: preprocessing.channels(),
        length: preprocessing.length,
        threads,
    }
}

impl Scorer {
    #[cfg(feature = "native")]
    /// Opens a model given as a zoo spec (looked up in `zoo`), a directory or an ONNX
    /// file (see [`resolve_model`]).
    pub fn open(zoo: &zoo::Zoo, source: &str, opts: &ScorerOptions) -> Result<Scorer, ScoreError> {
        Scorer::open_variant(zoo, source, Precision::Fp32, opts)
    }

    #[cfg(feature = "native")]
    /// As [`Scorer::open`], for a published precision variant (see [`resolve_variant`]).
    pub fn open_variant(zoo: &zoo::Zoo, source: &str, precision: Precision, opts: &ScorerOptions) -> Result<Scorer, ScoreError> {
        let path = resolve_variant(zoo, source, precision)?;
        Scorer::open_path(&path, opts)
    }

    /// Opens an ONNX file written by this project's exporter.
    pub fn open_path(path: &Path, opts: &ScorerOptions) -> Result<Scorer, ScoreError> {
        let (info, preprocessing, outputs) = read_model_description(path)?;
        let preprocessing = apply_options(preprocessing, opts)?;
        let backend = backend::open(opts.backend, path, &engine_shape(&preprocessing, opts, opts.threads))?;
        Ok(Scorer { backend, preprocessing, outputs, batch_size: opts.batch_size, info, x: Vec::new() })
    }

    /// A model run by an engine the caller built (libtorch in `train eval`), described
    /// by the caller: the rest (preprocessing, batching, averaging) is `infer score`'s.
    /// Only `batch_size` and `rc_average` of `opts` apply.
    pub fn with_backend(
        backend: Box<dyn Backend>,
        info: ModelInfo,
        preprocessing: Preprocessing,
        outputs: Vec<String>,
        opts: &ScorerOptions,
    ) -> Result<Scorer, ScoreError> {
        let preprocessing = apply_options(preprocessing, opts)?;
        Ok(Scorer { backend, preprocessing, outputs, batch_size: opts.batch_size, info, x: Vec::new() })
    }

    /// Opens a model held in memory with tract (the browser's way: no files, no ONNX
    /// Runtime); `name` stands for it in messages.
    pub fn from_bytes(name: &str, bytes: &[u8], opts: &ScorerOptions) -> Result<Scorer, ScoreError> {
        let path = PathBuf::from(name);
        let metadata = onnx::metadata_from_bytes(bytes)
            .map_err(|reason| OnnxError::NotOnnx { path: path.clone(), reason })?;
        let (info, preprocessing, outputs) = describe_metadata(&path, metadata)?;
        let preprocessing = apply_options(preprocessing, opts)?;
        let backend = backend::TractBackend::from_bytes(&path, bytes, &engine_shape(&preprocessing, opts, 1))?;
        Ok(Scorer { backend: Box::new(backend), preprocessing, outputs, batch_size: opts.batch_size, info, x: Vec::new() })
    }

    /// The preprocessing actually applied (with `rc_average` as overridden by the options).
    pub fn preprocessing(&self) -> &Preprocessing {
        &self.preprocessing
    }

    /// Output names, one per prediction column.
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    pub fn rc_average(&self) -> bool {
        self.preprocessing.rc_average
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    pub fn model(&self) -> &ModelInfo {
        &self.info
    }

    /// The model as a person names it: `name version`, else its file.
    pub fn label(&self) -> String {
        let info = &self.info;
        let label = match (&info.name, &info.version) {
            (Some(n), Some(v)) => format!("{n} {v}"),
            (Some(n), None) => n.clone(),
            _ => info.path.display().to_string(),
        };
        match info.metadata.get(meta::PRECISION).filter(|p| p.as_str() != "fp32") {
            Some(p) => format!("{label} ({p})"),
            None => label,
        }
    }

    /// What runs the model (engine, execution provider, threads).
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// Scores raw sequences (as in the input files, adapters included) and returns
    /// `seqs.len() * outputs().len()` predictions, row-major (sequence by sequence).
    /// Any number of sequences is accepted; they are run `batch_size` at a time.
    pub fn score(&mut self, seqs: &[&[u8]]) -> Result<Vec<f32>, ScoreError> {
        self.score_with_ids(seqs, None)
    }

    /// As [`Self::score`], with record ids: models whose preprocessing reads the
    /// orientation from the id (benchmark models) need them.
    pub fn score_records(&mut self, ids: &[&str], seqs: &[&[u8]]) -> Result<Vec<f32>, ScoreError> {
        assert_eq!(ids.len(), seqs.len(), "one id per sequence");
        self.score_with_ids(seqs, Some(ids))
    }

    fn score_with_ids(&mut self, seqs: &[&[u8]], ids: Option<&[&str]>) -> Result<Vec<f32>, ScoreError> {
        let mut out = Vec::with_capacity(seqs.len() * self.outputs.len());
        for (k, chunk) in seqs.chunks(self.batch_size).enumerate() {
            let start = k * self.batch_size;
            let chunk_ids = ids.map(|ids| &ids[start..start + chunk.len()]);
            self.score_chunk(chunk, chunk_ids, start, &mut out)?;
        }
        Ok(out)
    }

    fn score_chunk(
        &mut self,
        seqs: &[&[u8]],
        ids: Option<&[&str]>,
        first_index: usize,
        out: &mut Vec<f32>,
    ) -> Result<(), ScoreError> {
        let mut x = std::mem::take(&mut self.x);
        let ran = self.encode_into(seqs, ids, first_index, &mut x).and_then(|()| self.run_encoded(&x, seqs.len()));
        self.x = x;
        self.average_into(&ran?, out);
        Ok(())
    }

    /// The engine's input for `seqs` (every test-time row of each, as the preprocessing
    /// describes them), written into `x`. With `ids`, models that read the orientation
    /// from the id get it. `first_index` numbers the sequences in errors.
    pub fn encode_into(
        &self,
        seqs: &[&[u8]],
        ids: Option<&[&str]>,
        first_index: usize,
        x: &mut Vec<f32>,
    ) -> Result<(), ScoreError> {
        let stride = self.preprocessing.inputs_per_sequence() * self.preprocessing.input_size();
        x.resize(seqs.len() * stride, 0.0);
        for (i, (seq, slot)) in seqs.iter().zip(x.chunks_exact_mut(stride)).enumerate() {
            let reverse = ids.is_some_and(|ids| self.preprocessing.reverse_from_id(ids[i]));
            self.preprocessing
                .encode_record_for_scoring(seq, reverse, slot)
                .map_err(|source| ScoreError::Sequence { index: first_index + i, source })?;
        }
        Ok(())
    }

    /// Runs the engine on the encoded input of `sequences` sequences ([`Self::encode_into`]);
    /// returns its raw rows, not yet averaged.
    pub fn run_encoded(&mut self, x: &[f32], sequences: usize) -> Result<Vec<f32>, ScoreError> {
        let rows = sequences * self.preprocessing.inputs_per_sequence();
        let y = self.backend.run(x, rows)?;
        let n_out = self.outputs.len();
        if y.len() != rows * n_out {
            return Err(ScoreError::OutputShape { sequences, outputs: n_out, rows, got: y.len() });
        }
        Ok(y)
    }

    /// Each sequence's predictions from the engine's rows ([`Self::run_encoded`]): the
    /// mean over its test-time rows, appended to `out`.
    pub fn average_into(&self, y: &[f32], out: &mut Vec<f32>) {
        let per_seq = self.preprocessing.inputs_per_sequence();
        let n_out = self.outputs.len();
        // Rows of one sequence are adjacent: mean over each group of `per_seq` rows.
        for group in y.chunks_exact(per_seq * n_out) {
            for j in 0..n_out {
                let sum: f32 = (0..per_seq).map(|r| group[r * n_out + j]).sum();
                // (y + y_rev) / 2 exactly as the reference computes it in float32.
                out.push(sum / per_seq as f32);
            }
        }
    }
}
