//! `train finetune`: start from a pretrained model and adapt it to new assay data.
//!
//! When the new data has the model's own target (one label, same preprocessing) the
//! model keeps its head and objective. Otherwise the head is replaced by one regression
//! head per label column (benchmarks.md §1: Conv1d(C->256, K=1) -> mean -> Linear(256->1),
//! MSE per task) and the input becomes the benchmark layout: sequences of exactly
//! `--length` nt, one-hot A,G,C,T plus the orientation flag read from the record id.
//! Every pretrained tensor whose name and shape still fit is transferred; the first
//! convolutions keep their weights for the channels both layouts share.

use std::path::{Path, PathBuf};

use anyhow::Context;
use train::device::DeviceSpec;
use train::{finetune, run};
use train::fit::{FitConfig, Freeze, Trainer};
use train::model::PrixFixeNet;
use train::recipe::compact::{self, TrainingData};

use super::data::DataArgs;
use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Pretrained model: a zoo name[@version] or a directory with model.json + model.safetensors
    #[arg(long, required_unless_present = "resume")]
    from: Option<String>,
    #[command(flatten)]
    data: DataArgs,
    /// Input length of the new data (default: the length of the first training sequence)
    #[arg(long)]
    length: Option<usize>,
    /// Keep these blocks fixed: first, or first+core
    #[arg(long, value_enum)]
    freeze: Option<Freeze>,
    /// Run directory (must not exist yet, or be empty)
    #[arg(long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Continue the fine-tuning run in this directory from its last completed epoch
    #[arg(long, value_name = "DIR", conflicts_with_all = ["from", "out"])]
    resume: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    device: DeviceSpec,
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    #[arg(long, default_value_t = 32, value_parser = super::at_least_one)]
    batch_size: usize,
    /// Steps per epoch; 0 = one pass over the data
    #[arg(long, default_value_t = 0)]
    batches_per_epoch: usize,
    /// Peak learning rate (default: the pretrained model's recipe)
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 256, value_parser = super::at_least_one)]
    valid_batch_size: usize,
    /// Run the first and core blocks this many sequences at a time and recompute them in
    /// the backward pass: the whole batch's gradients in a fraction of the memory, little
    /// more compute (models whose first and core blocks have no BatchNorm, e.g. dream-rnn;
    /// dropout draws differ from an unchunked run). Default: 128 on a CPU when the batch is
    /// larger and the model allows it, else off; 0 turns it off
    #[arg(long, value_name = "N")]
    recompute_chunk: Option<usize>,
    #[arg(long)]
    threads: Option<i32>,
    /// Hidden width of each new regression head
    #[arg(long, default_value_t = 256)]
    head_hidden: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(t) = args.threads {
        tch::set_num_threads(t);
    }
    if let Some(dir) = &args.resume {
        return resume(dir);
    }
    let (from, out) = (args.from.clone().unwrap_or_default(), args.out.clone().unwrap_or_default());
    let src = super::model_dir(&from, "--from")?;
    let pretrained = super::read_description(&src)?;
    let data = args.data.to_stored()?;
    run::check_new_dir(&out)?;
    // The first training record gives the default length.
    let first = match args.length {
        Some(_) => None,
        None => compact::first_training_length(&data)?,
    };
    let length = args.length.or(first).unwrap_or(pretrained.preprocessing.length);
    let desc = finetune::adapted(&pretrained, &data.label_columns, length, args.head_hidden)
        .and_then(|d| d.validate().map(|()| d))
        .map_err(|e| UsageError(format!("cannot adapt {}: {e}", from)))?;
    let device = args.device.resolve()?;
    let mut net = PrixFixeNet::new(desc.clone(), device, args.seed as i64)?;
    let finetune::Transfer { full, partial, fresh } = finetune::transfer(&mut net, &src.join(train::export::WEIGHTS_FILE))?;
    eprintln!(
        "train: from {}: {full} tensors transferred, {partial} partially (channels/positions), {fresh} new; input {} x {} nt; outputs {:?}",
        src.display(),
        desc.preprocessing.channels(),
        desc.preprocessing.length,
        desc.outputs
    );
    let (train_set, valid_set) = compact::read_compact(&data, &desc)?;
    // Bad data stops the run before anything is written.
    run::prepare_new_dir(&out)?;
    let objective = desc.objective().map_err(anyhow::Error::msg)?;
    let config = FitConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        batches_per_epoch: if args.batches_per_epoch == 0 { train_set.rows().div_ceil(args.batch_size) } else { args.batches_per_epoch },
        max_lr: args.lr.unwrap_or(pretrained.recipe.max_lr),
        weight_decay: pretrained.recipe.weight_decay,
        seed: args.seed,
        valid_batch_size: args.valid_batch_size,
        objective,
        freeze: args.freeze.unwrap_or_default(),
        recipe: Default::default(),
        recompute_chunk: train::fit::recompute_chunk_for(&desc, Some(&net), &Default::default(), device, args.batch_size, args.recompute_chunk)?,
    };
    let run_spec = run::RunSpec { desc: desc.clone(), config: config.clone(), data: data.clone(), device: args.device };
    run_spec.write(&out)?;
    let origin = Origin { from: from.clone(), source: std::path::absolute(&src).unwrap_or(src) };
    infer::atomic::write(&out.join(ORIGIN_FILE), serde_json::to_string_pretty(&origin)?.as_bytes())?;
    train_and_finish(&mut net, &run_spec, &origin, &train_set, valid_set.as_ref(), &out, false)
}

