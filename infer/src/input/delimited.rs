//! Line-based readers: the headerless challenge format and tables with a header.

use std::io::{self, BufRead, Read};

use super::source::SourceState;
use super::{
    normalize_seq, parse_number, unquote, InputError, InputOptions, RecordProblem, SeqRecord,
};

/// Longest line accepted; guards memory against a binary or newline-free file.
const MAX_LINE: u64 = 64 * 1024 * 1024;

const SEQ_NAMES: &[&str] = &["seq", "sequence"];
const ID_NAMES: &[&str] = &["id", "seq_id", "index", "name"];

pub(crate) fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

pub(crate) struct Delimited {
    reader: Box<dyn BufRead + Send>,
    delim: u8,
    line: Vec<u8>,
    /// 1-based number of the line in `line`.
    line_no: u64,
    /// A line read ahead (format detection, field count) that `next` must still parse.
    pending: Option<Vec<u8>>,
    layout: Layout,
}

enum Layout {
    /// `sequence[<TAB>value[<TAB>fold]]`; `fields` is fixed by the first line.
    Challenge {
        fields: Option<usize>,
        first_line: u64,
    },
    Table(Table),
}

struct Table {
    n_fields: usize,
    seq: usize,
    id: Option<usize>,
    /// (column index, quoted name for messages)
    labels: Vec<(usize, String)>,
    label_names: Vec<String>,
}

impl Delimited {
    fn new(
        reader: Box<dyn BufRead + Send>,
        delim: u8,
        lines_before: u64,
        pending: Option<Vec<u8>>,
        layout: Layout,
    ) -> Self {
        Delimited {
            reader,
            delim,
            line: Vec::new(),
            line_no: lines_before,
            pending,
            layout,
        }
    }

    /// The challenge format. Reads the first line now (unless already read) because its
    /// field count decides whether records have a label.
    pub(crate) fn challenge(
        reader: Box<dyn BufRead + Send>,
        delim: u8,
        lines_before: u64,
        pending: Option<Vec<u8>>,
        file: &str,
        state: &SourceState,
    ) -> Result<Self, InputError> {
        let mut d = Delimited::new(
            reader,
            delim,
            lines_before,
            pending,
            Layout::Challenge {
                fields: None,
                first_line: lines_before + 1,
            },
        );
        if d.pending.is_none() {
            let mut first = Vec::new();
            d.read_raw(&mut first)
                .map_err(|e| state.io_error(file, e))?;
            d.pending = Some(first);
        }
        let first = d.pending.as_deref().map(trim_eol).unwrap_or(&[]);
        let n = first.split(|&b| b == delim).count();
        if !first.is_empty() && (1..=3).contains(&n) {
            d.layout = Layout::Challenge {
                fields: Some(n),
                first_line: lines_before + 1,
            };
        }
        Ok(d)
    }

