//! `infer ism`: in-silico mutagenesis, every single-base substitution scored.
//!
//! TSV (`--output`, else stdout unless only `--npy` is asked for): one line per mutant,
//! `seq_id pos ref alt score delta` (1-based position in the input sequence; with
//! several model outputs, `<output>_score <output>_delta` per output). `--npy`: float32
//! deltas of shape `(N, 4, L)`, rows in the order A, C, G, T, the reference base's entry
//! 0 (`(N, outputs, 4, L)` for models with several outputs); every window must then
//! have the same length L.

use std::fmt::Write as _;
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::Context;
use infer::effects::ism::{window, Ism, IsmResult, ISM_ALPHABET};
use infer::effects::npy::NpyWriter;

use super::effects::{persist, progress, temp_file, write_error, ModelArgs, Sink};
use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    input: super::check::InputArgs,
    /// First position to mutate (1-based, inclusive; default 1)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    start: Option<u64>,
    /// Last position to mutate (1-based, inclusive; default the sequence's last)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    end: Option<u64>,
    /// Output TSV file (written atomically); stdout when absent or "-", unless --npy
    /// is given without it
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Also (or only) write the deltas as a float32 .npy array (N, 4, L), rows A C G T
    #[arg(long, value_name = "FILE")]
    npy: Option<PathBuf>,
}

struct NpyOut {
    writer: NpyWriter<BufWriter<tempfile::NamedTempFile>>,
    target: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut scorer = args.model.open("ism")?;
    let outputs = scorer.outputs().to_vec();
    let pre = scorer.preprocessing().clone();
    let mut records = args.input.open()?;
    let want_tsv = args.output.is_some() || args.npy.is_none();
    let mut sink = if want_tsv { Some(Sink::open(args.output.as_deref())?) } else { None };
    if let Some(s) = sink.as_mut() {
        let cols: Vec<String> = if outputs.len() == 1 {
            vec!["score".into(), "delta".into()]
        } else {
            outputs.iter().flat_map(|o| [format!("{o}_score"), format!("{o}_delta")]).collect()
        };
        writeln!(s.writer(), "seq_id\tpos\tref\talt\t{}", cols.join("\t")).map_err(write_error)?;
    }
    let mut npy: Option<NpyOut> = None;
    let mut npy_len: Option<(usize, String)> = None;
    let bar = progress("mutants scored");
    let mut ism = Ism::new(&mut scorer);
    let mut sequences = 0u64;
    let mut rejected = 0u64;
    let mut line = String::new();
    let mut emit = |results: Vec<IsmResult>, sink: &mut Option<Sink>, npy: &mut Option<NpyOut>| -> anyhow::Result<()> {
        for r in results {
            if let Some(s) = sink.as_mut() {
                write_tsv(s.writer(), &r, &mut line).map_err(write_error)?;
            }
            if let Some(n) = npy.as_mut() {
                n.writer.write_row(&r.delta_matrix()).with_context(|| format!("writing {}", n.target.display()))?;
            }
        }
        Ok(())
    };
    while let Some(rec) = records.next() {
        let rec = rec?;
        let problem = match pre.pad(&rec.seq) {
            Err(p) => Some(p.to_string()),
            Ok(_) => None,
        };
        let win = window(rec.seq.len(), args.start.map(|s| s as usize), args.end.map(|e| e as usize));
        let problem = problem.or_else(|| win.as_ref().err().cloned());
        if let Some(problem) = problem {
            let msg = format!("{}:{}: record {}: {problem}", records.name(), rec.line, rec.id);
            if !args.input.skip_invalid {
                return Err(UsageError(msg).into());
            }
            if rejected == 0 {
                eprintln!("infer: skipped {msg}");
            }
            rejected += 1;
            continue;
        }
        let win = win.expect("checked");
        if let Some(path) = &args.npy {
            match &npy_len {
                None => {
                    npy_len = Some((win.len(), rec.id.clone()));
                    let mut shape = if outputs.len() == 1 { vec![] } else { vec![outputs.len()] };
                    shape.extend([4, win.len()]);
                    let w = NpyWriter::new(BufWriter::new(temp_file(path)?), &shape)
                        .with_context(|| format!("writing {}", path.display()))?;
                    npy = Some(NpyOut { writer: w, target: path.clone() });
                }
                Some((len, first)) if *len != win.len() => {
                    return Err(UsageError(format!(
                        "{}:{}: record {}: its window has {} nt but that of {first} has {len}; --npy needs windows of one length (use --start/--end, or the TSV output)",
                        records.name(),
                        rec.line,
                        rec.id,
                        win.len()
                    ))
                    .into())
                }
                Some(_) => {}
            }
        }
        let done = ism.push(&rec.id, &rec.seq, win)?;
        emit(done, &mut sink, &mut npy)?;
        sequences += 1;
        bar.set_position(ism.mutants_scored);
    }
    let done = ism.finish()?;
    emit(done, &mut sink, &mut npy)?;
    bar.finish_and_clear();
    let mutants = ism.mutants_scored;
    if sequences == 0 && (rejected > 0 || records.skipped() > 0) {
        return Err(UsageError("no valid records to mutate".into()).into());
    }
    if let Some(s) = sink {
        s.finish()?;
    }
    if let Some(n) = npy {
        let target = n.target.clone();
        let buf = n.writer.finish().with_context(|| format!("writing {}", target.display()))?;
        let tmp = buf.into_inner().map_err(|e| e.into_error()).with_context(|| format!("writing {}", target.display()))?;
        persist(tmp, &target)?;
    } else if let Some(path) = &args.npy {
        // No sequence at all: an empty (0, 4, 0) array says so.
        let w = NpyWriter::new(BufWriter::new(temp_file(path)?), &[4, 0])?;
        let tmp = w.finish()?.into_inner().map_err(|e| e.into_error())?;
        persist(tmp, path)?;
    }
    if let Some(report) = records.skip_report() {
        eprintln!("infer: warning: {report}");
    }
    if rejected > 0 {
        eprintln!("infer: warning: skipped {rejected} record(s) the model or the window cannot take");
    }
    eprintln!(
        "infer ism: {sequences} sequences, {} substitutions, {mutants} mutants scored (the others are invisible to the model: delta 0)",
        ism.substitutions
    );
    Ok(())
}

fn write_tsv(w: &mut dyn std::io::Write, r: &IsmResult, line: &mut String) -> std::io::Result<()> {
    for (i, &reference) in r.bases.iter().enumerate() {
        let pos = r.window.start + i + 1;
        for (b, &alt) in ISM_ALPHABET.iter().enumerate() {
            if alt == reference {
                continue;
            }
            line.clear();
            let _ = write!(line, "{}\t{pos}\t{}\t{}", r.id, reference as char, alt as char);
            for o in 0..r.n_outputs {
                let _ = write!(line, "\t{}\t{}", r.score(i, b, o), r.delta(i, b, o));
            }
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
    }
    Ok(())
}
