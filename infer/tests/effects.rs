//! `infer pairs`, `infer variants` and `infer ism` checked against independent
//! `infer score` runs on sequences the test writes out explicitly, and against
//! `infer eval` on the DREAM public leaderboard's SNV pairs.

use crate::support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{BiLstm, Reference, SoftArgmaxCnn};

/// The binary under test. `INFER_TEST_BIN` overrides cargo's path: with a target
/// directory shared between checkouts, another checkout's build can replace
/// `target/debug/infer` while these tests run.
fn infer_cmd() -> Command {
    let bin = std::env::var_os("INFER_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_infer").into());
    let mut c = Command::new(bin);
    c.stdin(Stdio::null());
    c
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Out {
    let out = cmd.output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn ok(cmd: &mut Command) -> Out {
    let o = run(cmd);
    assert_eq!(o.code, 0, "{cmd:?} failed:\n{}", o.stderr);
    o
}

/// A one-output DREAM-style model (plasmid padding, 6 channels, RC averaging).
fn dream_model(dir: &Path) -> PathBuf {
    let p = dir.join("cnn.onnx");
    SoftArgmaxCnn::random(6, 150, 3).write(&p, &support::dream_preprocessing(), &["expression"]);
    p
}

/// A two-output model on exact 20-nt windows (5 channels, RC averaging).
fn window_model(dir: &Path) -> PathBuf {
    let p = dir.join("lstm.onnx");
    BiLstm::random(5, 20, 3, 2, 5).write(&p, &support::short_preprocessing(20), &["dev", "hk"]);
    p
}

/// `infer score` on sequences written as FASTA: id -> predictions.
fn score(model: &Path, backend: &str, seqs: &[(String, Vec<u8>)], dir: &Path) -> HashMap<String, Vec<f32>> {
    let fa = dir.join(format!("explicit-{}.fa", seqs.len()));
    let mut text = String::new();
    for (id, s) in seqs {
        writeln!(text, ">{id}\n{}", String::from_utf8_lossy(s)).unwrap();
    }
    std::fs::write(&fa, text).unwrap();
    let o = ok(infer_cmd().args(["score", "--threads", "1", "--batch-size", "7", "--backend", backend]).arg("--model").arg(model).arg("--input").arg(&fa));
    o.stdout
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split('\t');
            let id = f.next().unwrap().to_string();
            (id, f.map(|v| v.parse().unwrap()).collect())
        })
        .collect()
}

fn table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines.next().unwrap().split('\t').map(str::to_string).collect();
    (header, lines.map(|l| l.split('\t').map(str::to_string).collect()).collect())
}

/// Scores computed in different batches may differ in the last bits.
fn close(got: f32, want: f32, what: &str) {
    assert!((got - want).abs() <= 2e-6 * want.abs().max(1.0), "{what}: got {got}, want {want}");
}

fn mutate(seq: &[u8], i: usize, b: u8) -> Vec<u8> {
    let mut m = seq.to_vec();
    m[i] = b;
    m
}

/// A single-nucleotide variant of `seq` at `i` (a base other than the one there).
fn snv(seq: &[u8], i: usize, shift: usize) -> Vec<u8> {
    let k = b"ACGT".iter().position(|&b| b == seq[i].to_ascii_uppercase()).unwrap_or(0);
    mutate(seq, i, b"ACGT"[(k + 1 + shift % 3) % 4])
}

// ---------------------------------------------------------------------------------------
// pairs

