//! One file per verb; this module dispatches and maps errors to exit codes.

pub mod export;

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
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Export(args) => export::run(args),
    }
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
