//! `infer score`: predictions for every record of a sequence file.
//!
//! Output is TSV with a header `id<TAB><output names>` (the names stored in the model,
//! e.g. `id\texpression` or `id\tdev\thk`), one line per record in input order; values
//! use Rust's shortest round-trip float formatting, so they are exactly the f32 the
//! model produced. Records are read, scored and written `--batch-size` at a time, so
//! memory stays constant whatever the input size. A file given to `--output` appears
//! only when complete (temporary file in the same directory, renamed at the end).

use std::fmt::Write as _;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use infer::backend::BackendKind;
use infer::batch;
use infer::precision::Precision;
use infer::input::SeqRecord;
use infer::scorer::{ScoreError, Scorer, ScorerOptions};

use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Model: zoo name[@version], a directory holding model.onnx, or an .onnx file
    #[arg(long)]
    model: String,
    #[command(flatten)]
    input: super::check::InputArgs,
    /// Output TSV file (written atomically); stdout when absent or "-"
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Inference engine
    #[arg(long, value_enum, default_value_t = BackendKind::Auto)]
    backend: BackendKind,
    /// A published reduced-precision variant of a zoo model or model directory
    /// (`model.int8.onnx`); published only where it scores faster with a dream-public
    /// score loss under 0.005 (`zoo info NAME` lists the files)
    #[arg(long, value_enum, default_value_t = Precision::Fp32)]
    precision: Precision,
    /// Sequences per forward pass (two network rows each with reverse-complement averaging)
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: u32,
    /// Threads for the inference engine (default: all cores)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// Score the forward strand only, even if the model averages over both strands
    #[arg(long)]
    no_rc_average: bool,
    /// Apply a post-processing the model offers, by name (e.g. DeepGXP's `team-cdf`);
    /// none is ever applied without it
    #[arg(long, value_name = "NAME")]
    postprocess: Option<String>,
    /// Add a column `outside_training_domain`: empty, or why the sequence lies outside
    /// the training domain the model declares (it is scored either way)
    #[arg(long)]
    domain_column: bool,
    /// Score only shard i of n (1-based): the i-th of n contiguous ranges of the input's
    /// records. The n outputs concatenated in order equal the unsharded output (only
    /// shard 1 writes the header). Needs a file, which is read once to count records
    #[arg(long, value_name = "I/N")]
    shard: Option<infer::shard::Shard>,
}

/// Where the TSV goes: stdout, or a temporary file renamed over the target on success.
enum Sink {
    Stdout(BufWriter<io::StdoutLock<'static>>),
    File { tmp: BufWriter<tempfile::NamedTempFile>, target: PathBuf },
}

impl Sink {
    fn open(output: Option<&Path>) -> anyhow::Result<Sink> {
        match output {
            None => Ok(Sink::Stdout(BufWriter::new(io::stdout().lock()))),
            Some(p) if p.as_os_str() == "-" => Ok(Sink::Stdout(BufWriter::new(io::stdout().lock()))),
            Some(p) => {
                let dir = match p.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                let tmp = infer::atomic::temp_beside(p)
                    .with_context(|| format!("cannot create an output file in {}", dir.display()))?;
                Ok(Sink::File { tmp: BufWriter::new(tmp), target: p.to_path_buf() })
            }
        }
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Stdout(w) => w,
            Sink::File { tmp, .. } => tmp,
        }
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            Sink::Stdout(mut w) => w.flush().context("writing to stdout")?,
            Sink::File { tmp, target } => {
                let tmp = tmp.into_inner().map_err(|e| e.into_error()).context("writing the output")?;
                tmp.as_file().sync_all().context("writing the output")?;
                tmp.persist(&target).map_err(|e| e.error).with_context(|| format!("cannot write {}", target.display()))?;
            }
        }
        Ok(())
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = ScorerOptions {
        backend: args.backend,
        batch_size: args.batch_size as usize,
        threads: args.threads.map_or(0, |t| t as usize),
        rc_average: if args.no_rc_average { Some(false) } else { None },
    };
    let mut scorer = Scorer::open_variant(&zoo::Zoo::from_env()?, &args.model, args.precision, &opts).map_err(usage_if_user_error)?;
    let label = scorer.label();
    eprintln!(
        "infer: scoring with {label} on {}{}",
        scorer.describe(),
        match (scorer.preprocessing().rules.shift_count(), scorer.rc_average()) {
            (1, true) => ", forward/reverse-complement averaged".to_string(),
            (1, false) => String::new(),
            (n, rc) => format!(", mean of {n} shifts x {} strand(s)", if rc { 2 } else { 1 }),
        }
    );

    let rules = scorer.preprocessing().rules.clone();
    let post = match &args.postprocess {
        Some(n) => Some(rules.postprocess(n).map_err(UsageError)?.clone()),
        None => None,
    };
    let mut domain = DomainReport::new(rules.training_domain.clone());
    let shard = args.shard.unwrap_or_else(infer::shard::Shard::whole);
    let range = shard_range(&args, shard, &scorer)?;
    let mut records = args.input.open()?;
    records.set_keep_case(rules.case_sensitive);
    let mut sink = Sink::open(args.output.as_deref())?;
    let mut columns = scorer.outputs().to_vec();
    if args.domain_column {
        columns.push("outside_training_domain".into());
    }
    if shard.writes_header() {
        write_header(sink.writer(), &columns).map_err(write_error)?;
    }

