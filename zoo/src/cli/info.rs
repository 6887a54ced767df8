use std::io::Write;

use zoo::{ModelSpec, Zoo};

#[derive(clap::Args)]
pub struct Args {
    /// NAME[@VERSION]
    #[arg(value_parser = super::parse_spec)]
    spec: ModelSpec,
    /// Print the index entry (files, card, upstream source) as JSON, for machines
    #[arg(long)]
    json: bool,
}

pub fn run(zoo: &Zoo, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let (version, entry) = zoo.describe(&args.spec)?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &entry)?;
        writeln!(out)?;
        return Ok(());
    }
    let cached = zoo.cached_version(&args.spec.name, &version)?;
    let text = zoo::card::render(&args.spec.name, &version.to_string(), &entry, cached.as_ref().map(|c| &c.manifest.entry));
    out.write_all(text.as_bytes())?;
    Ok(())
}
