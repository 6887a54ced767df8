//! `infer pairs`: the effect of each alternative sequence relative to its reference.
//!
//! Output is TSV: `id` then, per model output, the reference prediction, the
//! alternative prediction and their comparison (`--compare`), in input order; see
//! [`infer::effects::effect_columns`] for the header. Identical sequences are scored
//! once (see [`infer::effects::UniqueScorer`]).

use std::path::PathBuf;

use infer::effects::pairs::{score_block, BlockError, PairColumns, PairsReader, SeqPair};
use infer::effects::{effect_columns, undefined_log2fc, Compare, UniqueScorer, DEFAULT_PSEUDOCOUNT};

use super::effects::{progress, write_error, ModelArgs, Sink};
use super::UsageError;

/// Pairs read, validated and scored at a time.
const BLOCK: usize = 4096;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Table with a header: id, ref_sequence, alt_sequence (tab- or comma-separated,
    /// plain or gzip), or - for standard input
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    input: PathBuf,
    /// Output TSV file (written atomically); stdout when absent or "-"
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Column holding the pair id (default: id, seq_id, name or index; else line:N)
    #[arg(long, value_name = "COLUMN")]
    id_column: Option<String>,
    /// Column holding the reference sequence (default: ref_sequence, ref_seq or ref)
    #[arg(long, value_name = "COLUMN")]
    ref_column: Option<String>,
    /// Column holding the alternative sequence (default: alt_sequence, alt_seq or alt)
    #[arg(long, value_name = "COLUMN")]
    alt_column: Option<String>,
    /// Field delimiter: tab, comma, or one ASCII character (default: sniffed from the header)
    #[arg(long, value_name = "CHAR", value_parser = super::check::parse_delimiter)]
    delimiter: Option<u8>,
    /// subtract: alt - ref (the log fold change for log-scale outputs, as every zoo
    /// model's are); log2fc: log2((alt + pseudocount) / (ref + pseudocount))
    #[arg(long, value_enum, default_value_t = Compare::Subtract)]
    compare: Compare,
    /// Pseudocount of --compare log2fc
    #[arg(long, default_value_t = DEFAULT_PSEUDOCOUNT)]
    pseudocount: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.pseudocount.is_finite() {
        return Err(UsageError(format!("--pseudocount must be a finite number, got {}", args.pseudocount)).into());
    }
    let columns = PairColumns {
        id: args.id_column.clone(),
        reference: args.ref_column.clone(),
        alternative: args.alt_column.clone(),
        delimiter: args.delimiter,
    };
    let reader = PairsReader::open(&args.input, &columns).map_err(pairs_error)?;
    let mut scorer = args.model.open("pairs")?;
    let outputs = scorer.outputs().to_vec();
    let pre = scorer.preprocessing().clone();
    let mut unique = UniqueScorer::new(&mut scorer);

    let name = reader.name().to_string();
    let mut sink = Sink::open(args.output.as_deref())?;
    writeln!(sink.writer(), "id\t{}", effect_columns(&outputs).join("\t")).map_err(write_error)?;
    let bar = progress("pairs scored");
    let mut block: Vec<SeqPair> = Vec::with_capacity(BLOCK);
    let mut reader = reader.peekable();
    let mut line = String::new();
    let mut n = 0u64;
    while reader.peek().is_some() {
        block.clear();
        while block.len() < BLOCK {
            let Some(pair) = reader.next() else { break };
            let pair = pair.map_err(pairs_error)?;
            for (what, seq) in [("reference", &pair.reference), ("alternative", &pair.alternative)] {
                if let Err(problem) = pre.pad(seq) {
                    return Err(UsageError(format!("{name}:{}: pair {}: {what} sequence: {problem}", pair.line, pair.id)).into());
                }
            }
            block.push(pair);
        }
        let effects = match score_block(&mut unique, &block, args.compare, args.pseudocount) {
            Ok(e) => e,
            Err(BlockError::Score(e)) => return Err(e.into()),
            Err(BlockError::Undefined { index, output }) => {
                let p = &block[index];
                let (r, a) = {
                    let h = unique.score(&[(p.id.as_str(), &p.reference[..]), (p.id.as_str(), &p.alternative[..])])?;
                    (unique.values(h[0])[output], unique.values(h[1])[output])
                };
                let msg = undefined_log2fc(r, a, &outputs[output], args.pseudocount);
                return Err(UsageError(format!("{name}:{}: pair {}: {msg}", p.line, p.id)).into());
            }
        };
        let w = sink.writer();
        for (p, e) in block.iter().zip(&effects) {
            line.clear();
            line.push_str(&p.id);
            e.write_fields(&mut line);
            line.push('\n');
            w.write_all(line.as_bytes()).map_err(write_error)?;
        }
        n += block.len() as u64;
        bar.set_position(n);
    }
    bar.finish_and_clear();
    sink.finish()?;
    eprintln!(
        "infer pairs: {n} pairs, {} distinct sequences scored of {} ({})",
        unique.scored,
        unique.requested,
        args.compare.name()
    );
    Ok(())
}

fn pairs_error(e: infer::effects::pairs::PairsError) -> anyhow::Error {
    if e.is_usage() {
        UsageError(e.to_string()).into()
    } else {
        e.into()
    }
}
