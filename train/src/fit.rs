//! The DREAM training loop (training.md §4-6): AdamW + one-cycle schedule stepped per
//! batch, a persistent shuffled batch iterator, validation after every epoch, the
//! best-validation-Pearson weights kept, resumable checkpoints written atomically.
//!
//! Run directory:
//! - `run.json`: what was asked (model description, config, data) — `--resume` reads it;
//! - `log.jsonl`: one JSON object per completed epoch;
//! - `checkpoint/state.json` + `checkpoint/e{N}-*.safetensors`: the last completed
//!   epoch (weights, optimiser, sampler); state.json is renamed into place last, so a
//!   crash never leaves a checkpoint that points at half-written files;
//! - `best.safetensors`: weights of the best validation epoch;
//! - at the end `model.safetensors`, `model.json`, `model.onnx` (as `train export`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Reduction, Tensor};

use crate::model::store::Role;
use crate::torch_call::{self, TorchError};
use crate::model::{PrixFixeNet, Slot};
use crate::recipe::compact::TrainingData;
use crate::recipe::data::{BatchSampler, SamplerState};
use crate::recipe::metrics::{metrics, ValidMetrics};
use crate::recipe::optim::AdamW;
use crate::recipe::plan::{Loss, LrPlan, Progress, Recipe};

/// Which parameters stay fixed while fine-tuning (`--freeze`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Freeze {
    /// Train everything
    #[default]
    None,
    /// Keep the first-layers block fixed
    First,
    /// Keep the first-layers and core blocks fixed
    #[value(name = "first+core", alias = "first,core")]
    FirstCore,
}

pub use crate::model::Objective;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub batches_per_epoch: usize,
    pub max_lr: f64,
    pub weight_decay: f64,
    pub seed: u64,
    pub valid_batch_size: usize,
    pub objective: Objective,
    #[serde(default)]
    pub freeze: Freeze,
    /// Loss, schedule, selection, early stopping, target transform (default: DREAM).
    #[serde(default)]
    pub recipe: Recipe,
    /// Sequences per chunk of the first and core blocks (`--recompute-chunk`): they run
    /// without keeping their activations, then again chunk by chunk in the backward pass,
    /// so a large batch trains in a fraction of the memory with the whole batch's gradients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recompute_chunk: Option<usize>,
}

/// Chunk of the first and core blocks a CPU run uses unless told otherwise: a batch-1024
/// DREAM-RNN step on the 6.7M-record challenge file then peaks at 2.71 GB instead of
/// 6.67 GB, its first step as fast (36.7 s vs 36.1 s on 2 threads).
pub const CPU_RECOMPUTE_CHUNK: usize = 128;

/// The `recompute_chunk` of a new run: `requested` (`Some(0)` = off) when given, else
/// [`CPU_RECOMPUTE_CHUNK`] on a CPU for batches larger than it when the recipe makes one
/// pass per step and the first and core blocks treat each sequence on its own (no
/// BatchNorm), else none. `net` is asked only in that last case (`desc` builds one on the
/// CPU when it is `None`).
pub fn recompute_chunk_for(
    desc: &crate::model::ModelDescription,
    net: Option<&PrixFixeNet>,
    recipe: &Recipe,
    device: Device,
    batch_size: usize,
    requested: Option<usize>,
) -> anyhow::Result<Option<usize>> {
    Ok(match requested {
        Some(0) => None,
        Some(n) => Some(n),
        None if device != Device::Cpu || batch_size <= CPU_RECOMPUTE_CHUNK || recipe.strand_pairs => None,
        None => {
            let per_sample = match net {
                Some(n) => n.body_batch_statistics().is_none(),
                None => PrixFixeNet::new(desc.clone(), Device::Cpu, 0)?.body_batch_statistics().is_none(),
            };
            per_sample.then_some(CPU_RECOMPUTE_CHUNK)
        }
    })
}

