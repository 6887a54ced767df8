//! A seeded, order-independent held-out split.

use infer::input::SeqRecord;

/// SplitMix64's finaliser: a fixed, well-mixing 64-bit permutation (unlike Rust's
/// `DefaultHasher`, whose keys are random per process).
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) determined by the seed and the upper-case sequence alone.
fn unit_hash(seed: u64, seq: &[u8]) -> f64 {
    // FNV-1a over the bytes, started from the mixed seed, then finalised.
    let mut h = 0xCBF2_9CE4_8422_2325u64 ^ mix64(seed);
    for &b in seq {
        h ^= b.to_ascii_uppercase() as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h ^= seq.len() as u64;
    (mix64(h) >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether [`holdout`] puts a record with sequence `seq` on the validation side; for
/// splitting a stream one record at a time.
pub fn is_held_out(seq: &[u8], fraction: f64, seed: u64) -> bool {
    unit_hash(seed, seq) < fraction
}

/// Splits `records` into `(train, valid)`, about `fraction` of them held out.
///
/// Membership depends only on `(seed, upper-case sequence)`, so the split is the same
/// whatever the file order, and copies of one sequence always land on the same side (a
/// duplicate cannot leak from training into validation). Input order is kept within each
/// side. `fraction` ≤ 0 holds out nothing, ≥ 1 everything.
pub fn holdout(
    records: Vec<SeqRecord>,
    fraction: f64,
    seed: u64,
) -> (Vec<SeqRecord>, Vec<SeqRecord>) {
    let mut train = Vec::with_capacity(records.len());
    let mut valid = Vec::new();
    for r in records {
        if is_held_out(&r.seq, fraction, seed) {
            valid.push(r);
        } else {
            train.push(r);
        }
    }
    (train, valid)
}
