//! Inference engines behind one trait: tract (pure Rust), ONNX Runtime on CPU, ONNX
//! Runtime with the CUDA execution provider, and `auto` (the default): ONNX Runtime on
//! the CPU when its library loads, else tract.
//!
//! Every backend runs a model with one float32 input `[rows, channels, length]` and one
//! output `[rows]` or `[rows, tasks]`, and returns the output flattened row-major.
//! ONNX Runtime is loaded at run time (`ort`'s `load-dynamic`), so the `infer` binary
//! starts and scores with tract on machines that have no onnxruntime at all.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
#[cfg(feature = "native")]
use std::sync::OnceLock;

use tract_onnx::prelude::*;

/// Which engine runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "native", derive(clap::ValueEnum))]
pub enum BackendKind {
    /// ONNX Runtime on the CPU when its library loads (the faster engine), else tract
    #[default]
    Auto,
    /// tract, pure Rust, no native library needed
    Tract,
    /// ONNX Runtime, CPU execution provider
    Ort,
    /// ONNX Runtime, CUDA execution provider (fails rather than falling back to CPU)
    OrtCuda,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Auto => "auto",
            BackendKind::Tract => "tract",
            BackendKind::Ort => "ort",
            BackendKind::OrtCuda => "ort-cuda",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = BackendError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(BackendKind::Auto),
            "tract" => Ok(BackendKind::Tract),
            "ort" => Ok(BackendKind::Ort),
            "ort-cuda" => Ok(BackendKind::OrtCuda),
            other => Err(BackendError::UnknownBackend(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("unknown backend {0:?} (expected auto, tract, ort or ort-cuda)")]
    UnknownBackend(String),
    #[error("tract cannot load {}: {message}", path.display())]
    TractLoad { path: PathBuf, message: String },
    #[error("tract failed to run the model: {0}")]
    TractRun(String),
    #[error(
        "ONNX Runtime library not found (tried {tried}); run scripts/setup.sh in the source \
         checkout, or set ORT_DYLIB_PATH to a libonnxruntime.so of version 1.30 or 1.31 \
         (e.g. from `pip install onnxruntime==1.31.1`: onnxruntime/capi/libonnxruntime.so.1.31.1)"
    )]
    OrtMissing { tried: String },
    #[error(
        "cannot load the ONNX Runtime library: {message}; set ORT_DYLIB_PATH to a \
         libonnxruntime.so of version 1.30 or 1.31, or run scripts/setup.sh"
    )]
    OrtLoad { message: String },
    #[error("ONNX Runtime cannot load {}: {message}", path.display())]
    OrtSession { path: PathBuf, message: String },
    #[error(
        "the CUDA execution provider could not be registered ({message}); this needs the GPU \
         build of ONNX Runtime (onnxruntime-gpu 1.30/1.31 via ORT_DYLIB_PATH) with CUDA 13 and \
         cuDNN 9 libraries on the library path and a visible GPU; use --backend ort or tract \
         to run on the CPU"
    )]
    CudaUnavailable { message: String },
    #[error("ONNX Runtime failed to run the model: {0}")]
    OrtRun(String),
    #[error("batch of {rows} rows does not fit the plan ({max_rows} rows at most, {row_len} floats each, got {len} floats)")]
    BadBatch { rows: usize, max_rows: usize, row_len: usize, len: usize },
    /// An engine from outside this crate (e.g. `train eval`'s libtorch network) failed.
    #[error("{engine} failed to run the model: {message}")]
    EngineRun { engine: &'static str, message: String },
    #[error("the model returned {got} values for {rows} rows; expected a whole number per row")]
    BadOutput { rows: usize, got: usize },
}

/// Shape of the batches a backend will be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendOptions {
    /// Rows per forward pass at most (tract builds its plan for exactly this many).
    pub max_rows: usize,
    pub channels: usize,
    pub length: usize,
    /// Intra-op threads; 0 means all cores.
    pub threads: usize,
}

/// A loaded model ready to run batches.
pub trait Backend: Send {
    /// Runs `rows` inputs (`x` holds `rows * channels * length` floats, row-major) and
    /// returns the output row-major: `rows * outputs_per_row` floats. `rows` may be less
    /// than `max_rows`.
    fn run(&mut self, x: &[f32], rows: usize) -> Result<Vec<f32>, BackendError>;
    /// One line saying what runs the model (engine, provider, threads), for the user.
    fn describe(&self) -> String;
}

