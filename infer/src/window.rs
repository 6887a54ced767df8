//! The parts of a team's input pipeline beyond the DREAM plasmid padding, written as data
//! so that a model file describes them and the scorer needs no per-model code:
//!
//! - [`Window`]: how a sequence shorter or longer than the model's input is brought to
//!   its length (which side is padded, with which flank or with empty columns, and whether
//!   a longer one is cut or refused);
//! - [`SequenceRules`]: case-sensitive encoding, shift test-time augmentation
//!   ([`Shifts`]), the training domain a model reports sequences outside of ([`Domain`]),
//!   and named post-processings applied only on request ([`PostProcess`]).
//!
//! Every scored input of one sequence (shifts x strands) is averaged with equal weight.

use serde::{Deserialize, Serialize};

use crate::preprocess::{show_byte, PreprocessError, ACGTN_UPPER};

/// Marks a padded position that encodes as an all-zero column (no base, no `N`).
pub const EMPTY_COLUMN: u8 = b'-';

/// Where a sequence shorter than the input sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    /// At the start: the 3' side is padded.
    Start,
    /// At the end: the 5' side is padded.
    End,
    /// Centred: `(L - n) / 2` positions before it (rounded down), the rest after it.
    Center,
}

/// What happens to a sequence longer than the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Longer {
    /// Keep its first `length` nt (the 3' end is cut).
    KeepStart,
    /// Refuse it.
    Error,
}

/// A sequence placed in a fixed-length window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub align: Align,
    /// What fills the 5' side: the last bases of this flank; empty = all-zero columns.
    #[serde(default)]
    pub left_flank: String,
    /// What fills the 3' side: the first bases of this flank; empty = all-zero columns.
    #[serde(default)]
    pub right_flank: String,
    pub longer: Longer,
}

impl Window {
    pub fn validate(&self) -> Result<(), String> {
        for (side, flank) in [("left", &self.left_flank), ("right", &self.right_flank)] {
            if let Some(i) = flank.bytes().position(|b| !b"ACGTN".contains(&b)) {
                return Err(format!("{side} flank has invalid character {} at position {}", show_byte(flank.as_bytes()[i]), i + 1));
            }
        }
        Ok(())
    }

    /// Writes `seq` (already checked and case-normalised) into `out` (the input length).
    pub fn fit_into(&self, seq: &[u8], out: &mut [u8]) -> Result<(), PreprocessError> {
        let (n, len) = (seq.len(), out.len());
        if n >= len {
            if n > len && self.longer == Longer::Error {
                return Err(PreprocessError::TooLong { max: len, found: n });
            }
            out.copy_from_slice(&seq[..len]);
            return Ok(());
        }
        let gap = len - n;
        let (left, right) = match self.align {
            Align::Start => (0, gap),
            Align::End => (gap, 0),
            Align::Center => (gap / 2, gap - gap / 2),
        };
        let short = |flank: &str, need: usize| !flank.is_empty() && flank.len() < need;
        if short(&self.left_flank, left) || short(&self.right_flank, right) {
            let min = len - (left.min(self.left_flank.len()) + right.min(self.right_flank.len()));
            return Err(PreprocessError::TooShort { min: min.max(n + 1), found: n });
        }
        let (head, rest) = out.split_at_mut(left);
        let (body, tail) = rest.split_at_mut(n);
        fill(head, self.left_flank.as_bytes(), true);
        body.copy_from_slice(seq);
        fill(tail, self.right_flank.as_bytes(), false);
        Ok(())
    }
}

/// Fills `out` from the end (`from_end`) or the start of `flank`, or with empty columns.
fn fill(out: &mut [u8], flank: &[u8], from_end: bool) {
    if flank.is_empty() {
        out.fill(EMPTY_COLUMN);
    } else if from_end {
        out.copy_from_slice(&flank[flank.len() - out.len()..]);
    } else {
        out.copy_from_slice(&flank[..out.len()]);
    }
}

/// How the scores of a sequence's inputs are combined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// The arithmetic mean over all inputs (shifts x strands), in float32.
    #[default]
    Mean,
}

/// Shift test-time augmentation: for each offset `s`, the sequence slides `s` nt along
/// its construct before padding, keeping its length: `s < 0` takes `|s|` nt from the end
/// of `left` in front and drops `|s|` nt at the 3' end; `s > 0` drops `s` nt at the 5' end
/// and appends the first `s` nt of `right`. Inputs are ordered by offset, each followed by
/// its reverse complement when the model averages strands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shifts {
    pub offsets: Vec<i64>,
    pub left: String,
    pub right: String,
    #[serde(default)]
    pub combine: Combine,
}

