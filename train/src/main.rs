//! `train`: export, fit and fine-tune Prix Fixe / DREAM models with libtorch.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    train::openmp::wait_passively();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => cli::report(&err),
    }
}
