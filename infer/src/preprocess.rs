//! The reference input encoding: raw sequence -> padded sequence -> `(C, L)` float tensor.
//!
//! Mirrors the Autosome/Prix Fixe pipeline (spec `training.md` §1.2–1.5 and §7) and the
//! benchmark variants (`benchmarks.md` §1). A [`Preprocessing`] value is stored in every
//! model's `model.json` and ONNX metadata, so the serialized field names are a contract.

use serde::{Deserialize, Serialize};

use crate::window::{reverse_complement_keep_case, SequenceRules, Window};

/// How a raw sequence becomes the model input (serialized into `model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// Model input length, e.g. 150.
    pub length: usize,
    pub padding: Padding,
    /// One-hot channel order, e.g. "AGCT" (channel `i` is base `alphabet[i]`).
    pub alphabet: String,
    /// Constant channels after the one-hot channels, e.g. `[Reverse, Singleton]`.
    pub extra_channels: Vec<ExtraChannel>,
    pub n_policy: NPolicy,
    /// Score = mean(model(forward), model(reverse complement)), the DREAM test-time procedure.
    pub rc_average: bool,
    /// Benchmark data (lentiMPRA, DeepSTARR) stores both orientations as separate rows and
    /// marks reverse ones in the record id (`_Reversed:`, `_-_`): a record whose id contains
    /// one of these gets reverse flag 1 (benchmarks.md §1-3). Empty for the yeast models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reverse_id_markers: Vec<String>,
    /// Case sensitivity, shift augmentation, training domain, offered post-processing
    /// (see [`crate::window`]); each absent when unused.
    #[serde(flatten, default)]
    pub rules: SequenceRules,
}

/// How a sequence is brought to the model's input length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Padding {
    /// DREAM yeast: drop the first `trim_5prime` nt, prepend `upstream` (the plasmid just 5'
    /// of the insert site), keep the last `length` nt.
    Plasmid {
        upstream: String,
        trim_5prime: usize,
    },
    /// Sequences must already be exactly `length` long (human 230 nt, Drosophila 249 nt).
    Exact,
    /// The sequence placed in the window as [`Window`] says (the teams' own padding).
    Window(Window),
}

/// A channel holding one flag value at every position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtraChannel {
    /// 1 when the input is the reverse-complement orientation.
    Reverse,
    /// 1 for training sequences observed once; always 0 at test time (spec §7).
    Singleton,
}

/// Encoding of `N` (and only `N`: other characters are rejected before encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NPolicy {
    /// All one-hot channels 0. The reference predictor meant 0.25 but wrote it into an
    /// integer tensor, so the trained models saw zeros (spec training.md §7). LegNet's
    /// submission copy (`dream_submissions/autosome.org/code/test.py`) has the same bug.
    Zeros,
    /// `1 / alphabet.len()` (0.25) in every one-hot channel: what the reference meant, and
    /// what the LegNet authors' maintained `legnet/test.py` does (it converts to float
    /// before writing 0.25), so the published LegNet predictions use it.
    Uniform,
}

