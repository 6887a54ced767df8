//! Reference/alternative sequence pairs: a delimited table with a header naming an id,
//! a reference-sequence and an alternative-sequence column.
//!
//! The table may be plain or gzip (by content), tab- or comma-separated (sniffed from
//! the header: a tab if it has one, else a comma), or standard input (`-`). Columns are
//! found by name, case-insensitively: the id in `id`, `seq_id`, `name` or `index` (else
//! ids are `line:N`), the sequences in `ref_sequence`/`ref_seq`/`ref` and
//! `alt_sequence`/`alt_seq`/`alt`, unless named explicitly. Sequences are `ACGTN` in any
//! case; one pair of enclosing double quotes is removed from a field. A bad record is an
//! error naming the file and line.
//!
//! Scoring ([`score_block`]) goes through [`UniqueScorer`], so a reference shared by
//! many alternatives (the usual layout) is scored once.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use super::{Compare, Effect, UniqueScorer};
use crate::preprocess::ACGTN_UPPER;
use crate::scorer::ScoreError;

#[derive(Debug, thiserror::Error)]
pub enum PairsError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    /// Something wrong with what the caller supplied: `file:line: message`.
    #[error("{file}:{line}: {message}")]
    Input { file: String, line: u64, message: String },
}

impl PairsError {
    pub fn is_usage(&self) -> bool {
        matches!(self, PairsError::Input { .. })
    }
}

/// Which columns hold what (`None`: found by the default names).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairColumns {
    pub id: Option<String>,
    pub reference: Option<String>,
    pub alternative: Option<String>,
    /// Field delimiter; `None` sniffs it from the header.
    pub delimiter: Option<u8>,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqPair {
    pub id: String,
    /// Upper-case `ACGTN`.
    pub reference: Vec<u8>,
    pub alternative: Vec<u8>,
    /// 1-based line of the row.
    pub line: u64,
}

/// Streams [`SeqPair`]s from a table.
pub struct PairsReader {
    name: String,
    lines: Box<dyn BufRead>,
    line_no: u64,
    delimiter: u8,
    id_col: Option<usize>,
    ref_col: usize,
    alt_col: usize,
    n_fields: usize,
    buf: String,
    failed: bool,
}

/// A reader of `path` (`-`: stdin), decompressing gzip (recognised by its magic bytes).
pub fn open_text(path: &Path) -> io::Result<(String, Box<dyn BufRead>)> {
    let (name, raw): (String, Box<dyn Read>) = if path.as_os_str() == "-" {
        ("<stdin>".to_string(), Box::new(io::stdin()))
    } else {
        (path.display().to_string(), Box::new(File::open(path)?))
    };
    let mut reader = BufReader::with_capacity(1 << 16, raw);
    let magic = reader.fill_buf()?;
    let gzip = magic.len() >= 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    let lines: Box<dyn BufRead> = if gzip {
        // bgzip is multi-member gzip: MultiGzDecoder reads both.
        Box::new(BufReader::with_capacity(1 << 16, flate2::bufread::MultiGzDecoder::new(reader)))
    } else {
        Box::new(reader)
    };
    Ok((name, lines))
}

fn unquote(field: &str) -> &str {
    let f = field.trim_matches([' ', '\r']);
    if f.len() >= 2 && f.starts_with('"') && f.ends_with('"') {
        &f[1..f.len() - 1]
    } else {
        f
    }
}

/// The column called `explicit` (exactly, else case-insensitively), else the first of
/// `defaults` present (case-insensitively).
fn find_column(header: &[&str], explicit: Option<&str>, defaults: &[&str]) -> Result<Option<usize>, String> {
    if let Some(name) = explicit {
        if let Some(i) = header.iter().position(|h| *h == name) {
            return Ok(Some(i));
        }
        let matches: Vec<usize> =
            header.iter().enumerate().filter(|(_, h)| h.eq_ignore_ascii_case(name)).map(|(i, _)| i).collect();
        return match matches[..] {
            [i] => Ok(Some(i)),
            [] => Err(format!("no column named {name:?} (columns: {})", header.join(", "))),
            _ => Err(format!("column name {name:?} matches several columns")),
        };
    }
    Ok(defaults.iter().find_map(|d| header.iter().position(|h| h.eq_ignore_ascii_case(d))))
}

