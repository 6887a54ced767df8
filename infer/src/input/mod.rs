//! Streaming readers for sequence files: FASTA, FASTQ, the challenge's headerless
//! `sequence<TAB>value` files and delimited tables with a header.
//!
//! Any input may be plain or gzip (recognised by its magic bytes, not its name) and may be
//! standard input (`-`). [`open`] returns [`Records`], an iterator that holds one record at
//! a time, so memory stays constant whatever the input size.
//!
//! # Format detection ([`Format::Auto`])
//! After skipping leading blank lines, the first byte decides: `>` is FASTA, `@` is FASTQ,
//! anything else is delimited text. Delimited text is a table with a header when
//! * column names were given (`id_column`, `seq_column` or `label_columns`), or
//! * the first line has two or more tab-separated fields and the second is not a number
//!   (a challenge data line has its expression value there), or
//! * the first line is a single field that is not a DNA sequence;
//!
//! otherwise it is the headerless challenge format. An explicit format skips detection:
//! [`Format::Tsv`] never has a header, [`Format::Table`] always has one.
//!
//! # Headerless challenge files ([`Format::Tsv`])
//! `sequence[<TAB>value[<TAB>fold]]`: the first line fixes the number of fields (1 to 3)
//! and every later line must have as many. The value becomes the single label; a third
//! column is ignored (the reference pipeline reads it as `fold` and never uses it). Ids
//! are `line:N`.
//!
//! # Tables ([`Format::Table`])
//! The header names the columns. The delimiter is `InputOptions::delimiter`, else a tab
//! if the header has one, else a comma if it has one. Fields may not contain the
//! delimiter (no CSV quoting), though one pair of enclosing double quotes is removed.
//! Without `seq_column`, the one column called `seq` or `sequence` (any case) is used;
//! without `id_column`, the one called `id`, `seq_id`, `index` or `name` (any case), else
//! ids are `line:N`. Labels are read only from the `label_columns` named. Names match
//! exactly, or else case-insensitively if that is unambiguous.
//!
//! # Records and validation
//! Sequences must be non-empty and consist of `ACGTN` in any case; they are returned
//! upper-case. FASTA/FASTQ ids are the header's first word. Blank lines in delimited files
//! are skipped. A bad record is an [`InputError::Record`]: with [`InvalidPolicy::Error`]
//! the iterator yields it (and can go on with the next record); with
//! [`InvalidPolicy::Skip`] it is counted ([`Records::skipped`]) and left out. Read errors,
//! damaged gzip data and structural damage (FASTA/FASTQ syntax, a table header without
//! the named columns) are never skipped and end the iteration.

mod delimited;
mod error;
mod fastx;
mod source;

use std::fmt;
use std::io::BufRead;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

pub use error::{InputError, RecordProblem};

use crate::preprocess::ACGTN_UPPER;
use delimited::Delimited;
use fastx::Fastx;
use source::SourceState;

/// Bounds on what one input may make the reader hold or do, so that a damaged file, a
/// missing line break or a gzip bomb ends in an error instead of exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest sequence accepted, in bases (default 1,000,000). A longer record is an
    /// [`InputError::Record`] ([`RecordProblem::TooLong`]); a stretch of more than twice
    /// this many bytes (plus 1 MiB for headers and labels) without a record boundary stops
    /// the reading with [`InputError::Limit`] before it is buffered, so the memory a
    /// reader holds is bounded by about that much.
    pub max_record_length: usize,
    /// Most bytes a gzip input may decompress to (default 32 GiB, some 120 million
    /// 250-bp records); beyond it reading stops with [`InputError::Limit`]. Plain input is
    /// streamed and has no size limit.
    pub max_decompressed_size: u64,
}

impl Limits {
    pub const DEFAULT_MAX_RECORD_LENGTH: usize = 1_000_000;
    pub const DEFAULT_MAX_DECOMPRESSED_SIZE: u64 = 32 << 30;

    /// Bytes the stream guard lets through between record boundaries.
    pub(crate) fn max_record_bytes(&self) -> u64 {
        (self.max_record_length as u64)
            .saturating_mul(2)
            .saturating_add(1 << 20)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_length: Self::DEFAULT_MAX_RECORD_LENGTH,
            max_decompressed_size: Self::DEFAULT_MAX_DECOMPRESSED_SIZE,
        }
    }
}

