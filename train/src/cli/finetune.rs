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
use tch::Tensor;
use train::fit::{FitConfig, Freeze, Objective, Trainer};
use train::model::{CoreSpec, FinalSpec, FirstSpec, ModelDescription, PrixFixeNet};

use super::data::DataArgs;
use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Pretrained model: a zoo name[@version] or a directory with model.json + model.safetensors
    #[arg(long)]
    from: String,
    #[command(flatten)]
    data: DataArgs,
    /// Input length of the new data (default: the length of the first training sequence)
    #[arg(long)]
    length: Option<usize>,
    /// Keep these blocks fixed: first, or first+core
    #[arg(long, value_parser = parse_freeze)]
    freeze: Option<Freeze>,
    /// Run directory (must not exist yet, or be empty)
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value = "auto")]
    device: String,
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Steps per epoch; 0 = one pass over the data
    #[arg(long, default_value_t = 0)]
    batches_per_epoch: usize,
    /// Peak learning rate (default: the pretrained model's recipe)
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 256)]
    valid_batch_size: usize,
    #[arg(long)]
    threads: Option<i32>,
    /// Hidden width of each new regression head
    #[arg(long, default_value_t = 256)]
    head_hidden: usize,
}

fn parse_freeze(s: &str) -> Result<Freeze, String> {
    match s {
        "none" => Ok(Freeze::None),
        "first" => Ok(Freeze::First),
        "first+core" | "first,core" => Ok(Freeze::FirstCore),
        _ => Err(format!("'{s}': expected first or first+core")),
    }
}

fn resolve_source(from: &str) -> anyhow::Result<PathBuf> {
    let p = Path::new(from);
    if p.is_dir() {
        return Ok(p.to_path_buf());
    }
    let spec = zoo::ModelSpec::parse(from).map_err(|e| UsageError(format!("--from {from}: {e}")))?;
    Ok(zoo::Zoo::from_env()?.resolve(&spec)?)
}

/// The description of the adapted model.
fn adapted(pre: &ModelDescription, tasks: &[String], length: usize, head_hidden: usize) -> ModelDescription {
    let mut d = pre.clone();
    let keeps_head = tasks.len() <= 1
        && pre.architecture.final_.is_soft_bins()
        && pre.preprocessing.length == length;
    if keeps_head {
        return d;
    }
    let mut prep = pre.preprocessing.clone();
    prep.length = length;
    prep.padding = infer::preprocess::Padding::Exact;
    prep.extra_channels = vec![infer::preprocess::ExtraChannel::Reverse];
    prep.rc_average = false;
    prep.reverse_id_markers = infer::preprocess::BENCHMARK_REVERSE_MARKERS.iter().map(|m| m.to_string()).collect();
    let channels = prep.channels();
    match &mut d.architecture.first {
        FirstSpec::Bhi { in_channels, .. }
        | FirstSpec::Autosome { in_channels, .. }
        | FirstSpec::LegnetStem { in_channels, .. } => *in_channels = channels,
    }
    if let CoreSpec::UnlockDna { seqsize, .. } = &mut d.architecture.core {
        *seqsize = length;
    }
    let core_out = match &d.architecture.core {
        CoreSpec::Bhi { out_channels, .. } | CoreSpec::Autosome { out_channels, .. } | CoreSpec::UnlockDna { out_channels, .. } => *out_channels,
        CoreSpec::Legnet { block_sizes, .. } => block_sizes[block_sizes.len() - 1],
    };
    let names: Vec<String> = if tasks.is_empty() { vec!["y".into()] } else { tasks.to_vec() };
    d.architecture.final_ = FinalSpec::Regression { in_channels: core_out, hidden: head_hidden, tasks: names.clone() };
    d.outputs = names;
    d.units = "the training labels' own scale (regression, MSE per task)".into();
    d.preprocessing = prep;
    d
}

