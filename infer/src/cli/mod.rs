//! One file per verb; this module only dispatches and maps errors to exit codes.

pub mod check;
pub mod effects;
pub mod ensemble;
pub mod eval;
pub mod ism;
pub mod pairs;
pub mod score;
pub mod variants;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "infer", version, about = "Score DNA sequences with sequence-to-expression models")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Score sequences (FASTA/FASTQ/TSV, plain or gzip) with a model
    Score(score::Args),
    /// Compute challenge metrics (per-subset Pearson/Spearman, weighted scores)
    Eval(eval::Args),
    /// Read and validate a sequence file, reporting record counts
    Check(check::Args),
    /// Effects of alternative sequences relative to reference ones (a table of pairs)
    Pairs(pairs::Args),
    /// Effects of VCF variants in windows of a reference genome centred on them
    Variants(variants::Args),
    /// In-silico mutagenesis: score every single-base substitution
    Ism(ism::Args),
    /// One model averaging several (one ONNX graph): an ensemble to score or publish
    Ensemble(ensemble::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Score(args) => score::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Check(args) => check::run(args),
        Command::Pairs(args) => pairs::run(args),
        Command::Variants(args) => variants::run(args),
        Command::Ism(args) => ism::run(args),
        Command::Ensemble(args) => ensemble::run(args),
    }
}

/// Usage problems (bad flags, bad input files) exit with 2, other failures with 1;
/// a closed output pipe (`infer score ... | head`) ends quietly.
pub fn report(err: &anyhow::Error) -> ExitCode {
    zoo::exit::report("infer", err, |c| c.is::<infer::input::InputError>())
}

pub use zoo::exit::UsageError;
