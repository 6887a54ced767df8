//! `infer score --shard i/n`: the n shard outputs, concatenated in order, are
//! byte-identical to the unsharded output (rule in `infer::shard`).

use crate::support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{BiLstm, Reference, SoftArgmaxCnn};

fn cnn_model(dir: &Path) -> PathBuf {
    let path = dir.join("cnn.onnx");
    SoftArgmaxCnn::random(6, 150, 3).write(&path, &support::dream_preprocessing(), &["expression"]);
    path
}

/// `infer score` with `extra` flags; the exit code, the output file's bytes and stderr.
fn score(model: &Path, input: &Path, out: &Path, extra: &[&str]) -> (i32, Vec<u8>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_infer"))
        .args(["score", "--backend", "tract", "--threads", "1", "--batch-size", "4", "--model"])
        .arg(model)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(out)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let bytes = std::fs::read(out).unwrap_or_default();
    (o.status.code().unwrap_or(-1), bytes, stderr)
}

fn fasta(seqs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, s) in seqs.iter().enumerate() {
        writeln!(out, ">seq{i} description").unwrap();
        out.extend_from_slice(s);
        out.push(b'\n');
    }
    out
}

fn assert_shards_concatenate_to_whole(model: &Path, input: &Path, dir: &Path, counts: &[u64], extra: &[&str]) {
    let (code, whole, err) = score(model, input, &dir.join("whole.tsv"), extra);
    assert_eq!(code, 0, "{err}");
    for &n in counts {
        let mut joined = Vec::new();
        for i in 1..=n {
            let shard = format!("{i}/{n}");
            let out = dir.join(format!("shard-{i}-of-{n}.tsv"));
            let mut args = extra.to_vec();
            args.extend(["--shard", &shard]);
            let (code, bytes, err) = score(model, input, &out, &args);
            assert_eq!(code, 0, "shard {shard}: {err}");
            assert!(out.exists(), "shard {shard}: an empty shard still writes its (empty) file");
            assert_eq!(bytes.starts_with(b"id\t"), i == 1, "shard {shard}: only shard 1 has the header");
            joined.extend(bytes);
        }
        assert_eq!(
            String::from_utf8_lossy(&joined),
            String::from_utf8_lossy(&whole),
            "{n} shards of {}",
            input.display()
        );
    }
}

#[test]
fn shard_outputs_concatenate_to_the_unsharded_output() {
    let dir = tempfile::tempdir().unwrap();
    let model = cnn_model(dir.path());
    // 23 records with batch size 4: shards cut across batches and leave partial ones.
    let seqs = support::demo_sequences(23);
    let plain = dir.path().join("seqs.fa");
    std::fs::write(&plain, fasta(&seqs)).unwrap();
    // 30 shards of 23 records: the last 7 are empty.
    assert_shards_concatenate_to_whole(&model, &plain, dir.path(), &[1, 3, 7, 30], &[]);

    // Gzip input, counted and read through the decompressor the same way.
    let gz = dir.path().join("seqs.fa.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    enc.write_all(&fasta(&seqs)).unwrap();
    enc.finish().unwrap();
    assert_shards_concatenate_to_whole(&model, &gz, dir.path(), &[2], &[]);
}

#[test]
fn records_the_reader_skips_are_not_counted_in_any_shard() {
    let dir = tempfile::tempdir().unwrap();
    let model = cnn_model(dir.path());
    let mut seqs = support::demo_sequences(10);
    seqs[1] = b"ACGT!!ACGT".to_vec();
    seqs[6] = b"NOT DNA".to_vec();
    let input = dir.path().join("dirty.fa");
    std::fs::write(&input, fasta(&seqs)).unwrap();
    assert_shards_concatenate_to_whole(&model, &input, dir.path(), &[4], &["--skip-invalid"]);
    let (_, whole, _) = score(&model, &input, &dir.path().join("w.tsv"), &["--skip-invalid"]);
    assert_eq!(String::from_utf8(whole).unwrap().lines().count(), 1 + 8);
    // Without --skip-invalid every shard stops on the bad record, even one whose range
    // lies beyond it (the counting pass reads it), and none leaves a file behind.
    for i in 1..=3 {
        let out = dir.path().join(format!("strict-{i}.tsv"));
        let (code, _, err) = score(&model, &input, &out, &["--shard", &format!("{i}/3")]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("dirty.fa:4"), "{err}");
        assert!(!out.exists());
    }
}

#[test]
fn records_the_model_rejects_are_not_counted_in_any_shard() {
    let dir = tempfile::tempdir().unwrap();
    // An exact-length model (20 nt) with two outputs.
    let model = dir.path().join("lstm.onnx");
    BiLstm::random(5, 20, 3, 2, 5).write(&model, &support::short_preprocessing(20), &["dev", "hk"]);
    let mut seqs = support::random_dna(19, 20, 7);
    for i in [0, 5, 6, 18] {
        seqs[i].pop();
    }
    let input = dir.path().join("mixed.fa");
    std::fs::write(&input, fasta(&seqs)).unwrap();
    assert_shards_concatenate_to_whole(&model, &input, dir.path(), &[2, 3, 5], &["--skip-invalid"]);
    let (code, _, err) = score(&model, &input, &dir.path().join("s.tsv"), &["--shard", "2/2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("mixed.fa:1") && err.contains("exactly 20"), "{err}");
}

#[test]
fn shard_flag_errors_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = cnn_model(dir.path());
    let input = dir.path().join("seqs.fa");
    std::fs::write(&input, fasta(&support::demo_sequences(3))).unwrap();
    for bad in ["0/2", "3/2", "1", "x/2"] {
        let (code, _, err) = score(&model, &input, &dir.path().join("o.tsv"), &["--shard", bad]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("shard"), "{bad}: {err}");
    }
    let (code, _, err) = score(&model, Path::new("-"), &dir.path().join("o.tsv"), &["--shard", "1/2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("standard input"), "{err}");
}
