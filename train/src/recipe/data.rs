//! Datasets encoded once into tensors, and the persistent shuffled batch sampler of the
//! reference's `DataloaderWrapper` (spec `training.md` §1.3–1.5, §2, §5;
//! `benchmarks.md` §1–3).

use infer::input::SeqRecord;
use infer::preprocess::{reverse_complement_into, ExtraChannel, PreprocessError};
use infer::Preprocessing;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::target::{is_singleton, SoftBinTarget};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("record '{id}' (line {line}): {source}")]
    Sequence {
        id: String,
        line: u64,
        #[source]
        source: PreprocessError,
    },
    #[error("record '{id}' (line {line}) has no label value; training needs one")]
    MissingLabel { id: String, line: u64 },
    #[error("record '{id}' (line {line}) has {found} label values, expected {expected} like the first record")]
    LabelCount {
        id: String,
        line: u64,
        expected: usize,
        found: usize,
    },
    #[error("record '{id}' (line {line}) has a non-finite label value {value}")]
    NonFiniteLabel { id: String, line: u64, value: f64 },
    #[error("no records to encode")]
    Empty,
}

/// A whole dataset as tensors on the CPU, so the training loop only gathers rows.
#[derive(Debug)]
pub struct EncodedSet {
    /// `(N, C, L)` float32 model inputs.
    pub x: Tensor,
    /// `(N,)` yeast expression, or `(N, T)` benchmark targets, float32.
    pub y: Tensor,
    /// `(N, n_bins)` float32 soft-bin targets (yeast only).
    pub y_probs: Option<Tensor>,
}

impl EncodedSet {
    /// Number of rows (inputs), RC copies included.
    pub fn len(&self) -> usize {
        self.x.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub(crate) fn first_label(r: &SeqRecord) -> Result<f64, DataError> {
    let e = *r.labels.first().ok_or_else(|| DataError::MissingLabel {
        id: r.id.clone(),
        line: r.line,
    })?;
    if !e.is_finite() {
        return Err(DataError::NonFiniteLabel {
            id: r.id.clone(),
            line: r.line,
            value: e,
        });
    }
    Ok(e)
}

pub(crate) fn pad_record(pre: &Preprocessing, r: &SeqRecord, out: &mut [u8]) -> Result<(), DataError> {
    pre.pad_into(&r.seq, out)
        .map_err(|source| DataError::Sequence {
            id: r.id.clone(),
            line: r.line,
            source,
        })
}

/// The yeast (Autosome) training/validation table: label = `labels[0]`, padded per the
/// preprocessing, singleton flag from the label when the preprocessing has a singleton
/// channel, rev = 0; with `reverse_complement_copies`, the reverse complements of the
/// padded sequences (rev = 1, same singleton flag and targets) follow ALL forward rows, as
/// the reference's `add_rev` concatenation does (§1.4).
pub fn encode_yeast(
    records: &[SeqRecord],
    pre: &Preprocessing,
    targets: &SoftBinTarget,
    reverse_complement_copies: bool,
) -> Result<EncodedSet, DataError> {
    if records.is_empty() {
        return Err(DataError::Empty);
    }
    let n = records.len();
    let (c, l) = (pre.channels(), pre.length);
    let size = c * l;
    let copies = if reverse_complement_copies { 2 } else { 1 };
    let rows = n * copies;
    let bins = targets.n_bins;
    let uses_singleton = pre.extra_channels.contains(&ExtraChannel::Singleton);

    let mut x = vec![0f32; rows * size];
    let mut y = vec![0f32; rows];
    let mut probs = vec![0f32; rows * bins];
    let mut padded = vec![0u8; l];
    let mut rc = vec![0u8; l];
    for (i, r) in records.iter().enumerate() {
        let e = first_label(r)?;
        pad_record(pre, r, &mut padded)?;
        let singleton = uses_singleton && is_singleton(e);
        let p = targets.probs(e);
        pre.encode(&padded, false, singleton, &mut x[i * size..(i + 1) * size]);
        let mut put_targets = |row: usize| {
            y[row] = e as f32;
            probs[row * bins..(row + 1) * bins].copy_from_slice(&p);
        };
        put_targets(i);
        if reverse_complement_copies {
            let j = n + i;
            reverse_complement_into(&padded, &mut rc);
            pre.encode(&rc, true, singleton, &mut x[j * size..(j + 1) * size]);
            put_targets(j);
        }
    }
    Ok(EncodedSet {
        x: Tensor::from_slice(&x).view([rows as i64, c as i64, l as i64]),
        y: Tensor::from_slice(&y),
        y_probs: Some(Tensor::from_slice(&probs).view([rows as i64, bins as i64])),
    })
}

/// A benchmark table (human lentiMPRA, Drosophila DeepSTARR): every record's orientation
/// comes from `reverse_flag` (the files hold both orientations as rows, so nothing is
/// duplicated), no singleton flag, `y` = all label values as `(N, T)`; every record must
/// have as many labels as the first.
pub fn encode_regression(
    records: &[SeqRecord],
    pre: &Preprocessing,
    reverse_flag: impl Fn(&SeqRecord) -> bool,
) -> Result<EncodedSet, DataError> {
    let first = records.first().ok_or(DataError::Empty)?;
    let tasks = first.labels.len();
    if tasks == 0 {
        return Err(DataError::MissingLabel {
            id: first.id.clone(),
            line: first.line,
        });
    }
    let n = records.len();
    let (c, l) = (pre.channels(), pre.length);
    let size = c * l;
    let mut x = vec![0f32; n * size];
    let mut y = Vec::with_capacity(n * tasks);
    let mut padded = vec![0u8; l];
    for (i, r) in records.iter().enumerate() {
        if r.labels.len() != tasks {
            return Err(DataError::LabelCount {
                id: r.id.clone(),
                line: r.line,
                expected: tasks,
                found: r.labels.len(),
            });
        }
        if let Some(&value) = r.labels.iter().find(|v| !v.is_finite()) {
            return Err(DataError::NonFiniteLabel {
                id: r.id.clone(),
                line: r.line,
                value,
            });
        }
        pad_record(pre, r, &mut padded)?;
        pre.encode(
            &padded,
            reverse_flag(r),
            false,
            &mut x[i * size..(i + 1) * size],
        );
        y.extend(r.labels.iter().map(|&v| v as f32));
    }
    Ok(EncodedSet {
        x: Tensor::from_slice(&x).view([n as i64, c as i64, l as i64]),
        y: Tensor::from_slice(&y).view([n as i64, tasks as i64]),
        y_probs: None,
    })
}

/// Human lentiMPRA orientation: the README asks for reverse-orientation ids to carry
/// `_Reversed:` (spec benchmarks.md §3).
pub fn human_reverse_flag(id: &str) -> bool {
    id.contains(infer::preprocess::BENCHMARK_REVERSE_MARKERS[0])
}

/// Drosophila DeepSTARR orientation: the minus-strand marker `_-_` in the ID (the
/// reference tests for `-_`, which only occurs there; spec benchmarks.md §2).
pub fn drosophila_reverse_flag(id: &str) -> bool {
    id.contains(infer::preprocess::BENCHMARK_REVERSE_MARKERS[1])
}

/// Where a [`BatchSampler`] stands; serialise it with a checkpoint to resume the exact
/// batch sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplerState {
    pub seed: u64,
    /// Passes over the data started so far minus one (the current pass, from 0).
    pub pass: u64,
    /// Rows of the current pass already handed out.
    pub position: usize,
    /// Dataset size the state was taken with; a resumed run should check it matches,
    /// since a different size means different permutations.
    pub rows: usize,
}

/// Shuffled index batches over `n` rows, like the reference's `DataLoader(shuffle=True,
/// drop_last=False)` behind `DataloaderWrapper` (spec §5): an endless stream in which each
/// pass is a fresh permutation, batches never straddle passes, and the last batch of a
/// pass may be short. Training "epochs" are a number of batches, not passes.
///
/// Unlike the reference (spec §10.1), which loses the step during which the exhausted
/// iterator is restarted, a batch is yielded for every call, so every epoch runs exactly
/// its number of steps and the one-cycle schedule reaches its last step.
///
/// Each pass's permutation comes from its own generator seeded with (seed, pass), so a
/// resumed sampler needs only the pass number and position. Sequences are reproducible for
/// a given `rand` major version (its `StdRng` algorithm may change between majors).
#[derive(Debug, Clone)]
pub struct BatchSampler {
    n: usize,
    batch: usize,
    seed: u64,
    pass: u64,
    position: usize,
    perm: Vec<i64>,
}

impl BatchSampler {
    /// `batch` 0 is treated as 1.
    pub fn new(n: usize, batch: usize, seed: u64) -> Self {
        Self::from_state(
            n,
            batch,
            SamplerState {
                seed,
                pass: 0,
                position: 0,
                rows: n,
            },
        )
    }

