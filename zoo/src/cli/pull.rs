use std::io::Write;

use indicatif::HumanBytes;
use zoo::{ModelSpec, Zoo};

#[derive(clap::Args)]
pub struct Args {
    /// NAME[@VERSION]
    #[arg(value_parser = super::parse_spec)]
    spec: ModelSpec,
}

pub fn run(zoo: &Zoo, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let p = zoo.pull(&args.spec)?;
    if p.fetched_files == 0 {
        writeln!(out, "{}@{}: cached and verified: {}", p.name, p.version, p.dir.display())?;
    } else {
        writeln!(
            out,
            "{}@{}: fetched {} file(s), {}: {}",
            p.name,
            p.version,
            p.fetched_files,
            HumanBytes(p.fetched_bytes),
            p.dir.display()
        )?;
    }
    Ok(())
}
