//! Inference engines behind one trait: tract (pure Rust, the default), ONNX Runtime on
//! CPU, ONNX Runtime with the CUDA execution provider.
//!
//! Every backend runs a model with one float32 input `[rows, channels, length]` and one
//! output `[rows]` or `[rows, tasks]`, and returns the output flattened row-major.
//! ONNX Runtime is loaded at run time (`ort`'s `load-dynamic`), so the `infer` binary
//! starts and scores with tract on machines that have no onnxruntime at all.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use tract_onnx::prelude::*;

/// Which engine runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BackendKind {
    /// tract, pure Rust, no native library needed
    #[default]
    Tract,
    /// ONNX Runtime, CPU execution provider
    Ort,
    /// ONNX Runtime, CUDA execution provider (fails rather than falling back to CPU)
    OrtCuda,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
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
            "tract" => Ok(BackendKind::Tract),
            "ort" => Ok(BackendKind::Ort),
            "ort-cuda" => Ok(BackendKind::OrtCuda),
            other => Err(BackendError::UnknownBackend(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("unknown backend {0:?} (expected tract, ort or ort-cuda)")]
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
        BackendKind::Tract => Box::new(TractBackend::open(model, &opts)?),
        BackendKind::Ort => Box::new(OrtBackend::open(model, &opts, false)?),
        BackendKind::OrtCuda => Box::new(OrtBackend::open(model, &opts, true)?),
    })
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

type TractPlan = TypedRunnableModel;

/// tract with the batch dimension fixed at load time: an LSTM with a symbolic batch
/// panics in `into_optimized()` (tract 0.23), and a concrete shape also lets tract pick
/// its matrix kernels once. Short batches are zero-padded to the plan's row count and
/// the padding rows dropped from the output.
pub struct TractBackend {
    plan: Arc<TractPlan>,
    opts: BackendOptions,
    padded: Vec<f32>,
}

impl TractBackend {
    pub fn open(model: &Path, opts: &BackendOptions) -> Result<TractBackend, BackendError> {
        // tract-onnx panics on some malformed graphs (an output that no node produces:
        // fuzz/regressions/onnx/); a bad model file must be an error, not a crash.
        std::panic::catch_unwind(|| Self::open_unguarded(model, opts)).unwrap_or_else(|panic| {
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

    fn open_unguarded(model: &Path, opts: &BackendOptions) -> Result<TractBackend, BackendError> {
        let err = |e: TractError| BackendError::TractLoad { path: model.to_path_buf(), message: format!("{e:#}") };
        let fact = f32::fact([opts.max_rows, opts.channels, opts.length]);
        let optimized = tract_onnx::onnx()
            .model_for_path(model)
            .map_err(err)?
            .with_input_fact(0, fact.into())
            .map_err(err)?
            .into_optimized()
            .map_err(err)?;
        let executor = if opts.threads > 1 {
            Some(tract_linalg::multithread::Executor::multithread(opts.threads))
        } else {
            None
        };
        let run_options = RunOptions { executor, ..Default::default() };
        let plan = optimized.into_runnable_with_options(&run_options).map_err(err)?;
        Ok(TractBackend { plan, opts: *opts, padded: Vec::new() })
    }
}

impl Backend for TractBackend {
    fn run(&mut self, x: &[f32], rows: usize) -> Result<Vec<f32>, BackendError> {
        check_batch(x, rows, &self.opts)?;
        let shape = [self.opts.max_rows, self.opts.channels, self.opts.length];
        let input = if rows == self.opts.max_rows {
            Tensor::from_shape(&shape, x)
        } else {
            self.padded.clear();
            self.padded.extend_from_slice(x);
            self.padded.resize(shape.iter().product(), 0.0);
            Tensor::from_shape(&shape, &self.padded)
        }
        .map_err(|e| BackendError::TractRun(format!("{e:#}")))?;
        let outputs = self.plan.run(tvec!(input.into_tvalue())).map_err(|e| BackendError::TractRun(format!("{e:#}")))?;
        // A graph may declare no output at all (found by fuzzing).
        let first = outputs.first().ok_or_else(|| BackendError::TractRun("the model has no output".to_string()))?;
        let out = first
            .try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>())
            .map_err(|e| BackendError::TractRun(format!("output is not a float32 tensor: {e:#}")))?;
        check_output(self.opts.max_rows, out.len())?;
        let per_row = out.len() / self.opts.max_rows;
        Ok(out[..rows * per_row].to_vec())
    }

    fn describe(&self) -> String {
        format!(
            "tract on the CPU, {} thread{}, {} rows per pass",
            self.opts.threads,
            if self.opts.threads == 1 { "" } else { "s" },
            self.opts.max_rows
        )
    }
}

// ---------------------------------------------------------------------------------------
// ONNX Runtime

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

#[cfg(target_os = "macos")]
const ORT_LIB_NAME: &str = "libonnxruntime.dylib";
#[cfg(windows)]
const ORT_LIB_NAME: &str = "onnxruntime.dll";
#[cfg(not(any(target_os = "macos", windows)))]
const ORT_LIB_NAME: &str = "libonnxruntime.so";

/// Why the ONNX Runtime environment could not be created (kept to answer later calls).
#[derive(Debug, Clone)]
enum OrtInitFailure {
    Missing { tried: String },
    Load { message: String },
}

/// ONNX Runtime allows one environment per process, ever, and a library cannot be
/// loaded twice; every session shares the first outcome, failure included.
static ORT_ENV: OnceLock<Result<(ort::environment::Environment, PathBuf), OrtInitFailure>> = OnceLock::new();

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

/// ONNX Runtime 1.29+ on Linux keeps a device id in
/// `~/.cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db` and queues events
/// (with error messages and paths) for upload as soon as its environment is created,
/// before `DisableTelemetryEvents` (what `with_telemetry(false)` calls) can run. Only
/// `ORT_DISABLE_TELEMETRY`, read at that creation, stops it; users score unpublished
/// sequences, so it is set unless the user set it. Called once, before ONNX Runtime is
/// loaded and before the backends start their threads.
pub const ORT_TELEMETRY_VAR: &str = "ORT_DISABLE_TELEMETRY";

fn disable_ort_telemetry() {
    if std::env::var_os(ORT_TELEMETRY_VAR).is_none() {
        std::env::set_var(ORT_TELEMETRY_VAR, "1");
    }
}

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

pub struct OrtBackend {
    session: ort::session::Session,
    opts: BackendOptions,
    provider: &'static str,
}

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
