//! The batch scoring loop shared by `infer score` and `infer eval --model`: records are
//! pulled from any source `batch_size` at a time, records the model cannot take are
//! handed to the caller (to stop or to skip), and each scored batch goes to a sink with
//! its rows of predictions. Memory stays at one batch whatever the input size.

use crate::input::SeqRecord;
use crate::preprocess::PreprocessError;
use crate::scorer::{ScoreError, Scorer};

/// Something with an id and a raw sequence.
pub trait Scorable {
    fn id(&self) -> &str;
    fn seq(&self) -> &[u8];
}

impl Scorable for SeqRecord {
    fn id(&self) -> &str {
        &self.id
    }
    fn seq(&self) -> &[u8] {
        &self.seq
    }
}

/// `(id, sequence)` pairs, as benchmarks list them.
impl Scorable for (String, String) {
    fn id(&self) -> &str {
        &self.0
    }
    fn seq(&self) -> &[u8] {
        self.1.as_bytes()
    }
}

/// Scores every record of `records`. For a record the model's preprocessing rejects
/// (e.g. the wrong length for an exact-length model) `reject` decides: `Ok` skips it,
/// `Err` stops. `sink` gets each batch with `batch.len() * scorer.outputs().len()`
/// predictions, row-major. Returns how many records were scored.
pub fn score_all<R, E>(
    scorer: &mut Scorer,
    records: impl IntoIterator<Item = Result<R, E>>,
    mut reject: impl FnMut(&R, PreprocessError) -> Result<(), E>,
    mut sink: impl FnMut(&[R], &[f32]) -> Result<(), E>,
) -> Result<u64, E>
where
    R: Scorable,
    E: From<ScoreError>,
{
    let mut records = records.into_iter();
    let mut pending: Vec<R> = Vec::with_capacity(scorer.batch_size());
    let mut scored = 0u64;
    loop {
        let exhausted = next_batch(scorer, &mut records, scorer.batch_size(), &mut pending, &mut reject)?;
        if !pending.is_empty() {
            let seqs: Vec<&[u8]> = pending.iter().map(|r| r.seq()).collect();
            let ids: Vec<&str> = pending.iter().map(|r| r.id()).collect();
            let y = scorer.score_records(&ids, &seqs)?;
            sink(&pending, &y)?;
            scored += pending.len() as u64;
        }
        if exhausted {
            return Ok(scored);
        }
    }
}

/// Fills `pending` (cleared first) with up to `limit` records the model takes, reading
/// only as far as that (the source streams; nothing else is held), and hands rejected
/// ones to `reject`. Returns whether `records` ran out. [`score_all`] batches with it, and
/// so do callers that run batches themselves (the browser page spreads them over workers).
pub fn next_batch<R, E>(
    scorer: &Scorer,
    records: &mut impl Iterator<Item = Result<R, E>>,
    limit: usize,
    pending: &mut Vec<R>,
    reject: &mut impl FnMut(&R, PreprocessError) -> Result<(), E>,
) -> Result<bool, E>
where
    R: Scorable,
{
    pending.clear();
    while pending.len() < limit.max(1) {
        let Some(rec) = records.next() else {
            return Ok(true);
        };
        let rec = rec?;
        // Model-specific checks happen per record, so the caller can name it.
        if let Err(problem) = scorer.preprocessing().pad(rec.seq()) {
            reject(&rec, problem)?;
            continue;
        }
        pending.push(rec);
    }
    Ok(false)
}