/// Parses a byte size: a number with an optional `K`, `M`, `G` or `T` suffix (powers of
/// 1024, an optional trailing `B` or `iB`), e.g. `32G`, `512MiB`, `1000000`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    let body = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, shift) = match body.chars().last() {
        Some('K') => (&body[..body.len() - 1], 10),
        Some('M') => (&body[..body.len() - 1], 20),
        Some('G') => (&body[..body.len() - 1], 30),
        Some('T') => (&body[..body.len() - 1], 40),
        _ => (body, 0),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a size (examples: 1000000, 512M, 32G)"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// How many skipped-record messages [`Records`] keeps for the report.
pub const MAX_SKIP_EXAMPLES: usize = 5;

/// One sequence with its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqRecord {
    /// The FASTA/FASTQ id (first word of the header), the table's id column, or `line:N`.
    pub id: String,
    /// Upper-case `ACGTN`.
    pub seq: Vec<u8>,
    /// The challenge file's value, or the table's label columns in the order named.
    pub labels: Vec<f64>,
    /// 1-based line where the record starts.
    pub line: u64,
}

/// The input format, as `--format` takes it (clap) and run.json stores it (serde, as
/// its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "native", derive(clap::ValueEnum))]
pub enum Format {
    /// Detect from content (see the module documentation).
    #[default]
    Auto,
    #[cfg_attr(feature = "native", value(alias = "fa"))]
    Fasta,
    #[cfg_attr(feature = "native", value(alias = "fq"))]
    Fastq,
    /// Headerless `sequence<TAB>value[<TAB>fold]` (the challenge's format).
    Tsv,
    /// Delimited table with a header row.
    Table,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Auto => "auto",
            Format::Fasta => "fasta",
            Format::Fastq => "fastq",
            Format::Tsv => "tsv",
            Format::Table => "table",
        })
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Format::Auto),
            "fasta" | "fa" => Ok(Format::Fasta),
            "fastq" | "fq" => Ok(Format::Fastq),
            "tsv" => Ok(Format::Tsv),
            "table" => Ok(Format::Table),
            other => Err(format!(
                "unknown format '{other}' (expected auto, fasta, fastq, tsv or table)"
            )),
        }
    }
}