    /// A table; reads and resolves the header row now.
    pub(crate) fn table(
        reader: Box<dyn BufRead + Send>,
        opts: &InputOptions,
        lines_before: u64,
        pending: Option<Vec<u8>>,
        file: &str,
        state: &SourceState,
    ) -> Result<Self, InputError> {
        let mut d = Delimited::new(
            reader,
            b'\t',
            lines_before,
            pending,
            Layout::Challenge {
                fields: None,
                first_line: 0,
            },
        );
        let got = d.next_line().map_err(|e| state.io_error(file, e))?;
        let malformed = |message: String| InputError::Malformed {
            file: file.to_string(),
            line: lines_before + 1,
            message,
        };
        if !got {
            return Err(malformed("empty input, expected a header row".into()));
        }
        let header = trim_eol(&d.line);
        d.delim = opts.delimiter.unwrap_or(if header.contains(&b'\t') {
            b'\t'
        } else if header.contains(&b',') {
            b','
        } else {
            b'\t'
        });
        let names: Vec<String> = header
            .split(|&b| b == d.delim)
            .map(|f| String::from_utf8_lossy(unquote(f.trim_ascii())).into_owned())
            .collect();
        let listing = names.join(", ");
        let hint = if opts.id_column.is_none()
            && opts.seq_column.is_none()
            && opts.label_columns.is_empty()
        {
            " (the first line was taken as a header because its second field is not a number; \
             use --format tsv for a headerless sequence<TAB>value file)"
        } else {
            ""
        };

        let seq = match find_column(&names, opts.seq_column.as_deref(), SEQ_NAMES).map_err(&malformed)? {
            Some(i) => i,
            None => {
                return Err(malformed(format!(
                    "no sequence column in the header (columns: {listing}); name it with --seq-column{hint}"
                )))
            }
        };
        let id = find_column(&names, opts.id_column.as_deref(), ID_NAMES).map_err(&malformed)?;
        if id == Some(seq) {
            return Err(malformed(format!(
                "column '{}' cannot be both the id and the sequence column",
                names[seq]
            )));
        }
        let mut labels = Vec::new();
        let mut label_names = Vec::new();
        for name in &opts.label_columns {
            let i = find_column(&names, Some(name), &[])
                .map_err(&malformed)?
                .expect("named");
            if i == seq {
                return Err(malformed(format!(
                    "column '{}' is the sequence column, not a label",
                    names[i]
                )));
            }
            labels.push((i, format!("'{}'", names[i])));
            label_names.push(names[i].clone());
        }
        d.layout = Layout::Table(Table {
            n_fields: names.len(),
            seq,
            id,
            labels,
            label_names,
        });
        Ok(d)
    }

    pub(crate) fn label_names(&self) -> Vec<String> {
        match &self.layout {
            Layout::Challenge {
                fields: Some(n), ..
            } if *n >= 2 => vec!["value".to_string()],
            Layout::Challenge { .. } => Vec::new(),
            Layout::Table(t) => t.label_names.clone(),
        }
    }

    fn read_raw(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        buf.clear();
        let n = (&mut self.reader).take(MAX_LINE).read_until(b'\n', buf)?;
        if n as u64 == MAX_LINE && buf.last() != Some(&b'\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "line longer than {} MiB; is this a sequence file?",
                    MAX_LINE >> 20
                ),
            ));
        }
        Ok(n)
    }

    /// Loads the next line into `self.line`; false at end of input.
    fn next_line(&mut self) -> io::Result<bool> {
        if let Some(p) = self.pending.take() {
            self.line = p;
            self.line_no += 1;
            return Ok(!self.line.is_empty());
        }
        let mut line = std::mem::take(&mut self.line);
        let n = self.read_raw(&mut line);
        self.line = line;
        if n? == 0 {
            return Ok(false);
        }
        self.line_no += 1;
        Ok(true)
    }

    pub(crate) fn next(
        &mut self,
        file: &str,
        state: &SourceState,
    ) -> Option<Result<SeqRecord, InputError>> {
        loop {
            match self.next_line() {
                Err(e) => {
                    let err = match state.take_failure(file) {
                        Some(err) => err,
                        None if e.kind() == io::ErrorKind::InvalidData => InputError::Malformed {
                            file: file.to_string(),
                            line: self.line_no + 1,
                            message: e.to_string(),
                        },
                        None => state.io_error(file, e),
                    };
                    return Some(Err(err));
                }
                Ok(false) => return None,
                Ok(true) => {}
            }
            let content = trim_eol(&self.line);
            if content.trim_ascii().is_empty() {
                continue;
            }
            let line = self.line_no;
            let parsed = match &mut self.layout {
                Layout::Challenge { fields, first_line } => {
                    parse_challenge(content, self.delim, fields, *first_line, line)
                }
                Layout::Table(t) => parse_table(content, self.delim, t, line),
            };
            return Some(parsed.map_err(|(id, problem)| InputError::Record {
                file: file.to_string(),
                line,
                id,
                problem,
            }));
        }
    }
}

type RowResult = Result<SeqRecord, (Option<String>, RecordProblem)>;

