//! Sharded scoring: `infer score --shard i/n` scores the i-th of n contiguous ranges of
//! an input's records, so n jobs on a cluster can split one file and their outputs,
//! concatenated in shard order, are byte-identical to one unsharded run.
//!
//! The rule, which every shard applies independently and deterministically:
//!
//! - **What counts as a record.** The records that get scored: those the input reader
//!   yields and the model's preprocessing accepts. Invalid records that `--skip-invalid`
//!   drops (the reader's, or those the model cannot take, e.g. the wrong length for an
//!   exact-length model) are not counted: every shard reads the same file with the same
//!   options and drops the same ones. Without `--skip-invalid` such a record stops every
//!   shard, wherever it lies, as it stops the unsharded run.
//! - **The ranges are whole batches.** The engines' results can differ in the last bit
//!   with a row's place in its batch and the batch's size, so a shard must score exactly
//!   the batches the unsharded run would. With N counted records and batch size b there
//!   are B = ⌈N/b⌉ batches; shard i (1-based) takes batches `[(i-1)·B/n, i·B/n)`
//!   (integer division): contiguous, in order, sizes differing by at most one batch,
//!   empty when n > B. All shards and the unsharded run must use the same
//!   `--batch-size` (and model, backend and threads).
//! - **Counting N.** The input is streamed, so N is unknown up front: each shard first
//!   reads the whole input once just to count (parsing and a length check, far faster
//!   than scoring), then reads it again and scores its range, stopping at the range's
//!   end. Standard input can be read only once, so `--shard` needs a file.
//! - **The header line** (`id<TAB>outputs`) is written by shard 1 only; the other shards'
//!   outputs are bare rows. An empty shard 1 still writes the header; other empty
//!   shards write an empty file.
//! - **Warnings** about skipped records: each shard reports those it passed, so their
//!   counts split across the shards' logs.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// Shard `index` of `count` (1-based: `1/4` … `4/4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("'{0}' is not a shard: expected i/n, e.g. 1/4 (shards are numbered from 1)")]
    Syntax(String),
    #[error("shard {index}/{count} does not exist: shards are numbered 1 to {count}")]
    OutOfRange { index: u64, count: u64 },
}

