//! `train pull`: `zoo pull` with this crate's converters, so entries built from the
//! authors' own weights (LegNet) are downloaded, checked and converted in one command.

use train::upstream::zoo_from_env;
use zoo::ModelSpec;

use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// NAME[@VERSION], e.g. legnet
    spec: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let spec = ModelSpec::parse(&args.spec).map_err(|e| UsageError(e.to_string()))?;
    let zoo = zoo_from_env()?;
    let started = std::time::Instant::now();
    let p = zoo.pull(&spec)?;
    if p.fetched_files == 0 {
        println!("{}@{}: cached and verified: {}", p.name, p.version, p.dir.display());
    } else {
        println!(
            "{}@{}: fetched {} file(s), {:.1} MB, ready in {:.1} s: {}",
            p.name,
            p.version,
            p.fetched_files,
            p.fetched_bytes as f64 / 1e6,
            started.elapsed().as_secs_f64(),
            p.dir.display()
        );
    }
    Ok(())
}
