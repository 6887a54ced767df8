//! Validation metrics of the reference trainer (spec `training.md` §6): MSE, Pearson and
//! Spearman over all validation rows.

use infer::eval::stats::{pearson, spearman};
use serde::{Deserialize, Serialize};

/// Undefined values (empty input, mismatched lengths, a constant vector) are NaN, which
/// serde_json writes as `null`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValidMetrics {
    pub mse: f64,
    pub pearson: f64,
    pub spearman: f64,
}

/// Metrics of predictions against truth, in f64 (the reference casts both to float32
/// arrays and lets scipy/numpy work in float64).
pub fn metrics(pred: &[f32], truth: &[f32]) -> ValidMetrics {
    if pred.len() != truth.len() || pred.is_empty() {
        return ValidMetrics {
            mse: f64::NAN,
            pearson: f64::NAN,
            spearman: f64::NAN,
        };
    }
    let p: Vec<f64> = pred.iter().map(|&v| v as f64).collect();
    let t: Vec<f64> = truth.iter().map(|&v| v as f64).collect();
    let mse = p
        .iter()
        .zip(&t)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / p.len() as f64;
    ValidMetrics {
        mse,
        pearson: pearson(&p, &t).unwrap_or(f64::NAN),
        spearman: spearman(&p, &t).unwrap_or(f64::NAN),
    }
}
