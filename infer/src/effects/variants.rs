//! Variant effects from a VCF on a reference genome, for models trained on genomic
//! windows (e.g. the human 230-nt lentiMPRA models).
//!
//! Each ALT allele of each record becomes a pair of sequences: the reference window of
//! `window` nt around the variant, and the same window with the allele substituted.
//! The variant's first base sits at 0-based offset `(window - 1) / 2` of the window
//! (the centre; for an even window, the last base of the left half), so the window is
//! 1-based `[POS - (window - 1) / 2, POS - (window - 1) / 2 + window - 1]`.
//!
//! Policies, per record and allele:
//! * multi-allelic records are split: one output line per ALT;
//! * REF must match the reference FASTA (case-insensitively): a mismatch is an error by
//!   default ([`RefMismatch::Error`]) or skipped with a message ([`RefMismatch::Skip`]);
//! * substitutions of any length (SNVs, and MNVs whose REF and ALT have equal length)
//!   are scored; indels are refused with a per-record message, because inserting or
//!   deleting bases either changes the model's input length or needs a choice of which
//!   flank to shift, and no choice is standard;
//! * symbolic, missing and breakend alleles (`<DEL>`, `.`, `*`, `]chr1:5]A`) are refused
//!   likewise; so are windows that run past either end of the contig;
//! * a contig missing from the FASTA is an error (it means the wrong reference).
//!
//! Readers: `noodles-vcf` (plain or bgzip VCF), `noodles-fasta` with `noodles-bgzf`
//! (plain or bgzip FASTA with `.fai`, plus `.gzi` when compressed). noodles is pure
//! Rust, so the `infer` binary stays free of a C toolchain and of htslib's shared
//! library (rust-htslib's bindings compile and link htslib; its "pure parts" are not a
//! separate crate), and it is maintained as separate small crates per format.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

use noodles_core::{Position, Region};
use noodles_fasta as fasta;
use noodles_vcf as vcf;

#[derive(Debug, thiserror::Error)]
pub enum VariantsError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A problem with the caller's files: `file[:line]: message`.
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Input { file: String, line: Option<u64>, message: String },
}

impl VariantsError {
    pub fn is_usage(&self) -> bool {
        matches!(self, VariantsError::Input { .. })
    }
}

/// What to do when a record's REF differs from the reference FASTA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RefMismatch {
    /// Stop with an error naming the record
    #[default]
    Error,
    /// Skip the record with a message (counted in the summary)
    Skip,
}

/// The reference genome: indexed (random access through `.fai`, and `.gzi` for a
/// bgzip file), or, without a `.fai`, read into memory (plain or gzip/bgzip).
pub enum Genome {
    Indexed { reader: fasta::io::IndexedReader<fasta::io::BufReader<File>>, lengths: HashMap<String, u64>, name: String },
    InMemory { contigs: HashMap<String, Vec<u8>>, name: String },
}

