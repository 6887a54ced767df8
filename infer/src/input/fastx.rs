//! FASTA/FASTQ through needletail, with this crate's validation and error messages.

use std::io::BufRead;

use needletail::errors::{ParseError, ParseErrorKind};
use needletail::parser::{FastaReader, FastqReader};
use needletail::FastxReader;

use super::source::SourceState;
use super::{Format, InputError, RecordProblem, SeqRecord};
use crate::preprocess::ACGTN_UPPER;

pub(crate) struct Fastx {
    reader: Box<dyn FastxReader>,
    format: Format,
    /// Blank lines skipped before the first record; needletail counts from its start.
    line_offset: u64,
}

impl Fastx {
    pub(crate) fn new(reader: Box<dyn BufRead + Send>, format: Format, line_offset: u64) -> Self {
        let reader: Box<dyn FastxReader> = match format {
            Format::Fastq => Box::new(FastqReader::new(reader)),
            _ => Box::new(FastaReader::new(reader)),
        };
        Fastx {
            reader,
            format,
            line_offset,
        }
    }

    pub(crate) fn next(
        &mut self,
        file: &str,
        state: &SourceState,
    ) -> Option<Result<SeqRecord, InputError>> {
        let rec = match self.reader.next()? {
            Ok(rec) => rec,
            Err(e) => return Some(Err(self.parse_error(e, file, state))),
        };
        let line = rec.start_line_number().max(1) + self.line_offset;
        let word = rec
            .id()
            .split(|b| b.is_ascii_whitespace())
            .next()
            .unwrap_or(&[]);
        let id = if word.is_empty() {
            format!("line:{line}")
        } else {
            String::from_utf8_lossy(word).into_owned()
        };
        // raw_seq keeps a multi-line FASTA record's line breaks, which lets an error name
        // the exact line of a bad character.
        let raw = rec.raw_seq();
        let mut seq = Vec::with_capacity(raw.len());
        let mut seq_line = line + 1;
        for &b in raw {
            match b {
                b'\n' => seq_line += 1,
                b'\r' => {}
                _ => {
                    let u = ACGTN_UPPER[b as usize];
                    if u == 0 {
                        return Some(Err(InputError::Record {
                            file: file.to_string(),
                            line: seq_line,
                            id: Some(id),
                            problem: RecordProblem::InvalidCharacter {
                                byte: b,
                                position: seq.len() + 1,
                            },
                        }));
                    }
                    seq.push(b);
                }
            }
        }
        if seq.is_empty() {
            return Some(Err(InputError::Record {
                file: file.to_string(),
                line,
                id: Some(id),
                problem: RecordProblem::EmptySequence,
            }));
        }
        Some(Ok(SeqRecord {
            id,
            seq,
            labels: Vec::new(),
            line,
        }))
    }

    fn parse_error(&self, e: ParseError, file: &str, state: &SourceState) -> InputError {
        if e.kind == ParseErrorKind::Io {
            return state
                .take_failure(file)
                .unwrap_or_else(|| InputError::Read {
                    file: file.to_string(),
                    line: state.frontier_line(),
                    source: std::io::Error::other(e.msg),
                });
        }
        let name = if self.format == Format::Fastq {
            "FASTQ"
        } else {
            "FASTA"
        };
        let line = if e.position.line == 0 {
            1 + self.line_offset
        } else {
            e.position.line + self.line_offset
        };
        if e.kind == ParseErrorKind::UnexpectedEnd && self.format == Format::Fasta {
            // needletail's only FASTA "unexpected end" is a final header without sequence.
            return InputError::Record {
                file: file.to_string(),
                line,
                id: None,
                problem: RecordProblem::EmptySequence,
            };
        }
        let record = match &e.position.id {
            Some(id) => format!("record '{id}': "),
            None => String::new(),
        };
        let detail = match e.kind {
            ParseErrorKind::UnexpectedEnd => "unexpected end of input inside a record".to_string(),
            ParseErrorKind::UnequalLengths => e
                .msg
                .replace("Sequence length", "sequence length")
                .replace("quality length", "quality line length"),
            _ => e.msg.clone(),
        };
        InputError::Malformed {
            file: file.to_string(),
            line,
            message: format!("{record}malformed {name}: {detail}"),
        }
    }
}