    /// Continues where `state` left off. A position beyond `n` (inconsistent state) counts
    /// as an exhausted pass: the next batch starts the next pass.
    pub fn from_state(n: usize, batch: usize, state: SamplerState) -> Self {
        BatchSampler {
            n,
            batch: batch.max(1),
            seed: state.seed,
            pass: state.pass,
            position: state.position.min(n),
            perm: permutation(n, state.seed, state.pass),
        }
    }

    pub fn state(&self) -> SamplerState {
        SamplerState {
            seed: self.seed,
            pass: self.pass,
            position: self.position,
            rows: self.n,
        }
    }

    /// Rows per (full) batch.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// Full passes' worth of batches: ⌈n / batch⌉.
    pub fn batches_per_pass(&self) -> usize {
        self.n.div_ceil(self.batch)
    }

    /// The next batch of row indices (empty only when `n` is 0).
    pub fn next_batch(&mut self) -> Vec<i64> {
        if self.n == 0 {
            return Vec::new();
        }
        if self.position >= self.n {
            self.pass += 1;
            self.position = 0;
            self.perm = permutation(self.n, self.seed, self.pass);
        }
        let end = (self.position + self.batch).min(self.n);
        let out = self.perm[self.position..end].to_vec();
        self.position = end;
        out
    }
}

fn permutation(n: usize, seed: u64, pass: u64) -> Vec<i64> {
    let mut perm: Vec<i64> = (0..n as i64).collect();
    let mut rng = StdRng::seed_from_u64(super::split::mix64(seed ^ super::split::mix64(pass)));
    perm.shuffle(&mut rng);
    perm
}