/// Copies every pretrained tensor that still fits; returns (transferred, partially, fresh).
fn transfer(net: &mut PrixFixeNet, weights: &Path) -> anyhow::Result<(usize, usize, usize)> {
    let src = Tensor::read_safetensors(weights).with_context(|| format!("reading {}", weights.display()))?;
    let (mut full, mut partial, mut fresh) = (0, 0, 0);
    let _g = tch::no_grad_guard();
    for e in net.store.entries() {
        let Some((_, s)) = src.iter().find(|(n, _)| *n == e.name) else {
            fresh += 1;
            continue;
        };
        let (want, have) = (e.tensor.size(), s.size());
        let s = s.to_device(e.tensor.device()).to_kind(e.tensor.kind());
        if want == have {
            e.tensor.shallow_clone().copy_(&s);
            full += 1;
        } else if want.len() == have.len() && want.len() >= 2 && want[0] == have[0] && want[2..] == have[2..] {
            // First-layer weights with another input-channel count: keep the shared
            // leading channels (one-hot, then the orientation flag), init the rest.
            let n = want[1].min(have[1]);
            e.tensor.narrow(1, 0, n).copy_(&s.narrow(1, 0, n));
            partial += 1;
        } else if want.len() == 2 && have.len() == 2 && want[1] == have[1] {
            // Positional embedding for another input length: keep the shared positions.
            let n = want[0].min(have[0]);
            e.tensor.narrow(0, 0, n).copy_(&s.narrow(0, 0, n));
            partial += 1;
        } else {
            fresh += 1;
        }
    }
    Ok((full, partial, fresh))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(t) = args.threads {
        tch::set_num_threads(t);
    }
    let src = resolve_source(&args.from)?;
    let desc_path = src.join(train::export::DESCRIPTION_FILE);
    let text = std::fs::read_to_string(&desc_path).map_err(|e| UsageError(format!("{}: {e}", desc_path.display())))?;
    let pretrained: ModelDescription =
        serde_json::from_str(&text).with_context(|| format!("{}: not a model description", desc_path.display()))?;
    let data = args.data.to_stored()?;
    super::fit::check_new_dir(&args.out)?;
    // Read once: bad data stops here, and the first record gives the default length.
    let records = super::fit::read_split(&data)?;
    let length = args.length.or_else(|| records.0.first().map(|r| r.seq.len())).unwrap_or(pretrained.preprocessing.length);
    let desc = adapted(&pretrained, &data.label_columns, length, args.head_hidden);
    desc.validate().map_err(|e| UsageError(format!("cannot adapt {}: {e}", args.from)))?;
    let device = train::device::parse_device(&args.device)?;
    let mut net = PrixFixeNet::new(desc.clone(), device, args.seed as i64)?;
    let (full, partial, fresh) = transfer(&mut net, &src.join(train::export::WEIGHTS_FILE))?;
    eprintln!(
        "train: from {}: {full} tensors transferred, {partial} partially (channels/positions), {fresh} new; input {} x {} nt; outputs {:?}",
        src.display(),
        desc.preprocessing.channels(),
        desc.preprocessing.length,
        desc.outputs
    );
    let (train_set, valid_set) = super::fit::encode_sets(&desc, &records)?;
    // Bad data stops the run before anything is written.
    super::fit::prepare_new_dir(&args.out)?;
    let objective = if desc.architecture.final_.is_soft_bins() { Objective::SoftBinKl } else { Objective::Mse };
    let config = FitConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        batches_per_epoch: if args.batches_per_epoch == 0 { train_set.len().div_ceil(args.batch_size) } else { args.batches_per_epoch },
        max_lr: args.lr.unwrap_or(pretrained.recipe.max_lr),
        weight_decay: pretrained.recipe.weight_decay,
        seed: args.seed,
        valid_batch_size: args.valid_batch_size,
        objective,
        freeze: args.freeze.unwrap_or_default(),
    };
    let run_spec = super::fit::RunSpec { desc: desc.clone(), config: config.clone(), data: data.clone(), device: args.device.clone() };
    infer::atomic::write(&args.out.join("run.json"), serde_json::to_string_pretty(&run_spec)?.as_bytes())?;
    let outcome = Trainer { net: &mut net, train: &train_set, valid: valid_set.as_ref(), cfg: config.clone(), dir: args.out.clone(), verbose: true }
        .run(false)?;
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
        "finetuned_from": args.from,
        "config": config,
        "data": data,
        "best_epoch": outcome.best.as_ref().map(|b| b.0),
        "best_valid": outcome.best.as_ref().map(|b| &b.1),
        "best_valid_per_task": outcome.log.iter().rev().find(|e| e.best).map(|e| &e.valid_tasks),
    });
    super::finish(&mut net, &args.out, training)
}
