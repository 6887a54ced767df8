use std::io::Write;

use zoo::{ModelSpec, Zoo};

#[derive(clap::Args)]
pub struct Args {
    /// NAME[@VERSION]
    #[arg(value_parser = super::parse_spec)]
    spec: ModelSpec,
}

pub fn run(zoo: &Zoo, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    for v in zoo.remove(&args.spec)? {
        writeln!(out, "removed {}@{v}", args.spec.name)?;
    }
    Ok(())
}
