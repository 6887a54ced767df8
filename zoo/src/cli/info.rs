use std::io::Write;

use indicatif::HumanBytes;
use serde_json::Value;
use zoo::{ModelSpec, Zoo};

#[derive(clap::Args)]
pub struct Args {
    /// NAME[@VERSION]
    #[arg(value_parser = super::parse_spec)]
    spec: ModelSpec,
    /// Print the index entry (files and card) as JSON
    #[arg(long)]
    json: bool,
}

fn show(v: &Option<Value>) -> String {
    match v {
        None => "(not stated)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub fn run(zoo: &Zoo, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let (version, entry) = zoo.describe(&args.spec)?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &entry)?;
        writeln!(out)?;
        return Ok(());
    }
    let card = &entry.card;
    let name = &args.spec.name;
    writeln!(out, "{name}@{version}")?;
    if let Some(d) = &card.description {
        writeln!(out, "  {d}")?;
    }
    writeln!(out, "architecture:  {}", show(&card.architecture))?;
    writeln!(out, "preprocessing: {}", show(&card.preprocessing))?;
    writeln!(out, "training data: {}", show(&card.training_data))?;
    writeln!(out, "license:       {}", card.license.as_deref().unwrap_or("(not stated)"))?;
    writeln!(out, "citation:      {}", card.citation.as_deref().unwrap_or("(not stated)"))?;
    if card.metrics.is_empty() {
        writeln!(out, "metrics:       (none reported)")?;
    } else {
        writeln!(out, "metrics:")?;
        for m in &card.metrics {
            let on = m.dataset.as_deref().map(|d| format!(" on {d}")).unwrap_or_default();
            let how = m.how.as_deref().unwrap_or("measurement not documented");
            writeln!(out, "  {} = {}{on} ({how})", m.name, m.value)?;
        }
    }
    for (k, v) in &card.extra {
        writeln!(out, "{k}: {}", show(&Some(v.clone())))?;
    }
    writeln!(out, "files ({}):", HumanBytes(entry.total_size()))?;
    for (path, f) in &entry.files {
        writeln!(out, "  {path}  {}  sha256:{}", HumanBytes(f.size), f.sha256)?;
    }
    Ok(())
}
