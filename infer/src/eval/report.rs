//! The evaluation result: per-subset correlations, the weighted challenge scores, and a
//! table printer.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Benchmark, SubsetKind, CHALLENGE_WEIGHTS};

/// One subset's correlations. `None` = undefined (a constant vector); JSON `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubsetResult {
    pub name: String,
    pub kind: SubsetKind,
    /// Sequences (single) or pairs (pairs) scored.
    pub n: usize,
    /// Members removed by the public-leaderboard rule.
    pub discarded: usize,
    pub weight: f64,
    pub pearson: Option<f64>,
    pub spearman: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub benchmark: String,
    pub subsets: Vec<SubsetResult>,
    /// Sum of the weights of the subsets present: the scores' divisor.
    pub weight_sum: f64,
    /// `Σ w·r² / Σ w`; undefined when any subset's r is.
    pub pearson_score: Option<f64>,
    /// `Σ w·ρ / Σ w`; undefined when any subset's ρ is.
    pub spearman_score: Option<f64>,
    /// How the scores were formed where that departs from the challenge's definition.
    pub notes: Vec<String>,
}

/// The challenge's scores (spec §5): `(Σ w·r², Σ w·ρ)` divided by the sum of the
/// weights of the subsets given. r is squared, so a negative correlation counts like a
/// positive one; ρ is not.
pub fn weighted_scores(subsets: &[SubsetResult]) -> (Option<f64>, Option<f64>) {
    let total: f64 = subsets.iter().map(|s| s.weight).sum();
    if subsets.is_empty() || total <= 0.0 {
        return (None, None);
    }
    let pearson: Option<f64> = subsets
        .iter()
        .map(|s| s.pearson.map(|r| s.weight * r * r))
        .sum::<Option<f64>>()
        .map(|x| x / total);
    let spearman: Option<f64> = subsets
        .iter()
        .map(|s| s.spearman.map(|rho| s.weight * rho))
        .sum::<Option<f64>>()
        .map(|x| x / total);
    (pearson, spearman)
}

impl EvalReport {
    pub(super) fn from_results(b: &Benchmark, subsets: Vec<SubsetResult>) -> EvalReport {
        let (pearson_score, spearman_score) = weighted_scores(&subsets);
        let weight_sum: f64 = subsets.iter().map(|s| s.weight).sum();
        let mut notes = Vec::new();
        let present: HashSet<&str> = subsets.iter().map(|s| s.name.as_str()).collect();
        // Only a definition built on the challenge's subsets is measured against them;
        // an unrelated user benchmark (which may well have its own "all") would get
        // meaningless "missing" notes.
        if CHALLENGE_WEIGHTS
            .iter()
            .any(|(n, _)| *n != "all" && present.contains(n))
        {
            let missing: Vec<String> = CHALLENGE_WEIGHTS
                .iter()
                .filter(|(n, _)| !present.contains(n))
                .map(|(n, w)| format!("{n} (weight {w})"))
                .collect();
            if !missing.is_empty() {
                notes.push(format!(
                    "challenge subsets not in this benchmark: {}; the scores divide by the \
                     weights present, {weight_sum:.2}, instead of the challenge's 4.65",
                    missing.join(", ")
                ));
            }
        }
        for s in &subsets {
            if s.pearson.is_none() || s.spearman.is_none() {
                notes.push(format!(
                    "subset {}: correlation undefined (truth or predictions constant over its \
                     {} members), so the scores are undefined",
                    s.name, s.n
                ));
            }
        }
        EvalReport {
            benchmark: b.name.clone(),
            subsets,
            weight_sum,
            pearson_score,
            spearman_score,
            notes,
        }
    }

    pub fn subset(&self, name: &str) -> Option<&SubsetResult> {
        self.subsets.iter().find(|s| s.name == name)
    }
}

fn num(x: Option<f64>) -> String {
    match x {
        Some(v) => format!("{v:.6}"),
        None => "undefined".to_string(),
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "benchmark {}: {} subsets, weights sum to {:.2}",
            self.benchmark,
            self.subsets.len(),
            self.weight_sum
        )?;
        let width = self
            .subsets
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(6)
            .max(6);
        writeln!(
            f,
            "{:<width$}  {:<6}  {:>6}  {:>9}  {:>6}  {:>10}  {:>10}  {:>10}",
            "subset", "kind", "n", "discarded", "weight", "pearson_r", "r_squared", "spearman"
        )?;
        for s in &self.subsets {
            writeln!(
                f,
                "{:<width$}  {:<6}  {:>6}  {:>9}  {:>6.2}  {:>10}  {:>10}  {:>10}",
                s.name,
                s.kind.to_string(),
                s.n,
                s.discarded,
                s.weight,
                num(s.pearson),
                num(s.pearson.map(|r| r * r)),
                num(s.spearman),
            )?;
        }
        writeln!(
            f,
            "Pearson score  (sum w*r^2 / {:.2}): {}",
            self.weight_sum,
            num(self.pearson_score)
        )?;
        writeln!(
            f,
            "Spearman score (sum w*rho / {:.2}): {}",
            self.weight_sum,
            num(self.spearman_score)
        )?;
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(name: &str, weight: f64, r: Option<f64>, rho: Option<f64>) -> SubsetResult {
        SubsetResult {
            name: name.into(),
            kind: SubsetKind::Single,
            n: 10,
            discarded: 0,
            weight,
            pearson: r,
            spearman: rho,
        }
    }

    #[test]
    fn scores_by_hand() {
        // weights 1 and 3; r = 0.5, -0.5 -> (1*0.25 + 3*0.25)/4 = 0.25
        // rho = 0.5, -0.5 -> (0.5 - 1.5)/4 = -0.25
        let s = [
            sub("a", 1.0, Some(0.5), Some(0.5)),
            sub("b", 3.0, Some(-0.5), Some(-0.5)),
        ];
        let (p, sp) = weighted_scores(&s);
        assert!((p.unwrap() - 0.25).abs() < 1e-15);
        assert!((sp.unwrap() + 0.25).abs() < 1e-15);
    }

    #[test]
    fn negative_r_raises_pearson_score_but_lowers_spearman() {
        let base = [
            sub("a", 1.0, Some(0.9), Some(0.9)),
            sub("b", 1.0, Some(0.0), Some(0.0)),
        ];
        let neg = [
            sub("a", 1.0, Some(0.9), Some(0.9)),
            sub("b", 1.0, Some(-0.6), Some(-0.6)),
        ];
        let (p0, s0) = weighted_scores(&base);
        let (p1, s1) = weighted_scores(&neg);
        assert!(p1.unwrap() > p0.unwrap());
        assert!((p1.unwrap() - (0.81 + 0.36) / 2.0).abs() < 1e-15);
        assert!(s1.unwrap() < s0.unwrap());
    }

    #[test]
    fn undefined_subset_makes_score_undefined() {
        let s = [
            sub("a", 1.0, Some(0.9), Some(0.9)),
            sub("b", 1.0, None, Some(0.1)),
        ];
        let (p, sp) = weighted_scores(&s);
        assert_eq!(p, None);
        assert!((sp.unwrap() - 0.5).abs() < 1e-15);
    }
}
