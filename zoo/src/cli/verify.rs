use std::io::Write;

use zoo::{ModelSpec, Zoo};

#[derive(clap::Args)]
pub struct Args {
    /// Only NAME[@VERSION] (default: the whole cache)
    #[arg(value_parser = super::parse_spec)]
    spec: Option<ModelSpec>,
}

pub fn run(zoo: &Zoo, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let reports = zoo.verify(args.spec.as_ref())?;
    if reports.is_empty() {
        eprintln!("zoo: nothing cached to verify in {}", zoo.home().display());
        return Ok(());
    }
    let mut bad = Vec::new();
    for r in &reports {
        let spec = format!("{}@{}", r.name, r.version);
        if r.problems.is_empty() {
            writeln!(out, "ok   {spec}")?;
        } else {
            for p in &r.problems {
                writeln!(out, "BAD  {spec}: {p}")?;
            }
            bad.push(spec);
        }
    }
    if !bad.is_empty() {
        anyhow::bail!(
            "{} of {} cached version(s) failed verification and were marked incomplete; `zoo pull {}` repairs",
            bad.len(),
            reports.len(),
            bad.join(" / ")
        );
    }
    Ok(())
}