#[test]
fn pairs_deltas_equal_differences_of_independent_score_runs() {
    let dir = tempfile::tempdir().unwrap();
    let model = dream_model(dir.path());
    let seqs = support::demo_sequences(6);
    // A shared reference, a repeated pair, an alternative that is another reference.
    let pairs: Vec<(String, Vec<u8>, Vec<u8>)> = vec![
        ("a".into(), seqs[0].clone(), snv(&seqs[0], 60, 0)),
        ("b".into(), seqs[0].clone(), snv(&seqs[0], 61, 1)),
        ("c".into(), seqs[1].clone(), seqs[2].clone()),
        ("d".into(), seqs[2].clone(), seqs[3].clone()),
        ("e".into(), seqs[0].clone(), snv(&seqs[0], 60, 0)),
        ("f".into(), seqs[4].clone(), seqs[4].clone()),
    ];
    let mut input = String::from("id\tref_sequence\talt_sequence\n");
    for (id, r, a) in &pairs {
        writeln!(input, "{id}\t{}\t{}", String::from_utf8_lossy(r), String::from_utf8_lossy(a)).unwrap();
    }
    let path = dir.path().join("pairs.tsv");
    std::fs::write(&path, input).unwrap();
    for backend in ["tract", "ort"] {
        let o = ok(infer_cmd().args(["pairs", "--threads", "1", "--batch-size", "4", "--backend", backend]).arg("--model").arg(&model).arg("--input").arg(&path));
        // 7 distinct sequences among the 12 asked for.
        assert!(o.stderr.contains("7 distinct sequences scored of 12"), "{}", o.stderr);
        let (header, rows) = table(&o.stdout);
        assert_eq!(header, ["id", "ref", "alt", "delta"]);
        let refs = score(&model, backend, &pairs.iter().map(|(id, r, _)| (id.clone(), r.clone())).collect::<Vec<_>>(), dir.path());
        let alts = score(&model, backend, &pairs.iter().map(|(id, _, a)| (id.clone(), a.clone())).collect::<Vec<_>>(), dir.path());
        assert_eq!(rows.len(), pairs.len());
        for (row, (id, _, _)) in rows.iter().zip(&pairs) {
            assert_eq!(&row[0], id);
            let v: Vec<f32> = row[1..].iter().map(|x| x.parse().unwrap()).collect();
            close(v[0], refs[id][0], &format!("{backend} {id} ref"));
            close(v[1], alts[id][0], &format!("{backend} {id} alt"));
            close(v[2], alts[id][0] - refs[id][0], &format!("{backend} {id} delta"));
            // The printed delta is exactly the difference of the printed scores.
            assert_eq!(v[2], v[1] - v[0], "{id}");
        }
        assert_eq!(rows[5][3], "0", "identical sequences");
        assert!(rows[0][3] != "0", "a mutation in the insert changes the score");
    }
}

#[test]
fn pairs_with_several_outputs_log2fc_and_named_columns() {
    let dir = tempfile::tempdir().unwrap();
    let model = window_model(dir.path());
    let seqs = support::random_dna(4, 20, 11);
    let mut input = String::from("variant,wt,mut\n");
    for (i, s) in seqs.iter().enumerate() {
        writeln!(input, "v{i},{},{}", String::from_utf8_lossy(s), String::from_utf8_lossy(&snv(s, 10, i))).unwrap();
    }
    let path = dir.path().join("pairs.csv");
    std::fs::write(&path, &input).unwrap();
    let args = |compare: &str| {
        let mut c = infer_cmd();
        c.args(["pairs", "--threads", "1", "--id-column", "variant", "--ref-column", "wt", "--alt-column", "mut", "--compare", compare, "--pseudocount", "10"])
            .arg("--model")
            .arg(&model)
            .arg("--input")
            .arg(&path);
        c
    };
    let o = ok(&mut args("subtract"));
    let (header, rows) = table(&o.stdout);
    assert_eq!(header, ["id", "dev_ref", "dev_alt", "dev_delta", "hk_ref", "hk_alt", "hk_delta"]);
    let upper = |s: &[u8]| s.to_ascii_uppercase();
    let refs = score(&model, "tract", &seqs.iter().enumerate().map(|(i, s)| (format!("v{i}"), upper(s))).collect::<Vec<_>>(), dir.path());
    for (i, row) in rows.iter().enumerate() {
        let v: Vec<f32> = row[1..].iter().map(|x| x.parse().unwrap()).collect();
        close(v[0], refs[&format!("v{i}")][0], "dev ref");
        close(v[3], refs[&format!("v{i}")][1], "hk ref");
        assert_eq!(v[2], v[1] - v[0]);
        assert_eq!(v[5], v[4] - v[3]);
    }
    // log2fc with pseudocount 10 on the same predictions.
    let o = run(&mut args("log2fc"));
    if o.code == 0 {
        let (_, lrows) = table(&o.stdout);
        for (row, srow) in lrows.iter().zip(&rows) {
            let v: Vec<f64> = row[1..].iter().map(|x| x.parse().unwrap()).collect();
            assert_eq!(row[1..3], srow[1..3]);
            let want = ((v[1] + 10.0) / (v[0] + 10.0)).log2();
            assert!((v[2] - want).abs() < 1e-5, "{v:?}");
        }
    } else {
        // Outputs below -10 make log2fc undefined: a usage error naming the record.
        assert_eq!(o.code, 2, "{}", o.stderr);
        assert!(o.stderr.contains("log2fc is undefined"), "{}", o.stderr);
    }
    // With pseudocount 0, a negative prediction (this LSTM head has some) is refused.
    let any_negative = rows.iter().any(|r| r[1..].iter().any(|x| x.starts_with('-') && !r.is_empty()));
    let o = run(infer_cmd().args(["pairs", "--compare", "log2fc", "--pseudocount", "0", "--id-column", "variant", "--ref-column", "wt", "--alt-column", "mut"]).arg("--model").arg(&model).arg("--input").arg(&path));
    if any_negative {
        assert_eq!(o.code, 2, "{}", o.stderr);
        assert!(o.stderr.contains("pairs.csv:") && o.stderr.contains("log2fc is undefined"), "{}", o.stderr);
    }
}