    let progress = progress_bar();
    let n_out = scorer.outputs().len();
    let mut rejected = Rejected::default();
    let mut line = String::new();
    let name = records.name().to_string();
    let pre = scorer.preprocessing().clone();
    let skip_invalid = args.input.skip_invalid;
    let w = sink.writer();
    let mut scored = 0u64;
    batch::score_all(
        &mut scorer,
        infer::shard::take_range(records.by_ref(), range.clone(), |r: &SeqRecord| scorer_accepts(&pre, r))
            .map(|r| r.map_err(anyhow::Error::from)),
        |rec: &SeqRecord, problem| {
            let msg = format!("{name}:{}: record {}: {problem}", rec.line, rec.id);
            if !skip_invalid {
                return Err(UsageError(msg).into());
            }
            rejected.add(msg);
            Ok(())
        },
        |batch, y| {
            for (rec, row) in batch.iter().zip(y.chunks_exact(n_out)) {
                line.clear();
                line.push_str(&rec.id);
                for &v in row {
                    let v = post.as_ref().map_or(v, |p| p.apply(v));
                    // Display of f32 is the shortest string that parses back to the same f32.
                    let _ = write!(line, "\t{v}");
                }
                let outside = domain.check(&rec.id, &rec.seq);
                if args.domain_column {
                    let _ = write!(line, "\t{}", outside.unwrap_or_default());
                }
                line.push('\n');
                w.write_all(line.as_bytes()).map_err(write_error)?;
            }
            scored += batch.len() as u64;
            progress.set_position(scored);
            Ok(())
        },
    )?;
    progress.finish_and_clear();
    // A shard may hold only rejected records while others hold valid ones.
    if args.shard.is_none() && scored == 0 && (records.skipped() > 0 || rejected.count > 0) {
        let report = records.skip_report().or(rejected.report()).unwrap_or_default();
        return Err(UsageError(format!("no valid records; {report}")).into());
    }
    sink.finish()?;
    if let Some(report) = records.skip_report() {
        eprintln!("infer: warning: {report}");
    }
    if let Some(report) = rejected.report() {
        eprintln!("infer: warning: {report}");
    }
    if let Some(report) = domain.report(scored) {
        eprintln!("infer: warning: {report}");
    }
    Ok(())
}

/// Sequences outside the training domain a model declares (Camformers' reader drops
/// them; here they are scored, counted, and named in the optional column).
struct DomainReport {
    domain: Option<infer::window::Domain>,
    count: u64,
    first: Option<String>,
}

impl DomainReport {
    fn new(domain: Option<infer::window::Domain>) -> Self {
        DomainReport { domain, count: 0, first: None }
    }

    fn check(&mut self, id: &str, seq: &[u8]) -> Option<String> {
        let why = self.domain.as_ref()?.outside(seq)?;
        self.count += 1;
        self.first.get_or_insert_with(|| format!("{id}: {why}"));
        Some(why)
    }

    fn report(&self, scored: u64) -> Option<String> {
        let first = self.first.as_ref()?;
        Some(format!(
            "{} of {scored} sequences lie outside the model's training domain and were scored anyway (first: {first}; --domain-column names each)",
            self.count
        ))
    }
}

/// The records `shard` scores; the whole input (without a counting pass) when unsharded.
fn shard_range(args: &Args, shard: infer::shard::Shard, scorer: &Scorer) -> anyhow::Result<std::ops::Range<u64>> {
    if args.shard.is_none() {
        return Ok(0..u64::MAX);
    }
    if args.input.input.as_os_str() == "-" {
        return Err(UsageError("--shard needs an input file: standard input cannot be read twice to count its records".into()).into());
    }
    let records = args.input.open()?;
    let name = records.name().to_string();
    let pre = scorer.preprocessing();
    let total = infer::shard::count_records(records.map(|r| r.map_err(anyhow::Error::from)), |rec| {
        match pre.pad(&rec.seq) {
            Ok(_) => Ok(true),
            Err(_) if args.input.skip_invalid => Ok(false),
            Err(problem) => Err(UsageError(format!("{name}:{}: record {}: {problem}", rec.line, rec.id)).into()),
        }
    })?;
    let range = shard.range(total, args.batch_size as u64);
    if range.is_empty() {
        eprintln!("infer: shard {shard}: no records (the input has {total})");
    } else {
        eprintln!("infer: shard {shard}: records {} to {} of {total}", range.start + 1, range.end);
    }
    Ok(range)
}

fn scorer_accepts(pre: &infer::Preprocessing, rec: &SeqRecord) -> bool {
    pre.pad(&rec.seq).is_ok()
}

/// Records the input reader accepted but the model cannot take (skipped with
/// --skip-invalid).
#[derive(Default)]
struct Rejected {
    count: u64,
    first: Option<String>,
}

impl Rejected {
    fn add(&mut self, msg: String) {
        self.count += 1;
        self.first.get_or_insert(msg);
    }

    fn report(&self) -> Option<String> {
        let first = self.first.as_ref()?;
        let plural = if self.count == 1 { "" } else { "s" };
        Some(format!("skipped {} record{plural} the model cannot take (first: {first})", self.count))
    }
}

fn write_header(w: &mut dyn Write, outputs: &[String]) -> io::Result<()> {
    writeln!(w, "id\t{}", outputs.join("\t"))
}

/// Keeps the io::Error in the chain so a closed pipe (`| head`) ends quietly.
fn write_error(e: io::Error) -> anyhow::Error {
    anyhow::Error::new(e).context("writing scores")
}

/// A model the user named wrongly is a usage error (exit 2); the rest are failures.
pub(crate) fn usage_if_user_error(e: ScoreError) -> anyhow::Error {
    let usage = match &e {
        ScoreError::ModelNotFound { .. } | ScoreError::ZeroBatchSize => true,
        ScoreError::Zoo(z) => z.is_usage(),
        _ => false,
    };
    if usage {
        anyhow::Error::new(UsageError(e.to_string()))
    } else {
        e.into()
    }
}

fn progress_bar() -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} sequences scored, {per_sec}, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
