//! `infer eval`: score predictions on a DREAM challenge benchmark and print (and
//! optionally write as JSON) the per-subset correlations and the challenge scores.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use indicatif::ProgressBar;
use infer::backend::BackendKind;
use infer::eval::{self, evaluate, read_predictions, Benchmark, EvalError};
use infer::precision::Precision;
use infer::scorer::{Scorer, ScorerOptions};

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
    /// With --model: also write the predictions (id<TAB>prediction) to this file
    #[arg(long, value_name = "FILE", requires = "model")]
    pub save_predictions: Option<PathBuf>,
    /// With --model: a published reduced-precision variant (as in `infer score`)
    #[arg(long, value_enum, default_value_t = Precision::Fp32, requires = "model")]
    pub precision: Precision,
    /// With --model: inference engine
    #[arg(long, value_enum, default_value_t = BackendKind::Auto)]
    pub backend: BackendKind,
    /// With --model: sequences per forward pass
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// With --model: engine threads (default: all cores)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// With --model: which of the model's outputs to evaluate (default: its only one)
    #[arg(long, value_name = "NAME", requires = "model")]
    pub output: Option<String>,
}

/// Scores the benchmark's sequences with a model, exactly as `infer score` would.
fn predict(args: &Args, model: &str, benchmark: &Benchmark) -> anyhow::Result<HashMap<String, f64>> {
    let opts = ScorerOptions {
        backend: args.backend,
        batch_size: args.batch_size as usize,
        threads: args.threads.map_or(0, |t| t as usize),
        rc_average: None,
    };
    let mut scorer = Scorer::open_variant(&zoo::Zoo::from_env()?, model, args.precision, &opts).map_err(super::score::usage_if_user_error)?;
    eprintln!("infer: {}", scorer.describe());
    let column = eval::output_column(scorer.outputs(), args.output.as_deref()).map_err(UsageError)?;
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(0) } else { ProgressBar::hidden() };
    let scored = eval::predict(&mut scorer, benchmark, column, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    }).map_err(usage)?;
    bar.finish_and_clear();
    if let Some(path) = &args.save_predictions {
        eval::write_predictions(path, &scored).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(scored.into_iter().map(|(id, v)| (id, v as f64)).collect())
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
        (None, Some(model)) => predict(&args, model, &benchmark)?,
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
        infer::atomic::write(path, text.as_bytes())
            .with_context(|| format!("writing the JSON report to {}", path.display()))?;
    }
    Ok(())
}

