//! What `pairs`, `variants` and `ism` share: the model flags, opening the scorer, the
//! atomically written output and the progress display.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use infer::backend::BackendKind;
use infer::scorer::{Scorer, ScorerOptions};

/// The model and how to run it (`#[command(flatten)]`).
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model: zoo name[@version], a directory holding model.onnx, or an .onnx file
    #[arg(long)]
    pub model: String,
    /// Inference engine
    #[arg(long, value_enum, default_value_t = BackendKind::Tract)]
    pub backend: BackendKind,
    /// Sequences per forward pass (two network rows each with reverse-complement averaging)
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// Threads for the inference engine (default: all cores)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Score the forward strand only, even if the model averages over both strands
    #[arg(long)]
    pub no_rc_average: bool,
}

impl ModelArgs {
    /// Opens the model and says on stderr what runs it.
    pub fn open(&self, verb: &str) -> anyhow::Result<Scorer> {
        let opts = ScorerOptions {
            backend: self.backend,
            batch_size: self.batch_size as usize,
            threads: self.threads.map_or(0, |t| t as usize),
            rc_average: if self.no_rc_average { Some(false) } else { None },
        };
        let scorer = Scorer::open(&zoo::Zoo::from_env()?, &self.model, &opts).map_err(super::score::usage_if_user_error)?;
        let label = scorer.label();
        eprintln!(
            "infer {verb}: {label} on {}{}",
            scorer.describe(),
            if scorer.rc_average() { ", forward/reverse-complement averaged" } else { "" }
        );
        Ok(scorer)
    }
}

/// Where output goes: stdout, or a temporary file renamed over the target on success,
/// so a failed run leaves nothing half-written.
pub enum Sink {
    Stdout(BufWriter<io::StdoutLock<'static>>),
    File { tmp: BufWriter<tempfile::NamedTempFile>, target: PathBuf },
}

impl Sink {
    /// `None` or `-` is stdout.
    pub fn open(output: Option<&Path>) -> anyhow::Result<Sink> {
        match output {
            None => Ok(Sink::Stdout(BufWriter::new(io::stdout().lock()))),
            Some(p) if p.as_os_str() == "-" => Ok(Sink::Stdout(BufWriter::new(io::stdout().lock()))),
            Some(p) => Ok(Sink::File { tmp: BufWriter::new(temp_file(p)?), target: p.to_path_buf() }),
        }
    }

    pub fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Stdout(w) => w,
            Sink::File { tmp, .. } => tmp,
        }
    }

    pub fn finish(self) -> anyhow::Result<()> {
        match self {
            Sink::Stdout(mut w) => w.flush().context("writing to stdout")?,
            Sink::File { tmp, target } => {
                let tmp = tmp.into_inner().map_err(|e| e.into_error()).context("writing the output")?;
                persist(tmp, &target)?;
            }
        }
        Ok(())
    }
}

/// A temporary file beside `target`.
pub fn temp_file(target: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    infer::atomic::temp_beside(target).with_context(|| format!("cannot create an output file beside {}", target.display()))
}

/// Syncs and renames a finished temporary file over `target`.
pub fn persist(tmp: tempfile::NamedTempFile, target: &Path) -> anyhow::Result<()> {
    tmp.as_file().sync_all().context("writing the output")?;
    tmp.persist(target).map_err(|e| e.error).with_context(|| format!("cannot write {}", target.display()))?;
    Ok(())
}

/// Keeps the io::Error in the chain so a closed pipe (`| head`) ends quietly.
pub fn write_error(e: io::Error) -> anyhow::Error {
    anyhow::Error::new(e).context("writing the output")
}

/// A spinner counting `what` on a terminal; hidden when stderr is not one.
pub fn progress(what: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(&format!("{{spinner}} {{pos}} {what}, {{per_sec}}, {{elapsed}}"))
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Records refused by policy: counted, the first few shown.
#[derive(Default)]
pub struct Skipped {
    pub count: u64,
    pub shown: u64,
}

impl Skipped {
    /// Shows the first 10 reasons on stderr as they happen, then only counts.
    pub fn add(&mut self, message: &str) {
        self.count += 1;
        if self.shown < 10 {
            self.shown += 1;
            eprintln!("infer: skipped {message}");
        }
    }

    pub fn report(&self, what: &str) {
        if self.count > 0 {
            let more = if self.count > self.shown { format!(" ({} not shown)", self.count - self.shown) } else { String::new() };
            eprintln!("infer: warning: skipped {} {what}{more}", self.count);
        }
    }
}