impl NPolicy {
    /// The value each one-hot channel of an `N` position holds, for `n_bases` channels.
    pub fn n_value(self, n_bases: usize) -> f32 {
        match self {
            NPolicy::Zeros => 0.0,
            NPolicy::Uniform => 1.0 / n_bases as f32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreprocessError {
    #[error("invalid character {} at position {position} (allowed: A C G T N, any case)", show_byte(*byte))]
    InvalidCharacter { byte: u8, position: usize },
    #[error("sequence has {found} nt but the model needs exactly {expected} nt")]
    WrongLength { expected: usize, found: usize },
    #[error("sequence has {found} nt but the model takes at most {max} nt")]
    TooLong { max: usize, found: usize },
    #[error("sequence has {found} nt but the model's padding needs at least {min} nt")]
    TooShort { min: usize, found: usize },
    #[error("invalid preprocessing description: {0}")]
    InvalidDescription(String),
}

/// The 150 nt of the DREAM plasmid immediately 5' of the 80-N insert site
/// (`plasmid[3648-150 .. 3648]`, spec training.md §1.2). It ends with the 17-nt adapter
/// `TGCATTTTTTTCACATC`, which is why the reference trims 17 nt before prepending it.
pub const DREAM_PLASMID_UPSTREAM: &str = "AGTCCACTATTAAAGAACGTGGACTCCAACGTCAAAGGGCGAAAAACCGTCTATCAGGGCGATGGCCCACTACGTGAACCATCACCCTAATCAAGTGCTAGCAGGAATGATGCAAAAGGTTCCCGATTCGAACTGCATTTTTTTCACATC";

/// Length of the 5' adapter `TGCATTTTTTTCACATC` that the reference drops unconditionally.
pub const DREAM_LEFT_ADAPTER_LEN: usize = 17;

/// Maps any byte to its upper-case base if it is one of `ACGTN` (any case), else 0.
pub(crate) const ACGTN_UPPER: [u8; 256] = {
    let mut t = [0u8; 256];
    let bases = *b"ACGTN";
    let mut i = 0;
    while i < bases.len() {
        t[bases[i] as usize] = bases[i];
        t[bases[i].to_ascii_lowercase() as usize] = bases[i];
        i += 1;
    }
    t
};

/// Complement of an `ACGTN` byte (any case) in upper case; everything else maps to `N`.
const COMPLEMENT: [u8; 256] = {
    let mut t = [b'N'; 256];
    let pairs = [(b'A', b'T'), (b'T', b'A'), (b'G', b'C'), (b'C', b'G')];
    let mut i = 0;
    while i < pairs.len() {
        t[pairs[i].0 as usize] = pairs[i].1;
        t[pairs[i].0.to_ascii_lowercase() as usize] = pairs[i].1;
        i += 1;
    }
    t
};

/// Marks "no one-hot channel" in a base -> channel table.
const NO_CHANNEL: u8 = u8::MAX;
/// Marks `N` in a base -> channel table (encoded by the [`NPolicy`]).
const N_CHANNEL: u8 = u8::MAX - 1;

pub(crate) fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

/// Reverse complement (A<->T, G<->C, N->N), case-insensitive, upper-case output.
/// Meant for validated sequences: any byte outside `ACGTN` becomes `N`.
pub fn reverse_complement(seq: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; seq.len()];
    reverse_complement_into(seq, &mut out);
    out
}

/// Allocation-free [`reverse_complement`]; `out` must be as long as `seq`.
///
/// # Panics
/// If `out.len() != seq.len()`.
pub fn reverse_complement_into(seq: &[u8], out: &mut [u8]) {
    assert_eq!(
        out.len(),
        seq.len(),
        "reverse_complement_into: output length mismatch"
    );
    for (o, &b) in out.iter_mut().zip(seq.iter().rev()) {
        *o = COMPLEMENT[b as usize];
    }
}

/// How the benchmark files mark reverse-orientation rows: lentiMPRA `seq_id`s end in
/// `_Reversed:`, DeepSTARR `ID`s carry the strand as `_-_`.
pub const BENCHMARK_REVERSE_MARKERS: [&str; 2] = ["_Reversed:", "_-_"];

impl Preprocessing {
    /// The reverse flag of a record's forward input: 1 when its id carries a reverse marker.
    pub fn reverse_from_id(&self, id: &str) -> bool {
        self.reverse_id_markers.iter().any(|m| id.contains(m.as_str()))
    }

    /// The DREAM yeast models' input: 150 nt plasmid-padded, one-hot AGCT, reverse and
    /// singleton flag channels (6 x 150), forward/reverse-complement averaging.
    ///
    /// LegNet's prediction code (`test.py`, spec submissions/legnet.md §1) is the same
    /// procedure: drop the first 17 nt, prepend the 150 plasmid nt, keep the last 150,
    /// case-insensitive A,G,C,T + rev + singleton (0 at test time), average with the reverse
    /// complement. Its two copies differ only in `N`: see [`Self::legnet_upstream`].
    pub fn dream_yeast() -> Self {
        Preprocessing {
            length: 150,
            padding: Padding::Plasmid {
                upstream: DREAM_PLASMID_UPSTREAM.to_string(),
                trim_5prime: DREAM_LEFT_ADAPTER_LEN,
            },
            alphabet: "AGCT".to_string(),
            extra_channels: vec![ExtraChannel::Reverse, ExtraChannel::Singleton],
            n_policy: NPolicy::Zeros,
            rc_average: true,
            reverse_id_markers: Vec::new(),
            rules: SequenceRules::default(),
        }
    }

    /// The LegNet authors' maintained predictor (`legnet/test.py` in autosome-ru/LegNet):
    /// [`Self::dream_yeast`] with `N` = 0.25 in each base channel ([`NPolicy::Uniform`]);
    /// the published LegNet predictions were made with it.
    pub fn legnet_upstream() -> Self {
        Preprocessing { n_policy: NPolicy::Uniform, ..Self::dream_yeast() }
    }

    /// The benchmark models (human lentiMPRA: 230, Drosophila DeepSTARR: 249): fixed-length
    /// input, one-hot AGCT plus the orientation channel (5 x L), no averaging, because the
    /// data files carry both orientations as separate rows (spec benchmarks.md §1).
    pub fn benchmark(length: usize) -> Self {
        Preprocessing {
            length,
            padding: Padding::Exact,
            alphabet: "AGCT".to_string(),
            extra_channels: vec![ExtraChannel::Reverse],
            n_policy: NPolicy::Zeros,
            rc_average: false,
            reverse_id_markers: BENCHMARK_REVERSE_MARKERS.iter().map(|m| m.to_string()).collect(),
            rules: SequenceRules::default(),
        }
    }

    /// Number of input channels (one-hot + extra).
    pub fn channels(&self) -> usize {
        self.alphabet.len() + self.extra_channels.len()
    }

    /// Floats per encoded input: `channels() * length`.
    pub fn input_size(&self) -> usize {
        self.channels() * self.length
    }

    /// Model inputs per sequence at scoring time: 2 with `rc_average`, else 1, for each
    /// shift of the shift augmentation.
    pub fn inputs_per_sequence(&self) -> usize {
        let strands = if self.rc_average { 2 } else { 1 };
        strands * self.rules.shift_count()
    }

    /// Checks a description read from a model file before it is used.
    pub fn validate(&self) -> Result<(), PreprocessError> {
        let bad = |m: String| Err(PreprocessError::InvalidDescription(m));
        if self.length == 0 {
            return bad("length must be positive".into());
        }
        let mut sorted: Vec<u8> = self.alphabet.bytes().collect();
        sorted.sort_unstable();
        if sorted != b"ACGT" {
            return bad(format!(
                "alphabet must be the four bases A, C, G, T in some order, got {:?}",
                self.alphabet
            ));
        }
        if let Padding::Window(w) = &self.padding {
            w.validate().map_err(PreprocessError::InvalidDescription)?;
        }
        self.rules.validate().map_err(PreprocessError::InvalidDescription)?;
        for (i, c) in self.extra_channels.iter().enumerate() {
            if self.extra_channels[..i].contains(c) {
                return bad(format!("extra channel {c:?} listed twice"));
            }
        }
        if let Padding::Plasmid { upstream, .. } = &self.padding {
            // A sequence shorter than the trim contributes nothing, so only the flank
            // guarantees the full length.
            if upstream.len() < self.length {
                return bad(format!(
                    "plasmid upstream flank has {} nt, fewer than the input length {}",
                    upstream.len(),
                    self.length
                ));
            }
            if let Some(i) = upstream.bytes().position(|b| ACGTN_UPPER[b as usize] == 0) {
                return bad(format!(
                    "plasmid upstream flank has invalid character {} at position {}",
                    show_byte(upstream.as_bytes()[i]),
                    i + 1
                ));
            }
        }
        Ok(())
    }

    /// The upper-case padded/trimmed sequence of exactly `length` nt.
    pub fn pad(&self, seq: &[u8]) -> Result<Vec<u8>, PreprocessError> {
        let mut out = vec![0u8; self.length];
        self.pad_into(seq, &mut out)?;
        Ok(out)
    }

    /// Allocation-free [`pad`](Self::pad); `out` must hold exactly `length` bytes.
    ///
    /// # Panics
    /// If `out.len() != self.length`.
    pub fn pad_into(&self, seq: &[u8], out: &mut [u8]) -> Result<(), PreprocessError> {
        assert_eq!(out.len(), self.length, "pad_into: output length mismatch");
        let len = self.length;
        match &self.padding {
            Padding::Exact => {
                if seq.len() != len {
                    return Err(PreprocessError::WrongLength {
                        expected: len,
                        found: seq.len(),
                    });
                }
                upper_into(seq, out)?;
            }
            Padding::Window(w) => {
                check_acgtn(seq)?;
                let mut stack = [0u8; 512];
                let mut heap = Vec::new();
                let norm: &mut [u8] = if seq.len() <= stack.len() {
                    &mut stack[..seq.len()]
                } else {
                    heap.resize(seq.len(), 0);
                    &mut heap
                };
                for (o, &b) in norm.iter_mut().zip(seq) {
                    *o = self.rules.normalise_case(b);
                }
                w.fit_into(norm, out)?;
            }
            Padding::Plasmid {
                upstream,
                trim_5prime,
            } => {
                // Reference: t = upstream + s[trim:]; t[-length:]  (Python slicing:
                // a sequence shorter than the trim contributes nothing).
                let insert = seq.get(*trim_5prime..).unwrap_or(&[]);
                // The reference drops the trimmed 5' part (and any excess beyond `length`)
                // unchecked, but a non-DNA character anywhere still means a broken input.
                check_acgtn(seq)?;
                let up = upstream.as_bytes();
                let from_insert = insert.len().min(len);
                let from_upstream = len - from_insert;
                // Checked against `length`, not just this sequence's need, so a too-short
                // flank fails on every input rather than only on short inserts.
                if up.len() < len {
                    return Err(PreprocessError::InvalidDescription(format!(
                        "plasmid upstream flank has {} nt, fewer than the input length {}",
                        up.len(),
                        len
                    )));
                }
                let (flank_out, insert_out) = out.split_at_mut(from_upstream);
                for (o, &b) in flank_out.iter_mut().zip(&up[up.len() - from_upstream..]) {
                    *o = ACGTN_UPPER[b as usize];
                }
                let kept = &insert[insert.len() - from_insert..];
                for (o, &b) in insert_out.iter_mut().zip(kept) {
                    *o = ACGTN_UPPER[b as usize];
                }
                // Rejected here rather than in validate() so pad() is safe on an
                // unvalidated description.
                if let Some(i) = flank_out.iter().position(|&b| b == 0) {
                    return Err(PreprocessError::InvalidDescription(format!(
                        "plasmid upstream flank has invalid character at position {}",
                        up.len() - from_upstream + i + 1
                    )));
                }
            }
        }
        Ok(())
    }

    /// Writes the `(channels, length)` row-major encoding of a padded sequence.
    ///
    /// One-hot channels follow `alphabet`; `N` is encoded by `n_policy` (any other byte
    /// outside the alphabet is an all-zero column); then one constant channel per
    /// `extra_channels` entry.
    ///
    /// # Panics
    /// If `padded.len() != length` or `out.len() != channels() * length`.
    pub fn encode(&self, padded: &[u8], reverse: bool, singleton: bool, out: &mut [f32]) {
        let len = self.length;
        assert_eq!(padded.len(), len, "encode: padded sequence length mismatch");
        assert_eq!(
            out.len(),
            self.input_size(),
            "encode: output length mismatch"
        );
        let table = self.channel_table();
        let n_onehot = self.alphabet.len();
        let (onehot, extra) = out.split_at_mut(n_onehot * len);
        onehot.fill(0.0);
        let n_value = self.n_policy.n_value(n_onehot);
        for (i, &b) in padded.iter().enumerate() {
            match table[b as usize] {
                NO_CHANNEL => {}
                N_CHANNEL => {
                    if n_value != 0.0 {
                        for c in 0..n_onehot {
                            onehot[c * len + i] = n_value;
                        }
                    }
                }
                ch => onehot[ch as usize * len + i] = 1.0,
            }
        }
        for (kind, row) in self.extra_channels.iter().zip(extra.chunks_exact_mut(len)) {
            let on = match kind {
                ExtraChannel::Reverse => reverse,
                ExtraChannel::Singleton => singleton,
            };
            row.fill(if on { 1.0 } else { 0.0 });
        }
    }

    /// The test-time inputs of one raw sequence (spec training.md §7): the forward
    /// encoding (reverse flag 0, singleton 0) and, with `rc_average`, the encoding of the
    /// padded sequence's reverse complement (reverse flag 1, singleton 0) right after it.
    /// `out` must hold `inputs_per_sequence() * input_size()` floats.
    ///
    /// For models without `rc_average` whose orientation comes from the record (benchmark
    /// files), call [`pad`](Self::pad) and [`encode`](Self::encode) directly instead.
    pub fn encode_for_scoring(&self, raw: &[u8], out: &mut [f32]) -> Result<(), PreprocessError> {
        self.encode_record_for_scoring(raw, false, out)
    }

    /// As [`Self::encode_for_scoring`], with the forward input's reverse flag given
    /// (see [`Self::reverse_from_id`]).
    pub fn encode_record_for_scoring(&self, raw: &[u8], reverse: bool, out: &mut [f32]) -> Result<(), PreprocessError> {
        let size = self.input_size();
        assert_eq!(
            out.len(),
            self.inputs_per_sequence() * size,
            "encode_for_scoring: output length mismatch"
        );
        // Stack scratch for the usual lengths: this runs once per scored sequence.
        let mut stack = [0u8; 2 * 512];
        let mut heap = Vec::new();
        let scratch: &mut [u8] = if 2 * self.length <= stack.len() {
            &mut stack[..2 * self.length]
        } else {
            heap.resize(2 * self.length, 0);
            &mut heap
        };
        let (padded, rc) = scratch.split_at_mut(self.length);
        let strands = if self.rc_average { 2 } else { 1 };
        let mut shifted = Vec::new();
        for (k, input) in out.chunks_exact_mut(strands * size).enumerate() {
            match &self.rules.shifts {
                Some(s) => {
                    s.shifted(raw, s.offsets[k], &mut shifted);
                    self.pad_into(&shifted, padded)?;
                }
                None => self.pad_into(raw, padded)?,
            }
            let (fwd, rest) = input.split_at_mut(size);
            self.encode(padded, reverse, false, fwd);
            if self.rc_average {
                if self.rules.case_sensitive {
                    reverse_complement_keep_case(padded, rc);
                } else {
                    reverse_complement_into(padded, rc);
                }
                self.encode(rc, true, false, rest);
            }
        }
        Ok(())
    }

    /// Byte -> one-hot channel index (both cases), [`NO_CHANNEL`] for everything else.
    fn channel_table(&self) -> [u8; 256] {
        let mut table = [NO_CHANNEL; 256];
        let lower = !self.rules.case_sensitive;
        table[b'N' as usize] = N_CHANNEL;
        if lower {
            table[b'n' as usize] = N_CHANNEL;
        }
        for (i, b) in self.alphabet.bytes().enumerate().take(N_CHANNEL as usize) {
            table[b.to_ascii_uppercase() as usize] = i as u8;
            if lower {
                table[b.to_ascii_lowercase() as usize] = i as u8;
            }
        }
        table
    }
}

fn check_acgtn(seq: &[u8]) -> Result<(), PreprocessError> {
    match seq.iter().position(|&b| ACGTN_UPPER[b as usize] == 0) {
        Some(i) => Err(PreprocessError::InvalidCharacter {
            byte: seq[i],
            position: i + 1,
        }),
        None => Ok(()),
    }
}

/// Upper-cases `seq` into `out`, rejecting non-`ACGTN`.
fn upper_into(seq: &[u8], out: &mut [u8]) -> Result<(), PreprocessError> {
    for (i, (o, &b)) in out.iter_mut().zip(seq).enumerate() {
        let u = ACGTN_UPPER[b as usize];
        if u == 0 {
            return Err(PreprocessError::InvalidCharacter {
                byte: b,
                position: i + 1,
            });
        }
        *o = u;
    }
    Ok(())
}
