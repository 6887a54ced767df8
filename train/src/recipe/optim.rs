//! AdamW with PyTorch's semantics, β1 supplied by the scheduler at every step
//! (spec `training.md` §4).
//!
//! tch's own optimisers cannot change β1 per step, and the recipe's one-cycle schedule
//! cycles it, so the update is written out here with in-place libtorch ops.

use tch::{Kind, Tensor};

pub struct AdamW {
    params: Vec<Tensor>,
    exp_avg: Vec<Tensor>,
    exp_avg_sq: Vec<Tensor>,
    step: i64,
    pub weight_decay: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl AdamW {
    /// One parameter group over `params` (tensors sharing storage with the model's),
    /// β2 0.999, eps 1e-8. The moment buffers are allocated here, zeroed, on each
    /// parameter's device and dtype.
    pub fn new(params: Vec<Tensor>, weight_decay: f64) -> Self {
        let exp_avg = params
            .iter()
            .map(|p| tch::no_grad(|| p.zeros_like()))
            .collect();
        let exp_avg_sq = params
            .iter()
            .map(|p| tch::no_grad(|| p.zeros_like()))
            .collect();
        AdamW {
            params,
            exp_avg,
            exp_avg_sq,
            step: 0,
            weight_decay,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// Optimiser steps taken so far (PyTorch's `state["step"]`).
    pub fn steps_taken(&self) -> i64 {
        self.step
    }

    /// One update with this step's `lr` and `beta1`, PyTorch `_single_tensor_adamw`:
    /// `p ← p·(1 − lr·wd)`, `m ← lerp(m, g, 1 − β1)`, `v ← β2·v + (1 − β2)·g²`,
    /// `p ← p − lr/(1 − β1^t) · m / (sqrt(v)/sqrt(1 − β2^t) + eps)`.
    ///
    /// The bias correction uses the current β1 for all t steps, as PyTorch does. One step
    /// counter serves all parameters (PyTorch counts per parameter); they differ only for a
    /// parameter that gets no gradient on some steps, which the DREAM models never have.
    /// Parameters whose gradient is undefined are skipped.
    pub fn step(&mut self, lr: f64, beta1: f64) {
        self.step += 1;
        let t = self.step as f64;
        let bias_correction1 = 1.0 - beta1.powf(t);
        let bias_correction2_sqrt = (1.0 - self.beta2.powf(t)).sqrt();
        let step_size = lr / bias_correction1;
        let decay = 1.0 - lr * self.weight_decay;
        let (beta2, eps) = (self.beta2, self.eps);
        tch::no_grad(|| {
            for ((p, m), v) in self
                .params
                .iter_mut()
                .zip(&mut self.exp_avg)
                .zip(&mut self.exp_avg_sq)
            {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let _ = p.g_mul_scalar_(decay);
                let _ = m.lerp_(&g, 1.0 - beta1);
                let _ = v.g_mul_scalar_(beta2);
                let _ = v.addcmul_(&g, &(&g * (1.0 - beta2)));
                // tch's addcdiv_ has no `value` argument, so −step_size is folded into the
                // denominator: p + m / (−denom/step_size) == p − step_size · m / denom.
                let mut denom = v.sqrt();
                let _ = denom.g_div_scalar_(bias_correction2_sqrt);
                let _ = denom.g_add_scalar_(eps);
                let _ = denom.g_mul_scalar_(-1.0 / step_size);
                let _ = p.addcdiv_(m, &denom);
            }
        });
    }

    /// Zeroes every gradient in place. (PyTorch ≥ 2 sets them to `None` instead; tch
    /// cannot, so a parameter left out of a later backward pass is updated with a zero
    /// gradient rather than skipped — irrelevant for the DREAM models, where every
    /// parameter gets a gradient on every step.)
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// The optimiser state for a resumable checkpoint: `exp_avg.{i}`, `exp_avg_sq.{i}`
    /// (i = parameter index) and a 0-d int64 `step`. The tensors are shallow copies.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.params.len() + 1);
        for (i, m) in self.exp_avg.iter().enumerate() {
            out.push((format!("exp_avg.{i}"), m.shallow_clone()));
        }
        for (i, v) in self.exp_avg_sq.iter().enumerate() {
            out.push((format!("exp_avg_sq.{i}"), v.shallow_clone()));
        }
        out.push(("step".to_string(), Tensor::from(self.step)));
        out
    }

    /// Restores a [`state`](Self::state). Every name must be present with the matching
    /// shape; values are copied into the existing buffers (converted to their device and
    /// dtype). Nothing is changed when an error is returned.
    pub fn load_state(&mut self, named: &[(String, Tensor)]) -> Result<(), String> {
        let find = |name: &str| -> Result<&Tensor, String> {
            named
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t)
                .ok_or_else(|| format!("optimizer state has no entry '{name}'"))
        };
        let step_t = find("step")?;
        if step_t.numel() != 1 {
            return Err(format!(
                "optimizer state 'step' has shape {:?}, expected a scalar",
                step_t.size()
            ));
        }
        let step = step_t.to_kind(Kind::Int64).int64_value(&[]);
        if step < 0 {
            return Err(format!("optimizer state 'step' is negative ({step})"));
        }
        let expected_entries = 2 * self.params.len() + 1;
        if named.len() != expected_entries {
            return Err(format!(
                "optimizer state has {} entries, expected {expected_entries} for {} parameters",
                named.len(),
                self.params.len()
            ));
        }
        let mut sources = Vec::with_capacity(2 * self.params.len());
        for (prefix, buffers) in [("exp_avg", &self.exp_avg), ("exp_avg_sq", &self.exp_avg_sq)] {
            for (i, b) in buffers.iter().enumerate() {
                let name = format!("{prefix}.{i}");
                let src = find(&name)?;
                if src.size() != b.size() {
                    return Err(format!(
                        "optimizer state '{name}' has shape {:?}, parameter {i} has {:?}",
                        src.size(),
                        b.size()
                    ));
                }
                sources.push(src);
            }
        }
        tch::no_grad(|| {
            for (dst, src) in self
                .exp_avg
                .iter_mut()
                .chain(self.exp_avg_sq.iter_mut())
                .zip(&sources)
            {
                dst.copy_(&src.to_device(dst.device()).to_kind(dst.kind()));
            }
        });
        self.step = step;
        Ok(())
    }
}