impl Shifts {
    pub fn validate(&self) -> Result<(), String> {
        if self.offsets.is_empty() {
            return Err("shift offsets must not be empty".into());
        }
        for &s in &self.offsets {
            let (flank, k) = if s < 0 { (&self.left, s.unsigned_abs() as usize) } else { (&self.right, s as usize) };
            if flank.len() < k {
                return Err(format!("shift {s} needs {k} flank nt, the flank has {}", flank.len()));
            }
        }
        for flank in [&self.left, &self.right] {
            if flank.bytes().any(|b| !b"ACGTN".contains(&b)) {
                return Err(format!("shift flank {flank:?} must hold only A, C, G, T, N"));
            }
        }
        Ok(())
    }

    /// The sequence shifted by `offset` (see the type's documentation).
    pub fn shifted(&self, seq: &[u8], offset: i64, out: &mut Vec<u8>) {
        out.clear();
        let k = offset.unsigned_abs() as usize;
        if offset < 0 {
            let l = self.left.as_bytes();
            out.extend_from_slice(&l[l.len() - k..]);
            out.extend_from_slice(&seq[..seq.len().saturating_sub(k)]);
        } else {
            out.extend_from_slice(&seq[k.min(seq.len())..]);
            out.extend_from_slice(&self.right.as_bytes()[..k]);
        }
    }
}

/// The sequences a model was trained on. The scorer scores every sequence, and counts and
/// names those outside this domain instead of dropping them as a team's reader may.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub length: usize,
    /// Sequences more than this many nt longer or shorter than `length` are outside.
    pub max_length_difference: usize,
    /// Sequences with more than this many `N` are outside.
    pub max_n: usize,
    /// Whether only upper-case `N` counts (Camformers' `seq.count("N")`).
    #[serde(default)]
    pub n_case_sensitive: bool,
}

impl Domain {
    /// Why `seq` is outside the domain, or `None`.
    pub fn outside(&self, seq: &[u8]) -> Option<String> {
        let n = seq.len();
        if n.abs_diff(self.length) > self.max_length_difference {
            return Some(format!("{n} nt, more than {} nt from {} nt", self.max_length_difference, self.length));
        }
        let ns = seq.iter().filter(|&&b| b == b'N' || (!self.n_case_sensitive && b == b'n')).count();
        if ns > self.max_n {
            return Some(format!("{ns} N, more than {}", self.max_n));
        }
        None
    }
}

/// A named output transformation that a model offers but never applies by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostProcess {
    pub name: String,
    #[serde(flatten)]
    pub kind: PostKind,
    /// Where it comes from and what it means.
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PostKind {
    /// `Φ(y − shift)`, the standard normal CDF.
    NormalCdf { shift: f64 },
}

impl PostProcess {
    pub fn apply(&self, y: f32) -> f32 {
        match self.kind {
            PostKind::NormalCdf { shift } => (0.5 * libm::erfc(-(y as f64 - shift) / std::f64::consts::SQRT_2)) as f32,
        }
    }
}

/// The rules of [`Preprocessing`](crate::Preprocessing) beyond padding and the one-hot
/// alphabet; each is absent from a description that does not use it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SequenceRules {
    /// Only upper-case bases are encoded; lower-case letters give all-zero columns.
    #[serde(default, skip_serializing_if = "is_false")]
    pub case_sensitive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shifts: Option<Shifts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_domain: Option<Domain>,
    /// Offered post-processings, applied only when asked for by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub postprocessing: Vec<PostProcess>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl SequenceRules {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(s) = &self.shifts {
            s.validate()?;
        }
        for (i, p) in self.postprocessing.iter().enumerate() {
            if p.name.is_empty() || self.postprocessing[..i].iter().any(|q| q.name == p.name) {
                return Err(format!("post-processing names must be unique and non-empty: {:?}", p.name));
            }
        }
        Ok(())
    }

    /// The number of shifted copies of a sequence that are scored (1 without shifts).
    pub fn shift_count(&self) -> usize {
        self.shifts.as_ref().map_or(1, |s| s.offsets.len())
    }

    /// The post-processing called `name`, or an error listing what the model offers.
    pub fn postprocess(&self, name: &str) -> Result<&PostProcess, String> {
        self.postprocessing.iter().find(|p| p.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.postprocessing.iter().map(|p| p.name.as_str()).collect();
            if known.is_empty() {
                format!("this model offers no post-processing (asked for '{name}')")
            } else {
                format!("unknown post-processing '{name}' (this model offers: {})", known.join(", "))
            }
        })
    }

    /// Case handling of a checked sequence: upper-case it unless the model is case-sensitive.
    pub fn normalise_case(&self, b: u8) -> u8 {
        if self.case_sensitive {
            b
        } else {
            ACGTN_UPPER[b as usize]
        }
    }
}

