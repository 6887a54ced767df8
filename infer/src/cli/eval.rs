//! `infer eval`: score predictions on a DREAM challenge benchmark and print (and
//! optionally write as JSON) the per-subset correlations and the challenge scores.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use infer::eval::{evaluate, read_predictions, Benchmark, EvalError};

use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Built-in benchmark (dream-public: the 9,045 public-leaderboard sequences;
    /// dream-test: the full 71,103-sequence challenge test set, public ones discarded)
    /// or a benchmark definition JSON file
    #[arg(long, default_value = "dream-public")]
    pub benchmark: String,
    /// Directory with the DREAM data (default: $DREAM_DATA_DIR, else the development
    /// checkout's ../shared/data/dream); for a definition file, the directory its
    /// relative paths resolve against (default: the file's own directory)
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Predictions: TSV `id<TAB>prediction` with a header (as `infer score` writes it),
    /// or a JSON object {"<id>": prediction}; ids are test-set indices
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "model",
        conflicts_with = "model"
    )]
    pub predictions: Option<PathBuf>,
    /// Score the benchmark's sequences with this model instead of reading predictions
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Also write the report as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Everything the evaluator rejects is the caller's input (flags, data, predictions):
/// exit code 2.
fn usage(e: EvalError) -> anyhow::Error {
    if e.is_usage() {
        anyhow::Error::new(UsageError(e.to_string()))
    } else {
        anyhow::Error::new(e)
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let benchmark = Benchmark::load(&args.benchmark, args.data_dir.as_deref()).map_err(usage)?;
    let predictions = match (&args.predictions, &args.model) {
        (Some(path), _) => read_predictions(path).map_err(usage)?,
        // Scoring needs the model scorer (`infer score`); until it is wired in here,
        // say so instead of pretending.
        (None, Some(model)) => {
            return Err(UsageError(format!(
                "--model {model}: scoring a model inside `infer eval` is not wired yet; run \
                 `infer score` on the benchmark's sequences and pass the output with --predictions"
            ))
            .into())
        }
        (None, None) => {
            return Err(UsageError("give --predictions FILE or --model MODEL".into()).into())
        }
    };
    let report = evaluate(&benchmark, &predictions).map_err(usage)?;

    let mut out = std::io::stdout().lock();
    write!(out, "{report}")?;
    out.flush()?;

    if let Some(path) = &args.json {
        let mut text = serde_json::to_string_pretty(&report)?;
        text.push('\n');
        write_atomically(path, text.as_bytes())
            .with_context(|| format!("writing the JSON report to {}", path.display()))?;
    }
    Ok(())
}

/// Readers never see a half-written report: write a temporary file beside the target
/// and rename it into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