/// Opens `model` with the chosen engine.
pub fn open(kind: BackendKind, model: &Path, opts: &BackendOptions) -> Result<Box<dyn Backend>, BackendError> {
    let threads = if opts.threads == 0 { default_threads() } else { opts.threads };
    let opts = BackendOptions { threads, max_rows: opts.max_rows.max(1), ..*opts };
    Ok(match kind {
        #[cfg(feature = "native")]
        BackendKind::Auto => open_auto(model, &opts)?,
        #[cfg(feature = "native")]
        BackendKind::Ort => Box::new(OrtBackend::open(model, &opts, false)?),
        #[cfg(feature = "native")]
        BackendKind::OrtCuda => Box::new(OrtBackend::open(model, &opts, true)?),
        // Without ONNX Runtime compiled in (the wasm build) tract is the only engine.
        #[cfg(not(feature = "native"))]
        BackendKind::Auto | BackendKind::Ort | BackendKind::OrtCuda => Box::new(TractBackend::open(model, &opts)?),
        BackendKind::Tract => Box::new(TractBackend::open(model, &opts)?),
    })
}

#[cfg(feature = "native")]
/// `--backend auto`: ONNX Runtime when its library loads, else tract. Only a missing or
/// unloadable library falls back; a model ONNX Runtime refuses is reported as such, so
/// the two engines never silently disagree about what a file means.
fn open_auto(model: &Path, opts: &BackendOptions) -> Result<Box<dyn Backend>, BackendError> {
    match ort_environment() {
        Ok(_) => {
            let ort = OrtBackend::open(model, opts, false)?;
            Ok(Box::new(AutoChosen { inner: Box::new(ort), why: "ONNX Runtime found" }))
        }
        Err(BackendError::OrtMissing { .. } | BackendError::OrtLoad { .. }) => {
            let tract = TractBackend::open(model, opts)?;
            Ok(Box::new(AutoChosen { inner: Box::new(tract), why: "ONNX Runtime not available" }))
        }
        Err(other) => Err(other),
    }
}

/// The engine `auto` picked, saying so in [`Backend::describe`].
#[cfg(feature = "native")]
struct AutoChosen {
    inner: Box<dyn Backend>,
    why: &'static str,
}

#[cfg(feature = "native")]
impl Backend for AutoChosen {
    fn run(&mut self, x: &[f32], rows: usize) -> Result<Vec<f32>, BackendError> {
        self.inner.run(x, rows)
    }

    fn describe(&self) -> String {
        format!("{} (--backend auto: {})", self.inner.describe(), self.why)
    }
}

/// All cores the process may use.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn check_batch(x: &[f32], rows: usize, opts: &BackendOptions) -> Result<(), BackendError> {
    let row_len = opts.channels * opts.length;
    if rows > opts.max_rows || x.len() != rows * row_len {
        return Err(BackendError::BadBatch { rows, max_rows: opts.max_rows, row_len, len: x.len() });
    }
    Ok(())
}