fn parse_challenge(
    line: &[u8],
    delim: u8,
    fields: &mut Option<usize>,
    first_line: u64,
    line_no: u64,
) -> RowResult {
    let mut f: [&[u8]; 3] = [&[]; 3];
    let mut n = 0;
    for part in line.split(|&b| b == delim) {
        if n < 3 {
            f[n] = part;
        }
        n += 1;
    }
    let expected = match *fields {
        Some(k) => k,
        None if (1..=3).contains(&n) => {
            *fields = Some(n);
            n
        }
        None => {
            return Err((
                None,
                RecordProblem::FieldCount {
                    expected: "1 to 3 fields (sequence[, value[, fold]])".into(),
                    found: n,
                },
            ))
        }
    };
    if n != expected {
        let what = ["sequence", "sequence, value", "sequence, value, fold"][expected - 1];
        return Err((
            None,
            RecordProblem::FieldCount {
                expected: format!("{expected} field(s) ({what}) as on line {first_line}"),
                found: n,
            },
        ));
    }
    let mut seq = Vec::new();
    normalize_seq(unquote(f[0].trim_ascii()), &mut seq).map_err(|p| (None, p))?;
    let labels = if n >= 2 {
        match parse_number(f[1]) {
            Some(v) => vec![v],
            None => {
                return Err((
                    None,
                    RecordProblem::BadLabel {
                        column: "2".into(),
                        value: String::from_utf8_lossy(f[1]).into_owned(),
                    },
                ))
            }
        }
    } else {
        Vec::new()
    };
    Ok(SeqRecord {
        id: format!("line:{line_no}"),
        seq,
        labels,
        line: line_no,
    })
}

fn parse_table(line: &[u8], delim: u8, t: &Table, line_no: u64) -> RowResult {
    let fields: Vec<&[u8]> = line.split(|&b| b == delim).collect();
    if fields.len() != t.n_fields {
        return Err((
            None,
            RecordProblem::FieldCount {
                expected: format!("{} fields as in the header", t.n_fields),
                found: fields.len(),
            },
        ));
    }
    let id = match t.id {
        Some(i) => {
            let v = unquote(fields[i].trim_ascii());
            if v.is_empty() {
                format!("line:{line_no}")
            } else {
                String::from_utf8_lossy(v).into_owned()
            }
        }
        None => format!("line:{line_no}"),
    };
    let err_id = t.id.map(|_| id.clone());
    let mut seq = Vec::new();
    normalize_seq(unquote(fields[t.seq].trim_ascii()), &mut seq)
        .map_err(|p| (err_id.clone(), p))?;
    let mut labels = Vec::with_capacity(t.labels.len());
    for (i, name) in &t.labels {
        match parse_number(fields[*i]) {
            Some(v) => labels.push(v),
            None => {
                return Err((
                    err_id,
                    RecordProblem::BadLabel {
                        column: name.clone(),
                        value: String::from_utf8_lossy(fields[*i]).into_owned(),
                    },
                ))
            }
        }
    }
    Ok(SeqRecord {
        id,
        seq,
        labels,
        line: line_no,
    })
}

/// Column index for a user-given name (exact, else unambiguous case-insensitive match),
/// or for the single header name among `candidates` when no name is given.
fn find_column(
    names: &[String],
    wanted: Option<&str>,
    candidates: &[&str],
) -> Result<Option<usize>, String> {
    let positions = |pred: &dyn Fn(&str) -> bool| -> Vec<usize> {
        names
            .iter()
            .enumerate()
            .filter(|(_, n)| pred(n))
            .map(|(i, _)| i)
            .collect()
    };
    match wanted {
        Some(w) => {
            let exact = positions(&|n| n == w);
            let found = if exact.is_empty() {
                positions(&|n| n.eq_ignore_ascii_case(w))
            } else {
                exact
            };
            match found.as_slice() {
                [i] => Ok(Some(*i)),
                [] => Err(format!(
                    "column '{w}' not found in the header (columns: {})",
                    names.join(", ")
                )),
                _ => Err(format!("column '{w}' appears more than once in the header")),
            }
        }
        None => {
            let found = positions(&|n| candidates.iter().any(|c| n.eq_ignore_ascii_case(c)));
            Ok(if found.len() == 1 {
                Some(found[0])
            } else {
                None
            })
        }
    }
}
