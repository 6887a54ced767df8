use std::io::Write;

use zoo::{ModelSpec, Zoo};

#[derive(clap::Args)]
pub struct Args {
    /// NAME[@VERSION]
    #[arg(value_parser = super::parse_spec)]
    spec: ModelSpec,
}

pub fn run(zoo: &Zoo, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let dir = zoo.resolve(&args.spec)?;
    writeln!(out, "{}", dir.display())?;
    Ok(())
}
