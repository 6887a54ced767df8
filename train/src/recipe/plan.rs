//! Training recipes beyond the DREAM one, selectable per model (`train fit --recipe`):
//! the loss (soft-bin KL, MSE, L1, Huber), the learning-rate schedule (one-cycle, cosine
//! annealing, reduce-on-plateau), which validation metric picks the kept weights and
//! stops the run early, the target transform, and DeepGXP's two-strand loss. The named
//! recipes are the teams' own (spec `submissions/*.md` §Training recipe).

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor};

use super::metrics::ValidMetrics;
use super::schedule::OneCycle;

/// The training loss on the prediction (regression losses) or the head's logits (KL).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Loss {
    /// KL divergence to the 18-bin soft targets (needs a soft-bin head).
    SoftBinKl,
    Mse,
    L1,
    /// `nn.HuberLoss(delta)`, mean.
    Huber { delta: f64 },
}

impl Loss {
    /// A regression loss of `pred` against `y` (same shape): the mean over rows, summed
    /// over tasks for several outputs (as the benchmark heads' MSE).
    pub fn regression(self, pred: &Tensor, y: &Tensor) -> Tensor {
        let y = y.view(pred.size().as_slice());
        let per_task = |t: Tensor| if pred.dim() == 1 { t.mean(Kind::Float) } else { t.mean_dim([0i64].as_slice(), false, Kind::Float).sum(Kind::Float) };
        match self {
            Loss::Mse | Loss::SoftBinKl => per_task((pred - &y).square()),
            Loss::L1 => per_task((pred - &y).abs()),
            Loss::Huber { delta } => per_task(pred.huber_loss(&y, Reduction::None, delta)),
        }
    }
}

/// The learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// The DREAM one-cycle (cosine warm-up to the peak over 30 %, then down; β1 cycled).
    OneCycle,
    /// `CosineAnnealingLR(T_max = all steps)` stepped per batch, from the peak lr to `eta_min`.
    Cosine { eta_min: f64 },
    /// `ReduceLROnPlateau('min')` on the validation loss, stepped per epoch: the lr is
    /// multiplied by `factor` once the loss has not improved by the relative `threshold`
    /// for more than `patience` epochs.
    Plateau { factor: f64, patience: usize, threshold: f64 },
}

/// A validation quantity a recipe selects or stops on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Pearson r (higher is better).
    Pearson,
    /// Pearson r + Spearman ρ, NaN counted as 0 (Camformers).
    PearsonPlusSpearman,
    /// The recipe's loss on the validation set (lower is better).
    Loss,
    /// No selection: the last epoch's weights are kept (DeepGXP's `train_full.py`).
    Last,
}