impl FitConfig {
    /// Sizes a run cannot proceed with (a hand-edited run.json, a library caller).
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [("batch_size", self.batch_size), ("valid_batch_size", self.valid_batch_size)] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.recompute_chunk == Some(0) {
            return Err("recompute_chunk must be at least 1".into());
        }
        if self.recompute_chunk.is_some() && self.recipe.strand_pairs {
            return Err(format!("recompute_chunk does not combine with the {} recipe's two strand passes", self.recipe.name));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub steps: usize,
    pub train_loss: f64,
    pub lr_last: f64,
    pub valid: Option<ValidMetrics>,
    /// Per-task validation metrics when the model has several outputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub valid_tasks: Vec<ValidMetrics>,
    pub best: bool,
    pub seconds: f64,
    /// Of `seconds`, the time spent assembling batches (gather + transfer): what the
    /// data pipeline adds to the pure model steps.
    #[serde(default)]
    pub data_seconds: f64,
    /// Of `seconds`, the time of the validation pass.
    #[serde(default)]
    pub valid_seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    /// Epochs completed.
    epoch: usize,
    steps: i64,
    sampler: SamplerState,
    best_pearson: Option<f64>,
    weights: String,
    optimizer: String,
    #[serde(default)]
    plan: Option<LrPlan>,
    #[serde(default)]
    progress: Option<Progress>,
}

#[derive(Default)]
struct EpochTotals {
    loss_sum: f64,
    lr_last: f64,
    data_seconds: f64,
}

pub struct FitOutcome {
    pub epochs_run: usize,
    pub best: Option<(usize, ValidMetrics)>,
    pub log: Vec<EpochLog>,
}

#[derive(Debug, thiserror::Error)]
#[error("the training loss became {value} at epoch {epoch}, step {step}; stopped. The last good checkpoint (epoch {last_good}) is kept in {dir}")]
pub struct NonFiniteLoss {
    pub value: f64,
    pub epoch: usize,
    pub step: usize,
    pub last_good: usize,
    pub dir: String,
}

pub struct Trainer<'a> {
    pub net: &'a mut PrixFixeNet,
    pub train: &'a dyn TrainingData,
    pub valid: Option<&'a dyn TrainingData>,
    pub cfg: FitConfig,
    pub dir: PathBuf,
    /// Print per-epoch lines to stderr.
    pub verbose: bool,
}

fn checkpoint_dir(dir: &Path) -> PathBuf {
    dir.join("checkpoint")
}