#[test]
fn pairs_bad_input_is_a_usage_error_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let model = window_model(dir.path());
    let path = dir.path().join("pairs.tsv");
    let out = dir.path().join("out.tsv");
    let good = String::from_utf8(support::random_dna(1, 20, 2)[0].clone()).unwrap();
    // A 19-nt alternative: the model takes exactly 20.
    std::fs::write(&path, format!("id\tref\talt\nx\t{good}\t{}\n", &good[..19])).unwrap();
    let o = run(infer_cmd().args(["pairs"]).arg("--model").arg(&model).arg("--input").arg(&path).arg("--output").arg(&out));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("pairs.tsv:2: pair x: alternative sequence:") && o.stderr.contains("needs exactly 20"), "{}", o.stderr);
    assert!(!out.exists());
    std::fs::write(&path, "id\tsequence\nx\tACGT\n").unwrap();
    let o = run(infer_cmd().args(["pairs"]).arg("--model").arg(&model).arg("--input").arg(&path));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("pairs.tsv:1: no reference-sequence column"), "{}", o.stderr);
}

// ---------------------------------------------------------------------------------------
// ism

fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    infer::effects::npy::read_f32(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn ism_scores_equal_independent_scores_of_every_written_mutant() {
    let dir = tempfile::tempdir().unwrap();
    let model = dream_model(dir.path());
    // Two 110-nt DREAM sequences (the first one with an N), window 15..40 (1-based),
    // which includes part of the 17-nt adapter the model never sees.
    let mut seqs: Vec<Vec<u8>> = support::demo_sequences(40).into_iter().filter(|s| s.len() == 110).take(2).collect();
    seqs[0][30] = b'N';
    let mut fa = String::new();
    for (i, s) in seqs.iter().enumerate() {
        writeln!(fa, ">s{i}\n{}", String::from_utf8_lossy(s)).unwrap();
    }
    let input = dir.path().join("in.fa");
    std::fs::write(&input, fa).unwrap();
    let (tsv, npy) = (dir.path().join("ism.tsv"), dir.path().join("ism.npy"));
    for backend in ["tract", "ort"] {
        // Batch 16: mutants of both sequences share forward passes.
        ok(infer_cmd()
            .args(["ism", "--threads", "1", "--batch-size", "16", "--start", "15", "--end", "40", "--backend", backend])
            .arg("--model")
            .arg(&model)
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&tsv)
            .arg("--npy")
            .arg(&npy));
        let (header, rows) = table(&std::fs::read_to_string(&tsv).unwrap());
        assert_eq!(header, ["seq_id", "pos", "ref", "alt", "score", "delta"]);
        // 26 positions x 3 substitutions, plus one more at the N.
        assert_eq!(rows.len(), 2 * 26 * 3 + 1);

        let mut explicit = Vec::new();
        for (i, s) in seqs.iter().enumerate() {
            explicit.push((format!("s{i}"), s.clone()));
            for p in 14..40 {
                for &b in b"ACGT" {
                    if b != s[p] {
                        explicit.push((format!("s{i}_{}{}", p + 1, b as char), mutate(s, p, b)));
                    }
                }
            }
        }
        let want = score(&model, backend, &explicit, dir.path());
        for row in &rows {
            let (id, pos, r, a) = (&row[0], row[1].parse::<usize>().unwrap(), &row[2], &row[3]);
            let s = &seqs[id[1..].parse::<usize>().unwrap()];
            assert_eq!(r.as_bytes()[0], s[pos - 1], "ref base of {id}:{pos}");
            let (sc, d): (f32, f32) = (row[4].parse().unwrap(), row[5].parse().unwrap());
            let mutant = want[&format!("{id}_{pos}{a}")][0];
            close(sc, mutant, &format!("{backend} {id}:{pos}{a} score"));
            close(d, mutant - want[id.as_str()][0], &format!("{backend} {id}:{pos}{a} delta"));
            if pos <= 17 {
                // The adapter is trimmed before padding: the model cannot see it.
                assert_eq!(d, 0.0, "{id}:{pos}");
            }
        }
        assert!(rows.iter().any(|r| r[5] != "0"), "some mutation must matter");

        let (shape, values) = read_npy(&npy);
        assert_eq!(shape, [2, 4, 26]);
        let tsv_delta: HashMap<(String, usize, u8), f32> =
            rows.iter().map(|r| ((r[0].clone(), r[1].parse().unwrap(), r[3].as_bytes()[0]), r[5].parse().unwrap())).collect();
        for (n, s) in seqs.iter().enumerate() {
            for (b, &base) in b"ACGT".iter().enumerate() {
                for i in 0..26 {
                    let v = values[(n * 4 + b) * 26 + i];
                    let pos = 15 + i;
                    if s[pos - 1] == base {
                        assert_eq!(v, 0.0, "the reference base's entry is zero (s{n}:{pos})");
                    } else {
                        assert_eq!(v, tsv_delta[&(format!("s{n}"), pos, base)], "npy vs tsv s{n}:{pos}{}", base as char);
                    }
                }
            }
        }
    }
}

