//! `train fit`: train a model from scratch with the DREAM recipe or a team's own (`--recipe`).

use std::path::PathBuf;

use train::device::DeviceSpec;
use train::fit::{FitConfig, Trainer};
use train::model::spec::RecipeDefaults;
use train::model::{ModelDescription, PrixFixeNet};
use train::recipe::compact::{read_compact_where, TrainingData};
use train::recipe::plan::Recipe;
use train::run::{check_new_dir, prepare_new_dir, RunSpec};

use super::data::DataArgs;
use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Preset (dream-rnn, dream-cnn, dream-attn, legnet, deepgxp, camformer, wztr) or a model.json
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
    device: DeviceSpec,
    /// Epochs (default: the recipe's 80)
    #[arg(long)]
    epochs: Option<usize>,
    /// Training batch size (default: the recipe's 1024)
    #[arg(long, value_parser = super::at_least_one)]
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
    /// Run the first and core blocks this many sequences at a time and recompute them in
    /// the backward pass: the whole batch's gradients in a fraction of the memory, little
    /// more compute (models whose first and core blocks have no BatchNorm, e.g. dream-rnn;
    /// dropout draws differ from an unchunked run). Default: 128 on a CPU when the batch is
    /// larger and the model allows it, else off; 0 turns it off
    #[arg(long, value_name = "N")]
    recompute_chunk: Option<usize>,
    /// Validation batch size
    #[arg(long, default_value_t = 512, value_parser = super::at_least_one)]
    valid_batch_size: usize,
    /// Intra-op CPU threads (default: libtorch's choice)
    #[arg(long)]
    threads: Option<i32>,
    /// Training recipe: dream (AdamW, one-cycle, the head's loss), or a team's own:
    /// deepgxp, camformer, wztr (default: the model's own for the team presets, else dream)
    #[arg(long, value_name = "NAME")]
    recipe: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(t) = args.threads {
        tch::set_num_threads(t);
    }
    // Check the device before anything is written.
    let device = match &args.resume {
        None => Some(args.device.resolve()?),
        Some(_) => None,
    };
    let (dir, spec, resume) = match &args.resume {
        Some(dir) => (dir.clone(), RunSpec::read(dir)?, true),
        None => {
            let desc = ModelDescription::from_arg(args.arch.as_deref().unwrap())?;
            let dir = args.out.clone().unwrap();
            let data = args.data.to_stored()?;
            check_new_dir(&dir)?;
            let (recipe, defaults) = select_recipe(&desc, args.recipe.as_deref())?;
            let defaults = &defaults;
            let batch_size = args.batch_size.unwrap_or(defaults.batch_size);
            let device = device.expect("a new run resolved its device");
            let recompute_chunk = train::fit::recompute_chunk_for(&desc, None, &recipe, device, batch_size, args.recompute_chunk)?;
            let config = FitConfig {
                epochs: args.epochs.unwrap_or(defaults.epochs),
                batch_size,
                batches_per_epoch: args.batches_per_epoch.unwrap_or(defaults.batches_per_epoch),
                max_lr: args.lr.unwrap_or(defaults.max_lr),
                weight_decay: defaults.weight_decay,
                seed: args.seed,
                valid_batch_size: args.valid_batch_size,
                objective: desc.objective().map_err(|e| UsageError(format!("{}: {e}", desc.name)))?,
                freeze: Default::default(),
                recipe,
                recompute_chunk,
            };
            let spec = RunSpec { desc, config, data, device: args.device };
            (dir, spec, false)
        }
    };
    let device = match device {
        Some(d) => d,
        None => spec.device.resolve()?,
    };
    spec.config.check().map_err(|e| UsageError(format!("{}: {e}", dir.join(train::run::RUN_FILE).display())))?;
    eprintln!("train: device {device:?}");
    if let Some(c) = spec.config.recompute_chunk {
        eprintln!("train: first and core blocks in chunks of {c} sequences, recomputed in the backward pass (--recompute-chunk; 0 turns it off)");
    }
    // Bad data stops the run before anything is written.
    let domain = spec.desc.preprocessing.rules.training_domain.clone().filter(|_| spec.config.recipe.drop_outside_domain);
    let (mut train_set, mut valid_set, dropped) =
        read_compact_where(&spec.data, &spec.desc, |r| domain.as_ref().is_none_or(|d| d.outside(&r.seq).is_none()))?;
    for (what, n) in [("training", dropped[0]), ("validation", dropped[1])] {
        if n > 0 {
            eprintln!("train: left out {n} {what} records outside the training domain (the recipe's reader drops them)");
        }
    }
    // The recipe's target transform, its scale taken from the training labels once (a
    // resumed run reads it back from run.json).
    let mut spec = spec;
    spec.config.recipe.resolve_target(|| train_set.targets());
    if let Some(map) = spec.config.recipe.target_map() {
        train_set.map_targets(map.clone());
        if let Some(v) = valid_set.as_mut() {
            v.map_targets(map);
        }
    }
    if !resume {
        prepare_new_dir(&dir)?;
        spec.write(&dir)?;
    }
    let mut config = spec.config.clone();
    let one_pass = train_set.rows().div_ceil(config.batch_size);
    if config.batches_per_epoch == 0 || config.batches_per_epoch > one_pass {
        config.batches_per_epoch = one_pass;
    }
    eprintln!(
        "train: {} training rows, {} validation rows; {} epochs x {} steps of {}",
        train_set.rows(),
        valid_set.as_ref().map_or(0, |v| v.rows()),
        config.epochs,
        config.batches_per_epoch,
        config.batch_size
    );
    let mut net = PrixFixeNet::new(spec.desc.clone(), device, config.seed as i64)?;
    let started = std::time::Instant::now();
    let outcome = Trainer {
        net: &mut net,
        train: &train_set,
        valid: valid_set.as_ref().map(|v| v as &dyn TrainingData),
        cfg: config.clone(),
        dir: dir.clone(),
        verbose: true,
    }
    .run(resume)?;
    let training = serde_json::json!({
        "recipe": recipe_label(&config.recipe),
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

/// The recipe asked for (or the model's own), with the hyper-parameter defaults that go
/// with it: a team recipe uses the model's defaults, the DREAM recipe the DREAM ones.
fn select_recipe(desc: &ModelDescription, asked: Option<&str>) -> anyhow::Result<(Recipe, RecipeDefaults)> {
    let name = asked.unwrap_or(if Recipe::named(&desc.name).is_some() { desc.name.as_str() } else { "dream" });
    let recipe = Recipe::named(name)
        .ok_or_else(|| UsageError(format!("unknown recipe '{name}' (known: {})", train::recipe::plan::RECIPES.join(", "))))?;
    if recipe.strand_pairs && (desc.preprocessing.alphabet != "ACGT" || !desc.preprocessing.extra_channels.is_empty()) {
        return Err(UsageError(format!(
            "recipe '{name}' trains on both strands by flipping channels and positions, which needs a bare A, C, G, T one-hot input"
        ))
        .into());
    }
    let defaults = match (name, ModelDescription::preset("dream-cnn")) {
        ("dream", Some(dream)) if Recipe::named(&desc.name).is_some() => RecipeDefaults { max_lr: dream.recipe.max_lr, weight_decay: dream.recipe.weight_decay, ..desc.recipe.clone() },
        _ => desc.recipe.clone(),
    };
    Ok((recipe, defaults))
}

fn recipe_label(r: &Recipe) -> String {
    match r.name.as_str() {
        "dream" => "DREAM (AdamW wd 0.01, one-cycle, KL to 18-bin soft targets)".into(),
        _ => format!("{} ({})", r.name, serde_json::to_string(r).unwrap_or_default()),
    }
}