fn check_output(rows: usize, got: usize) -> Result<(), BackendError> {
    if rows > 0 && (got == 0 || got % rows != 0) {
        return Err(BackendError::BadOutput { rows, got });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// tract

pub type TractPlan = TypedRunnableModel;

/// Rows per tract pass. tract materialises each operator's whole output, im2col's
/// included (DREAM-RNN's widest: 9,600 x 150 floats per row, 2.9 GB for 512 rows), so
/// large passes run out of cache and page-fault their buffers in; and with one row its
/// convolutions skip im2col altogether and fuse the residual adds into the matrix
/// products. Recurrent layers are the exception: their time steps are matrix-vector
/// products at one row, so a few rows amortise them. Single-threaded rows/s by rows per
/// pass (tract-profile, this 2-core AVX2 machine): DREAM-CNN 116 at 1 row / 92 at 4 /
/// 62 at 256; DREAM-RNN 44 / 46 / 39; DREAM-Attn 48 / 55 / 30.
pub const TRACT_SLICE_ROWS: usize = 1;
/// Rows per tract pass for a graph with a recurrent layer (LSTM, GRU, RNN, Scan, Loop).
pub const TRACT_RECURRENT_SLICE_ROWS: usize = 4;

/// Rows per tract pass for this graph; `INFER_TRACT_SLICE_ROWS` overrides it (for
/// `bench/score.sh`).
fn tract_slice_rows(proto: &tract_onnx::pb::ModelProto) -> usize {
    let set = std::env::var("INFER_TRACT_SLICE_ROWS").ok().and_then(|v| v.parse().ok()).filter(|&n: &usize| n > 0);
    set.unwrap_or_else(|| {
        let recurrent = proto.graph.as_ref().is_some_and(|g| {
            g.node.iter().any(|n| matches!(n.op_type.as_str(), "LSTM" | "GRU" | "RNN" | "Scan" | "Loop"))
        });
        if recurrent { TRACT_RECURRENT_SLICE_ROWS } else { TRACT_SLICE_ROWS }
    })
}

/// tract with the batch dimension fixed per plan: an LSTM with a symbolic batch panics
/// in `into_optimized()` (tract 0.23), and a concrete shape also lets tract pick its
/// kernels once. A batch is cut into small slices ([`TRACT_SLICE_ROWS`] rows) that the
/// threads take in turn over one shared plan, one thread each: tract spreads only its
/// matrix products over threads, while slices keep every operator busy (im2col,
/// transposes, the LSTM's time steps), and a thread slowed by a competing process
/// simply takes fewer slices. Plans are built when first needed, for a power-of-two
/// number of rows up to the slice size, so a one-sequence input does not pay for a full
/// slice; a slice is zero-padded to its plan's row count and the padding rows dropped
/// from the output.
pub struct TractBackend {
    path: PathBuf,
    /// The parsed (and rewritten) graph, with its batch dimension still open.
    model: InferenceModel,
    /// Optimised plans by rows per slice, at most `slice_rows`.
    plans: Vec<(usize, Arc<TractPlan>)>,
    opts: BackendOptions,
    slice_rows: usize,
}

impl TractBackend {
    pub fn open(model: &Path, opts: &BackendOptions) -> Result<TractBackend, BackendError> {
        let (parsed, slice_rows) = Self::parse(model, true)?;
        let slice_rows = opts.max_rows.min(slice_rows).max(1);
        Ok(TractBackend { path: model.to_path_buf(), model: parsed, plans: Vec::new(), opts: *opts, slice_rows })
    }

    /// tract-onnx panics on some malformed graphs (an output that no node produces:
    /// fuzz/regressions/onnx/); a bad model file must be an error, not a crash. Both
    /// parsing and optimising run under this guard.
    fn guarded<T>(model: &Path, f: impl FnOnce() -> Result<T, BackendError>) -> Result<T, BackendError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(BackendError::TractLoad {
                path: model.to_path_buf(),
                message: format!("not a model tract can read (tract failed: {why})"),
            })
        })
    }

    /// The graph, and the rows per pass that suit it.
    fn parse(model: &Path, rewrite: bool) -> Result<(InferenceModel, usize), BackendError> {
        Self::guarded(model, || Self::parse_unguarded(model, rewrite))
    }

    /// As [`Self::open`], for a model held in memory (the browser has no files);
    /// `name` stands for it in error messages.
    pub fn from_bytes(name: &Path, bytes: &[u8], opts: &BackendOptions) -> Result<TractBackend, BackendError> {
        let opts = BackendOptions { threads: 1, max_rows: opts.max_rows.max(1), ..*opts };
        let (parsed, slice_rows) = Self::guarded(name, || {
            let err = |e: TractError| BackendError::TractLoad { path: name.to_path_buf(), message: format!("{e:#}") };
            let proto = tract_onnx::onnx().proto_model_for_read(&mut &*bytes).map_err(err)?;
            Self::from_proto(name, proto, true)
        })?;
        Ok(TractBackend { path: name.to_path_buf(), model: parsed, plans: Vec::new(), opts, slice_rows: opts.max_rows.min(slice_rows) })
    }

    fn parse_unguarded(model: &Path, rewrite: bool) -> Result<(InferenceModel, usize), BackendError> {
        let err = |e: TractError| BackendError::TractLoad { path: model.to_path_buf(), message: format!("{e:#}") };
        let proto = tract_onnx::onnx().proto_model_for_path(model).map_err(err)?;
        Self::from_proto(model, proto, rewrite)
    }

    fn from_proto(model: &Path, mut proto: tract_onnx::pb::ModelProto, rewrite: bool) -> Result<(InferenceModel, usize), BackendError> {
        let err = |e: TractError| BackendError::TractLoad { path: model.to_path_buf(), message: format!("{e:#}") };
        let onnx = tract_onnx::onnx();
        if rewrite {
            crate::rewrite::for_tract(&mut proto);
        }
        Ok((onnx.model_for_proto_model(&proto).map_err(err)?, tract_slice_rows(&proto)))
    }

    fn optimise(model: InferenceModel, path: &Path, opts: &BackendOptions) -> Result<Arc<TractPlan>, BackendError> {
        Self::guarded(path, || Self::optimise_unguarded(model, path, opts))
    }

    fn optimise_unguarded(model: InferenceModel, path: &Path, opts: &BackendOptions) -> Result<Arc<TractPlan>, BackendError> {
        let err = |e: TractError| BackendError::TractLoad { path: path.to_path_buf(), message: format!("{e:#}") };
        let fact = f32::fact([opts.max_rows, opts.channels, opts.length]);
        let optimized = model.with_input_fact(0, fact.into()).map_err(err)?.into_optimized().map_err(err)?;
        #[cfg(feature = "native")]
        let executor = if opts.threads > 1 {
            Some(tract_linalg::multithread::Executor::multithread(opts.threads))
        } else {
            None
        };
        // No threads in the browser: tract's own single-threaded matrix products.
        #[cfg(not(feature = "native"))]
        let executor = None;
        let run_options = RunOptions { executor, ..Default::default() };
        optimized.into_runnable_with_options(&run_options).map_err(err)
    }

    /// The plan for slices of `rows` rows, built on first use.
    fn plan(&mut self, rows: usize) -> Result<Arc<TractPlan>, BackendError> {
        if let Some((_, plan)) = self.plans.iter().find(|(r, _)| *r == rows) {
            return Ok(plan.clone());
        }
        let opts = BackendOptions { max_rows: rows, threads: 1, ..self.opts };
        let plan = Self::optimise(self.model.clone(), &self.path, &opts)?;
        self.plans.push((rows, plan.clone()));
        Ok(plan)
    }

    /// The optimised, runnable plan for batches of exactly `opts.max_rows` rows, with the
    /// graph rewrites of [`crate::rewrite`]; with `opts.threads > 1` tract's own
    /// multithreaded executor runs its matrix products.
    pub fn load_plan(model: &Path, opts: &BackendOptions) -> Result<Arc<TractPlan>, BackendError> {
        Self::load_plan_with(model, opts, true)
    }

    /// As [`Self::load_plan`]; `rewrite: false` gives tract the graph as written (to
    /// measure and test the rewrites).
    pub fn load_plan_with(model: &Path, opts: &BackendOptions, rewrite: bool) -> Result<Arc<TractPlan>, BackendError> {
        Self::optimise(Self::parse(model, rewrite)?.0, model, opts)
    }
}