impl Genome {
    pub fn open(path: &Path) -> Result<Genome, VariantsError> {
        let io_err = |source| VariantsError::Io { path: path.to_path_buf(), source };
        let name = path.display().to_string();
        let mut fai = path.as_os_str().to_owned();
        fai.push(".fai");
        if Path::new(&fai).is_file() {
            let reader = fasta::io::indexed_reader::Builder::default().build_from_path(path).map_err(|e| {
                let hint = if e.kind() == io::ErrorKind::NotFound { " (a bgzip FASTA needs its .gzi index too: samtools faidx makes both)" } else { "" };
                VariantsError::Input { file: name.clone(), line: None, message: format!("cannot open the indexed FASTA: {e}{hint}") }
            })?;
            let lengths = reader.index().as_ref().iter().map(|r| (r.name().to_string(), r.length())).collect();
            return Ok(Genome::Indexed { reader, lengths, name });
        }
        let (_, text) = super::pairs::open_text(path).map_err(io_err)?;
        let mut reader = fasta::io::Reader::new(text);
        let mut contigs = HashMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| VariantsError::Input { file: name.clone(), line: None, message: format!("not a FASTA file: {e}") })?;
            let contig = String::from_utf8_lossy(record.name()).into_owned();
            contigs.insert(contig, record.sequence().as_ref().to_vec());
        }
        if contigs.is_empty() {
            return Err(VariantsError::Input { file: name, line: None, message: "no FASTA records".into() });
        }
        Ok(Genome::InMemory { contigs, name })
    }

    pub fn contig_length(&self, contig: &str) -> Option<u64> {
        match self {
            Genome::Indexed { lengths, .. } => lengths.get(contig).copied(),
            Genome::InMemory { contigs, .. } => contigs.get(contig).map(|s| s.len() as u64),
        }
    }

    /// Upper-case bases of the 1-based inclusive `[start, end]` of a contig known to
    /// hold it.
    pub fn fetch(&mut self, contig: &str, start: u64, end: u64) -> Result<Vec<u8>, VariantsError> {
        let mut bases = match self {
            Genome::Indexed { reader, name, .. } => {
                let pos = |p: u64| Position::try_from(p as usize).expect("1-based");
                let region = Region::new(contig, pos(start)..=pos(end));
                let record = reader.query(&region).map_err(|e| VariantsError::Input {
                    file: name.clone(),
                    line: None,
                    message: format!("reading {contig}:{start}-{end}: {e}"),
                })?;
                record.sequence().as_ref().to_vec()
            }
            Genome::InMemory { contigs, .. } => contigs[contig][(start - 1) as usize..end as usize].to_vec(),
        };
        bases.make_ascii_uppercase();
        Ok(bases)
    }
}

/// One VCF record as read (all ALT alleles).
#[derive(Debug, Clone, PartialEq)]
pub struct VcfRecord {
    /// 1-based line in the (decompressed) file.
    pub line: u64,
    pub chrom: String,
    pub pos: u64,
    pub id: String,
    pub reference: String,
    pub alternatives: Vec<String>,
}

/// Counts the lines a `BufRead` hands out, so records can be named by line.
struct LineCounter<R> {
    inner: R,
    lines: u64,
}

impl<R: BufRead> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let n = amt.min(buf.len());
            self.lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
        self.inner.consume(amt);
    }
}

/// Streams [`VcfRecord`]s from a plain or bgzip/gzip VCF (by content; `-` is stdin).
pub struct VcfReader {
    name: String,
    reader: vcf::io::Reader<LineCounter<Box<dyn BufRead>>>,
    record: vcf::Record,
    failed: bool,
}

impl VcfReader {
    pub fn open(path: &Path) -> Result<VcfReader, VariantsError> {
        let (name, text) = super::pairs::open_text(path).map_err(|source| VariantsError::Io { path: path.to_path_buf(), source })?;
        let mut reader = vcf::io::Reader::new(LineCounter { inner: text, lines: 0 });
        reader.read_header().map_err(|e| VariantsError::Input {
            file: name.clone(),
            line: Some(reader.get_ref().lines + 1),
            message: format!("not a VCF header: {e}"),
        })?;
        Ok(VcfReader { name, reader, record: vcf::Record::default(), failed: false })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn bad(&self, line: u64, message: String) -> VariantsError {
        VariantsError::Input { file: self.name.clone(), line: Some(line), message }
    }
}

impl Iterator for VcfReader {
    type Item = Result<VcfRecord, VariantsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let line = self.reader.get_ref().lines + 1;
        let result = match self.reader.read_record(&mut self.record) {
            Ok(0) => return None,
            Ok(_) => {
                let r = &self.record;
                match r.variant_start() {
                    None => Err(self.bad(line, "missing POS".into())),
                    Some(Err(e)) => Err(self.bad(line, format!("invalid POS: {e}"))),
                    Some(Ok(pos)) => Ok(VcfRecord {
                        line,
                        chrom: r.reference_sequence_name().to_string(),
                        pos: usize::from(pos) as u64,
                        // noodles gives a missing ID as ""; the output keeps VCF's ".".
                        id: match r.ids().as_ref() {
                            "" => ".".to_string(),
                            ids => ids.to_string(),
                        },
                        reference: r.reference_bases().to_string(),
                        alternatives: r.alternate_bases().as_ref().split(',').map(str::to_string).collect(),
                    }),
                }
            }
            Err(e) => Err(self.bad(line, format!("not a VCF record: {e}"))),
        };
        if result.is_err() {
            self.failed = true;
        }
        Some(result)
    }
}

