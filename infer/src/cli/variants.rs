//! `infer variants`: effects of VCF variants, each scored in a window of the reference
//! genome centred on it (policies: [`infer::effects::variants`]).
//!
//! Output is TSV: `#CHROM POS ID REF ALT` then, per model output, the reference-window
//! prediction, the alternative-window prediction and their comparison; one line per ALT
//! allele scored, in VCF order.

use std::path::PathBuf;

use infer::effects::pairs::{score_block, BlockError, SeqPair};
use infer::effects::variants::{windows, Allele, Genome, RefMismatch, VariantWindow, VariantsError, VcfReader};
use infer::effects::{effect_columns, undefined_log2fc, Compare, UniqueScorer, DEFAULT_PSEUDOCOUNT};
use infer::preprocess::Padding;

use super::effects::{progress, write_error, ModelArgs, Sink, Skipped};
use super::UsageError;

/// Alleles scored at a time.
const BLOCK: usize = 4096;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// VCF file (plain or bgzip), or - for standard input
    #[arg(long, value_name = "FILE")]
    vcf: PathBuf,
    /// Reference genome FASTA: plain or bgzip with .fai (and .gzi) for random access;
    /// without a .fai it is read into memory
    #[arg(long, value_name = "FILE")]
    fasta: PathBuf,
    /// Window length in nt, centred on the variant (default: the model's input length)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    window: Option<u64>,
    /// What to do when a record's REF differs from the FASTA
    #[arg(long, value_enum, default_value_t = RefMismatch::Error)]
    on_ref_mismatch: RefMismatch,
    /// Output TSV file (written atomically); stdout when absent or "-"
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// subtract: alt - ref (the log fold change for log-scale outputs);
    /// log2fc: log2((alt + pseudocount) / (ref + pseudocount))
    #[arg(long, value_enum, default_value_t = Compare::Subtract)]
    compare: Compare,
    /// Pseudocount of --compare log2fc
    #[arg(long, default_value_t = DEFAULT_PSEUDOCOUNT)]
    pseudocount: f64,
}

fn usage(e: VariantsError) -> anyhow::Error {
    if e.is_usage() {
        UsageError(e.to_string()).into()
    } else {
        e.into()
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.pseudocount.is_finite() {
        return Err(UsageError(format!("--pseudocount must be a finite number, got {}", args.pseudocount)).into());
    }
    let mut genome = Genome::open(&args.fasta).map_err(usage)?;
    let records = VcfReader::open(&args.vcf).map_err(usage)?;
    let mut scorer = args.model.open("variants")?;
    let pre = scorer.preprocessing().clone();
    let window = args.window.map_or(pre.length, |w| w as usize);
    if pre.padding == Padding::Exact && window != pre.length {
        return Err(UsageError(format!(
            "--window {window}: this model takes exactly {} nt; leave --window out to use that",
            pre.length
        ))
        .into());
    }
    let outputs = scorer.outputs().to_vec();
    let mut unique = UniqueScorer::new(&mut scorer);
    let name = records.name().to_string();
    let mut sink = Sink::open(args.output.as_deref())?;
    writeln!(sink.writer(), "#CHROM\tPOS\tID\tREF\tALT\t{}", effect_columns(&outputs).join("\t")).map_err(write_error)?;
    let bar = progress("variants scored");
    let mut skipped = Skipped::default();
    let mut block: Vec<(u64, VariantWindow)> = Vec::with_capacity(BLOCK);
    let mut records = records.peekable();
    let mut line = String::new();
    let mut scored = 0u64;
    while records.peek().is_some() {
        block.clear();
        while block.len() < BLOCK {
            let Some(rec) = records.next() else { break };
            let rec = rec.map_err(usage)?;
            for allele in windows(&rec, &mut genome, window, args.on_ref_mismatch, &name).map_err(usage)? {
                match allele {
                    Allele::Score(w) => block.push((rec.line, w)),
                    Allele::Skip(reason) => skipped.add(&format!("{name}:{}: {reason}", rec.line)),
                }
            }
        }
        let pairs: Vec<SeqPair> = block
            .iter()
            .map(|(l, w)| SeqPair { id: w.id.clone(), reference: w.ref_seq.clone(), alternative: w.alt_seq.clone(), line: *l })
            .collect();
        for p in &pairs {
            if let Err(problem) = pre.pad(&p.reference) {
                return Err(UsageError(format!("{name}:{}: window: {problem}", p.line)).into());
            }
        }
        let effects = match score_block(&mut unique, &pairs, args.compare, args.pseudocount) {
            Ok(e) => e,
            Err(BlockError::Score(e)) => return Err(e.into()),
            Err(BlockError::Undefined { index, output }) => {
                let p = &pairs[index];
                let h = unique.score(&[(p.id.as_str(), &p.reference[..]), (p.id.as_str(), &p.alternative[..])])?;
                let msg = undefined_log2fc(unique.values(h[0])[output], unique.values(h[1])[output], &outputs[output], args.pseudocount);
                return Err(UsageError(format!("{name}:{}: {msg}", p.line)).into());
            }
        };
        let w = sink.writer();
        for ((_, v), e) in block.iter().zip(&effects) {
            line.clear();
            line.push_str(&format!("{}\t{}\t{}\t{}\t{}", v.chrom, v.pos, v.id, v.reference, v.alternative));
            e.write_fields(&mut line);
            line.push('\n');
            w.write_all(line.as_bytes()).map_err(write_error)?;
        }
        scored += block.len() as u64;
        bar.set_position(scored);
    }
    bar.finish_and_clear();
    sink.finish()?;
    skipped.report("alleles");
    eprintln!("infer variants: {scored} alleles scored in {window}-nt windows ({})", args.compare.name());
    Ok(())
}
