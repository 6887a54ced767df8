//! In-silico mutagenesis: every single-base substitution of a sequence, scored.
//!
//! For each input sequence and each position of its window, the three other bases (four
//! at an `N`) are substituted one at a time in the *raw* sequence, and the mutants go
//! through the same [`Scorer`] as the sequence itself, so every preprocessing kind
//! (plasmid padding, exact windows, reverse-complement averaging) applies unchanged.
//! A mutant whose model input equals the sequence's own (a position the preprocessing
//! drops, such as the DREAM models' 17-nt 5' adapter) is not run through the model: its
//! delta is exactly 0, where scoring it in another batch row could differ in the last
//! bit.
//!
//! Mutants of consecutive sequences share forward passes: [`Ism`] queues them and runs
//! only full batches until the input ends, so the model always runs at its full batch
//! size (tract's plan is compiled for one batch size; a short batch costs a full one).
//!
//! Matrices use the alphabet order [`ISM_ALPHABET`] (A, C, G, T), whatever the model's
//! one-hot order; entry `(b, i)` is the effect of base `b` at window position `i`, and
//! the reference base's entry is 0.

use std::collections::VecDeque;
use std::ops::Range;

use crate::scorer::{ScoreError, Scorer};

/// Row order of ISM matrices.
pub const ISM_ALPHABET: [u8; 4] = *b"ACGT";

/// The 0-based window `[start, end)` of a sequence of `len` nt for 1-based inclusive
/// `--start`/`--end` (each defaulting to the sequence's ends).
pub fn window(len: usize, start: Option<usize>, end: Option<usize>) -> Result<Range<usize>, String> {
    let s = start.unwrap_or(1);
    let e = end.unwrap_or(len);
    if s == 0 {
        return Err("--start is 1-based: it must be at least 1".into());
    }
    if e > len {
        return Err(format!("--end {e} is past the end of the sequence ({len} nt)"));
    }
    if s > e {
        return Err(format!("empty window: start {s} is after end {e} (sequence of {len} nt)"));
    }
    Ok(s - 1..e)
}

/// The mutagenesis of one sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct IsmResult {
    pub id: String,
    /// The sequence's own predictions, one per model output.
    pub reference: Vec<f32>,
    /// The 0-based window.
    pub window: Range<usize>,
    /// Upper-case reference bases of the window.
    pub bases: Vec<u8>,
    /// Predictions `[position][ISM_ALPHABET index][output]` over the window; the
    /// reference base's entry holds the reference prediction.
    pub scores: Vec<f32>,
    pub n_outputs: usize,
}

impl IsmResult {
    /// Prediction of base `b` (index into [`ISM_ALPHABET`]) at window position `i`.
    pub fn score(&self, i: usize, b: usize, output: usize) -> f32 {
        self.scores[(i * 4 + b) * self.n_outputs + output]
    }

    /// `score - reference` (exactly 0 for the reference base).
    pub fn delta(&self, i: usize, b: usize, output: usize) -> f32 {
        if ISM_ALPHABET[b] == self.bases[i] {
            0.0
        } else {
            self.score(i, b, output) - self.reference[output]
        }
    }

    /// The `(outputs, 4, window)` delta matrix, row-major (the `.npy` layout).
    pub fn delta_matrix(&self) -> Vec<f32> {
        let l = self.bases.len();
        let mut out = Vec::with_capacity(self.n_outputs * 4 * l);
        for o in 0..self.n_outputs {
            for b in 0..4 {
                for i in 0..l {
                    out.push(self.delta(i, b, o));
                }
            }
        }
        out
    }

    /// Number of substitutions in the window (3 per base, 4 at an `N`).
    pub fn mutants(&self) -> usize {
        self.bases.iter().map(|&b| if ISM_ALPHABET.contains(&b) { 3 } else { 4 }).sum()
    }
}

/// A sequence waiting for its mutants' predictions.
struct Job {
    id: String,
    seq: Vec<u8>,
    window: Range<usize>,
    /// Predictions received so far: reference first, then the scored mutants in
    /// generation order.
    values: Vec<f32>,
    expected: usize,
    /// Per mutant in generation order (position-major, [`ISM_ALPHABET`] order): whether
    /// the model sees it (else it was not scored).
    visible: Vec<bool>,
}

/// Queues sequences, runs their mutants through the scorer in full batches and hands
/// back finished results in input order.
pub struct Ism<'s> {
    scorer: &'s mut Scorer,
    jobs: VecDeque<Job>,
    /// Items not yet scored: (job index relative to the first unfinished job, sequence).
    queue: VecDeque<(usize, Vec<u8>)>,
    /// Index (absolute) of `jobs[0]`.
    first_job: usize,
    /// Mutants run through the model (reference sequences not counted).
    pub mutants_scored: u64,
    /// Substitutions generated, including those the model cannot see.
    pub substitutions: u64,
}

impl<'s> Ism<'s> {
    pub fn new(scorer: &'s mut Scorer) -> Self {
        Ism { scorer, jobs: VecDeque::new(), queue: VecDeque::new(), first_job: 0, mutants_scored: 0, substitutions: 0 }
    }