impl TractBackend {
    /// Runs one slice of at most `slice_rows` rows and returns its output rows.
    fn run_slice(plan: &Arc<TractPlan>, x: &[f32], rows: usize, slice_rows: usize, opts: &BackendOptions) -> Result<Vec<f32>, BackendError> {
        let row_len = opts.channels * opts.length;
        let shape = [slice_rows, opts.channels, opts.length];
        let input = if rows == slice_rows {
            Tensor::from_shape(&shape, x)
        } else {
            let mut padded = x.to_vec();
            padded.resize(slice_rows * row_len, 0.0);
            Tensor::from_shape(&shape, &padded)
        };
        let run_err = |e: TractError| BackendError::TractRun(format!("{e:#}"));
        let input = input.map_err(run_err)?;
        let outputs = plan.run(tvec!(input.into_tvalue())).map_err(run_err)?;
        // A graph may declare no output at all (found by fuzzing).
        let first = outputs.first().ok_or_else(|| BackendError::TractRun("the model has no output".to_string()))?;
        let out = first
            .try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>())
            .map_err(|e| BackendError::TractRun(format!("output is not a float32 tensor: {e:#}")))?;
        check_output(slice_rows, out.len())?;
        let per_row = out.len() / slice_rows;
        Ok(out[..rows * per_row].to_vec())
    }
}

