//! `zoo`: list, inspect, pull, verify and publish pretrained weights.
//! Exit status: 0 success, 1 failure, 2 usage error (bad spec, unknown model/version,
//! bad option).

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zoo::{Registry, Zoo};

#[derive(Parser)]
#[command(name = "zoo", version, about = "Versioned, sha256-verified pretrained weights")]
struct Cli {
    /// Registry to use: https://, http:// or file:// URL, or a directory
    /// [default: $ZOO_REGISTRY, else this repository's weights/]
    #[arg(long, global = true, value_name = "URL")]
    registry: Option<String>,
    /// Use only the local cache, never the registry (same as ZOO_OFFLINE=1)
    #[arg(long, global = true)]
    offline: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the registry's models and versions (offline: the cached ones)
    List(cli::list::Args),
    /// Show the model card of NAME[@VERSION]
    Info(cli::info::Args),
    /// Download NAME[@VERSION] (default: the registry's default, normally the newest)
    Pull(cli::pull::Args),
    /// Print the local directory of NAME[@VERSION], pulling it if needed
    Path(cli::path::Args),
    /// Re-hash the cache against the manifests it was verified with
    Verify(cli::verify::Args),
    /// Remove NAME[@VERSION] (all cached versions of NAME without @VERSION) from the cache
    Rm(cli::rm::Args),
    /// Publish a `train export` directory into a directory registry
    Publish(cli::publish::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = run(cli, &mut out).and_then(|()| out.flush().map_err(anyhow::Error::from));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => zoo::exit::report("zoo", &e, |_| false),
    }
}

fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut zoo = Zoo::from_env()?;
    if let Some(r) = &cli.registry {
        zoo = zoo.with_registry(Registry::parse(r)?);
    }
    if cli.offline {
        zoo = zoo.with_offline(true);
    }
    match &cli.command {
        Command::List(a) => cli::list::run(&zoo, a, out),
        Command::Info(a) => cli::info::run(&zoo, a, out),
        Command::Pull(a) => cli::pull::run(&zoo, a, out),
        Command::Path(a) => cli::path::run(&zoo, a, out),
        Command::Verify(a) => cli::verify::run(&zoo, a, out),
        Command::Rm(a) => cli::rm::run(&zoo, a, out),
        Command::Publish(a) => cli::publish::run(&zoo, a, out),
    }
}
