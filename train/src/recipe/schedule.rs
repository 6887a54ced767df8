//! PyTorch's `OneCycleLR` as the Autosome trainer configures it (spec `training.md` §4):
//! two phases, cosine annealing, momentum (AdamW β1) cycled inversely to the lr.

use std::f64::consts::PI;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneCycle {
    pub max_lr: f64,
    pub total_steps: usize,
    pub pct_start: f64,
    pub div_factor: f64,
    pub final_div_factor: f64,
    pub base_momentum: f64,
    pub max_momentum: f64,
}

impl OneCycle {
    /// The reference settings: `pct_start` 0.3, `div_factor` 25, `final_div_factor` 1e4,
    /// momentum 0.85–0.95 (PyTorch defaults except `div_factor`, which the trainer passes).
    pub fn dream(max_lr: f64, total_steps: usize) -> Self {
        OneCycle {
            max_lr,
            total_steps,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
            base_momentum: 0.85,
            max_momentum: 0.95,
        }
    }

    /// The lr at step 0.
    pub fn initial_lr(&self) -> f64 {
        self.max_lr / self.div_factor
    }

    /// The lr at the last step.
    pub fn final_lr(&self) -> f64 {
        self.initial_lr() / self.final_div_factor
    }

    /// `(lr, beta1)` for the optimiser step that follows `step` completed steps.
    ///
    /// Same arithmetic as PyTorch (`_annealing_cos`, phase ends `pct_start·T − 1` as a
    /// float and `T − 1`). Steps past `total_steps − 1` are clamped to the last step
    /// (PyTorch raises there; a loop that overshoots should stay at the final lr rather
    /// than have the cosine swing back up). `total_steps` 0 yields the starting values.
    pub fn at(&self, step: usize) -> (f64, f64) {
        let initial = self.initial_lr();
        if self.total_steps == 0 {
            return (initial, self.max_momentum);
        }
        let n = step.min(self.total_steps - 1) as f64;
        let end1 = self.pct_start * self.total_steps as f64 - 1.0;
        let end2 = self.total_steps as f64 - 1.0;
        if n <= end1 {
            let f = n / end1;
            // end1 == 0 (pct_start·T == 1) gives 0/0 at step 0: PyTorch would divide by
            // zero too; the phase starts at its start values.
            let f = if f.is_nan() { 0.0 } else { f };
            (
                annealing_cos(initial, self.max_lr, f),
                annealing_cos(self.max_momentum, self.base_momentum, f),
            )
        } else {
            let f = (n - end1) / (end2 - end1);
            (
                annealing_cos(self.max_lr, self.final_lr(), f),
                annealing_cos(self.base_momentum, self.max_momentum, f),
            )
        }
    }
}

/// PyTorch's `_annealing_cos`, same operation order for the same rounding.
fn annealing_cos(start: f64, end: f64, pct: f64) -> f64 {
    let cos_out = (PI * pct).cos() + 1.0;
    end + (start - end) / 2.0 * cos_out
}