impl Metric {
    /// The metric as a score where higher is better (`None` without validation).
    fn score(self, m: Option<&ValidMetrics>, valid_loss: Option<f64>) -> Option<f64> {
        let nan0 = |v: f64| if v.is_nan() { 0.0 } else { v };
        match self {
            Metric::Pearson => m.map(|m| m.pearson),
            Metric::PearsonPlusSpearman => m.map(|m| nan0(m.pearson) + nan0(m.spearman)),
            Metric::Loss => valid_loss.map(|l| -l),
            Metric::Last => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlyStopping {
    pub metric: Metric,
    /// Epochs without improvement after which the run stops.
    pub patience: usize,
}

/// What the labels become before training (predictions are then in these units).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetTransform {
    None,
    /// `(y − center) / scale`; `scale: null` = the population sd of the training labels,
    /// filled in when the run starts (DeepGXP: center 11).
    Standardize { center: f64, scale: Option<f64> },
}

/// A per-label target transform, applied as batches are made.
pub type TargetMap = std::sync::Arc<dyn Fn(f32) -> f32 + Send + Sync>;

/// A whole recipe. `Default` is the DREAM recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    pub name: String,
    /// `None`: the head's objective (soft-bin KL, or MSE for regression heads).
    pub loss: Option<Loss>,
    pub schedule: Schedule,
    /// Which validation epoch's weights are kept.
    pub select: Metric,
    pub early_stopping: Option<EarlyStopping>,
    pub target: TargetTransform,
    /// Each batch also runs reversed and complemented (channels and positions flipped),
    /// and the loss is the mean of both passes' losses (DeepGXP's "post-hoc conjoined").
    pub strand_pairs: bool,
    /// Adam's β1 where the schedule does not cycle it.
    pub beta1: f64,
    /// Training and validation records outside the model's declared training domain are
    /// left out (Camformers' reader drops them).
    #[serde(default)]
    pub drop_outside_domain: bool,
}

impl Default for Recipe {
    fn default() -> Self {
        Recipe {
            name: "dream".into(),
            loss: None,
            schedule: Schedule::OneCycle,
            select: Metric::Pearson,
            early_stopping: None,
            target: TargetTransform::None,
            strand_pairs: false,
            beta1: 0.9,
            drop_outside_domain: false,
        }
    }
}

pub const RECIPES: [&str; 4] = ["dream", "deepgxp", "camformer", "wztr"];

impl Recipe {
    /// A recipe by name: `dream`, or a team's own.
    pub fn named(name: &str) -> Option<Recipe> {
        let base = Recipe { name: name.to_string(), ..Recipe::default() };
        Some(match name {
            "dream" => Recipe::default(),
            // train_full.py: Huber (δ 1) on both strands, AdamW, cosine to 0 per batch,
            // (e − 11)/sd targets, the last epoch kept.
            "deepgxp" => Recipe {
                loss: Some(Loss::Huber { delta: 1.0 }),
                schedule: Schedule::Cosine { eta_min: 0.0 },
                select: Metric::Last,
                target: TargetTransform::Standardize { center: 11.0, scale: None },
                strand_pairs: true,
                ..base
            },
            // L1, ReduceLROnPlateau defaults on the validation L1, best r + ρ kept,
            // stop after 10 epochs without improvement.
            "camformer" => Recipe {
                loss: Some(Loss::L1),
                schedule: Schedule::Plateau { factor: 0.1, patience: 10, threshold: 1e-4 },
                select: Metric::PearsonPlusSpearman,
                early_stopping: Some(EarlyStopping { metric: Metric::PearsonPlusSpearman, patience: 10 }),
                drop_outside_domain: true,
                ..base
            },
            // MSE, ReduceLROnPlateau(patience 1) on val_loss, EarlyStopping(val_loss, 5),
            // best val_corr (Pearson) kept.
            "wztr" => Recipe {
                loss: Some(Loss::Mse),
                schedule: Schedule::Plateau { factor: 0.1, patience: 1, threshold: 1e-4 },
                select: Metric::Pearson,
                early_stopping: Some(EarlyStopping { metric: Metric::Loss, patience: 5 }),
                ..base
            },
            _ => return None,
        })
    }

    /// The transform with its scale computed from the training labels where it is open.
    pub fn resolve_target(&mut self, train_labels: impl FnOnce() -> Tensor) {
        // The labels are gathered only when a scale is still to be found: a run without a
        // target transform never materialises every row's target.
        if let TargetTransform::Standardize { scale: scale @ None, .. } = &mut self.target {
            let y = train_labels().to_kind(Kind::Double);
            *scale = Some(y.std(false).double_value(&[]));
        }
    }

    /// The (resolved) target transform as a function of one float32 label, computed as
    /// [`Self::transform_labels`] does; `None` for the identity.
    pub fn target_map(&self) -> Option<TargetMap> {
        match self.target {
            TargetTransform::None => None,
            TargetTransform::Standardize { center, scale } => {
                let scale = scale.unwrap_or(1.0);
                Some(std::sync::Arc::new(move |y: f32| ((y as f64 - center) / scale) as f32))
            }
        }
    }

