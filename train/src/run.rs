//! A training run's directory and what it records: `run.json` (everything needed to
//! rebuild the same run, which `--resume` reads back), the data a run trains on, and
//! the rule that a new run never writes into a directory holding something already.

use std::path::{Path, PathBuf};

use infer::input::{self, Format, InputOptions, InvalidPolicy, SeqRecord};
use serde::{Deserialize, Serialize};

use crate::device::DeviceSpec;
use crate::fit::FitConfig;
use crate::model::{ModelDescription, Objective};
use crate::recipe::data::{encode_regression, encode_yeast, EncodedSet};
use crate::recipe::split::holdout;
use crate::recipe::target::SoftBinTarget;

pub const RUN_FILE: &str = "run.json";

/// Everything needed to rebuild the same run: stored as run.json.
#[derive(Serialize, Deserialize)]
pub struct RunSpec {
    pub desc: ModelDescription,
    pub config: FitConfig,
    pub data: StoredData,
    pub device: DeviceSpec,
}

/// The training data of a run, with absolute paths.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct StoredData {
    pub train: PathBuf,
    pub valid: Option<PathBuf>,
    pub valid_fraction: f64,
    pub split_seed: u64,
    pub format: Format,
    pub id_column: Option<String>,
    pub seq_column: Option<String>,
    pub label_columns: Vec<String>,
    pub skip_invalid: bool,
    /// DeepSTARR layout: the training/validation activity tables whose rows label the
    /// FASTA records in order (`recipe::activity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_activity: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_activity: Option<PathBuf>,
}

/// Problems with a run directory or its data that the user must fix (usage errors).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}: run directory exists and is not empty (use --resume to continue a run)")]
    NotEmpty(PathBuf),
    #[error("{}: cannot resume: {reason}", path.display())]
    Resume { path: PathBuf, reason: String },
    #[error("{0}: no training records")]
    NoTrainingRecords(PathBuf),
    #[error("{}:{line}: record '{id}' has no label to train on (name --label-columns for tables)", path.display())]
    NoLabel { path: PathBuf, line: u64, id: String },
}

/// A new run never writes into a directory that holds something already.
pub fn check_new_dir(dir: &Path) -> Result<(), RunError> {
    let busy = std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false);
    if busy {
        return Err(RunError::NotEmpty(dir.to_path_buf()));
    }
    Ok(())
}

/// Checks `dir` again and creates it.
pub fn prepare_new_dir(dir: &Path) -> anyhow::Result<()> {
    check_new_dir(dir)?;
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    Ok(())
}

impl RunSpec {
    /// Writes `dir/run.json` atomically.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        infer::atomic::write(&dir.join(RUN_FILE), serde_json::to_string_pretty(self)?.as_bytes())?;
        Ok(())
    }

    /// Reads `dir/run.json` of a run to resume.
    pub fn read(dir: &Path) -> Result<RunSpec, RunError> {
        let path = dir.join(RUN_FILE);
        let resume = |reason: String| RunError::Resume { path: path.clone(), reason };
        let text = std::fs::read_to_string(&path).map_err(|e| resume(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| resume(e.to_string()))
    }
}

/// The records of a run, split into (train, validation) the same way every time.
pub type SplitRecords = (Vec<SeqRecord>, Vec<SeqRecord>);

impl StoredData {
    pub(crate) fn input_options(&self) -> InputOptions {
        InputOptions {
            format: self.format,
            id_column: self.id_column.clone(),
            seq_column: self.seq_column.clone(),
            label_columns: self.label_columns.clone(),
            delimiter: None,
            on_invalid: if self.skip_invalid { InvalidPolicy::Skip } else { InvalidPolicy::Error },
        }
    }

    /// Every labelled record of `path`; a skip report (with --skip-invalid) goes to stderr.
    pub fn read_records(&self, path: &Path) -> anyhow::Result<Vec<SeqRecord>> {
        let mut reader = input::open(path, &self.input_options())?;
        let mut out = Vec::new();
        for rec in reader.by_ref() {
            let rec = rec?;
            if rec.labels.is_empty() {
                return Err(RunError::NoLabel { path: path.to_path_buf(), line: rec.line, id: rec.id }.into());
            }
            out.push(rec);
        }
        if let Some(report) = reader.skip_report() {
            eprintln!("train: {report}");
        }
        Ok(out)
    }