#[test]
fn ism_npy_with_several_outputs_and_whole_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let model = window_model(dir.path());
    let seqs: Vec<Vec<u8>> = support::random_dna(3, 20, 4).into_iter().map(|s| s.to_ascii_uppercase()).collect();
    let mut fa = String::new();
    for (i, s) in seqs.iter().enumerate() {
        writeln!(fa, ">w{i}\n{}", String::from_utf8_lossy(s)).unwrap();
    }
    let input = dir.path().join("in.fa");
    std::fs::write(&input, fa).unwrap();
    let npy = dir.path().join("d.npy");
    // Only --npy: no TSV on stdout.
    let o = ok(infer_cmd().args(["ism", "--threads", "1", "--batch-size", "5"]).arg("--model").arg(&model).arg("--input").arg(&input).arg("--npy").arg(&npy));
    assert!(o.stdout.is_empty());
    let (shape, values) = read_npy(&npy);
    assert_eq!(shape, [3, 2, 4, 20]);
    let mut explicit = Vec::new();
    for (n, s) in seqs.iter().enumerate() {
        explicit.push((format!("w{n}"), s.clone()));
        for p in 0..20 {
            for &b in b"ACGT" {
                if b != s[p] {
                    explicit.push((format!("w{n}_{p}{}", b as char), mutate(s, p, b)));
                }
            }
        }
    }
    let want = score(&model, "tract", &explicit, dir.path());
    for (n, s) in seqs.iter().enumerate() {
        for task in 0..2 {
            for (b, &base) in b"ACGT".iter().enumerate() {
                for p in 0..20 {
                    let v = values[((n * 2 + task) * 4 + b) * 20 + p];
                    if s[p] == base {
                        assert_eq!(v, 0.0);
                    } else {
                        let m = want[&format!("w{n}_{p}{}", base as char)][task];
                        close(v, m - want[&format!("w{n}")][task], &format!("w{n} task {task} {p}{}", base as char));
                    }
                }
            }
        }
    }
    // Windows of different lengths cannot share one array.
    std::fs::write(&input, ">a\nACGTACGTACGTACGTACGT\n>b\nACGTACGTACGTACGTACGT\n").unwrap();
    let o = run(infer_cmd().args(["ism", "--end", "25"]).arg("--model").arg(&model).arg("--input").arg(&input).arg("--npy").arg(&npy));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("record a") && o.stderr.contains("past the end"), "{}", o.stderr);
}

