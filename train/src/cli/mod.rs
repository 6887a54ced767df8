//! One file per verb; this module dispatches and maps errors to exit codes.

pub mod bench;
pub mod data;
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
    /// `zoo pull` that can also build models from the authors' own weights (legnet)
    Pull(pull::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Export(args) => export::run(args),
        Command::Fit(args) => fit::run(args),
        Command::Finetune(args) => finetune::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Pull(args) => pull::run(args),
    }
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
        println!("{}", f.display());
    }
    Ok(())
}

/// A mistake in how the command was called (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn report(err: &anyhow::Error) -> ExitCode {
    let usage = err.chain().any(|c| {
        c.is::<UsageError>()
            || c.is::<train::model::SpecError>()
            || c.is::<train::model::WeightsError>()
            || c.is::<infer::input::InputError>()
            || c.is::<train::device::DeviceError>()
            || c.downcast_ref::<zoo::ZooError>().is_some_and(zoo::ZooError::is_usage)
    });
    let mut parts: Vec<String> = Vec::new();
    for c in err.chain() {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    eprintln!("train: {}", parts.join(": "));
    ExitCode::from(if usage { 2 } else { 1 })
}