/// Reverse complement that keeps case and empty columns (for case-sensitive models).
pub fn reverse_complement_keep_case(seq: &[u8], out: &mut [u8]) {
    for (o, &b) in out.iter_mut().zip(seq.iter().rev()) {
        *o = match b {
            b'A' => b'T',
            b'T' => b'A',
            b'C' => b'G',
            b'G' => b'C',
            b'a' => b't',
            b't' => b'a',
            b'c' => b'g',
            b'g' => b'c',
            other => other,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(align: Align, left: &str, right: &str, longer: Longer) -> Window {
        Window { align, left_flank: left.into(), right_flank: right.into(), longer }
    }

    fn fit(w: &Window, seq: &str, len: usize) -> Result<String, PreprocessError> {
        let mut out = vec![0u8; len];
        w.fit_into(seq.as_bytes(), &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn windows_pad_the_documented_side_with_flanks_or_empty_columns() {
        let w = window(Align::Center, "GGGAC", "TTCCA", Longer::KeepStart);
        assert_eq!(fit(&w, "AAA", 8).unwrap(), "ACAAATTC");
        assert_eq!(fit(&w, "AAAA", 7).unwrap(), "CAAAATT");
        assert_eq!(fit(&w, "AAAACCCC", 5).unwrap(), "AAAAC");
        let w = window(Align::End, "GGGAC", "", Longer::KeepStart);
        assert_eq!(fit(&w, "AAA", 6).unwrap(), "GACAAA");
        let w = window(Align::Start, "", "", Longer::Error);
        assert_eq!(fit(&w, "AAA", 5).unwrap(), "AAA--");
        assert_eq!(fit(&w, "AAAAAA", 5), Err(PreprocessError::TooLong { max: 5, found: 6 }));
        let w = window(Align::Start, "", "TT", Longer::Error);
        assert!(matches!(fit(&w, "A", 5), Err(PreprocessError::TooShort { found: 1, .. })));
    }

    #[test]
    fn shifts_slide_the_sequence_along_its_construct() {
        let s = Shifts { offsets: vec![-2, -1, 0, 1, 2], left: "CGATTCGAAC".into(), right: "TCTTAATTAA".into(), combine: Combine::Mean };
        s.validate().unwrap();
        let mut out = Vec::new();
        for (off, w) in [(-2, "ACGGGGCC"), (0, "GGGGCCCA"), (2, "GGCCCATC")] {
            s.shifted(b"GGGGCCCA", off, &mut out);
            assert_eq!(String::from_utf8(out.clone()).unwrap(), w, "offset {off}");
        }
    }

    #[test]
    fn the_domain_names_length_and_n_count() {
        let d = Domain { length: 10, max_length_difference: 3, max_n: 3, n_case_sensitive: true };
        assert!(d.outside(b"AAAAAAAAAAAAA").is_none());
        assert!(d.outside(b"AAAAAAAAAAAAAA").unwrap().contains("14 nt"));
        assert!(d.outside(b"NNNNAAAAAA").unwrap().contains("4 N"));
        assert!(d.outside(b"nnnnAAAAAA").is_none());
    }

    #[test]
    fn the_normal_cdf_post_processing() {
        let p = PostProcess { name: "cdf".into(), kind: PostKind::NormalCdf { shift: 0.5 }, description: String::new() };
        assert!((p.apply(0.5) - 0.5).abs() < 1e-7);
        assert!((p.apply(1.5) - 0.841_344_7).abs() < 1e-6);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"name":"cdf","kind":"normal_cdf","shift":0.5,"description":""}"#);
        assert_eq!(serde_json::from_str::<PostProcess>(&json).unwrap(), p);
    }
}
