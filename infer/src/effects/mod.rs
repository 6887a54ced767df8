//! What a mutation does: variant effects and in-silico mutagenesis on top of
//! [`Scorer`], so they work for every zoo model, both backends and every preprocessing
//! kind (plasmid padding, fixed-length windows, reverse-complement averaging).
//!
//! * [`pairs`]: a table of `(id, reference sequence, alternative sequence)`;
//! * [`variants`]: VCF records on a reference genome, each centred in a model-sized window;
//! * [`ism`]: every single-base substitution of each input sequence.
//!
//! An effect is `alt` compared with `ref` per model output ([`Compare`]).

pub mod ism;
pub mod npy;
pub mod pairs;
pub mod variants;

use std::collections::HashMap;

use crate::scorer::{ScoreError, Scorer};

/// How an alternative prediction is compared with the reference one.
///
/// Every model in the zoo predicts on a log scale already: the DREAM yeast models the
/// expected expression bin (the 18 sort bins are evenly spaced in log fluorescence), the
/// human/Drosophila benchmark models log2 activity. For such outputs `subtract` is the
/// log fold change in the output's own units, and it is the default.
///
/// `log2fc` is for outputs read as amounts (bin position, counts, activity on a linear
/// scale): `log2((alt + c) / (ref + c))` with the pseudocount `c` (default 1, which keeps
/// a DREAM bin of 0 finite). It is undefined when `alt + c` or `ref + c` is not
/// positive; that record is an error naming it, not a NaN in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Compare {
    /// alt - ref
    #[default]
    Subtract,
    /// log2((alt + pseudocount) / (ref + pseudocount))
    #[value(name = "log2fc")]
    Log2Fc,
}

/// Default pseudocount of [`Compare::Log2Fc`].
pub const DEFAULT_PSEUDOCOUNT: f64 = 1.0;

impl Compare {
    /// The effect of `alt` relative to `reference`; `None` where log2fc is undefined.
    pub fn apply(self, reference: f32, alt: f32, pseudocount: f64) -> Option<f32> {
        match self {
            // In f32, so a delta is exactly the difference of the two printed scores.
            Compare::Subtract => Some(alt - reference),
            Compare::Log2Fc => {
                let (r, a) = (reference as f64 + pseudocount, alt as f64 + pseudocount);
                if r > 0.0 && a > 0.0 && r.is_finite() && a.is_finite() {
                    Some((a / r).log2() as f32)
                } else {
                    None
                }
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compare::Subtract => "subtract",
            Compare::Log2Fc => "log2fc",
        }
    }
}

/// Column names of the effect columns for the model outputs `outputs`: `ref alt delta`
/// for a single output, `<out>_ref <out>_alt <out>_delta` per output otherwise.
pub fn effect_columns(outputs: &[String]) -> Vec<String> {
    if outputs.len() == 1 {
        return vec!["ref".into(), "alt".into(), "delta".into()];
    }
    outputs
        .iter()
        .flat_map(|o| [format!("{o}_ref"), format!("{o}_alt"), format!("{o}_delta")])
        .collect()
}

/// Scores sequences through a [`Scorer`], each distinct (orientation, sequence) only
/// once: a reference shared by many alternatives, or a variant listed twice, costs one
/// forward pass. Memory is bounded by [`UniqueScorer::MAX_ENTRIES`] distinct sequences;
/// past that the memory is dropped between calls and later repeats are scored again.
pub struct UniqueScorer<'s> {
    scorer: &'s mut Scorer,
    index: HashMap<(bool, Vec<u8>), usize>,
    /// `outputs` values per entry.
    values: Vec<f32>,
    /// Sequences actually run through the model.
    pub scored: u64,
    /// Sequences asked for.
    pub requested: u64,
}

impl<'s> UniqueScorer<'s> {
    pub const MAX_ENTRIES: usize = 1 << 20;

    pub fn new(scorer: &'s mut Scorer) -> Self {
        UniqueScorer { scorer, index: HashMap::new(), values: Vec::new(), scored: 0, requested: 0 }
    }

    pub fn scorer(&self) -> &Scorer {
        self.scorer
    }

    fn n_out(&self) -> usize {
        self.scorer.outputs().len()
    }