impl Shard {
    pub fn new(index: u64, count: u64) -> Result<Shard, ShardError> {
        if count == 0 || index == 0 || index > count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// The whole input as one shard.
    pub fn whole() -> Shard {
        Shard { index: 1, count: 1 }
    }

    pub fn index(&self) -> u64 {
        self.index
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The 0-based range of counted records this shard scores out of `total`, in whole
    /// batches of `batch` records.
    pub fn range(&self, total: u64, batch: u64) -> Range<u64> {
        let batch = batch.max(1);
        let batches = total.div_ceil(batch);
        let at = |i: u64| {
            let b = (i as u128 * batches as u128 / self.count as u128) as u64;
            b.saturating_mul(batch).min(total)
        };
        at(self.index - 1)..at(self.index)
    }

    /// Only the first shard writes the output's header line.
    pub fn writes_header(&self) -> bool {
        self.index == 1
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(syntax)?;
        let parse = |t: &str| t.trim().parse::<u64>().map_err(|_| syntax());
        Shard::new(parse(i)?, parse(n)?)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Counts the records of a stream for which `counts` holds, stopping at the first error
/// (which the caller reports as the unsharded run would).
pub fn count_records<T, E>(
    records: impl IntoIterator<Item = Result<T, E>>,
    mut counts: impl FnMut(&T) -> Result<bool, E>,
) -> Result<u64, E> {
    let mut n = 0u64;
    for rec in records {
        if counts(&rec?)? {
            n += 1;
        }
    }
    Ok(n)
}

/// The records at counted positions `range` out of `records`, reading no further than
/// the range's end. Records `counts` rejects hold no position: they are passed on (for
/// the caller to skip and report) when they lie inside the range. An error is passed on
/// wherever it is, so a shard fails on a broken record as the counting pass would have.
pub fn take_range<T, E>(
    records: impl IntoIterator<Item = Result<T, E>>,
    range: Range<u64>,
    mut counts: impl FnMut(&T) -> bool,
) -> impl Iterator<Item = Result<T, E>> {
    let mut records = records.into_iter();
    let mut pos = 0u64;
    std::iter::from_fn(move || loop {
        if pos >= range.end {
            return None;
        }
        match records.next()? {
            Err(e) => return Some(Err(e)),
            Ok(rec) => {
                let counted = counts(&rec);
                let inside = pos >= range.start;
                pos += u64::from(counted);
                if inside {
                    return Some(Ok(rec));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_tile_the_records_in_order() {
        for total in [0u64, 1, 2, 7, 10, 23, 1000] {
            for count in 1..=12 {
                for batch in [1, 4, 256] {
                    let mut next = 0;
                    for index in 1..=count {
                        let r = Shard::new(index, count).unwrap().range(total, batch);
                        assert_eq!(r.start, next, "{index}/{count} of {total} by {batch}");
                        assert_eq!(r.start % batch, 0, "shards start on a batch boundary");
                        assert!(r.end - r.start <= (total.div_ceil(batch) / count + 1) * batch);
                        next = r.end;
                    }
                    assert_eq!(next, total, "n={count} of {total} by {batch}");
                }
            }
        }
    }

    #[test]
    fn parses_i_of_n_numbered_from_one() {
        assert_eq!("2/5".parse::<Shard>().unwrap(), Shard::new(2, 5).unwrap());
        assert_eq!("1/1".parse::<Shard>().unwrap(), Shard::whole());
        for bad in ["0/4", "5/4", "1/0"] {
            assert!(matches!(bad.parse::<Shard>(), Err(ShardError::OutOfRange { .. })), "{bad}");
        }
        for bad in ["", "3", "a/b", "1/2/3", "-1/2"] {
            assert!(matches!(bad.parse::<Shard>(), Err(ShardError::Syntax(_))), "{bad}");
        }
        assert!(Shard::new(1, 3).unwrap().writes_header());
        assert!(!Shard::new(2, 3).unwrap().writes_header());
    }

    #[test]
    fn take_range_stops_at_the_end_and_passes_earlier_errors_on() {
        let items: Vec<Result<u32, &str>> = vec![Ok(0), Err("bad"), Ok(2), Ok(3), Ok(4)];
        let all = |_: &u32| true;
        let got: Vec<_> = take_range(items.clone(), 1..3, all).collect();
        assert_eq!(got, vec![Err("bad"), Ok(2), Ok(3)]);
        // Nothing past the end is pulled from the source.
        let mut pulled = 0;
        let counted = items.iter().cloned().inspect(|_| pulled += 1);
        assert_eq!(take_range(counted, 0..2, all).count(), 3);
        assert_eq!(pulled, 3);
        assert_eq!(count_records(vec![Ok::<_, ()>(1), Ok(2)], |_| Ok(true)), Ok(2));
        assert_eq!(count_records(items, |_| Ok(true)), Err("bad"));
    }

    #[test]
    fn uncounted_records_hold_no_position() {
        // Odd numbers are "rejected": positions count even numbers only.
        let items: Vec<Result<u32, ()>> = (0..10).map(Ok).collect();
        let even = |x: &u32| x % 2 == 0;
        assert_eq!(count_records(items.clone(), |x| Ok(even(x))), Ok(5));
        let got: Vec<u32> = take_range(items.clone(), 1..3, even).map(Result::unwrap).collect();
        assert_eq!(got, vec![1, 2, 3, 4], "rejected records inside the range come along");
        let got: Vec<u32> = take_range(items, 0..1, even).map(Result::unwrap).collect();
        assert_eq!(got, vec![0]);
    }
}