impl Backend for TractBackend {
    fn run(&mut self, x: &[f32], rows: usize) -> Result<Vec<f32>, BackendError> {
        check_batch(x, rows, &self.opts)?;
        if rows == 0 {
            return Ok(Vec::new());
        }
        let row_len = self.opts.channels * self.opts.length;
        let slice_rows = rows.next_power_of_two().min(self.slice_rows);
        let plan = &self.plan(slice_rows)?;
        let opts = &self.opts;
        let slices: Vec<(&[f32], usize)> =
            x.chunks(slice_rows * row_len).map(|c| (c, c.len() / row_len.max(1))).collect();
        let workers = self.opts.threads.clamp(1, slices.len());
        let results: Vec<Result<Vec<f32>, BackendError>> = if workers == 1 {
            slices.iter().map(|&(x, n)| Self::run_slice(plan, x, n, slice_rows, opts)).collect()
        } else {
            // Each worker takes the next slice until none is left; results keep their order.
            let next = std::sync::atomic::AtomicUsize::new(0);
            let done: Vec<Vec<(usize, Result<Vec<f32>, BackendError>)>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut mine = Vec::new();
                            loop {
                                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let Some(&(x, n)) = slices.get(i) else { break };
                                let r = Self::run_slice(plan, x, n, slice_rows, opts);
                                let failed = r.is_err();
                                mine.push((i, r));
                                if failed {
                                    break;
                                }
                            }
                            mine
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|_| vec![(0, Err(BackendError::TractRun("a tract worker panicked".into())))]))
                    .collect()
            });
            let mut all: Vec<(usize, Result<Vec<f32>, BackendError>)> = done.into_iter().flatten().collect();
            all.sort_by_key(|(i, _)| *i);
            if let Some(pos) = all.iter().position(|(_, r)| r.is_err()) {
                return Err(all.swap_remove(pos).1.unwrap_err());
            }
            if all.len() != slices.len() {
                return Err(BackendError::TractRun("a tract worker stopped before its slices were done".into()));
            }
            all.into_iter().map(|(_, r)| r).collect()
        };
        let mut out = Vec::new();
        for r in results {
            out.extend(r?);
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        format!(
            "tract on the CPU, {} thread{}, {} rows per pass{}",
            self.opts.threads,
            if self.opts.threads == 1 { "" } else { "s" },
            self.opts.max_rows,
            if self.slice_rows < self.opts.max_rows { format!(" in slices of {} at most", self.slice_rows) } else { String::new() }
        )
    }
}

// ---------------------------------------------------------------------------------------
// ONNX Runtime

#[cfg(feature = "native")]
/// The ONNX Runtime library path: `ORT_DYLIB_PATH` if set, else `libonnxruntime.so`
/// next to the executable, else the one `scripts/setup.sh` installs in the workspace
/// this binary was built from. Returns the candidates tried when none exists.
pub fn ort_library_path() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        // Checked by the loader itself (a relative path is tried next to the exe first).
        return Ok(PathBuf::from(p));
    }
    let mut tried = Vec::new();
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        let beside = dir.join(ORT_LIB_NAME);
        if beside.exists() {
            return Ok(beside);
        }
        tried.push(beside);
    }
    let built_in = PathBuf::from(env!("INFER_DEFAULT_ORT_DYLIB"));
    if built_in.exists() {
        return Ok(built_in);
    }
    tried.push(built_in);
    Err(tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
}

#[cfg(feature = "native")]
#[cfg(target_os = "macos")]
const ORT_LIB_NAME: &str = "libonnxruntime.dylib";
#[cfg(feature = "native")]
#[cfg(windows)]
const ORT_LIB_NAME: &str = "onnxruntime.dll";
#[cfg(feature = "native")]
#[cfg(not(any(target_os = "macos", windows)))]
const ORT_LIB_NAME: &str = "libonnxruntime.so";

#[cfg(feature = "native")]
/// Why the ONNX Runtime environment could not be created (kept to answer later calls).
#[derive(Debug, Clone)]
enum OrtInitFailure {
    Missing { tried: String },
    Load { message: String },
}

#[cfg(feature = "native")]
/// ONNX Runtime allows one environment per process, ever, and a library cannot be
/// loaded twice; every session shares the first outcome, failure included.
static ORT_ENV: OnceLock<Result<(ort::environment::Environment, PathBuf), OrtInitFailure>> = OnceLock::new();

#[cfg(feature = "native")]
fn ort_environment() -> Result<&'static ort::environment::Environment, BackendError> {
    let env = ORT_ENV.get_or_init(|| {
        let path = ort_library_path().map_err(|tried| OrtInitFailure::Missing { tried })?;
        disable_ort_telemetry();
        let builder = ort::init_from(&path).map_err(|e| OrtInitFailure::Load { message: e.to_string() })?;
        let env = builder
            .with_name("infer")
            .with_telemetry(false)
            .build()
            .map_err(|e| OrtInitFailure::Load { message: e.to_string() })?;
        Ok((env, std::fs::canonicalize(&path).unwrap_or(path)))
    });
    match env {
        Ok((env, _)) => Ok(env),
        Err(OrtInitFailure::Missing { tried }) => Err(BackendError::OrtMissing { tried: tried.clone() }),
        Err(OrtInitFailure::Load { message }) => Err(BackendError::OrtLoad { message: message.clone() }),
    }
}