impl serde::Serialize for Format {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Format {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What to do with a record that fails validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidPolicy {
    #[default]
    Error,
    Skip,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct InputOptions {
    pub format: Format,
    pub id_column: Option<String>,
    pub seq_column: Option<String>,
    pub label_columns: Vec<String>,
    /// Field delimiter of delimited files; default tab (tables: sniffed from the header).
    pub delimiter: Option<u8>,
    pub on_invalid: InvalidPolicy,
}

impl InputOptions {
    fn names_columns(&self) -> bool {
        self.id_column.is_some() || self.seq_column.is_some() || !self.label_columns.is_empty()
    }
}

/// Opens `path` (`-` = standard input) for streaming.
///
/// Errors here concern opening and the start of the file (format, table header); errors
/// in records come from the iterator.
pub fn open(path: &Path, opts: &InputOptions) -> Result<Records, InputError> {
    open_with_limits(path, opts, &Limits::default())
}

/// [`open`] with explicit [`Limits`].
pub fn open_with_limits(
    path: &Path,
    opts: &InputOptions,
    limits: &Limits,
) -> Result<Records, InputError> {
    records(source::open_source(path, limits)?, opts, limits)
}

/// Reads records from any byte stream (plain or gzip, detected the same way); `name`
/// stands for it in error messages.
pub fn open_reader(
    name: &str,
    reader: Box<dyn std::io::Read + Send>,
    opts: &InputOptions,
    limits: &Limits,
) -> Result<Records, InputError> {
    records(source::source_from_reader(name.to_string(), reader, limits)?, opts, limits)
}

fn records(src: source::Source, opts: &InputOptions, limits: &Limits) -> Result<Records, InputError> {
    let name = src.name.clone();
    let state = Arc::clone(&src.state);
    let gzip = src.gzip;
    let mut reader = src.reader;
    let options_error = |message: String| InputError::Options {
        file: name.clone(),
        message,
    };

    let (first, skipped_lines) =
        skip_leading_blank(&mut reader).map_err(|e| state.io_error(&name, e))?;
    // Auto-detecting a delimited file reads its first line; the reader gets it back.
    let mut pending = None;
    let format = match (opts.format, first) {
        (Format::Auto, None) => Format::Tsv,
        (Format::Auto, Some(b'>')) => Format::Fasta,
        (Format::Auto, Some(b'@')) => Format::Fastq,
        (Format::Auto, Some(_)) if opts.names_columns() => Format::Table,
        (Format::Auto, Some(_)) => {
            let mut line = Vec::new();
            reader
                .read_until(b'\n', &mut line)
                .map_err(|e| state.io_error(&name, e))?;
            let header =
                looks_like_header(delimited::trim_eol(&line), opts.delimiter.unwrap_or(b'\t'));
            pending = Some(line);
            if header {
                Format::Table
            } else {
                Format::Tsv
            }
        }
        (f, _) => f,
    };
    if opts.names_columns() && format != Format::Table {
        return Err(options_error(format!(
            "column names (id/sequence/label columns) need a table with a header row, \
             but the input is read as {format}"
        )));
    }

    if matches!(format, Format::Fasta | Format::Fastq) {
        state.set_multiline_records();
    }
    let (inner, label_names) = match format {
        Format::Fasta | Format::Fastq if first.is_none() => (Inner::Empty, Vec::new()),
        Format::Fasta | Format::Fastq => (
            Inner::Fastx(Fastx::new(reader, format, skipped_lines)),
            Vec::new(),
        ),
        Format::Tsv => {
            let d = Delimited::challenge(
                reader,
                opts.delimiter.unwrap_or(b'\t'),
                skipped_lines,
                pending,
                &name,
                &state,
            )?;
            let labels = d.label_names();
            (Inner::Delimited(d), labels)
        }
        Format::Table => {
            if first.is_none() {
                return Err(InputError::Malformed {
                    file: name.clone(),
                    line: skipped_lines + 1,
                    message: "empty input, expected a header row".to_string(),
                });
            }
            let d = Delimited::table(reader, opts, skipped_lines, pending, &name, &state)?;
            let labels = d.label_names();
            (Inner::Delimited(d), labels)
        }
        Format::Auto => unreachable!("resolved above"),
    };
    Ok(Records {
        name,
        state,
        inner,
        format,
        gzip,
        label_names,
        policy: opts.on_invalid,
        skipped: 0,
        skip_examples: Vec::new(),
        done: false,
        max_record_length: limits.max_record_length,
        keep_case: false,
    })
}

/// Iterator over the records of one input; see the module documentation.
pub struct Records {
    name: String,
    state: Arc<SourceState>,
    inner: Inner,
    format: Format,
    gzip: bool,
    label_names: Vec<String>,
    policy: InvalidPolicy,
    skipped: u64,
    skip_examples: Vec<InputError>,
    done: bool,
    max_record_length: usize,
    /// Hand sequences out in the file's case (for case-sensitive models); else upper-case.
    keep_case: bool,
}

enum Inner {
    Empty,
    Fastx(Fastx),
    Delimited(Delimited),
}

impl Records {
    /// Hands sequences out in the file's case instead of upper-case: for models whose
    /// encoding is case-sensitive (lower case is no base to them).
    pub fn set_keep_case(&mut self, keep: bool) {
        self.keep_case = keep;
    }

    /// The input's display name (the path as given, or `<stdin>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The format in use (never [`Format::Auto`]).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the input was gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Names of the label columns, in [`SeqRecord::labels`] order (`value` for the
    /// challenge format's second column; empty when records carry no labels).
    pub fn label_names(&self) -> &[String] {
        &self.label_names
    }

    /// Records left out so far under [`InvalidPolicy::Skip`].
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The first [`MAX_SKIP_EXAMPLES`] skipped records' errors.
    pub fn skip_examples(&self) -> &[InputError] {
        &self.skip_examples
    }