    /// Applies the (resolved) target transform to labels.
    pub fn transform_labels(&self, y: &Tensor) -> Tensor {
        match self.target {
            TargetTransform::None => y.shallow_clone(),
            TargetTransform::Standardize { center, scale } => {
                let scale = scale.unwrap_or(1.0);
                ((y.to_kind(Kind::Double) - center) / scale).to_kind(Kind::Float)
            }
        }
    }
}

/// The lr (and β1) at every step, and the per-epoch state of reduce-on-plateau.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrPlan {
    pub schedule: Schedule,
    pub max_lr: f64,
    pub total_steps: usize,
    pub beta1: f64,
    /// Plateau: the current lr, the best loss so far and epochs without improvement.
    pub current: f64,
    pub best: Option<f64>,
    pub bad_epochs: usize,
}

impl LrPlan {
    pub fn new(recipe: &Recipe, max_lr: f64, total_steps: usize) -> Self {
        LrPlan { schedule: recipe.schedule, max_lr, total_steps, beta1: recipe.beta1, current: max_lr, best: None, bad_epochs: 0 }
    }

    /// `(lr, beta1)` for the optimiser step after `step` completed steps.
    pub fn at(&self, step: usize) -> (f64, f64) {
        match self.schedule {
            Schedule::OneCycle => OneCycle::dream(self.max_lr, self.total_steps).at(step),
            Schedule::Cosine { eta_min } => {
                // PyTorch's closed form; the per-batch `scheduler.step()` follows each step.
                let t = self.total_steps.max(1) as f64;
                let s = step.min(self.total_steps) as f64;
                (eta_min + (self.max_lr - eta_min) * (1.0 + (PI * s / t).cos()) / 2.0, self.beta1)
            }
            Schedule::Plateau { .. } => (self.current, self.beta1),
        }
    }

    /// Reduce-on-plateau's epoch step on the validation loss (PyTorch `mode='min'`,
    /// `threshold_mode='rel'`, no cooldown).
    pub fn end_epoch(&mut self, valid_loss: Option<f64>) {
        let (Schedule::Plateau { factor, patience, threshold }, Some(loss)) = (self.schedule, valid_loss) else { return };
        if self.best.is_none_or(|b| loss < b * (1.0 - threshold)) {
            self.best = Some(loss);
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.bad_epochs > patience {
            let reduced = self.current * factor;
            if self.current - reduced > 1e-8 {
                self.current = reduced;
            }
            self.bad_epochs = 0;
        }
    }
}

/// Selection of the kept weights and early stopping across epochs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub best_select: Option<f64>,
    pub best_stop: Option<f64>,
    pub epochs_without_improvement: usize,
}

/// What the end of an epoch decided.
pub struct Verdict {
    /// Keep this epoch's weights.
    pub best: bool,
    pub stop: bool,
}