impl PairsReader {
    pub fn open(path: &Path, columns: &PairColumns) -> Result<PairsReader, PairsError> {
        let (name, lines) = open_text(path).map_err(|source| PairsError::Io { file: path.display().to_string(), source })?;
        let mut r = PairsReader {
            name,
            lines,
            line_no: 0,
            delimiter: b'\t',
            id_col: None,
            ref_col: 0,
            alt_col: 0,
            n_fields: 0,
            buf: String::new(),
            failed: false,
        };
        let header = loop {
            match r.next_line()? {
                None => return Err(r.input_error("empty file: expected a header naming the id, ref_sequence and alt_sequence columns".into())),
                Some(l) if l.trim().is_empty() => continue,
                Some(l) => break l,
            }
        };
        r.delimiter = columns.delimiter.unwrap_or(if header.contains('\t') { b'\t' } else if header.contains(',') { b',' } else { b'\t' });
        let d = r.delimiter as char;
        let names: Vec<&str> = header.split(d).map(unquote).collect();
        let col = |explicit: &Option<String>, defaults: &[&str]| find_column(&names, explicit.as_deref(), defaults);
        let bad = |m: String| PairsError::Input { file: r.name.clone(), line: r.line_no, message: m };
        let id_col = col(&columns.id, &["id", "seq_id", "name", "index"]).map_err(bad)?;
        let ref_col = col(&columns.reference, &["ref_sequence", "ref_seq", "ref"]).map_err(bad)?.ok_or_else(|| {
            bad(format!("no reference-sequence column (ref_sequence, ref_seq or ref; or --ref-column); columns: {}", names.join(", ")))
        })?;
        let alt_col = col(&columns.alternative, &["alt_sequence", "alt_seq", "alt"]).map_err(bad)?.ok_or_else(|| {
            bad(format!("no alternative-sequence column (alt_sequence, alt_seq or alt; or --alt-column); columns: {}", names.join(", ")))
        })?;
        if ref_col == alt_col {
            return Err(bad("the reference and alternative columns are the same column".into()));
        }
        r.n_fields = names.len();
        r.id_col = id_col;
        r.ref_col = ref_col;
        r.alt_col = alt_col;
        Ok(r)
    }

    /// The input's name as it appears in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn input_error(&self, message: String) -> PairsError {
        PairsError::Input { file: self.name.clone(), line: self.line_no, message }
    }

    fn next_line(&mut self) -> Result<Option<String>, PairsError> {
        self.buf.clear();
        match self.lines.read_line(&mut self.buf) {
            Ok(0) => Ok(None),
            Ok(_) => {
                self.line_no += 1;
                Ok(Some(self.buf.trim_end_matches(['\n', '\r']).to_string()))
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData && !self.buf.is_empty() => {
                self.line_no += 1;
                Err(self.input_error("not UTF-8 text".into()))
            }
            Err(source) => Err(PairsError::Io { file: self.name.clone(), source }),
        }
    }

    fn parse(&self, line: &str) -> Result<SeqPair, PairsError> {
        let fields: Vec<&str> = line.split(self.delimiter as char).collect();
        if fields.len() != self.n_fields {
            return Err(self.input_error(format!("{} fields, but the header has {}", fields.len(), self.n_fields)));
        }
        let seq = |col: usize, what: &str| -> Result<Vec<u8>, PairsError> {
            let s = unquote(fields[col]).as_bytes();
            if s.is_empty() {
                return Err(self.input_error(format!("empty {what} sequence")));
            }
            s.iter()
                .enumerate()
                .map(|(i, &b)| match ACGTN_UPPER[b as usize] {
                    0 => Err(self.input_error(format!(
                        "{what} sequence: invalid character {} at position {} (allowed: A C G T N, any case)",
                        crate::preprocess::show_byte(b),
                        i + 1
                    ))),
                    u => Ok(u),
                })
                .collect()
        };
        let id = match self.id_col {
            Some(c) => unquote(fields[c]).to_string(),
            None => format!("line:{}", self.line_no),
        };
        if id.is_empty() {
            return Err(self.input_error("empty id".into()));
        }
        Ok(SeqPair { id, reference: seq(self.ref_col, "reference")?, alternative: seq(self.alt_col, "alternative")?, line: self.line_no })
    }
}