    /// `skipped N invalid record(s) (first: FILE:LINE: problem)`, or `None` if none were.
    pub fn skip_report(&self) -> Option<String> {
        let first = self.skip_examples.first()?;
        let plural = if self.skipped == 1 { "" } else { "s" };
        Some(format!(
            "skipped {} invalid record{plural} (first: {first})",
            self.skipped
        ))
    }

    fn next_raw(&mut self) -> Option<Result<SeqRecord, InputError>> {
        let next = match &mut self.inner {
            Inner::Empty => None,
            Inner::Fastx(f) => f.next(&self.name, &self.state),
            Inner::Delimited(d) => d.next(&self.name, &self.state),
        };
        match next {
            Some(Ok(rec)) if rec.seq.len() > self.max_record_length => Some(Err(InputError::Record {
                file: self.name.clone(),
                line: rec.line,
                id: Some(rec.id),
                problem: RecordProblem::TooLong {
                    length: rec.seq.len(),
                    limit: self.max_record_length,
                },
            })),
            other => other,
        }
    }
}

impl Iterator for Records {
    type Item = Result<SeqRecord, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            match self.next_raw() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Ok(mut rec)) => {
                    // The readers validate and keep case; upper-casing happens here once.
                    if !self.keep_case {
                        rec.seq.make_ascii_uppercase();
                    }
                    return Some(Ok(rec));
                }
                Some(Err(e)) if e.is_skippable() => {
                    if self.policy == InvalidPolicy::Skip {
                        self.skipped += 1;
                        if self.skip_examples.len() < MAX_SKIP_EXAMPLES {
                            self.skip_examples.push(e);
                        }
                        continue;
                    }
                    return Some(Err(e));
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Validates a sequence (case kept; [`Records`] upper-cases). Errors carry the 1-based position.
pub(crate) fn normalize_seq(raw: &[u8], out: &mut Vec<u8>) -> Result<(), RecordProblem> {
    if raw.is_empty() {
        return Err(RecordProblem::EmptySequence);
    }
    out.clear();
    out.reserve(raw.len());
    for (i, &b) in raw.iter().enumerate() {
        let u = ACGTN_UPPER[b as usize];
        if u == 0 {
            return Err(RecordProblem::InvalidCharacter {
                byte: b,
                position: i + 1,
            });
        }
        out.push(b);
    }
    Ok(())
}

/// Consumes leading blank lines (and a UTF-8 byte-order mark); returns the first byte of
/// content, if any, and the number of lines consumed.
fn skip_leading_blank(reader: &mut Box<dyn BufRead + Send>) -> std::io::Result<(Option<u8>, u64)> {
    let mut lines = 0;
    let mut at_start = true;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok((None, lines));
        }
        if at_start && buf.starts_with(b"\xEF\xBB\xBF") {
            reader.consume(3);
            at_start = false;
            continue;
        }
        at_start = false;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                // Keep the blanks of a partially blank first line: they belong to it.
                let line_start = buf[..i]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                let first = buf[i];
                lines += buf[..line_start].iter().filter(|&&b| b == b'\n').count() as u64;
                reader.consume(line_start);
                return Ok((Some(first), lines));
            }
            None => {
                let n = buf.len();
                lines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
                reader.consume(n);
            }
        }
    }
}

fn looks_like_header(line: &[u8], delim: u8) -> bool {
    let mut fields = line.split(|&b| b == delim);
    let first = fields.next().unwrap_or(&[]);
    match fields.next() {
        Some(second) => parse_number(second).is_none(),
        None => {
            let f = first.trim_ascii();
            f.is_empty() || f.iter().any(|&b| ACGTN_UPPER[b as usize] == 0)
        }
    }
}

/// A finite float, allowing surrounding spaces and one pair of double quotes.
pub(crate) fn parse_number(field: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(unquote(field.trim_ascii())).ok()?;
    s.trim_ascii().parse::<f64>().ok().filter(|v| v.is_finite())
}

pub(crate) fn unquote(field: &[u8]) -> &[u8] {
    if field.len() >= 2 && field[0] == b'"' && field[field.len() - 1] == b'"' {
        &field[1..field.len() - 1]
    } else {
        field
    }
}
