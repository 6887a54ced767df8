use std::fmt;
use std::io;

use crate::preprocess::show_byte;

/// Everything that can go wrong while reading a sequence file. `Display` is one line that
/// starts with `FILE:LINE:` (`<stdin>` for standard input) wherever a line is known.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened.
    #[error("{file}: cannot open: {source}")]
    Open {
        file: String,
        #[source]
        source: io::Error,
    },
    /// Reading failed (disk or pipe error). Never skippable.
    #[error("{file}:{line}: read error: {source}")]
    Read {
        file: String,
        line: u64,
        #[source]
        source: io::Error,
    },
    /// The gzip stream is cut short or corrupt. Never skippable: a truncated download
    /// must not pass for a complete file.
    #[error("{file}:{line}: {problem}")]
    Gzip {
        file: String,
        line: u64,
        problem: String,
    },
    /// One record is unusable; with [`InvalidPolicy::Skip`](super::InvalidPolicy) it is
    /// skipped and counted.
    #[error("{file}:{line}: {}{problem}", record_prefix(.id))]
    Record {
        file: String,
        line: u64,
        id: Option<String>,
        problem: RecordProblem,
    },
    /// The file's structure is broken in a way that leaves record boundaries unknown
    /// (FASTA/FASTQ syntax, a table header). Never skippable.
    #[error("{file}:{line}: {message}")]
    Malformed {
        file: String,
        line: u64,
        message: String,
    },
    /// The input crossed one of the [`Limits`](super::Limits) (a record without an end,
    /// a gzip bomb). Never skippable: the record boundaries are lost.
    #[error("{file}:{line}: {message}")]
    Limit {
        file: String,
        line: u64,
        message: String,
    },
    /// The options do not fit the file (e.g. column names for a FASTA file).
    #[error("{file}: {message}")]
    Options { file: String, message: String },
}

fn record_prefix(id: &Option<String>) -> String {
    match id {
        Some(id) => format!("record '{id}': "),
        None => String::new(),
    }
}

impl InputError {
    /// Whether [`InvalidPolicy::Skip`](super::InvalidPolicy) may skip past this error:
    /// only single bad records, never I/O, gzip or structural problems.
    pub fn is_skippable(&self) -> bool {
        matches!(self, InputError::Record { .. })
    }

    /// 1-based line the error refers to, where there is one.
    pub fn line(&self) -> Option<u64> {
        match self {
            InputError::Read { line, .. }
            | InputError::Gzip { line, .. }
            | InputError::Record { line, .. }
            | InputError::Malformed { line, .. }
            | InputError::Limit { line, .. } => Some(*line),
            InputError::Open { .. } | InputError::Options { .. } => None,
        }
    }
}

/// What is wrong with a single record.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordProblem {
    EmptySequence,
    /// `position` is 1-based within the sequence.
    InvalidCharacter {
        byte: u8,
        position: usize,
    },
    /// A delimited line with the wrong number of fields.
    FieldCount {
        expected: String,
        found: usize,
    },
    /// A label that does not parse as a number.
    BadLabel {
        column: String,
        value: String,
    },
    /// Longer than [`Limits::max_record_length`](super::Limits::max_record_length).
    TooLong {
        length: usize,
        limit: usize,
    },
}

impl fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordProblem::EmptySequence => write!(f, "empty sequence"),
            RecordProblem::InvalidCharacter { byte, position } => write!(
                f,
                "invalid character {} at position {position} (allowed: A C G T N, any case)",
                show_byte(*byte)
            ),
            RecordProblem::FieldCount { expected, found } => {
                write!(f, "expected {expected}, found {found} field(s)")
            }
            RecordProblem::BadLabel { column, value } => {
                write!(
                    f,
                    "unreadable label '{value}' in column {column} (not a number)"
                )
            }
            RecordProblem::TooLong { length, limit } => write!(
                f,
                "sequence of {length} bases is longer than the limit of {limit} (--max-record-length)"
            ),
        }
    }
}