// ---------------------------------------------------------------------------------------
// variants

/// A 300-nt random contig (upper case, with a soft-masked stretch) and a 60-nt one.
fn contigs() -> Vec<(String, Vec<u8>)> {
    let mut c1: Vec<u8> = support::random_dna(1, 300, 21)[0].iter().map(|b| if *b == b'N' { b'A' } else { b.to_ascii_uppercase() }).collect();
    for b in &mut c1[100..120] {
        *b = b.to_ascii_lowercase();
    }
    let c2 = support::random_dna(1, 60, 22)[0].iter().map(|b| if *b == b'N' { b'C' } else { b.to_ascii_uppercase() }).collect();
    vec![("chr1".into(), c1), ("chr2".into(), c2)]
}

fn write_fasta_plain(path: &Path, contigs: &[(String, Vec<u8>)]) -> String {
    let mut text = String::new();
    for (name, seq) in contigs {
        writeln!(text, ">{name}").unwrap();
        for line in seq.chunks(50) {
            writeln!(text, "{}", String::from_utf8_lossy(line)).unwrap();
        }
    }
    std::fs::write(path, &text).unwrap();
    text
}

/// bgzip FASTA (two BGZF blocks, so the .gzi has an entry) with .fai and .gzi.
fn write_fasta_bgzip(path: &Path, contigs: &[(String, Vec<u8>)]) {
    use noodles_fasta as fasta;
    let plain = path.with_extension("tmp");
    let text = write_fasta_plain(&plain, contigs);
    std::fs::remove_file(&plain).unwrap();
    let half = text.len() / 2;
    let mut bytes = Vec::new();
    let mut blocks = Vec::new();
    for (k, part) in [&text[..half], &text[half..]].into_iter().enumerate() {
        let start = bytes.len() as u64;
        let mut w = noodles_bgzf::io::Writer::new(Vec::new());
        w.write_all(part.as_bytes()).unwrap();
        let block = w.finish().unwrap();
        // Writer::finish appends the 28-byte end-of-file block: only the last one stays.
        let keep = if k == 0 { block.len() - 28 } else { block.len() };
        bytes.extend_from_slice(&block[..keep]);
        blocks.push((start, part.len() as u64));
    }
    std::fs::write(path, &bytes).unwrap();
    let mut indexer = fasta::io::Indexer::new(text.as_bytes());
    let mut records = Vec::new();
    while let Some(r) = indexer.index_record().unwrap() {
        records.push(r);
    }
    let mut fai = path.as_os_str().to_owned();
    fai.push(".fai");
    fasta::fai::fs::write(PathBuf::from(fai), &fasta::fai::Index::from(records)).unwrap();
    // The second block: (compressed offset, uncompressed offset).
    let gzi = noodles_bgzf::gzi::Index::from(vec![(blocks[1].0, blocks[0].1)]);
    let mut p = path.as_os_str().to_owned();
    p.push(".gzi");
    noodles_bgzf::gzi::fs::write(PathBuf::from(p), &gzi).unwrap();
}

