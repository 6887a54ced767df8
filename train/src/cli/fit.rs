//! `train fit`: train a model from scratch with the DREAM recipe.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use train::fit::{FitConfig, Objective, Trainer};
use train::model::{ModelDescription, PrixFixeNet};
use train::recipe::data::{encode_regression, encode_yeast, EncodedSet};
use train::recipe::split::holdout;
use train::recipe::target::SoftBinTarget;

use super::data::{read_records, DataArgs, StoredData};
use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Preset (dream-rnn, dream-cnn, dream-attn, legnet) or a model.json
    #[arg(long, required_unless_present = "resume")]
    arch: Option<String>,
    #[command(flatten)]
    data: DataArgs,
    /// Run directory (must not exist yet, or be empty)
    #[arg(long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Continue the run in this directory from its last completed epoch
    #[arg(long, value_name = "DIR", conflicts_with_all = ["arch", "out"])]
    resume: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N
    #[arg(long, default_value = "auto")]
    device: String,
    /// Epochs (default: the recipe's 80)
    #[arg(long)]
    epochs: Option<usize>,
    /// Training batch size (default: the recipe's 1024)
    #[arg(long)]
    batch_size: Option<usize>,
    /// Optimiser steps per epoch; 0 = one pass over the (reverse-complement doubled) data
    /// (default: the recipe's 1000, capped at one pass)
    #[arg(long)]
    batches_per_epoch: Option<usize>,
    /// Peak learning rate of the one-cycle schedule (default: the preset's)
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Validation batch size
    #[arg(long, default_value_t = 512)]
    valid_batch_size: usize,
    /// Intra-op CPU threads (default: libtorch's choice)
    #[arg(long)]
    threads: Option<i32>,
}

/// Everything needed to rebuild the same run: stored as run.json.
#[derive(Serialize, Deserialize)]
pub struct RunSpec {
    pub desc: ModelDescription,
    pub config: FitConfig,
    pub data: StoredData,
    pub device: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(t) = args.threads {
        tch::set_num_threads(t);
    }
    // Check the device before anything is written.
    let device = match &args.resume {
        None => Some(train::device::parse_device(&args.device)?),
        Some(_) => None,
    };
    let (dir, spec, resume) = match &args.resume {
        Some(dir) => {
            let path = dir.join("run.json");
            let text = std::fs::read_to_string(&path)
                .map_err(|e| UsageError(format!("{}: cannot resume: {e}", path.display())))?;
            let spec: RunSpec = serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
            (dir.clone(), spec, true)
        }
        None => {
            let desc = ModelDescription::from_arg(args.arch.as_deref().unwrap())?;
            let dir = args.out.clone().unwrap();
            let data = args.data.to_stored()?;
            check_new_dir(&dir)?;
            let defaults = &desc.recipe;
            let config = FitConfig {
                epochs: args.epochs.unwrap_or(defaults.epochs),
                batch_size: args.batch_size.unwrap_or(defaults.batch_size),
                batches_per_epoch: args.batches_per_epoch.unwrap_or(defaults.batches_per_epoch),
                max_lr: args.lr.unwrap_or(defaults.max_lr),
                weight_decay: defaults.weight_decay,
                seed: args.seed,
                valid_batch_size: args.valid_batch_size,
                objective: if desc.architecture.final_.is_soft_bins() { Objective::SoftBinKl } else { Objective::Mse },
                freeze: Default::default(),
            };
            let spec = RunSpec { desc, config, data, device: args.device.clone() };
            (dir, spec, false)
        }
    };
    let device = match device {
        Some(d) => d,
        None => train::device::parse_device(&spec.device)?,
    };
    eprintln!("train: device {device:?}");
    // Bad data stops the run before anything is written.
    let (train_set, valid_set) = encode_sets(&spec.desc, &read_split(&spec.data)?)?;
    if !resume {
        prepare_new_dir(&dir)?;
        infer::atomic::write(&dir.join("run.json"), serde_json::to_string_pretty(&spec)?.as_bytes())?;
    }
    let mut config = spec.config.clone();
    let one_pass = train_set.len().div_ceil(config.batch_size);
    if config.batches_per_epoch == 0 || config.batches_per_epoch > one_pass {
        config.batches_per_epoch = one_pass;
    }
    eprintln!(
        "train: {} training rows, {} validation rows; {} epochs x {} steps of {}",
        train_set.len(),
        valid_set.as_ref().map_or(0, |v| v.len()),
        config.epochs,
        config.batches_per_epoch,
        config.batch_size
    );
    let mut net = PrixFixeNet::new(spec.desc.clone(), device, config.seed as i64)?;
    let started = std::time::Instant::now();
    let outcome = Trainer {
        net: &mut net,
        train: &train_set,
        valid: valid_set.as_ref(),
        cfg: config.clone(),
        dir: dir.clone(),
        verbose: true,
    }
    .run(resume)?;
    let training = serde_json::json!({
        "recipe": "DREAM (AdamW wd 0.01, one-cycle, KL to 18-bin soft targets)",
        "config": config,
        "data": spec.data,
        "device": format!("{device:?}"),
        "epochs_completed": outcome.epochs_run,
        "best_epoch": outcome.best.as_ref().map(|b| b.0),
        "best_valid": outcome.best.as_ref().map(|b| &b.1),
        "seconds_this_invocation": started.elapsed().as_secs_f64(),
    });
    super::finish(&mut net, &dir, training)
}

/// A new run never writes into a directory that holds something already.
pub fn check_new_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        return Err(UsageError(format!(
            "{}: run directory exists and is not empty (use --resume to continue a run)",
            dir.display()
        ))
        .into());
    }
    Ok(())
}

pub fn prepare_new_dir(dir: &Path) -> anyhow::Result<()> {
    check_new_dir(dir)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(())
}

/// The records of a run, split into (train, validation) the same way every time.
pub type SplitRecords = (Vec<infer::input::SeqRecord>, Vec<infer::input::SeqRecord>);

pub fn read_split(data: &StoredData) -> anyhow::Result<SplitRecords> {
    let records = read_records(&data.train, data)?;
    let (train_records, valid_records) = match &data.valid {
        Some(v) => (records, read_records(v, data)?),
        None if data.valid_fraction > 0.0 => holdout(records, data.valid_fraction, data.split_seed),
        None => (records, Vec::new()),
    };
    if train_records.is_empty() {
        return Err(UsageError(format!("{}: no training records", data.train.display())).into());
    }
    Ok((train_records, valid_records))
}

/// Encodes split records for the model's preprocessing and objective.
pub fn encode_sets(desc: &ModelDescription, (train_records, valid_records): &SplitRecords) -> anyhow::Result<(EncodedSet, Option<EncodedSet>)> {
    let pre = &desc.preprocessing;
    let encode = |recs: &[infer::input::SeqRecord]| -> anyhow::Result<EncodedSet> {
        Ok(if desc.architecture.final_.is_soft_bins() {
            encode_yeast(recs, pre, &SoftBinTarget::default(), pre.rc_average)?
        } else {
            encode_regression(recs, pre, |r| pre.reverse_from_id(&r.id))?
        })
    };
    let train = encode(train_records)?;
    let valid = if valid_records.is_empty() { None } else { Some(encode(valid_records)?) };
    Ok((train, valid))
}
