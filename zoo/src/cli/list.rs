use std::collections::BTreeSet;
use std::io::Write;

use zoo::Zoo;

#[derive(clap::Args)]
pub struct Args {
    /// Only what is in the local cache
    #[arg(long)]
    cached: bool,
    /// Print a Markdown table (name, version, size, public-leaderboard scores) for the README
    #[arg(long, conflicts_with = "cached")]
    markdown: bool,
}

/// One row per published version: what a reader of the README needs to choose a model.
fn markdown(zoo: &Zoo, out: &mut dyn Write) -> anyhow::Result<()> {
    let index = zoo.index()?;
    writeln!(out, "| model | version | size | public leaderboard Pearson score | Spearman score |")?;
    writeln!(out, "|---|---|---|---|---|")?;
    for (name, model) in &index.models {
        for (version, entry) in &model.versions {
            let bytes: u64 = entry.files.values().map(|f| f.size).sum();
            // Upstream entries have no files of ours until `train pull` converts them.
            let size = if entry.files.is_empty() && entry.upstream.is_some() {
                "authors' weights, converted at pull".to_string()
            } else {
                match &entry.derived {
                    Some(d) => format!("{:.1} MB + {} built at pull", bytes as f64 / 1e6, d.files.join(", ")),
                    None => format!("{:.1} MB", bytes as f64 / 1e6),
                }
            };
            let metric = |n: &str| {
                entry
                    .card
                    .metrics
                    .iter()
                    .find(|m| m.name == n)
                    .map_or("-".to_string(), |m| format!("{:.4}", m.value))
            };
            writeln!(
                out,
                "| `{name}` | {version} | {size} | {} | {} |",
                metric("dream-public pearson_score"),
                metric("dream-public spearman_score")
            )?;
        }
    }
    Ok(())
}

pub fn run(zoo: &Zoo, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.markdown {
        return markdown(zoo, out);
    }
    let cached = zoo.cached()?;
    if args.cached || zoo.is_offline() {
        if zoo.is_offline() && !args.cached {
            eprintln!("zoo: offline: listing the cache {} only", zoo.home().display());
        }
        for c in &cached {
            let spec = format!("{}@{}", c.manifest.name, c.manifest.version);
            writeln!(out, "{spec:<32} cached  {}", c.dir.display())?;
        }
        return Ok(());
    }
    let have: BTreeSet<(String, String)> = cached
        .iter()
        .map(|c| (c.manifest.name.clone(), c.manifest.version.to_string()))
        .collect();
    let index = zoo.index()?;
    if index.models.is_empty() {
        eprintln!("zoo: registry {} has no models yet", zoo.registry());
    }
    let registry = zoo.registry().to_string();
    for (name, model) in &index.models {
        let default = model.default_version(name, &registry).ok();
        for version in model.versions.keys() {
            let spec = format!("{name}@{version}");
            let mut tags = Vec::new();
            if Some(version) == default {
                tags.push("default");
            }
            if have.contains(&(name.clone(), version.to_string())) {
                tags.push("cached");
            }
            let line = format!("{spec:<32} {}", tags.join(" "));
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    Ok(())
}
