//! `train eval`: a benchmark (dream-public, dream-test) scored through the training
//! crate's own libtorch model, on the GPU where there is one. Everything but the forward
//! pass is `infer eval`'s: the same preprocessing, batching, reverse-complement averaging
//! and report, so the scores are comparable with `infer eval --model DIR/model.onnx`.
//! It is how a GPU machine without an ONNX Runtime CUDA provider scores the many runs of
//! a benchmark script, and it reports the libtorch forward throughput.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use indicatif::ProgressBar;
use infer::eval::{self, Benchmark};
use infer::scorer::{ModelInfo, Scorer, ScorerOptions};
use tch::Device;
use train::device::DeviceSpec;
use train::engine::TorchBackend;
use train::model::PrixFixeNet;

use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Model: a directory with model.json + model.safetensors (a `train fit` run), or a zoo name[@version]
    #[arg(long)]
    model: String,
    /// Built-in benchmark (dream-public, dream-test) or a benchmark definition JSON file
    #[arg(long, default_value = "dream-public")]
    benchmark: String,
    /// Directory with the DREAM data (default: $DREAM_DATA_DIR, else ../shared/data/dream)
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    device: DeviceSpec,
    /// Sequences per forward pass
    #[arg(long, default_value_t = 1024, value_parser = super::at_least_one)]
    batch_size: usize,
    /// CPU intra-op threads
    #[arg(long)]
    threads: Option<i32>,
    /// Which of the model's outputs to evaluate (default: its only one)
    #[arg(long, value_name = "NAME")]
    output: Option<String>,
    /// Also write the report as JSON (with the throughput) to this file
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write the predictions (id<TAB>prediction) to this file
    #[arg(long, value_name = "FILE")]
    save_predictions: Option<PathBuf>,
}

fn open(dir: &Path, device: Device, forward_ns: Arc<AtomicU64>, opts: &ScorerOptions) -> anyhow::Result<Scorer> {
    let desc = super::read_description(dir)?;
    let weights = dir.join("model.safetensors");
    if !weights.is_file() {
        return Err(UsageError(format!("{}: no model.safetensors beside model.json", dir.display())).into());
    }
    let info = ModelInfo {
        path: weights.clone(),
        name: Some(desc.name.clone()),
        version: desc.version.clone(),
        license: desc.license.clone(),
        provenance: None,
        metadata: Default::default(),
    };
    let (pre, outputs) = (desc.preprocessing.clone(), desc.outputs.clone());
    let net = PrixFixeNet::from_weights(desc, &weights, device)?;
    let backend = TorchBackend::new(net, pre.channels(), pre.length, forward_ns);
    Ok(Scorer::with_backend(Box::new(backend), info, pre, outputs, opts)?)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(t) = args.threads {
        tch::set_num_threads(t);
    }
    let benchmark = Benchmark::load(&args.benchmark, args.data_dir.as_deref()).map_err(|e| UsageError(e.to_string()))?;
    let device = args.device.resolve()?;
    let dir = super::model_dir(&args.model, "--model")?;
    let forward_ns = Arc::new(AtomicU64::new(0));
    let opts = ScorerOptions { batch_size: args.batch_size, ..ScorerOptions::default() };
    let mut scorer = open(&dir, device, forward_ns.clone(), &opts)?;
    eprintln!("train eval: {}", scorer.describe());
    let column = eval::output_column(scorer.outputs(), args.output.as_deref()).map_err(UsageError)?;
    let rows_per_seq = scorer.preprocessing().inputs_per_sequence();

    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(0) } else { ProgressBar::hidden() };
    let t = Instant::now();
    let scored = eval::predict(&mut scorer, &benchmark, column, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .map_err(|e| if e.is_usage() { anyhow::Error::new(UsageError(e.to_string())) } else { e.into() })?;
    bar.finish_and_clear();
    let total_s = t.elapsed().as_secs_f64();
    let forward_s = forward_ns.load(Ordering::Relaxed) as f64 * 1e-9;
    let n = scored.len();
    let throughput = serde_json::json!({
        "device": format!("{device:?}"),
        "batch_size": args.batch_size,
        "sequences": n,
        "network_rows": n * rows_per_seq,
        "seconds": total_s,
        "sequences_per_second": n as f64 / total_s,
        "forward_seconds": forward_s,
        "forward_sequences_per_second": n as f64 / forward_s,
    });
    eprintln!(
        "train eval: {n} sequences ({} network rows) in {total_s:.2} s: {:.0} seq/s overall, {:.0} seq/s in the forward passes ({device:?}, batch {})",
        n * rows_per_seq,
        n as f64 / total_s,
        n as f64 / forward_s,
        args.batch_size
    );

    if let Some(path) = &args.save_predictions {
        eval::write_predictions(path, &scored).with_context(|| format!("writing {}", path.display()))?;
    }
    let predictions = scored.into_iter().map(|(id, v)| (id, v as f64)).collect();
    let report = eval::evaluate(&benchmark, &predictions).map_err(|e| UsageError(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    write!(out, "{report}")?;
    out.flush()?;
    if let Some(path) = &args.json {
        let mut value = serde_json::to_value(&report)?;
        value["throughput"] = throughput;
        let mut text = serde_json::to_string_pretty(&value)?;
        text.push('\n');
        infer::atomic::write(path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