impl Progress {
    pub fn end_epoch(&mut self, recipe: &Recipe, m: Option<&ValidMetrics>, valid_loss: Option<f64>) -> Verdict {
        let best = match recipe.select.score(m, valid_loss) {
            // No validation (or no selection): the last epoch is the result.
            None => true,
            Some(s) => {
                // As the DREAM trainer: the first epoch is the best so far, NaN or not.
                let better = self.best_select.is_none_or(|b| s > b);
                if better {
                    self.best_select = Some(s);
                }
                better
            }
        };
        let mut stop = false;
        if let Some(es) = recipe.early_stopping {
            if let Some(s) = es.metric.score(m, valid_loss) {
                if self.best_stop.is_none_or(|b| s > b) {
                    self.best_stop = Some(s);
                    self.epochs_without_improvement = 0;
                } else {
                    self.epochs_without_improvement += 1;
                    stop = self.epochs_without_improvement >= es.patience;
                }
            }
        }
        Verdict { best, stop }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v)
    }

    #[test]
    fn losses_match_their_pytorch_definitions() {
        let (p, y) = (t(&[0.0, 1.0, 4.0]), t(&[0.5, 1.0, 1.0]));
        let v = |l: Loss| l.regression(&p, &y).double_value(&[]);
        assert!((v(Loss::Mse) - (0.25 + 0.0 + 9.0) / 3.0).abs() < 1e-6);
        assert!((v(Loss::L1) - (0.5 + 0.0 + 3.0) / 3.0).abs() < 1e-6);
        // Huber δ 1: 0.5·0.25, 0, 1·(3 − 0.5).
        assert!((v(Loss::Huber { delta: 1.0 }) - (0.125 + 0.0 + 2.5) / 3.0).abs() < 1e-6);
    }

    #[test]
    fn cosine_annealing_runs_from_the_peak_to_eta_min() {
        let plan = LrPlan::new(&Recipe::named("deepgxp").unwrap(), 1.5e-3, 100);
        assert_eq!(plan.at(0).0, 1.5e-3);
        assert!((plan.at(50).0 - 0.75e-3).abs() < 1e-12);
        assert!(plan.at(100).0.abs() < 1e-12);
        assert_eq!(plan.at(7).1, 0.9);
    }

    #[test]
    fn reduce_on_plateau_waits_patience_epochs_then_cuts_the_lr() {
        let mut plan = LrPlan::new(&Recipe::named("wztr").unwrap(), 1e-3, 10);
        for loss in [1.0, 0.5, 0.5] {
            plan.end_epoch(Some(loss));
            assert_eq!(plan.at(0).0, 1e-3);
        }
        // Second epoch without improvement > patience 1: cut by 10.
        plan.end_epoch(Some(0.6));
        assert!((plan.at(0).0 - 1e-4).abs() < 1e-15);
        // A relative improvement below the threshold does not count.
        plan.end_epoch(Some(0.49999));
        plan.end_epoch(Some(0.49999));
        assert!((plan.at(0).0 - 1e-5).abs() < 1e-15);
    }

    #[test]
    fn early_stopping_and_selection_follow_the_team_metrics() {
        let cam = Recipe::named("camformer").unwrap();
        let mut p = Progress::default();
        let m = |r: f64, s: f64| ValidMetrics { mse: 1.0, pearson: r, spearman: s };
        assert!(p.end_epoch(&cam, Some(&m(0.5, 0.5)), Some(1.0)).best);
        // Pearson up, Spearman down more: r + ρ is lower, not the best.
        assert!(!p.end_epoch(&cam, Some(&m(0.6, 0.3)), Some(1.0)).best);
        let mut stopped = 0;
        for epoch in 0..20 {
            if p.end_epoch(&cam, Some(&m(0.1, 0.1)), Some(1.0)).stop {
                stopped = epoch + 3;
                break;
            }
        }
        // The eleventh epoch is the tenth without improvement after the best one.
        assert_eq!(stopped, 11);
        // wztr stops on the validation loss with patience 5.
        let wztr = Recipe::named("wztr").unwrap();
        let mut p = Progress::default();
        let verdicts: Vec<bool> = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95].iter().map(|&l| p.end_epoch(&wztr, Some(&m(0.5, 0.5)), Some(l)).stop).collect();
        assert_eq!(verdicts, [false, false, false, false, false, false, true]);
        // DeepGXP keeps the last epoch.
        let mut p = Progress::default();
        let g = Recipe::named("deepgxp").unwrap();
        assert!(p.end_epoch(&g, Some(&m(0.5, 0.5)), None).best && p.end_epoch(&g, Some(&m(0.1, 0.1)), None).best);
    }

    #[test]
    fn the_deepgxp_target_is_standardised_around_11_by_the_population_sd() {
        let mut r = Recipe::named("deepgxp").unwrap();
        let y = t(&[9.0, 11.0, 13.0]);
        r.resolve_target(|| y.shallow_clone());
        let sd = (8.0f64 / 3.0).sqrt();
        assert_eq!(r.target, TargetTransform::Standardize { center: 11.0, scale: Some(sd) });
        let z: Vec<f32> = Vec::<f32>::try_from(r.transform_labels(&y)).unwrap();
        assert!((z[0] as f64 + 2.0 / sd).abs() < 1e-6 && z[1] == 0.0);
        assert_eq!(Recipe::named("dream").unwrap(), Recipe::default());
        assert!(Recipe::named("nope").is_none());
    }
}
