//! `infer check`: read and validate a sequence file, report what was found.
//!
//! Also home of [`InputArgs`], the input flags shared by `score`, `eval` and `check`.

use std::path::PathBuf;

use infer::input::{self, Format, InputOptions, InvalidPolicy};

use super::UsageError;

/// Input flags shared by every verb that reads sequences (`#[command(flatten)]`).
#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// Sequence file (FASTA, FASTQ, sequence<TAB>value, or a table with a header; plain
    /// or gzip), or - for standard input
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub input: PathBuf,

    /// Input format; auto: '>' FASTA, '@' FASTQ, else tab-separated (a header row is
    /// assumed when columns are named or the first line's 2nd field is not a number)
    #[arg(long, value_enum, ignore_case = true, default_value_t = Format::Auto)]
    pub format: Format,

    /// Table column holding the record id (default: a column named id, seq_id, index or name)
    #[arg(long, value_name = "COLUMN")]
    pub id_column: Option<String>,

    /// Table column holding the sequence (default: the column named seq or sequence)
    #[arg(long, value_name = "COLUMN")]
    pub seq_column: Option<String>,

    /// Table column(s) holding labels, comma-separated
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub label_columns: Vec<String>,

    /// Field delimiter of tab-separated/table input: tab, comma, or one ASCII character
    #[arg(long, value_name = "CHAR", value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,

    /// Skip invalid records (counted and reported) instead of stopping at the first one
    #[arg(long)]
    pub skip_invalid: bool,

    /// Longest sequence accepted, in bases: a longer record is invalid (see --skip-invalid),
    /// and input that runs on for twice as long without a record boundary stops the reading
    /// (memory stays bounded by about that much)
    #[arg(long, value_name = "BASES", default_value_t = input::Limits::DEFAULT_MAX_RECORD_LENGTH,
          value_parser = clap::value_parser!(usize))]
    pub max_record_length: usize,

    /// Most bytes a gzip input may decompress to (suffixes K, M, G, T: powers of 1024);
    /// stops a gzip bomb. Plain input has no size limit
    #[arg(long, value_name = "SIZE", default_value = "32G", value_parser = input::parse_size)]
    pub max_decompressed_size: u64,
}

impl InputArgs {
    pub fn to_options(&self) -> InputOptions {
        InputOptions {
            format: self.format,
            id_column: self.id_column.clone(),
            seq_column: self.seq_column.clone(),
            label_columns: self.label_columns.clone(),
            delimiter: self.delimiter,
            on_invalid: if self.skip_invalid {
                InvalidPolicy::Skip
            } else {
                InvalidPolicy::Error
            },
        }
    }

    /// Opens the input with these options.
    pub fn open(&self) -> Result<input::Records, input::InputError> {
        input::open_with_limits(&self.input, &self.to_options(), &self.limits())
    }

    pub fn limits(&self) -> input::Limits {
        input::Limits {
            max_record_length: self.max_record_length,
            max_decompressed_size: self.max_decompressed_size,
        }
    }
}

pub(crate) fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        "comma" | "," => Ok(b','),
        _ if s.len() == 1 && s.is_ascii() && s != "\n" && s != "\r" => Ok(s.as_bytes()[0]),
        _ => Err(format!(
            "'{s}' is not a delimiter (use tab, comma or one ASCII character)"
        )),
    }
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut records = args.input.open()?;
    let mut stats = Stats::default();
    for rec in records.by_ref() {
        let rec = rec?;
        stats.add(&rec);
    }
    if stats.count == 0 && records.skipped() > 0 {
        return Err(UsageError(format!(
            "no valid records; {}",
            records.skip_report().unwrap_or_default()
        ))
        .into());
    }
    zoo::outln!("{} records ({} skipped)", stats.count, records.skipped())?;
    let compression = if records.is_gzip() { ", gzip" } else { "" };
    zoo::outln!(
        "input: {} ({}{compression})",
        records.name(),
        records.format()
    )?;
    if stats.count > 0 {
        zoo::outln!(
            "length: min {}, max {}, mean {:.1}",
            stats.min_len,
            stats.max_len,
            stats.total_len as f64 / stats.count as f64
        )?;
        zoo::outln!("records containing N: {}", stats.with_n)?;
    }
    let labels = records.label_names();
    if labels.is_empty() {
        zoo::outln!("labels: none")?;
    } else {
        zoo::outln!("labels: {}", labels.join(", "))?;
    }
    if let Some(report) = records.skip_report() {
        eprintln!("infer: warning: {report}");
    }
    Ok(())
}

#[derive(Default)]
struct Stats {
    count: u64,
    min_len: usize,
    max_len: usize,
    total_len: u64,
    with_n: u64,
}

impl Stats {
    fn add(&mut self, rec: &input::SeqRecord) {
        let len = rec.seq.len();
        self.min_len = if self.count == 0 {
            len
        } else {
            self.min_len.min(len)
        };
        self.max_len = self.max_len.max(len);
        self.total_len += len as u64;
        self.with_n += u64::from(rec.seq.contains(&b'N'));
        self.count += 1;
    }
}
