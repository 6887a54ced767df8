//! DeepSTARR's published layout: per split, a FASTA of sequences
//! (`Sequences_Train.fa`) and an activity table (`Sequences_activity_Train.txt`) whose
//! rows follow the FASTA's records in order, with a header naming the tasks
//! (`Dev_log2_enrichment`, `Hk_log2_enrichment`). Read side by side, streamed (plain or
//! gzip), so memory stays at one row.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ActivityError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: empty activity table (a header row naming the tasks is needed)", path.display())]
    NoHeader { path: PathBuf },
    #[error("{}: no column named '{name}' (columns: {columns})", path.display())]
    NoColumn { path: PathBuf, name: String, columns: String },
    #[error("{}:{line}: column '{name}': '{value}' is not a finite number", path.display())]
    BadValue { path: PathBuf, line: u64, name: String, value: String },
    #[error("{}:{line}: {found} fields, the header has {expected}", path.display())]
    FieldCount { path: PathBuf, line: u64, expected: usize, found: usize },
    #[error("{} has {rows} activity rows but {} has more sequences", activity.display(), fasta.display())]
    TooFewRows { activity: PathBuf, fasta: PathBuf, rows: u64 },
    #[error("{} has more activity rows than the {records} sequences of {}", activity.display(), fasta.display())]
    TooManyRows { activity: PathBuf, fasta: PathBuf, records: u64 },
}

/// The rows of an activity table: the values of the chosen task columns, in order.
pub struct ActivityTable {
    path: PathBuf,
    lines: Box<dyn BufRead>,
    delimiter: char,
    names: Vec<String>,
    columns: Vec<usize>,
    width: usize,
    line: u64,
    rows: u64,
    buf: String,
}

impl ActivityTable {
    /// Opens `path` (plain or gzip) and finds `tasks` in its header; no `tasks` means
    /// every column.
    pub fn open(path: &Path, tasks: &[String]) -> Result<ActivityTable, ActivityError> {
        let io = |source| ActivityError::Io { path: path.to_path_buf(), source };
        let mut file = BufReader::new(File::open(path).map_err(io)?);
        let gzip = file.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
        let lines: Box<dyn BufRead> = if gzip {
            Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(file)))
        } else {
            Box::new(file)
        };
        let mut table = ActivityTable {
            path: path.to_path_buf(),
            lines,
            delimiter: '\t',
            names: Vec::new(),
            columns: Vec::new(),
            width: 0,
            line: 0,
            rows: 0,
            buf: String::new(),
        };
        if !table.read_line()? {
            return Err(ActivityError::NoHeader { path: path.to_path_buf() });
        }
        if !table.buf.contains('\t') && table.buf.contains(',') {
            table.delimiter = ',';
        }
        let header: Vec<String> = table.buf.split(table.delimiter).map(|s| s.trim().to_string()).collect();
        table.width = header.len();
        let wanted: Vec<String> = if tasks.is_empty() { header.clone() } else { tasks.to_vec() };
        for name in wanted {
            let Some(i) = header.iter().position(|h| *h == name) else {
                return Err(ActivityError::NoColumn { path: path.to_path_buf(), name, columns: header.join(", ") });
            };
            table.columns.push(i);
            table.names.push(name);
        }
        Ok(table)
    }

    /// The task names, in label order.
    pub fn tasks(&self) -> &[String] {
        &self.names
    }

    fn read_line(&mut self) -> Result<bool, ActivityError> {
        self.buf.clear();
        let n = self
            .lines
            .read_line(&mut self.buf)
            .map_err(|source| ActivityError::Io { path: self.path.clone(), source })?;
        self.line += 1;
        let trimmed = self.buf.trim_end_matches(['\n', '\r']).len();
        self.buf.truncate(trimmed);
        Ok(n > 0)
    }

    /// The next row's task values, or `None` at the end (blank lines are skipped).
    pub fn next_row(&mut self) -> Result<Option<Vec<f64>>, ActivityError> {
        loop {
            if !self.read_line()? {
                return Ok(None);
            }
            if !self.buf.trim().is_empty() {
                break;
            }
        }
        let fields: Vec<&str> = self.buf.split(self.delimiter).collect();
        if fields.len() != self.width {
            return Err(ActivityError::FieldCount { path: self.path.clone(), line: self.line, expected: self.width, found: fields.len() });
        }
        let mut out = Vec::with_capacity(self.columns.len());
        for (&i, name) in self.columns.iter().zip(&self.names) {
            let raw = fields[i].trim();
            match raw.parse::<f64>() {
                Ok(v) if v.is_finite() => out.push(v),
                _ => {
                    return Err(ActivityError::BadValue {
                        path: self.path.clone(),
                        line: self.line,
                        name: name.clone(),
                        value: raw.to_string(),
                    })
                }
            }
        }
        self.rows += 1;
        Ok(Some(out))
    }

    /// Labels for the next FASTA record of `fasta`: a missing row is an error.
    pub fn labels_for_next(&mut self, fasta: &Path) -> Result<Vec<f64>, ActivityError> {
        self.next_row()?.ok_or_else(|| ActivityError::TooFewRows {
            activity: self.path.clone(),
            fasta: fasta.to_path_buf(),
            rows: self.rows,
        })
    }

    /// Checks nothing is left once the FASTA of `records` sequences has ended.
    pub fn finish(mut self, fasta: &Path, records: u64) -> Result<(), ActivityError> {
        match self.next_row()? {
            None => Ok(()),
            Some(_) => Err(ActivityError::TooManyRows { activity: self.path.clone(), fasta: fasta.to_path_buf(), records }),
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_named_tasks_in_order_and_checks_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("act.txt");
        std::fs::write(&p, "Dev_log2_enrichment\tHk_log2_enrichment\n1.5\t-2\n\n0\t3e-1\n").unwrap();
        let tasks = ["Hk_log2_enrichment".to_string(), "Dev_log2_enrichment".to_string()];
        let mut t = ActivityTable::open(&p, &tasks).unwrap();
        assert_eq!(t.next_row().unwrap(), Some(vec![-2.0, 1.5]));
        assert_eq!(t.labels_for_next(Path::new("s.fa")).unwrap(), vec![0.3, 0.0]);
        let e = t.labels_for_next(Path::new("s.fa")).unwrap_err().to_string();
        assert!(e.contains("has 2 activity rows"), "{e}");
        let e = ActivityTable::open(&p, &["Dev".to_string()]).err().unwrap().to_string();
        assert!(e.contains("no column named 'Dev'"), "{e}");
        std::fs::write(&p, "a,b\n1,x\n").unwrap();
        let mut t = ActivityTable::open(&p, &[]).unwrap();
        assert_eq!(t.tasks(), ["a", "b"]);
        let e = t.next_row().unwrap_err().to_string();
        assert!(e.contains("act.txt:2: column 'b': 'x'"), "{e}");
        std::fs::write(&p, "a\n1\n2\n").unwrap();
        let mut t = ActivityTable::open(&p, &[]).unwrap();
        t.next_row().unwrap();
        assert!(t.finish(Path::new("s.fa"), 1).unwrap_err().to_string().contains("more activity rows"));
    }
}