impl Iterator for PairsReader {
    type Item = Result<SeqPair, PairsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let line = match self.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            return Some(self.parse(&line));
        }
    }
}

/// Where a block of pairs failed: the pair's index in the block and why.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error(transparent)]
    Score(#[from] ScoreError),
    #[error("log2fc undefined for pair {index}, output {output}")]
    Undefined { index: usize, output: usize },
}

/// Scores a block of pairs (validated against the model: see
/// [`crate::Preprocessing::pad`]) and returns one [`Effect`] per pair.
pub fn score_block(
    scorer: &mut UniqueScorer<'_>,
    pairs: &[SeqPair],
    compare: Compare,
    pseudocount: f64,
) -> Result<Vec<Effect>, BlockError> {
    let mut items: Vec<(&str, &[u8])> = Vec::with_capacity(2 * pairs.len());
    for p in pairs {
        items.push((p.id.as_str(), p.reference.as_slice()));
        items.push((p.id.as_str(), p.alternative.as_slice()));
    }
    let handles = scorer.score(&items)?;
    handles
        .chunks_exact(2)
        .enumerate()
        .map(|(index, h)| {
            Effect::new(scorer.values(h[0]), scorer.values(h[1]), compare, pseudocount)
                .map_err(|output| BlockError::Undefined { index, output })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read(text: &str, cols: &PairColumns) -> Result<Vec<SeqPair>, PairsError> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        PairsReader::open(f.path(), cols)?.collect()
    }

    #[test]
    fn tab_and_comma_tables_with_default_names() {
        let tsv = "id\tref_sequence\talt_sequence\nv1\tacgt\tACGA\n\nv2\t\"NNAC\"\tAAAC\n";
        let p = read(tsv, &PairColumns::default()).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0], SeqPair { id: "v1".into(), reference: b"ACGT".to_vec(), alternative: b"ACGA".to_vec(), line: 2 });
        assert_eq!(p[1].reference, b"NNAC");
        assert_eq!(p[1].line, 4);
        let csv = "Name,Alt,Ref\r\nx,AC,AG\r\n";
        let p = read(csv, &PairColumns::default()).unwrap();
        assert_eq!((p[0].id.as_str(), p[0].reference.as_slice(), p[0].alternative.as_slice()), ("x", &b"AG"[..], &b"AC"[..]));
    }

    #[test]
    fn gzip_input_and_line_ids_without_an_id_column() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"ref\talt\nAAA\tAAC\n").unwrap();
        let bytes = gz.finish().unwrap();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&bytes).unwrap();
        let p: Vec<SeqPair> = PairsReader::open(f.path(), &PairColumns::default()).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(p[0].id, "line:2");
    }

    #[test]
    fn explicit_columns() {
        let cols = PairColumns { id: Some("variant".into()), reference: Some("WT".into()), alternative: Some("mut".into()), delimiter: None };
        let p = read("variant\twt\tMUT\nq\tA\tC\n", &cols).unwrap();
        assert_eq!((p[0].id.as_str(), p[0].reference.as_slice()), ("q", &b"A"[..]));
        let e = read("variant\twt\n", &cols).unwrap_err().to_string();
        assert!(e.contains("no column named \"mut\""), "{e}");
    }

    #[test]
    fn bad_records_name_file_line_and_problem() {
        let e = read("id\tref\talt\na\tACGT\tACXT\n", &PairColumns::default()).unwrap_err();
        assert!(e.is_usage());
        let msg = e.to_string();
        assert!(msg.contains(":2: alternative sequence: invalid character 'X' at position 3"), "{msg}");
        let msg = read("id\tref\talt\na\tACGT\n", &PairColumns::default()).unwrap_err().to_string();
        assert!(msg.contains(":2: 2 fields, but the header has 3"), "{msg}");
        let msg = read("id\tseq\talt\n", &PairColumns::default()).unwrap_err().to_string();
        assert!(msg.contains(":1: no reference-sequence column"), "{msg}");
        let msg = read("", &PairColumns::default()).unwrap_err().to_string();
        assert!(msg.contains("empty file"), "{msg}");
        let msg = read("id\tref\talt\na\t\tAC\n", &PairColumns::default()).unwrap_err().to_string();
        assert!(msg.contains(":2: empty reference sequence"), "{msg}");
    }
}