    /// Scores `(id, sequence)` items (the id only decides the orientation flag of models
    /// that read it from the record id) and returns one entry handle per item, valid
    /// until the next call. Sequences must already satisfy the model's preprocessing.
    pub fn score(&mut self, items: &[(&str, &[u8])]) -> Result<Vec<usize>, ScoreError> {
        if self.index.len() > Self::MAX_ENTRIES {
            self.index.clear();
            self.values.clear();
        }
        let pre = self.scorer.preprocessing().clone();
        let n_out = self.n_out();
        let mut handles = Vec::with_capacity(items.len());
        let mut new_ids: Vec<&str> = Vec::new();
        let mut new_seqs: Vec<&[u8]> = Vec::new();
        let first_new = self.values.len() / n_out;
        for &(id, seq) in items {
            let key = (pre.reverse_from_id(id), seq.to_vec());
            let next = first_new + new_seqs.len();
            let h = *self.index.entry(key).or_insert_with(|| {
                new_ids.push(id);
                new_seqs.push(seq);
                next
            });
            handles.push(h);
        }
        self.requested += items.len() as u64;
        if !new_seqs.is_empty() {
            let y = self.scorer.score_records(&new_ids, &new_seqs)?;
            self.values.extend_from_slice(&y);
            self.scored += new_seqs.len() as u64;
        }
        Ok(handles)
    }

    /// The predictions (one per model output) of an entry returned by [`Self::score`].
    pub fn values(&self, handle: usize) -> &[f32] {
        let n = self.n_out();
        &self.values[handle * n..(handle + 1) * n]
    }
}

/// The predictions for a reference and an alternative and their effects, one value per
/// model output each.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub reference: Vec<f32>,
    pub alternative: Vec<f32>,
    pub delta: Vec<f32>,
}

impl Effect {
    /// Compares two prediction rows; `Err(output index)` where log2fc is undefined.
    pub fn new(reference: &[f32], alternative: &[f32], compare: Compare, pseudocount: f64) -> Result<Effect, usize> {
        let delta = reference
            .iter()
            .zip(alternative)
            .enumerate()
            .map(|(j, (&r, &a))| compare.apply(r, a, pseudocount).ok_or(j))
            .collect::<Result<Vec<f32>, usize>>()?;
        Ok(Effect { reference: reference.to_vec(), alternative: alternative.to_vec(), delta })
    }

    /// Appends the effect columns (see [`effect_columns`]) as `\t`-prefixed fields.
    pub fn write_fields(&self, line: &mut String) {
        use std::fmt::Write as _;
        for j in 0..self.delta.len() {
            // Display of f32 is the shortest string that parses back to the same f32.
            let _ = write!(line, "\t{}\t{}\t{}", self.reference[j], self.alternative[j], self.delta[j]);
        }
    }
}

/// The message for a record whose log2fc is undefined.
pub fn undefined_log2fc(reference: f32, alt: f32, output: &str, pseudocount: f64) -> String {
    format!(
        "log2fc is undefined for output {output:?}: ref {reference} and alt {alt} plus pseudocount {pseudocount} must both be positive (use --compare subtract, the log fold change for log-scale outputs, or a larger --pseudocount)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtract_is_exact_f32_difference() {
        let (r, a) = (3.1f32, 2.7f32);
        assert_eq!(Compare::Subtract.apply(r, a, 1.0), Some(a - r));
    }

    #[test]
    fn log2fc_uses_the_pseudocount_and_refuses_non_positive() {
        assert_eq!(Compare::Log2Fc.apply(1.0, 3.0, 1.0), Some(1.0));
        assert_eq!(Compare::Log2Fc.apply(0.0, 0.0, 1.0), Some(0.0));
        assert_eq!(Compare::Log2Fc.apply(7.0, 1.0, 1.0), Some(-2.0));
        assert_eq!(Compare::Log2Fc.apply(-1.0, 3.0, 1.0), None);
        assert_eq!(Compare::Log2Fc.apply(2.0, -5.0, 1.0), None);
        assert_eq!(Compare::Log2Fc.apply(-1.0, 3.0, 2.0), Some(5f64.log2() as f32));
    }

    #[test]
    fn columns_for_one_and_several_outputs() {
        assert_eq!(effect_columns(&["expression".into()]), ["ref", "alt", "delta"]);
        assert_eq!(
            effect_columns(&["dev".into(), "hk".into()]),
            ["dev_ref", "dev_alt", "dev_delta", "hk_ref", "hk_alt", "hk_delta"]
        );
    }

    #[test]
    fn effect_names_the_undefined_output() {
        assert_eq!(Effect::new(&[1.0, -3.0], &[2.0, 1.0], Compare::Log2Fc, 1.0), Err(1));
        let e = Effect::new(&[1.0, 2.0], &[3.0, 1.0], Compare::Subtract, 1.0).unwrap();
        assert_eq!(e.delta, [2.0, -1.0]);
        let mut line = String::from("x");
        e.write_fields(&mut line);
        assert_eq!(line, "x\t1\t3\t2\t2\t1\t-1");
    }
}
