//! `--recompute-chunk`: the first and core blocks run a chunk at a time and are recomputed
//! in the backward pass. Without dropout the steps are the unchunked steps (the gradient
//! is the whole batch's); with it, seeded runs repeat exactly; a body with BatchNorm is
//! refused, since chunks would change its batch statistics.

use std::path::Path;

use tch::Device;
use train::fit::{FitConfig, Trainer};
use train::model::{ModelDescription, PrixFixeNet};
use train::recipe::plan::Recipe;
use train::recipe::compact::read_compact;

use crate::compact::{demo_file, stored};

/// DREAM-RNN narrowed to run in a blink, with or without its dropout.
fn small_rnn(dropout: bool) -> ModelDescription {
    let mut desc = ModelDescription::preset("dream-rnn").unwrap();
    let mut arch = serde_json::to_value(&desc.architecture).unwrap();
    let p = if dropout { 0.2 } else { 0.0 };
    arch["first"]["out_channels"] = 16.into();
    arch["first"]["dropout"] = p.into();
    arch["core"]["in_channels"] = 16.into();
    arch["core"]["out_channels"] = 16.into();
    arch["core"]["lstm_hidden_channels"] = 8.into();
    arch["core"]["dropout1"] = p.into();
    arch["core"]["dropout2"] = p.into();
    arch["final"]["in_channels"] = 16.into();
    desc.architecture = serde_json::from_value(arch).unwrap();
    desc
}

fn config(desc: &ModelDescription, chunk: Option<usize>) -> FitConfig {
    FitConfig {
        epochs: 1,
        batch_size: 10,
        batches_per_epoch: 3,
        max_lr: 0.005,
        weight_decay: 0.01,
        seed: 3,
        valid_batch_size: 64,
        objective: desc.objective().unwrap(),
        freeze: Default::default(),
        recipe: Default::default(),
        recompute_chunk: chunk,
    }
}

/// Parameters after training from the same initialisation, by name.
fn train(desc: &ModelDescription, chunk: Option<usize>, data_dir: &Path, out: &Path) -> anyhow::Result<Vec<(String, Vec<f32>)>> {
    let _rng = crate::torch_rng();
    let (train, _) = read_compact(&stored(&demo_file(data_dir, 40, false)), desc).unwrap();
    let mut net = PrixFixeNet::new(desc.clone(), Device::Cpu, 5).unwrap();
    Trainer { net: &mut net, train: &train, valid: None, cfg: config(desc, chunk), dir: out.to_path_buf(), verbose: false }.run(false)?;
    Ok(net.store.named_parameters().into_iter().map(|(n, t)| (n, train::model::store::to_vec_f32(&t))).collect())
}

fn initial(desc: &ModelDescription) -> Vec<(String, Vec<f32>)> {
    let net = PrixFixeNet::new(desc.clone(), Device::Cpu, 5).unwrap();
    net.store.named_parameters().into_iter().map(|(n, t)| (n, train::model::store::to_vec_f32(&t))).collect()
}

#[test]
fn chunked_steps_without_dropout_are_the_whole_batch_steps() {
    let dir = tempfile::tempdir().unwrap();
    let desc = small_rnn(false);
    let start = initial(&desc);
    let plain = train(&desc, None, dir.path(), &dir.path().join("plain")).unwrap();
    // Chunks of 3 split the batches of 10 unevenly (3 + 3 + 3 + 1).
    let chunked = train(&desc, Some(3), dir.path(), &dir.path().join("chunked")).unwrap();
    for (((name, w0), (_, a)), (_, b)) in start.iter().zip(&plain).zip(&chunked) {
        // AdamW's first steps move each weight by about the learning rate whatever the
        // gradient's size, so compare the moves: a gradient missing or wrong in a block
        // moves its weights differently.
        let moved: f32 = w0.iter().zip(a).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        let apart: f32 = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        assert!(moved > 0.0, "{name} did not train");
        assert!(apart <= 0.01 * moved, "{name}: chunked and whole-batch steps differ by {apart:e} (moves {moved:e})");
    }
}

#[test]
fn seeded_chunked_runs_with_dropout_repeat_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let desc = small_rnn(true);
    let a = train(&desc, Some(4), dir.path(), &dir.path().join("a")).unwrap();
    let b = train(&desc, Some(4), dir.path(), &dir.path().join("b")).unwrap();
    assert!(a == b, "two seeded chunked runs differ");
    let plain = train(&desc, None, dir.path(), &dir.path().join("plain")).unwrap();
    assert!(a != plain, "chunks draw their own dropout masks");
}

#[test]
fn a_body_with_batchnorm_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // DREAM-CNN's core normalises with batch statistics.
    let desc = ModelDescription::preset("dream-cnn").unwrap();
    let err = train(&desc, Some(4), dir.path(), &dir.path().join("cnn")).unwrap_err();
    assert!(err.to_string().contains("BatchNorm"), "{err}");
}

#[test]
fn cpu_runs_chunk_large_batches_of_models_that_allow_it_unless_told_otherwise() {
    use train::fit::{recompute_chunk_for, CPU_RECOMPUTE_CHUNK};
    let rnn = ModelDescription::preset("dream-rnn").unwrap();
    let cnn = ModelDescription::preset("dream-cnn").unwrap();
    let cpu = Device::Cpu;
    let dream = Recipe::default();
    let auto = |d: &ModelDescription, device, batch, req| recompute_chunk_for(d, None, &dream, device, batch, req).unwrap();
    assert_eq!(auto(&rnn, cpu, 1024, None), Some(CPU_RECOMPUTE_CHUNK));
    assert_eq!(auto(&rnn, cpu, 1024, Some(0)), None, "0 turns it off");
    assert_eq!(auto(&rnn, cpu, 1024, Some(32)), Some(32));
    assert_eq!(auto(&rnn, cpu, CPU_RECOMPUTE_CHUNK, None), None, "a batch that fits one chunk");
    assert_eq!(auto(&rnn, Device::Cuda(0), 1024, None), None, "GPU memory is another matter");
    assert_eq!(auto(&cnn, cpu, 1024, None), None, "BatchNorm in the core");
}

/// `train fit --arch deepgxp --recipe deepgxp --device cpu --batch-size 256` stopped at
/// once: the CPU default chose a chunk that `FitConfig::check` then refused beside the
/// recipe's two strand passes.
#[test]
fn cpu_default_chunk_skips_two_strand_recipes() {
    use train::fit::recompute_chunk_for;
    let deepgxp = ModelDescription::preset("deepgxp").unwrap();
    let recipe = Recipe::named("deepgxp").unwrap();
    assert!(recipe.strand_pairs);
    let one_pass = recompute_chunk_for(&deepgxp, None, &Recipe::default(), Device::Cpu, 256, None).unwrap();
    assert!(one_pass.is_some(), "the model itself allows chunks; the recipe decides");
    let chunk = recompute_chunk_for(&deepgxp, None, &recipe, Device::Cpu, 256, None).unwrap();
    assert_eq!(chunk, None);
    let mut cfg = config(&deepgxp, chunk);
    cfg.recipe = recipe;
    cfg.check().unwrap();
}