/// One ALT allele ready to score.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantWindow {
    pub chrom: String,
    pub pos: u64,
    pub id: String,
    pub reference: String,
    pub alternative: String,
    /// The reference window and the window with the allele substituted.
    pub ref_seq: Vec<u8>,
    pub alt_seq: Vec<u8>,
}

/// What became of one ALT allele.
#[derive(Debug, Clone, PartialEq)]
pub enum Allele {
    Score(VariantWindow),
    /// Refused by policy, with the reason (the caller reports it and goes on).
    Skip(String),
}

fn is_bases(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b"ACGTNacgtn".contains(&b))
}

/// Turns a record into one [`Allele`] per ALT (see the module documentation for the
/// policies). Errors are a REF mismatch under [`RefMismatch::Error`], an unknown contig
/// and an unusable REF.
pub fn windows(
    record: &VcfRecord,
    genome: &mut Genome,
    window: usize,
    on_mismatch: RefMismatch,
    file: &str,
) -> Result<Vec<Allele>, VariantsError> {
    let bad = |message: String| VariantsError::Input { file: file.to_string(), line: Some(record.line), message };
    let what = format!("{}:{}", record.chrom, record.pos);
    let Some(contig_len) = genome.contig_length(&record.chrom) else {
        return Err(bad(format!("{what}: contig {:?} is not in the reference FASTA", record.chrom)));
    };
    if !is_bases(&record.reference) {
        return Err(bad(format!("{what}: REF {:?} is not a sequence of bases", record.reference)));
    }
    let ref_len = record.reference.len() as u64;
    if record.pos + ref_len - 1 > contig_len {
        return Err(bad(format!("{what}: REF runs past the end of contig {} ({contig_len} nt)", record.chrom)));
    }
    let genome_ref = genome.fetch(&record.chrom, record.pos, record.pos + ref_len - 1)?;
    if !genome_ref.eq_ignore_ascii_case(record.reference.as_bytes()) {
        let message = format!(
            "{what}: REF {} does not match the reference FASTA, which has {}",
            record.reference,
            String::from_utf8_lossy(&genome_ref)
        );
        return match on_mismatch {
            RefMismatch::Error => Err(bad(format!("{message} (--on-ref-mismatch skip skips such records)"))),
            RefMismatch::Skip => Ok(record.alternatives.iter().map(|_| Allele::Skip(message.clone())).collect()),
        };
    }
    let offset = ((window - 1) / 2) as u64;
    let mut out = Vec::with_capacity(record.alternatives.len());
    let mut ref_window: Option<Vec<u8>> = None;
    for alt in &record.alternatives {
        let allele = format!("{what} {}>{alt}", record.reference);
        if !is_bases(alt) {
            out.push(Allele::Skip(format!("{allele}: ALT is not a sequence of bases (symbolic, missing or breakend alleles are not scored)")));
            continue;
        }
        if alt.len() != record.reference.len() {
            out.push(Allele::Skip(format!(
                "{allele}: indel; only substitutions (REF and ALT of equal length) are scored, since an indel changes the window's length"
            )));
            continue;
        }
        if record.pos <= offset || record.pos - offset + window as u64 - 1 > contig_len || (ref_len as usize) > window - offset as usize {
            out.push(Allele::Skip(format!(
                "{allele}: the {window}-nt window around it runs past the ends of contig {} ({contig_len} nt)",
                record.chrom
            )));
            continue;
        }
        let start = record.pos - offset;
        let ref_seq = match &ref_window {
            Some(w) => w.clone(),
            None => {
                let w = genome.fetch(&record.chrom, start, start + window as u64 - 1)?;
                ref_window = Some(w.clone());
                w
            }
        };
        let mut alt_seq = ref_seq.clone();
        let at = offset as usize;
        alt_seq[at..at + alt.len()].copy_from_slice(&alt.to_ascii_uppercase().into_bytes());
        out.push(Allele::Score(VariantWindow {
            chrom: record.chrom.clone(),
            pos: record.pos,
            id: record.id.clone(),
            reference: record.reference.clone(),
            alternative: alt.clone(),
            ref_seq,
            alt_seq,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A 40-nt contig `chr1` and a 12-nt `chr2`.
    const CHR1: &str = "ACGTACGTAAccggttAACCGGTTAAAACCCCGGGGTTTT";
    const CHR2: &str = "GATTACAGATTA";

    fn fasta_file(dir: &Path) -> PathBuf {
        let p = dir.join("ref.fa");
        // Wrapped lines, as real references are.
        let text = format!(">chr1 test\n{}\n{}\n>chr2\n{CHR2}\n", &CHR1[..25], &CHR1[25..]);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn vcf_file(dir: &Path, body: &str) -> PathBuf {
        let p = dir.join("v.vcf");
        let text = format!("##fileformat=VCFv4.3\n##contig=<ID=chr1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n{body}");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_records_with_their_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = vcf_file(dir.path(), "chr1\t5\trs1\tA\tC,G\t.\t.\t.\nchr2\t3\t.\tT\tA\t.\t.\t.\n");
        let recs: Vec<VcfRecord> = VcfReader::open(&p).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].line, 4);
        assert_eq!((recs[0].chrom.as_str(), recs[0].pos, recs[0].id.as_str()), ("chr1", 5, "rs1"));
        assert_eq!(recs[0].alternatives, ["C", "G"]);
        assert_eq!(recs[1].line, 5);
        assert_eq!(recs[1].id, ".");
    }

    #[test]
    fn windows_are_centred_and_multiallelic_records_split() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Genome::open(&fasta_file(dir.path())).unwrap();
        // chr1:13 is 'g' (soft-masked); window 7 puts it at offset 3: chr1:10-16.
        let rec = VcfRecord { line: 9, chrom: "chr1".into(), pos: 13, id: "v".into(), reference: "G".into(), alternatives: vec!["A".into(), "t".into()] };
        let a = windows(&rec, &mut g, 7, RefMismatch::Error, "v.vcf").unwrap();
        let want_ref = CHR1[9..16].to_ascii_uppercase();
        match &a[..] {
            [Allele::Score(x), Allele::Score(y)] => {
                assert_eq!(x.ref_seq, want_ref.as_bytes());
                assert_eq!(x.alt_seq, b"ACCAGTT");
                assert_eq!(y.alt_seq, b"ACCTGTT");
                assert_eq!(y.alternative, "t");
            }
            other => panic!("{other:?}"),
        }
        // Even window: offset (8 - 1) / 2 = 3.
        let a = windows(&rec, &mut g, 8, RefMismatch::Error, "v.vcf").unwrap();
        let Allele::Score(x) = &a[0] else { panic!() };
        assert_eq!(x.ref_seq, CHR1[9..17].to_ascii_uppercase().as_bytes());
    }

    #[test]
    fn mismatch_indel_symbolic_and_edge_policies() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Genome::open(&fasta_file(dir.path())).unwrap();
        let rec = |pos, r: &str, alts: &[&str]| VcfRecord {
            line: 7,
            chrom: "chr1".into(),
            pos,
            id: ".".into(),
            reference: r.into(),
            alternatives: alts.iter().map(|s| s.to_string()).collect(),
        };
        let e = windows(&rec(1, "C", &["G"]), &mut g, 5, RefMismatch::Error, "v.vcf").unwrap_err().to_string();
        assert!(e.starts_with("v.vcf:7: chr1:1: REF C does not match the reference FASTA, which has A"), "{e}");
        let s = windows(&rec(1, "C", &["G", "T"]), &mut g, 5, RefMismatch::Skip, "v.vcf").unwrap();
        assert!(matches!(&s[..], [Allele::Skip(_), Allele::Skip(_)]));
        let s = windows(&rec(20, "C", &["CA", "<DEL>", "T"]), &mut g, 5, RefMismatch::Error, "v.vcf").unwrap();
        assert!(matches!(&s[0], Allele::Skip(m) if m.contains("indel")), "{s:?}");
        assert!(matches!(&s[1], Allele::Skip(m) if m.contains("not a sequence of bases")), "{s:?}");
        assert!(matches!(&s[2], Allele::Score(_)));
        // Window of 5 around chr1:2 would start at 0; around chr1:39 it would end at 41.
        let s = windows(&rec(2, "C", &["A"]), &mut g, 5, RefMismatch::Error, "v.vcf").unwrap();
        assert!(matches!(&s[0], Allele::Skip(m) if m.contains("runs past")), "{s:?}");
        let s = windows(&rec(39, "T", &["A"]), &mut g, 5, RefMismatch::Error, "v.vcf").unwrap();
        assert!(matches!(&s[0], Allele::Skip(m) if m.contains("runs past")), "{s:?}");
        let s = windows(&rec(38, "T", &["A"]), &mut g, 5, RefMismatch::Error, "v.vcf").unwrap();
        assert!(matches!(&s[0], Allele::Score(_)), "{s:?}");
        let mut other = rec(3, "G", &["A"]);
        other.chrom = "chrX".into();
        let e = windows(&other, &mut g, 5, RefMismatch::Error, "v.vcf").unwrap_err().to_string();
        assert!(e.contains("contig \"chrX\" is not in the reference FASTA"), "{e}");
        // An MNV substitutes every base.
        let s = windows(&rec(19, "CC", &["GA"]), &mut g, 5, RefMismatch::Error, "v.vcf").unwrap();
        let Allele::Score(w) = &s[0] else { panic!("{s:?}") };
        assert_eq!(w.ref_seq, b"AACCG");
        assert_eq!(w.alt_seq, b"AAGAG");
    }

    #[test]
    fn bgzip_vcf_and_indexed_bgzip_fasta() {
        let dir = tempfile::tempdir().unwrap();
        // bgzip FASTA with .fai (offsets in the uncompressed text) and .gzi (one block:
        // no entries).
        let text = format!(">chr1\n{CHR1}\n>chr2\n{CHR2}\n");
        let fa = dir.path().join("ref.fa.gz");
        let mut w = noodles_bgzf::io::Writer::new(File::create(&fa).unwrap());
        w.write_all(text.as_bytes()).unwrap();
        w.finish().unwrap();
        let mut indexer = fasta::io::Indexer::new(text.as_bytes());
        let mut records = Vec::new();
        while let Some(r) = indexer.index_record().unwrap() {
            records.push(r);
        }
        fasta::fai::fs::write(dir.path().join("ref.fa.gz.fai"), &fasta::fai::Index::from(records)).unwrap();
        noodles_bgzf::gzi::fs::write(dir.path().join("ref.fa.gz.gzi"), &noodles_bgzf::gzi::Index::default()).unwrap();
        let mut g = Genome::open(&fa).unwrap();
        assert!(matches!(g, Genome::Indexed { .. }));
        assert_eq!(g.contig_length("chr2"), Some(12));
        assert_eq!(g.fetch("chr1", 11, 14).unwrap(), b"CCGG");
        assert_eq!(g.fetch("chr2", 1, 4).unwrap(), b"GATT");

        let vcf = dir.path().join("v.vcf.gz");
        let mut w = noodles_bgzf::io::Writer::new(File::create(&vcf).unwrap());
        w.write_all(b"##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr2\t6\tx\tC\tG\t.\t.\t.\n").unwrap();
        w.finish().unwrap();
        let recs: Vec<VcfRecord> = VcfReader::open(&vcf).unwrap().collect::<Result<_, _>>().unwrap();
        let a = windows(&recs[0], &mut g, 5, RefMismatch::Error, "v.vcf.gz").unwrap();
        let Allele::Score(w) = &a[0] else { panic!("{a:?}") };
        assert_eq!((w.ref_seq.as_slice(), w.alt_seq.as_slice()), (&b"TACAG"[..], &b"TAGAG"[..]));
    }

    #[test]
    fn broken_vcf_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = vcf_file(dir.path(), "chr1\t5\t.\tA\tC\t.\t.\t.\nchr1\tfive\t.\tA\tC\t.\t.\t.\n");
        let r: Vec<_> = VcfReader::open(&p).unwrap().collect();
        assert!(r[0].is_ok());
        let e = r[1].as_ref().unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:5: ", p.display())), "{e}");
        let bad = dir.path().join("bad.vcf");
        std::fs::write(&bad, "hello\n").unwrap();
        assert!(VcfReader::open(&bad).is_err());
    }
}