    /// The training and validation records: `--valid`, else a seeded held-out fraction.
    pub fn read_split(&self) -> anyhow::Result<SplitRecords> {
        let records = self.read_records(&self.train)?;
        let (train_records, valid_records) = match &self.valid {
            Some(v) => (records, self.read_records(v)?),
            None if self.valid_fraction > 0.0 => holdout(records, self.valid_fraction, self.split_seed),
            None => (records, Vec::new()),
        };
        if train_records.is_empty() {
            return Err(RunError::NoTrainingRecords(self.train.clone()).into());
        }
        Ok((train_records, valid_records))
    }
}

/// Encodes split records for the model's preprocessing and objective.
pub fn encode_sets(desc: &ModelDescription, (train_records, valid_records): &SplitRecords) -> anyhow::Result<(EncodedSet, Option<EncodedSet>)> {
    let pre = &desc.preprocessing;
    let objective = desc.objective().map_err(anyhow::Error::msg)?;
    let encode = |recs: &[SeqRecord]| -> anyhow::Result<EncodedSet> {
        Ok(match objective {
            Objective::SoftBinKl => encode_yeast(recs, pre, &SoftBinTarget::default(), pre.rc_average)?,
            Objective::Mse => encode_regression(recs, pre, |r| pre.reverse_from_id(&r.id))?,
        })
    };
    let train = encode(train_records)?;
    let valid = if valid_records.is_empty() { None } else { Some(encode(valid_records)?) };
    Ok((train, valid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(train: PathBuf) -> StoredData {
        StoredData {
            train,
            valid: None,
            valid_fraction: 0.25,
            split_seed: 7,
            format: Format::Auto,
            id_column: None,
            seq_column: None,
            label_columns: vec![],
            skip_invalid: false,
            train_activity: None,
            valid_activity: None,
        }
    }

    #[test]
    fn a_new_run_refuses_a_directory_with_files_but_takes_an_empty_or_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        check_new_dir(&dir.path().join("missing")).unwrap();
        check_new_dir(dir.path()).unwrap();
        std::fs::write(dir.path().join("x"), "").unwrap();
        assert!(matches!(check_new_dir(dir.path()), Err(RunError::NotEmpty(_))));
        let sub = dir.path().join("a/b");
        prepare_new_dir(&sub).unwrap();
        assert!(sub.is_dir());
    }

    #[test]
    fn run_json_round_trips_and_a_missing_one_is_a_resume_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(RunSpec::read(dir.path()), Err(RunError::Resume { .. })));
        let desc = ModelDescription::preset("dream-cnn").unwrap();
        let config = FitConfig {
            epochs: 1,
            batch_size: 2,
            batches_per_epoch: 3,
            max_lr: 0.1,
            weight_decay: 0.01,
            seed: 4,
            valid_batch_size: 5,
            objective: desc.objective().unwrap(),
            freeze: Default::default(),
            recipe: Default::default(),
            recompute_chunk: None,
        };
        let spec = RunSpec { desc, config, data: data(dir.path().join("t.txt")), device: DeviceSpec::Cpu };
        spec.write(dir.path()).unwrap();
        let back = RunSpec::read(dir.path()).unwrap();
        assert_eq!((back.desc, back.config, back.data), (spec.desc, spec.config, spec.data));
    }

    #[test]
    fn the_split_is_seeded_and_unlabelled_records_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        let seq = |i: usize| -> String { (0..6).map(|k| b"ACGT"[(i >> (2 * k)) & 3] as char).collect() };
        let rows: String = (0..40).map(|i| format!("{}\t{}\n", seq(i), i % 17)).collect();
        std::fs::write(&path, rows).unwrap();
        let d = data(path.clone());
        let (a, b) = d.read_split().unwrap();
        assert_eq!(a.len() + b.len(), 40);
        assert!(!a.is_empty() && !b.is_empty(), "{} / {}", a.len(), b.len());
        let (a2, _) = d.read_split().unwrap();
        assert_eq!(a.iter().map(|r| r.line).collect::<Vec<_>>(), a2.iter().map(|r| r.line).collect::<Vec<_>>());
        let fasta = dir.path().join("s.fa");
        std::fs::write(&fasta, ">s1\nACGT\n").unwrap();
        let e = data(fasta).read_split().unwrap_err();
        assert!(e.downcast_ref::<RunError>().is_some_and(|e| matches!(e, RunError::NoLabel { .. })), "{e}");
    }
}