    /// Queues `seq` (upper-case `ACGTN`, accepted by the model's preprocessing) for
    /// mutagenesis of `window`, runs every full batch available and returns the
    /// sequences now complete.
    pub fn push(&mut self, id: &str, seq: &[u8], window: Range<usize>) -> Result<Vec<IsmResult>, ScoreError> {
        assert!(window.end <= seq.len() && window.start < window.end, "ISM window out of range");
        let job = self.first_job + self.jobs.len();
        let pre = self.scorer.preprocessing();
        // Validated by the caller, so padding succeeds; a failure only means "compare
        // nothing" and every mutant is scored.
        let padded = pre.pad(seq).ok();
        let mut mutants = Vec::new();
        let mut visible = Vec::new();
        for i in window.clone() {
            for &b in &ISM_ALPHABET {
                if b != seq[i] {
                    let mut m = seq.to_vec();
                    m[i] = b;
                    let seen = padded.is_none() || pre.pad(&m).ok() != padded;
                    visible.push(seen);
                    if seen {
                        mutants.push(m);
                    }
                }
            }
        }
        let expected = 1 + mutants.len();
        self.substitutions += visible.len() as u64;
        self.queue.push_back((job, seq.to_vec()));
        self.queue.extend(mutants.into_iter().map(|m| (job, m)));
        let n_out = self.scorer.outputs().len();
        self.jobs.push_back(Job { id: id.to_string(), seq: seq.to_vec(), window, values: Vec::with_capacity(expected * n_out), expected, visible });
        let batch = self.scorer.batch_size();
        let full = self.queue.len() / batch * batch;
        self.run(full)?;
        Ok(self.take_finished())
    }

    /// Scores everything still queued and returns the remaining results.
    pub fn finish(&mut self) -> Result<Vec<IsmResult>, ScoreError> {
        self.run(self.queue.len())?;
        Ok(self.take_finished())
    }

    fn run(&mut self, n: usize) -> Result<(), ScoreError> {
        if n == 0 {
            return Ok(());
        }
        let items: Vec<(usize, Vec<u8>)> = self.queue.drain(..n).collect();
        let ids: Vec<&str> = items.iter().map(|(j, _)| self.jobs[j - self.first_job].id.as_str()).collect();
        let seqs: Vec<&[u8]> = items.iter().map(|(_, s)| s.as_slice()).collect();
        let y = self.scorer.score_records(&ids, &seqs)?;
        let n_out = self.scorer.outputs().len();
        for ((j, _), row) in items.iter().zip(y.chunks_exact(n_out)) {
            let job = &mut self.jobs[j - self.first_job];
            if !job.values.is_empty() {
                self.mutants_scored += 1;
            }
            job.values.extend_from_slice(row);
        }
        Ok(())
    }

    fn take_finished(&mut self) -> Vec<IsmResult> {
        let n_out = self.scorer.outputs().len();
        let mut out = Vec::new();
        while self.jobs.front().is_some_and(|j| j.values.len() == j.expected * n_out) {
            let job = self.jobs.pop_front().expect("checked");
            self.first_job += 1;
            out.push(assemble(job, n_out));
        }
        out
    }
}

/// Lays a finished job's predictions out as `[position][base][output]`.
fn assemble(job: Job, n_out: usize) -> IsmResult {
    let Job { id, seq, window, values, visible, .. } = job;
    let reference = values[..n_out].to_vec();
    let bases = seq[window.clone()].to_vec();
    let mut scores = Vec::with_capacity(bases.len() * 4 * n_out);
    let mut next = n_out;
    let mut seen = visible.into_iter();
    for &r in &bases {
        for &b in &ISM_ALPHABET {
            if b == r {
                scores.extend_from_slice(&reference);
            } else if !seen.next().expect("one flag per mutant") {
                scores.extend_from_slice(&reference);
            } else {
                scores.extend_from_slice(&values[next..next + n_out]);
                next += n_out;
            }
        }
    }
    debug_assert_eq!(next, values.len());
    IsmResult { id, reference, window, bases, scores, n_outputs: n_out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_one_based_inclusive() {
        assert_eq!(window(10, None, None), Ok(0..10));
        assert_eq!(window(10, Some(3), Some(5)), Ok(2..5));
        assert_eq!(window(10, Some(10), None), Ok(9..10));
        assert!(window(10, Some(0), None).unwrap_err().contains("1-based"));
        assert!(window(10, None, Some(11)).unwrap_err().contains("past the end"));
        assert!(window(10, Some(6), Some(5)).unwrap_err().contains("empty window"));
    }

    #[test]
    fn assemble_places_mutants_and_zero_reference_deltas() {
        // Window "AN" of a 3-nt sequence, one output: reference 10, then mutants of
        // position 0 (C, G, T) and position 1 (A, C, G, T).
        let job = Job {
            id: "s".into(),
            seq: b"GAN".to_vec(),
            window: 1..3,
            values: vec![10.0, 11.0, 12.0, 13.0, 20.0, 21.0, 22.0, 23.0],
            expected: 8,
            visible: vec![true; 7],
        };
        let r = assemble(job, 1);
        assert_eq!(r.bases, b"AN");
        assert_eq!(r.mutants(), 7);
        assert_eq!(r.score(0, 0, 0), 10.0);
        assert_eq!(r.delta(0, 0, 0), 0.0);
        assert_eq!(r.delta(0, 3, 0), 3.0);
        assert_eq!(r.delta(1, 0, 0), 10.0);
        assert_eq!(r.delta_matrix(), [0.0, 10.0, 1.0, 11.0, 2.0, 12.0, 3.0, 13.0]);
    }

    #[test]
    fn unseen_mutants_take_the_reference_prediction() {
        // Position 0's G and T mutants are invisible to the model: not scored.
        let job = Job {
            id: "s".into(),
            seq: b"A".to_vec(),
            window: 0..1,
            values: vec![5.0, 7.0],
            expected: 2,
            visible: vec![true, false, false],
        };
        let r = assemble(job, 1);
        assert_eq!(r.delta_matrix(), [0.0, 2.0, 0.0, 0.0]);
    }
}