const VCF_HEADER: &str = "##fileformat=VCFv4.3\n##contig=<ID=chr1,length=300>\n##contig=<ID=chr2,length=60>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";

#[test]
fn variants_equal_independent_scores_of_explicit_windows() {
    let dir = tempfile::tempdir().unwrap();
    let model = window_model(dir.path());
    let genome = contigs();
    let base = |c: usize, pos: usize| (genome[c].1[pos - 1].to_ascii_uppercase()) as char;
    let other = |b: char| if b == 'A' { "C" } else { "A" };
    // SNVs (one in the soft-masked stretch, one multi-allelic), an MNV, an indel, a
    // symbolic allele, and a variant too close to the contig's end for a 20-nt window.
    let specs: Vec<(usize, usize, String, String)> = vec![
        (0, 50, base(0, 50).to_string(), other(base(0, 50)).to_string()),
        (0, 110, base(0, 110).to_string(), format!("{},{}", other(base(0, 110)), if base(0, 110) == 'G' { "T" } else { "G" })),
        (0, 200, format!("{}{}", base(0, 200), base(0, 201)), "GG".into()),
        (0, 220, base(0, 220).to_string(), format!("{}T", base(0, 220))),
        (0, 230, base(0, 230).to_string(), "<DEL>".into()),
        (1, 30, base(1, 30).to_string(), other(base(1, 30)).to_string()),
        (1, 55, base(1, 55).to_string(), other(base(1, 55)).to_string()),
    ];
    let mut vcf = String::from(VCF_HEADER);
    for (i, (c, pos, r, a)) in specs.iter().enumerate() {
        writeln!(vcf, "{}\t{pos}\tvar{i}\t{r}\t{a}\t.\tPASS\t.", genome[*c].0).unwrap();
    }
    // Expected scored alleles and their windows, built here from the contig strings:
    // offset (20 - 1) / 2 = 9 before the variant.
    let mut want: Vec<(String, Vec<u8>, Vec<u8>)> = Vec::new();
    for (i, (c, pos, r, alts)) in specs.iter().enumerate() {
        for a in alts.split(',') {
            if a.len() != r.len() || a.starts_with('<') || *pos + 10 > genome[*c].1.len() {
                continue;
            }
            let w: Vec<u8> = genome[*c].1[pos - 10..pos + 10].to_ascii_uppercase();
            let mut alt = w.clone();
            alt[9..9 + a.len()].copy_from_slice(a.as_bytes());
            want.push((format!("var{i}{a}"), w, alt));
        }
    }
    assert_eq!(want.len(), 5);

    let plain_fa = dir.path().join("ref.fa");
    write_fasta_plain(&plain_fa, &genome);
    let bgz_fa = dir.path().join("ref.fa.gz");
    write_fasta_bgzip(&bgz_fa, &genome);
    let vcf_plain = dir.path().join("v.vcf");
    std::fs::write(&vcf_plain, &vcf).unwrap();
    let vcf_bgz = dir.path().join("v.vcf.gz");
    let mut w = noodles_bgzf::io::Writer::new(File::create(&vcf_bgz).unwrap());
    w.write_all(vcf.as_bytes()).unwrap();
    w.finish().unwrap();

    let refs = score(&model, "tract", &want.iter().map(|(id, r, _)| (id.clone(), r.clone())).collect::<Vec<_>>(), dir.path());
    let alts = score(&model, "tract", &want.iter().map(|(id, _, a)| (id.clone(), a.clone())).collect::<Vec<_>>(), dir.path());
    let mut first: Option<String> = None;
    for (fa, v) in [(&plain_fa, &vcf_plain), (&bgz_fa, &vcf_bgz)] {
        let o = ok(infer_cmd().args(["variants", "--threads", "1", "--batch-size", "3"]).arg("--model").arg(&model).arg("--vcf").arg(v).arg("--fasta").arg(fa));
        assert!(o.stderr.contains("indel") && o.stderr.contains("not a sequence of bases") && o.stderr.contains("runs past"), "{}", o.stderr);
        assert!(o.stderr.contains("skipped 3 alleles"), "{}", o.stderr);
        let (header, rows) = table(&o.stdout);
        assert_eq!(header, ["#CHROM", "POS", "ID", "REF", "ALT", "dev_ref", "dev_alt", "dev_delta", "hk_ref", "hk_alt", "hk_delta"]);
        assert_eq!(rows.len(), want.len());
        for (row, (id, _, _)) in rows.iter().zip(&want) {
            assert_eq!(format!("{}{}", row[2], row[4]), *id);
            let v: Vec<f32> = row[5..].iter().map(|x| x.parse().unwrap()).collect();
            for t in 0..2 {
                close(v[3 * t], refs[id][t], &format!("{id} ref {t}"));
                close(v[3 * t + 1], alts[id][t], &format!("{id} alt {t}"));
                close(v[3 * t + 2], alts[id][t] - refs[id][t], &format!("{id} delta {t}"));
            }
        }
        // Plain and bgzip inputs give the same table.
        match &first {
            None => first = Some(o.stdout),
            Some(f) => assert_eq!(f, &o.stdout),
        }
    }
}