/// Where a fine-tuning run started from, kept beside run.json so `--resume` can
/// transfer the same pretrained weights again (a run stopped in its first epoch has no
/// checkpoint yet).
const ORIGIN_FILE: &str = "finetune.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct Origin {
    /// `--from` as given.
    from: String,
    /// The pretrained model's directory it resolved to.
    source: PathBuf,
}

/// `--resume DIR`: the run as run.json and finetune.json describe it, continued from its
/// last completed epoch (the training loop restores weights, optimiser and sampler).
fn resume(dir: &Path) -> anyhow::Result<()> {
    let spec = run::RunSpec::read(dir)?;
    let origin_path = dir.join(ORIGIN_FILE);
    let text = std::fs::read_to_string(&origin_path)
        .map_err(|e| UsageError(format!("{}: cannot resume (not a fine-tuning run?): {e}", origin_path.display())))?;
    let origin: Origin = serde_json::from_str(&text).with_context(|| format!("reading {}", origin_path.display()))?;
    spec.config.check().map_err(|e| UsageError(format!("{}: {e}", dir.join(run::RUN_FILE).display())))?;
    let device = spec.device.resolve()?;
    let mut net = PrixFixeNet::new(spec.desc.clone(), device, spec.config.seed as i64)?;
    finetune::transfer(&mut net, &origin.source.join(train::export::WEIGHTS_FILE))?;
    let (train_set, valid_set) = compact::read_compact(&spec.data, &spec.desc)?;
    eprintln!("train: resuming the fine-tuning run in {} (from {})", dir.display(), origin.from);
    train_and_finish(&mut net, &spec, &origin, &train_set, valid_set.as_ref(), dir, true)
}

fn train_and_finish(
    net: &mut PrixFixeNet,
    spec: &run::RunSpec,
    origin: &Origin,
    train_set: &compact::CompactSet,
    valid_set: Option<&compact::CompactSet>,
    out: &Path,
    resume: bool,
) -> anyhow::Result<()> {
    let (desc, config, data) = (&spec.desc, &spec.config, &spec.data);
    let outcome = Trainer { net: &mut *net, train: train_set, valid: valid_set.map(|v| v as &dyn TrainingData), cfg: config.clone(), dir: out.to_path_buf(), verbose: true }
        .run(resume)?;
    if let Some(last) = outcome.log.iter().rev().find(|e| e.best) {
        if last.valid_tasks.is_empty() {
            if let Some(v) = &last.valid {
                eprintln!("train: best epoch {}: {} pearson {:.4} spearman {:.4}", last.epoch, desc.outputs[0], v.pearson, v.spearman);
            }
        } else {
            for (name, v) in desc.outputs.iter().zip(&last.valid_tasks) {
                eprintln!("train: best epoch {}: {name} pearson {:.4} spearman {:.4}", last.epoch, v.pearson, v.spearman);
            }
        }
    }
    let training = serde_json::json!({
        "finetuned_from": origin.from,
        "config": config,
        "data": data,
        "best_epoch": outcome.best.as_ref().map(|b| b.0),
        "best_valid": outcome.best.as_ref().map(|b| &b.1),
        "best_valid_per_task": outcome.log.iter().rev().find(|e| e.best).map(|e| &e.valid_tasks),
    });
    super::finish(net, out, training)
}
