use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use indicatif::HumanBytes;
use semver::Version;
use zoo::{ModelCard, Zoo};

use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Directory written by `train export` (every regular file in it is published)
    dir: PathBuf,
    #[arg(long)]
    name: String,
    /// Semver version; an existing version is never overwritten
    #[arg(long)]
    version: Version,
    /// Model card JSON (default: DIR/card.json if present)
    #[arg(long, value_name = "FILE")]
    card: Option<PathBuf>,
    /// Publish the weights only: leave DIR's model.onnx out and have `train pull` export
    /// it from model.safetensors + model.json (keeps large models out of the registry twice)
    #[arg(long)]
    derive_onnx: bool,
}

pub fn run(zoo: &Zoo, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(registry_dir) = zoo.registry().local_dir() else {
        return Err(UsageError(format!(
            "publish needs a directory registry (a path or file:// URL), not {}",
            zoo.registry()
        ))
        .into());
    };
    let card = match &args.card {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let card: ModelCard = serde_json::from_str(&text)
                .with_context(|| format!("invalid model card {}", path.display()))?;
            Some(card)
        }
    };
    let derived = args.derive_onnx.then(zoo::Derived::onnx);
    let p = zoo::publish(&args.dir, registry_dir, &args.name, &args.version, card, derived)?;
    writeln!(
        out,
        "published {}@{} ({} file(s), {}) to {}",
        p.name,
        p.version,
        p.entry.files.len(),
        HumanBytes(p.entry.total_size()),
        p.dir.display()
    )?;
    Ok(())
}