#[test]
fn variants_ref_mismatch_errors_by_default_or_skips() {
    let dir = tempfile::tempdir().unwrap();
    let model = window_model(dir.path());
    let genome = contigs();
    let fa = dir.path().join("ref.fa");
    write_fasta_plain(&fa, &genome);
    let b = genome[0].1[49].to_ascii_uppercase();
    let wrong = if b == b'A' { 'C' } else { 'A' };
    let good = genome[0].1[79].to_ascii_uppercase() as char;
    let vcf = dir.path().join("v.vcf");
    std::fs::write(&vcf, format!("{VCF_HEADER}chr1\t50\tbad\t{wrong}\tG\t.\t.\t.\nchr1\t80\tok\t{good}\t{}\t.\t.\t.\n", if good == 'T' { 'G' } else { 'T' })).unwrap();
    let out = dir.path().join("o.tsv");
    let cmd = |extra: &[&str]| {
        let mut c = infer_cmd();
        c.args(["variants", "--threads", "1"]).args(extra).arg("--model").arg(&model).arg("--vcf").arg(&vcf).arg("--fasta").arg(&fa).arg("--output").arg(&out);
        c
    };
    let o = run(&mut cmd(&[]));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains(&format!("v.vcf:5: chr1:50: REF {wrong} does not match the reference FASTA, which has {}", b as char)), "{}", o.stderr);
    assert!(!out.exists(), "nothing half-written");
    let o = ok(&mut cmd(&["--on-ref-mismatch", "skip"]));
    assert!(o.stderr.contains("skipped 1 alleles"), "{}", o.stderr);
    let (_, rows) = table(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], "ok");
    // The model takes exactly 20 nt.
    let o = run(&mut cmd(&["--window", "30"]));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("exactly 20 nt"), "{}", o.stderr);
}

// ---------------------------------------------------------------------------------------
// DREAM SNVs: `infer pairs` reproduces `infer eval`'s SNV Pearson r

fn shared_dream() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/dream")
}

/// How many of the public leaderboard's 4,670 SNV pairs (in file order) the test scores:
/// all of them take about 7,400 sequences twice (pairs, then eval), several minutes on
/// two cores; the first 100 pairs (198 sequences) keep the test short and still check the whole
/// path (pair ids, order, sign, correlation).
const SNV_PAIRS: usize = 100;

