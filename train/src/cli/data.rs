//! Training-data flags shared by `fit` and `finetune`.

use std::path::{Path, PathBuf};

use infer::input::Format;
use train::run::StoredData;

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
    /// Input format (auto: '>' FASTA, '@' FASTQ, else tab-separated)
    #[arg(long, value_enum, ignore_case = true, default_value_t = Format::Auto)]
    pub format: Format,
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
    /// Activity table labelling the --train FASTA's records in order (DeepSTARR's
    /// Sequences_activity_Train.txt: a header naming the tasks; --label-columns picks them)
    #[arg(long, requires = "train")]
    pub train_activity: Option<PathBuf>,
    /// Activity table for the --valid FASTA (DeepSTARR's Sequences_activity_Val.txt)
    #[arg(long, requires = "valid")]
    pub valid_activity: Option<PathBuf>,
}

impl DataArgs {
    pub fn to_stored(&self) -> anyhow::Result<StoredData> {
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let train = self.train.as_deref().ok_or_else(|| super::UsageError("--train is required".into()))?;
        if !(0.0..1.0).contains(&self.valid_fraction) {
            return Err(super::UsageError(format!("--valid-fraction {} must be in [0, 1)", self.valid_fraction)).into());
        }
        if self.valid.is_some() && self.train_activity.is_some() != self.valid_activity.is_some() {
            return Err(super::UsageError("--train-activity and --valid-activity go together (one table per FASTA)".into()).into());
        }
        if self.skip_invalid && self.train_activity.is_some() {
            // A skipped FASTA record would shift every later record onto the wrong row.
            return Err(super::UsageError("--skip-invalid cannot be used with activity tables, which label records by position".into()).into());
        }
        let tables = self.train_activity.iter().chain(&self.valid_activity).map(|p| p.as_path());
        for p in std::iter::once(train).chain(self.valid.as_deref()).chain(tables) {
            // run.json records the data's path and --resume reads it again: stdin
            // cannot be read twice, so a run needs real files.
            if p == Path::new("-") {
                return Err(super::UsageError(
                    "reading training or validation data from stdin ('-') is not supported: a run records the data's path and --resume reads it again; save it to a file".into(),
                )
                .into());
            }
            if !p.is_file() {
                return Err(super::UsageError(format!("{}: no such file", p.display())).into());
            }
        }
        Ok(StoredData {
            train: abs(train),
            valid: self.valid.as_deref().map(abs),
            valid_fraction: self.valid_fraction,
            split_seed: self.split_seed,
            format: self.format,
            id_column: self.id_column.clone(),
            seq_column: self.seq_column.clone(),
            label_columns: self.label_columns.clone(),
            skip_invalid: self.skip_invalid,
            train_activity: self.train_activity.as_deref().map(abs),
            valid_activity: self.valid_activity.as_deref().map(abs),
        })
    }
}