#[cfg(feature = "native")]
/// ONNX Runtime 1.29+ on Linux keeps a device id in
/// `~/.cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db` and queues events
/// (with error messages and paths) for upload as soon as its environment is created,
/// before `DisableTelemetryEvents` (what `with_telemetry(false)` calls) can run. Only
/// `ORT_DISABLE_TELEMETRY`, read at that creation, stops it; users score unpublished
/// sequences, so it is set unless the user set it. Called once, before ONNX Runtime is
/// loaded and before the backends start their threads.
pub const ORT_TELEMETRY_VAR: &str = "ORT_DISABLE_TELEMETRY";

#[cfg(feature = "native")]
fn disable_ort_telemetry() {
    if std::env::var_os(ORT_TELEMETRY_VAR).is_none() {
        std::env::set_var(ORT_TELEMETRY_VAR, "1");
    }
}

#[cfg(feature = "native")]
/// The loaded ONNX Runtime, as its version when the (symlink-resolved) file name carries
/// one (`libonnxruntime.so.1.31.1`, as pip installs it), else its path. The build-info
/// string of the PyPI builds says only `git-branch=HEAD`.
fn ort_version() -> String {
    let Some(Ok((_, path))) = ORT_ENV.get() else { return "(not loaded)".to_string() };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match name.split_once(".so.") {
        Some((_, v)) if v.chars().next().is_some_and(|c| c.is_ascii_digit()) => v.to_string(),
        _ => format!("({})", path.display()),
    }
}

#[cfg(feature = "native")]
pub struct OrtBackend {
    session: ort::session::Session,
    opts: BackendOptions,
    provider: &'static str,
}

#[cfg(feature = "native")]
impl OrtBackend {
    pub fn open(model: &Path, opts: &BackendOptions, cuda: bool) -> Result<OrtBackend, BackendError> {
        let env = ort_environment()?;
        let session_err = |message: String| BackendError::OrtSession { path: model.to_path_buf(), message };
        use ort::session::builder::GraphOptimizationLevel;
        let mut builder = ort::session::Session::builder(env)
            .map_err(|e| session_err(e.to_string()))?
            // `All` is every level up to and including 3 (layout), the Python default.
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| session_err(e.to_string()))?
            .with_intra_threads(opts.threads)
            .map_err(|e| session_err(e.to_string()))?
            // Idle pool threads sleep instead of spinning: on shared cores (clusters,
            // laptops doing other work) spinning burns the CPU the other threads need,
            // and the batches here are long enough that waking costs nothing measurable.
            .with_intra_op_spinning(false)
            .map_err(|e| session_err(e.to_string()))?;
        if cuda {
            // Without error_on_failure ONNX Runtime logs and quietly runs on the CPU.
            builder = builder
                .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                .map_err(|e| BackendError::CudaUnavailable { message: e.to_string() })?;
        }
        let session = builder.commit_from_file(model).map_err(|e| {
            let message = e.to_string();
            if cuda && message.to_ascii_lowercase().contains("cuda") {
                BackendError::CudaUnavailable { message }
            } else {
                session_err(message)
            }
        })?;
        let provider = if cuda { "CUDAExecutionProvider" } else { "CPUExecutionProvider" };
        Ok(OrtBackend { session, opts: *opts, provider })
    }
}

#[cfg(feature = "native")]
impl Backend for OrtBackend {
    fn run(&mut self, x: &[f32], rows: usize) -> Result<Vec<f32>, BackendError> {
        check_batch(x, rows, &self.opts)?;
        if rows == 0 {
            return Ok(Vec::new());
        }
        let err = |e: ort::Error| BackendError::OrtRun(e.to_string());
        let shape = [rows, self.opts.channels, self.opts.length];
        let input = ort::value::TensorRef::from_array_view((shape, x)).map_err(err)?;
        let outputs = self.session.run(ort::inputs![input]).map_err(err)?;
        let first = outputs.values().next().ok_or_else(|| BackendError::OrtRun("the model has no output".to_string()))?;
        let (_, out) = first.try_extract_tensor::<f32>().map_err(err)?;
        check_output(rows, out.len())?;
        Ok(out.to_vec())
    }

    fn describe(&self) -> String {
        format!(
            "ONNX Runtime {} with {}, {} intra-op thread{}",
            ort_version(),
            self.provider,
            self.opts.threads,
            if self.opts.threads == 1 { "" } else { "s" }
        )
    }
}