#[test]
fn dream_snv_pearson_from_pairs_matches_infer_eval() {
    let data = shared_dream();
    let truth_text = std::fs::read_to_string(data.join("public_leaderboard.tsv")).unwrap();
    let truth: HashMap<&str, (&str, f64)> = truth_text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0], (f[1], f[2].parse().unwrap()))
        })
        .collect();
    // serde_json keeps file order only with preserve_order; read the keys by hand.
    let snv_text = std::fs::read_to_string(data.join("public_leaderboard_ids/SNVs_exp_indices.json")).unwrap();
    let keys: Vec<(String, String)> = snv_text
        .split('"')
        .filter(|s| s.contains(',') && s.chars().all(|c| c.is_ascii_digit() || c == ','))
        .map(|s| {
            let (a, r) = s.split_once(',').unwrap();
            (a.to_string(), r.to_string())
        })
        .take(SNV_PAIRS)
        .collect();
    assert_eq!(keys.len(), SNV_PAIRS);

    // A benchmark definition holding just these pairs, for `infer eval --model`.
    let dir = tempfile::tempdir().unwrap();
    let mut ids: Vec<&str> = keys.iter().flat_map(|(a, r)| [a.as_str(), r.as_str()]).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut subset_truth = String::from("index\tsequence\texpression\n");
    for id in &ids {
        let (s, v) = truth[id];
        writeln!(subset_truth, "{id}\t{s}\t{v}").unwrap();
    }
    std::fs::write(dir.path().join("truth.tsv"), subset_truth).unwrap();
    let pair_json: serde_json::Map<String, serde_json::Value> =
        keys.iter().map(|(a, r)| (format!("{a},{r}"), serde_json::json!([truth[a.as_str()].1, truth[r.as_str()].1]))).collect();
    std::fs::write(dir.path().join("snv.json"), serde_json::to_string(&pair_json).unwrap()).unwrap();
    let def = serde_json::json!({
        "name": "dream-public-snv-excerpt",
        "truth": {"file": "truth.tsv", "header": true, "id_column": 0, "sequence_column": 1, "value_column": 2},
        "subsets": [{"name": "SNVs", "kind": "pairs", "weight": 1.25, "source": {"format": "json_pair_keys", "file": "snv.json"}}]
    });
    std::fs::write(dir.path().join("bench.json"), def.to_string()).unwrap();

    let home = dir.path().join("zoo-home");
    let zoo = |c: &mut Command| {
        c.env("ZOO_HOME", &home).env_remove("ZOO_OFFLINE").env_remove("ZOO_REGISTRY");
    };
    let report = dir.path().join("report.json");
    let mut eval = infer_cmd();
    eval.args(["eval", "--model", "dream-cnn@0.1.0", "--backend", "tract", "--threads", "2"])
        .arg("--benchmark")
        .arg(dir.path().join("bench.json"))
        .arg("--json")
        .arg(&report);
    zoo(&mut eval);
    ok(&mut eval);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let snv = &report["subsets"][0];
    assert_eq!(snv["name"], "SNVs");
    assert_eq!(snv["n"], SNV_PAIRS);
    let eval_r = snv["pearson"].as_f64().unwrap();

    // The same pairs through `infer pairs`: id "alt,ref".
    let mut table_text = String::from("id\tref_sequence\talt_sequence\n");
    for (a, r) in &keys {
        writeln!(table_text, "{a},{r}\t{}\t{}", truth[r.as_str()].0, truth[a.as_str()].0).unwrap();
    }
    let input = dir.path().join("snv_pairs.tsv");
    std::fs::write(&input, table_text).unwrap();
    let mut pairs = infer_cmd();
    pairs.args(["pairs", "--model", "dream-cnn@0.1.0", "--backend", "tract", "--threads", "2"]).arg("--input").arg(&input);
    zoo(&mut pairs);
    let o = ok(&mut pairs);
    let (_, rows) = table(&o.stdout);
    assert_eq!(rows.len(), SNV_PAIRS);
    let (mut pred, mut meas) = (Vec::new(), Vec::new());
    for row in &rows {
        let (a, r) = row[0].split_once(',').unwrap();
        pred.push(row[3].parse::<f64>().unwrap());
        meas.push(truth[a].1 - truth[r].1);
    }
    let pairs_r = infer::eval::stats::pearson(&meas, &pred).unwrap();
    eprintln!("SNV Pearson r over {SNV_PAIRS} public pairs: infer eval {eval_r:.6}, from infer pairs {pairs_r:.6}");
    assert!((pairs_r - eval_r).abs() <= 1e-5, "infer eval {eval_r}, infer pairs {pairs_r}");
}
