//! Training-data flags shared by `fit` and `finetune`, and how a run stores them.

use std::path::{Path, PathBuf};

use infer::input::{self, Format, InputOptions, InvalidPolicy, SeqRecord};
use serde::{Deserialize, Serialize};

#[derive(clap::Args, Clone)]
pub struct DataArgs {
    /// Training data (required unless resuming): sequence<TAB>value files (challenge
    /// format) or a table with a header and --label-columns; plain or gzip
    #[arg(long = "train")]
    pub train: Option<PathBuf>,
    /// Validation data (default: a seeded held-out fraction of --train)
    #[arg(long)]
    pub valid: Option<PathBuf>,
    /// Held-out validation fraction when --valid is not given (0 disables validation)
    #[arg(long, default_value_t = 0.1)]
    pub valid_fraction: f64,
    /// Seed of the held-out split
    #[arg(long, default_value_t = 7)]
    pub split_seed: u64,
    /// Input format: auto, tsv, table
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Table column with record ids
    #[arg(long)]
    pub id_column: Option<String>,
    /// Table column with sequences
    #[arg(long)]
    pub seq_column: Option<String>,
    /// Table column(s) with labels, comma-separated (one task per column)
    #[arg(long, value_delimiter = ',')]
    pub label_columns: Vec<String>,
    /// Skip invalid records (counted) instead of stopping
    #[arg(long)]
    pub skip_invalid: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct StoredData {
    pub train: PathBuf,
    pub valid: Option<PathBuf>,
    pub valid_fraction: f64,
    pub split_seed: u64,
    pub format: String,
    pub id_column: Option<String>,
    pub seq_column: Option<String>,
    pub label_columns: Vec<String>,
    pub skip_invalid: bool,
}

impl DataArgs {
    pub fn to_stored(&self) -> anyhow::Result<StoredData> {
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let train = self.train.as_deref().ok_or_else(|| super::UsageError("--train is required".into()))?;
        if !(0.0..1.0).contains(&self.valid_fraction) {
            return Err(super::UsageError(format!("--valid-fraction {} must be in [0, 1)", self.valid_fraction)).into());
        }
        self.format.parse::<Format>().map_err(super::UsageError)?;
        for p in std::iter::once(train).chain(self.valid.as_deref()) {
            if p != Path::new("-") && !p.is_file() {
                return Err(super::UsageError(format!("{}: no such file", p.display())).into());
            }
        }
        Ok(StoredData {
            train: abs(train),
            valid: self.valid.as_deref().map(abs),
            valid_fraction: self.valid_fraction,
            split_seed: self.split_seed,
            format: self.format.clone(),
            id_column: self.id_column.clone(),
            seq_column: self.seq_column.clone(),
            label_columns: self.label_columns.clone(),
            skip_invalid: self.skip_invalid,
        })
    }
}

pub fn read_records(path: &Path, data: &StoredData) -> anyhow::Result<Vec<SeqRecord>> {
    let opts = InputOptions {
        format: data.format.parse().map_err(super::UsageError)?,
        id_column: data.id_column.clone(),
        seq_column: data.seq_column.clone(),
        label_columns: data.label_columns.clone(),
        delimiter: None,
        on_invalid: if data.skip_invalid { InvalidPolicy::Skip } else { InvalidPolicy::Error },
    };
    let mut reader = input::open(path, &opts)?;
    let mut out = Vec::new();
    for rec in reader.by_ref() {
        let rec = rec?;
        if rec.labels.is_empty() {
            return Err(super::UsageError(format!(
                "{}:{}: record '{}' has no label to train on (name --label-columns for tables)",
                path.display(),
                rec.line,
                rec.id
            ))
            .into());
        }
        out.push(rec);
    }
    if let Some(report) = reader.skip_report() {
        eprintln!("train: {report}");
    }
    Ok(out)
}