impl Trainer<'_> {
    fn trainable(&self) -> Vec<Tensor> {
        let frozen = |slot: Option<Slot>| match self.cfg.freeze {
            Freeze::None => false,
            Freeze::First => slot == Some(Slot::First),
            Freeze::FirstCore => matches!(slot, Some(Slot::First | Slot::Core)),
        };
        let mut out = Vec::new();
        for (i, e) in self.net.store.entries().iter().enumerate() {
            if e.role != Role::Parameter {
                continue;
            }
            let t = e.tensor.shallow_clone();
            if frozen(self.net.slot_of_entry(i)) {
                let _ = t.shallow_clone().set_requires_grad(false);
            } else {
                out.push(t);
            }
        }
        out
    }

    fn batches_per_epoch(&self) -> usize {
        if self.cfg.batches_per_epoch > 0 {
            self.cfg.batches_per_epoch
        } else {
            self.train.rows().div_ceil(self.cfg.batch_size)
        }
    }

    fn loss(&self, out: &crate::model::FinalOutput, y: &Tensor, y_probs: Option<&Tensor>) -> anyhow::Result<Tensor> {
        if let Some(l) = self.cfg.recipe.loss.filter(|l| *l != Loss::SoftBinKl) {
            return Ok(l.regression(&out.prediction, y));
        }
        Ok(match self.cfg.objective {
            Objective::SoftBinKl => {
                let (Some(z), Some(target)) = (&out.logits, y_probs) else {
                    bail!("the soft-bin objective needs an 18-bin head and soft targets");
                };
                let logp = z.log_softmax(1, Kind::Float);
                let b = z.size()[0] as f64;
                logp.kl_div(target, Reduction::Sum, false) / b
            }
            Objective::Mse => {
                let pred = &out.prediction;
                let diff = pred - y.view(pred.size().as_slice());
                if pred.dim() == 1 {
                    diff.square().mean(Kind::Float)
                } else {
                    // Sum over tasks of each task's mean squared error.
                    diff.square().mean_dim([0i64].as_slice(), false, Kind::Float).sum(Kind::Float)
                }
            }
        })
    }

    /// Eval-mode predictions on a set, batched; (N,) or (N, T) on the CPU. A libtorch
    /// exception (the GPU out of memory) is an error, as in the training step.
    pub fn predict_set(net: &PrixFixeNet, set: &dyn TrainingData, batch: usize) -> Result<Tensor, TorchError> {
        // A zero batch would never advance; one row at a time is the closest meaning.
        let batch = batch.max(1);
        let dev = net.store.device();
        let n = set.rows() as i64;
        torch_call::catch("the validation pass", || {
            let mut outs = Vec::new();
            tch::no_grad(|| {
                let mut start = 0;
                while start < n {
                    let len = (batch as i64).min(n - start);
                    let idx: Vec<i64> = (start..start + len).collect();
                    let x = set.batch(&idx, dev).x;
                    outs.push(net.forward_t(&x, false).prediction.to_device(Device::Cpu));
                    start += len;
                }
            });
            Tensor::cat(&outs, 0)
        })
    }

    /// The validation loss the recipe's schedule and early stopping read: its regression
    /// loss, or the MSE for the soft-bin objective.
    fn valid_loss(&self, valid: &dyn TrainingData, pred: &Tensor) -> f64 {
        let loss = self.cfg.recipe.loss.unwrap_or(Loss::Mse);
        tch::no_grad(|| loss.regression(pred, &valid.targets().to_kind(Kind::Float)).double_value(&[]))
    }

    /// The validation metrics of `pred` (the set's eval-mode predictions): combined, and
    /// per task for a multi-task model.
    fn validate(valid: &dyn TrainingData, pred: &Tensor) -> (ValidMetrics, Vec<ValidMetrics>) {
        let truth = valid.targets().to_kind(Kind::Float);
        if pred.dim() == 1 {
            let p = crate::model::store::to_vec_f32(pred);
            let t = crate::model::store::to_vec_f32(&truth);
            return (metrics(&p, &t), Vec::new());
        }
        let tasks = pred.size()[1];
        let per: Vec<ValidMetrics> = (0..tasks)
            .map(|k| {
                let p = crate::model::store::to_vec_f32(&pred.select(1, k));
                let t = crate::model::store::to_vec_f32(&truth.select(1, k));
                metrics(&p, &t)
            })
            .collect();
        let mean = |f: fn(&ValidMetrics) -> f64| per.iter().map(f).sum::<f64>() / per.len() as f64;
        let combined = ValidMetrics { mse: mean(|m| m.mse), pearson: mean(|m| m.pearson), spearman: mean(|m| m.spearman) };
        (combined, per)
    }

    /// Trains from scratch (`resume` false) or continues the run in `dir`.
    pub fn run(&mut self, resume: bool) -> anyhow::Result<FitOutcome> {
        self.cfg.check().map_err(anyhow::Error::msg)?;
        if let (Some(_), Some(bn)) = (self.cfg.recompute_chunk, self.net.body_batch_statistics()) {
            anyhow::bail!(
                "recompute_chunk needs first and core blocks that treat each sequence on its own; {} has BatchNorm ({bn}), whose batch statistics chunks would change",
                self.net.desc.name
            );
        }
        let steps_per_epoch = self.batches_per_epoch();
        let total = steps_per_epoch * self.cfg.epochs;
        let mut schedule = LrPlan::new(&self.cfg.recipe, self.cfg.max_lr, total);
        let mut progress = Progress::default();
        let params = self.trainable();
        let mut opt = AdamW::new(params, self.cfg.weight_decay);
        let mut sampler = BatchSampler::new(self.train.rows(), self.cfg.batch_size, self.cfg.seed);
        let ckdir = checkpoint_dir(&self.dir);
        std::fs::create_dir_all(&ckdir)?;
        let log_path = self.dir.join("log.jsonl");
        let (first_epoch, mut best_pearson, mut log) = if resume {
            self.restore(&mut opt, &mut sampler, &mut schedule, &mut progress)?
        } else {
            infer::atomic::write(&log_path, b"")?;
            (0, None, Vec::new())
        };

        let on_terminal = std::io::stderr().is_terminal();

        for epoch in first_epoch + 1..=self.cfg.epochs {
            // Dropout draws restart from a per-epoch seed so a resumed run replays them.
            tch::manual_seed((self.cfg.seed as i64).wrapping_mul(1_000_003).wrapping_add(epoch as i64));
            let started = Instant::now();
            let bar = if on_terminal {
                let b = indicatif::ProgressBar::new(steps_per_epoch as u64);
                b.set_style(
                    indicatif::ProgressStyle::with_template("epoch {msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
                        .unwrap()
                        .progress_chars("=> "),
                );
                b.set_message(format!("{epoch}/{}", self.cfg.epochs));
                b
            } else {
                indicatif::ProgressBar::hidden()
            };
            let totals = match self.epoch_steps(epoch, &mut opt, &mut sampler, &schedule, &bar) {
                Ok(t) => t,
                Err(e) => {
                    bar.finish_and_clear();
                    return Err(e);
                }
            };
            let EpochTotals { loss_sum, lr_last, data_seconds } = totals;
            bar.finish_and_clear();
            let t_valid = Instant::now();
            // One eval-mode pass over the validation set serves the metrics and the loss.
            let valid_pred = match self.valid {
                Some(valid) => Some((valid, Self::predict_set(self.net, valid, self.cfg.valid_batch_size)?)),
                None => None,
            };
            let validation = valid_pred.as_ref().map(|(valid, pred)| Self::validate(*valid, pred));
            let valid_loss = match &valid_pred {
                Some((valid, pred)) if self.cfg.recipe != Recipe::default() => Some(self.valid_loss(*valid, pred)),
                _ => None,
            };
            let valid_seconds = t_valid.elapsed().as_secs_f64();
            // Without validation the last epoch's weights are the result.
            let verdict = progress.end_epoch(&self.cfg.recipe, validation.as_ref().map(|v| &v.0), valid_loss);
            schedule.end_epoch(valid_loss);
            let is_best = verdict.best && validation.is_some();
            if verdict.best {
                best_pearson = validation.as_ref().map(|v| v.0.pearson);
                self.net.store.save_safetensors(&self.dir.join("best.safetensors"))?;
            }
            let entry = EpochLog {
                epoch,
                steps: steps_per_epoch,
                train_loss: loss_sum / steps_per_epoch as f64,
                lr_last,
                valid: validation.as_ref().map(|v| v.0.clone()),
                valid_tasks: validation.map(|v| v.1).unwrap_or_default(),
                best: is_best,
                seconds: started.elapsed().as_secs_f64(),
                data_seconds,
                valid_seconds,
            };
            self.checkpoint(epoch, &opt, &sampler, best_pearson, (&schedule, &progress))?;
            let line = serde_json::to_string(&entry)? + "\n";
            std::fs::OpenOptions::new().append(true).open(&log_path)?.write_all(line.as_bytes())?;
            if self.verbose {
                let v = entry
                    .valid
                    .as_ref()
                    .map(|m| format!(" valid pearson {:.4} spearman {:.4} mse {:.4}", m.pearson, m.spearman, m.mse))
                    .unwrap_or_default();
                eprintln!(
                    "epoch {epoch}/{}: loss {:.4}{v}{} ({:.1} s)",
                    self.cfg.epochs,
                    entry.train_loss,
                    if is_best { " *" } else { "" },
                    entry.seconds
                );
            }
            log.push(entry);
            if verdict.stop {
                if self.verbose {
                    eprintln!("early stopping after epoch {epoch} ({} recipe)", self.cfg.recipe.name);
                }
                break;
            }
        }
        let best = log
            .iter()
            .filter(|e| e.best)
            .next_back()
            .and_then(|e| e.valid.clone().map(|v| (e.epoch, v)));
        Ok(FitOutcome { epochs_run: log.len(), best, log })
    }

    /// Loads the last checkpoint of the run (weights, optimiser, sampler) and the log
    /// lines it covers; returns (epochs done, best validation Pearson, log).
    fn restore(
        &mut self,
        opt: &mut AdamW,
        sampler: &mut BatchSampler,
        plan: &mut LrPlan,
        progress: &mut Progress,
    ) -> anyhow::Result<(usize, Option<f64>, Vec<EpochLog>)> {
        let dev = self.net.store.device();
        let ckdir = checkpoint_dir(&self.dir);
        let log_path = self.dir.join("log.jsonl");
        let (mut first_epoch, mut best_pearson, mut log) = (0, None, Vec::new());
        let state_path = ckdir.join("state.json");
        if state_path.exists() {
            let state: CheckpointState = serde_json::from_str(&std::fs::read_to_string(&state_path)?)
                .with_context(|| format!("reading {}", state_path.display()))?;
            self.net.store.load(&ckdir.join(&state.weights))?;
            let named = Tensor::read_safetensors(ckdir.join(&state.optimizer))?;
            let named: Vec<(String, Tensor)> = named.into_iter().map(|(n, t)| (n, t.to_device(dev))).collect();
            opt.load_state(&named).map_err(anyhow::Error::msg)?;
            *sampler = BatchSampler::from_state(self.train.rows(), self.cfg.batch_size, state.sampler);
            first_epoch = state.epoch;
            best_pearson = state.best_pearson;
            *plan = state.plan.unwrap_or_else(|| plan.clone());
            // Checkpoints from before recipes selected on the best Pearson.
            *progress = state.progress.unwrap_or(Progress { best_select: best_pearson, ..Progress::default() });
        }
        // Keep the log lines of the epochs the checkpoint covers; drop any later
        // partial lines from the interrupted epoch.
        if let Ok(text) = std::fs::read_to_string(&log_path) {
            log = text
                .lines()
                .filter_map(|l| serde_json::from_str::<EpochLog>(l).ok())
                .filter(|e| e.epoch <= first_epoch)
                .collect();
        }
        let text: String = log.iter().map(|e| serde_json::to_string(e).unwrap() + "\n").collect();
        infer::atomic::write(&log_path, text.as_bytes())?;
        Ok((first_epoch, best_pearson, log))
    }

    /// One epoch's optimiser steps.
    fn epoch_steps(
        &mut self,
        epoch: usize,
        opt: &mut AdamW,
        sampler: &mut BatchSampler,
        schedule: &LrPlan,
        bar: &indicatif::ProgressBar,
    ) -> anyhow::Result<EpochTotals> {
        let dev = self.net.store.device();
        let steps_per_epoch = self.batches_per_epoch();
        let ckdir = checkpoint_dir(&self.dir);
        let mut t = EpochTotals::default();
        for s in 0..steps_per_epoch {
            let t_data = Instant::now();
            // Compact data expands to model inputs on the training device here.
            let crate::recipe::compact::Batch { x, y, y_probs: yp } = self.train.batch(&sampler.next_batch(), dev);
            t.data_seconds += t_data.elapsed().as_secs_f64();
            let step = (epoch - 1) * steps_per_epoch + s;
            let (lr, beta1) = schedule.at(step);
            // A libtorch failure (CUDA out of memory) ends the run with an error naming
            // it; the last completed epoch's checkpoint is kept. A non-finite loss takes
            // no step.
            let value = match self.cfg.recompute_chunk {
                Some(chunk) => self.chunked_step(&x, &y, yp.as_ref(), chunk, step, opt, lr, beta1)?,
                None => self.whole_step(&x, &y, yp.as_ref(), opt, lr, beta1)?,
            };
            if !value.is_finite() {
                return Err(NonFiniteLoss { value, epoch, step: s, last_good: epoch - 1, dir: ckdir.display().to_string() }.into());
            }
            if self.verbose && s == 0 {
                eprintln!("train: epoch {epoch}: first optimiser step done, loss {value:.4}");
            }
            t.lr_last = lr;
            t.loss_sum += value;
            bar.inc(1);
        }
        Ok(t)
    }

    /// The loss a step back-propagates, and its value: the loss of `out`, or with DeepGXP's
    /// second strand pass (`out_rc`) the mean of the two strands' losses.
    fn step_loss(
        &self,
        out: &crate::model::FinalOutput,
        out_rc: Option<&crate::model::FinalOutput>,
        y: &Tensor,
        y_probs: Option<&Tensor>,
    ) -> anyhow::Result<(Tensor, f64)> {
        torch_call::catch("the loss", || -> anyhow::Result<(Tensor, f64)> {
            let mut loss = self.loss(out, y, y_probs)?;
            if let Some(o) = out_rc {
                loss = (loss + self.loss(o, y, y_probs)?) / 2.0;
            }
            let value = loss.double_value(&[]);
            Ok((loss, value))
        })?
    }

    /// One optimiser step on the whole batch; returns the loss (a non-finite one takes no step).
    fn whole_step(&self, x: &Tensor, y: &Tensor, y_probs: Option<&Tensor>, opt: &mut AdamW, lr: f64, beta1: f64) -> anyhow::Result<f64> {
        let net = &*self.net;
        let out = torch_call::catch("the forward pass", || net.forward_t(x, true))?;
        // DeepGXP's recipe: the reverse complement (channels and positions flipped) in
        // a second pass with its own dropout, the two losses averaged.
        let out_rc = match self.cfg.recipe.strand_pairs {
            true => Some(torch_call::catch("the forward pass", || net.forward_t(&x.flip([1, 2]), true))?),
            false => None,
        };
        let (loss, value) = self.step_loss(&out, out_rc.as_ref(), y, y_probs)?;
        if !value.is_finite() {
            return Ok(value);
        }
        torch_call::catch("the backward pass and optimiser step", || {
            opt.zero_grad();
            loss.backward();
            opt.step(lr, beta1);
        })?;
        Ok(value)
    }

    /// One optimiser step with the first and core blocks run `chunk` sequences at a time:
    /// a pass without autograd yields the final block's input, the final block and the
    /// loss run on the whole batch and give the gradient at that input, and each chunk is
    /// then run again with autograd and back-propagated from its slice of that gradient.
    /// Only one chunk's activations are alive at a time. Each chunk's dropout draws come
    /// from a seed of (run seed, step, chunk), the same in both passes, so the gradients
    /// are the whole batch's, exactly; the draws differ from an unchunked run's. Returns
    /// the loss; a non-finite loss takes no step.
    #[allow(clippy::too_many_arguments)]
    fn chunked_step(
        &self,
        x: &Tensor,
        y: &Tensor,
        y_probs: Option<&Tensor>,
        chunk: usize,
        step: usize,
        opt: &mut AdamW,
        lr: f64,
        beta1: f64,
    ) -> anyhow::Result<f64> {
        let net = &*self.net;
        // Every draw of the step follows one of its own reseeds, under this lock: the
        // step is the same whatever else the process does.
        let _draws = crate::model::seeded_draws();
        let xs = x.split(chunk as i64, 0);
        let seed = self.cfg.seed as i64;
        let reseed = |i: usize| tch::manual_seed(seed.wrapping_mul(2_147_483_647).wrapping_add(((step as i64) << 20) + i as i64));
        let h = torch_call::catch("the forward pass", || {
            tch::no_grad(|| {
                let parts: Vec<Tensor> = xs
                    .iter()
                    .enumerate()
                    .map(|(i, xc)| {
                        reseed(i);
                        net.forward_body_t(xc, true)
                    })
                    .collect();
                Tensor::cat(&parts, 0)
            })
        })?
        .set_requires_grad(true);
        let out = torch_call::catch("the forward pass", || net.forward_head_t(&h, true))?;
        let (loss, value) = self.step_loss(&out, None, y, y_probs)?;
        if !value.is_finite() {
            return Ok(value);
        }
        torch_call::catch("the backward pass and optimiser step", || {
            opt.zero_grad();
            loss.backward();
            let grads = h.grad().split(chunk as i64, 0);
            for (i, (xc, g)) in xs.iter().zip(&grads).enumerate() {
                reseed(i);
                let hc = net.forward_body_t(xc, true);
                // A frozen body has nothing to learn from its gradient.
                if hc.requires_grad() {
                    // d/dhc of sum(hc * g) is g: the chunk's share of the batch gradient.
                    (hc * g).sum(Kind::Float).backward();
                }
            }
            opt.step(lr, beta1);
        })?;
        Ok(value)
    }

    fn checkpoint(
        &self,
        epoch: usize,
        opt: &AdamW,
        sampler: &BatchSampler,
        best_pearson: Option<f64>,
        (plan, progress): (&LrPlan, &Progress),
    ) -> anyhow::Result<()> {
        let ckdir = checkpoint_dir(&self.dir);
        let weights = format!("e{epoch}-model.safetensors");
        let optimizer = format!("e{epoch}-optim.safetensors");
        self.net.store.save_safetensors(&ckdir.join(&weights))?;
        crate::model::store::write_safetensors(&ckdir.join(&optimizer), &opt.state())?;
        let state = CheckpointState {
            epoch,
            steps: opt.steps_taken(),
            sampler: sampler.state(),
            best_pearson,
            weights: weights.clone(),
            optimizer: optimizer.clone(),
            plan: Some(plan.clone()),
            progress: Some(progress.clone()),
        };
        infer::atomic::write(&ckdir.join("state.json"), serde_json::to_string_pretty(&state)?.as_bytes())?;
        // Older epochs are no longer referenced.
        for entry in std::fs::read_dir(&ckdir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".safetensors") && name != weights && name != optimizer {
                let _ = std::fs::remove_file(ckdir.join(name));
            }
        }
        Ok(())
    }
}
