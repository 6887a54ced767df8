//! One file per verb; this module dispatches and maps errors to exit codes.

pub mod bench;
pub mod bench_data;
pub mod data;
pub mod eval;
pub mod export;
pub mod finetune;
pub mod fit;
pub mod pull;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "train", version, about = "Export, fit and fine-tune DREAM sequence-to-expression models")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Load reference weights (.pth or .safetensors) and write model.safetensors, model.json and model.onnx
    Export(export::Args),
    /// Train a model from scratch with the DREAM recipe
    Fit(fit::Args),
    /// Fine-tune a pretrained model on new data (new head, other lengths, frozen blocks)
    Finetune(finetune::Args),
    /// Time the training step per model (forward, loss, backward, AdamW)
    Bench(bench::Args),
    /// Time the training-data pipeline alone (compact read, batch expansion)
    BenchData(bench_data::Args),
    /// Score a benchmark (dream-public, dream-test) with libtorch, on the GPU where there is one
    Eval(eval::Args),
    /// `zoo pull` that can also build models from the authors' own weights (legnet)
    Pull(pull::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Export(args) => export::run(args),
        Command::Fit(args) => fit::run(args),
        Command::Finetune(args) => finetune::run(args),
        Command::Bench(args) => bench::run(args),
        Command::BenchData(args) => bench_data::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Pull(args) => pull::run(args),
    }
}

/// A model given on the command line: a directory with model.json + model.safetensors,
/// or a zoo name[@version] (pulled into the cache if needed); `flag` names the option.
pub fn model_dir(arg: &str, flag: &str) -> anyhow::Result<std::path::PathBuf> {
    let p = std::path::Path::new(arg);
    if p.is_dir() {
        return Ok(p.to_path_buf());
    }
    let spec = zoo::ModelSpec::parse(arg).map_err(|e| UsageError(format!("{flag} {arg}: {e}")))?;
    Ok(zoo::Zoo::from_env()?.resolve(&spec)?)
}

/// The model.json of a model directory; a missing or unreadable file is a usage error.
pub fn read_description(dir: &std::path::Path) -> anyhow::Result<train::model::ModelDescription> {
    use anyhow::Context;
    let path = dir.join(train::export::DESCRIPTION_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a model description", path.display()))
}

/// Loads the best weights of a finished run and writes the artifacts (model.safetensors,
/// model.json, model.onnx) next to the run files.
pub fn finish(net: &mut train::model::PrixFixeNet, dir: &std::path::Path, training: serde_json::Value) -> anyhow::Result<()> {
    let best = dir.join("best.safetensors");
    if best.exists() {
        net.store.load(&best)?;
    }
    let provenance = train::export::Provenance {
        source: "trained by train fit/finetune".into(),
        source_sha256: None,
        created_by: concat!("train ", env!("CARGO_PKG_VERSION")).to_string(),
        training,
    };
    for f in train::export::write_artifacts(net, dir, provenance)? {
        zoo::outln!("{}", f.display())?;
    }
    Ok(())
}

pub use zoo::exit::UsageError;

/// clap value parser for counts that must be at least 1 (batch sizes): a zero is refused
/// while parsing (exit 2), before a run directory is written.
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Usage problems (bad flags, bad descriptions, weights or input files) exit with 2,
/// other failures with 1; a closed stdout ends quietly.
pub fn report(err: &anyhow::Error) -> ExitCode {
    zoo::exit::report("train", err, |c| {
        c.is::<train::model::SpecError>()
            || c.is::<train::model::WeightsError>()
            || c.is::<infer::input::InputError>()
            || c.is::<train::device::DeviceError>()
            || c.is::<train::run::RunError>()
            || c.is::<train::recipe::activity::ActivityError>()
    })
}
