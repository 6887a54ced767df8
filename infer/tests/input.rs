//! Sequence readers: every format, gzip, validation errors and the skip policy.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use infer::input::{open, Format, InputError, InputOptions, InvalidPolicy, SeqRecord};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn gzip(content: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(content).unwrap();
    enc.finish().unwrap()
}

fn opts() -> InputOptions {
    InputOptions::default()
}

fn read_all(path: &Path, o: &InputOptions) -> Result<Vec<SeqRecord>, InputError> {
    open(path, o)?.collect()
}

/// The error message of the first failing record (or of `open`).
fn first_error(path: &Path, o: &InputOptions) -> InputError {
    match open(path, o) {
        Err(e) => e,
        Ok(mut r) => r
            .find_map(|x| x.err())
            .unwrap_or_else(|| panic!("expected an error reading {}", path.display())),
    }
}

fn rec(id: &str, seq: &str, labels: &[f64], line: u64) -> SeqRecord {
    SeqRecord {
        id: id.into(),
        seq: seq.as_bytes().to_vec(),
        labels: labels.to_vec(),
        line,
    }
}

#[test]
fn fasta_multiline_lowercase_ids_and_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "a.fa",
        b">s1 some description\nACGT\nacgn\n>s2\nGGGG\n>s3\tx\nTTTT\nAA\nC\n",
    );
    let recs = read_all(&p, &opts()).unwrap();
    assert_eq!(
        recs,
        vec![
            rec("s1", "ACGTACGN", &[], 1),
            rec("s2", "GGGG", &[], 4),
            rec("s3", "TTTTAAC", &[], 6),
        ]
    );
    let r = open(&p, &opts()).unwrap();
    assert_eq!(r.format(), Format::Fasta);
    assert!(!r.is_gzip());
    assert!(r.label_names().is_empty());
}

#[test]
fn fasta_crlf_no_final_newline_and_leading_blank_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "a.fa", b"\n\n>s1\r\nAC\r\nGT\r\n>s2\r\nTT");
    let recs = read_all(&p, &opts()).unwrap();
    assert_eq!(
        recs,
        vec![rec("s1", "ACGT", &[], 3), rec("s2", "TT", &[], 6)]
    );
}

#[test]
fn fasta_invalid_character_names_file_line_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "data.fa",
        b">ok\nACGT\n>bad\nACGT\nACGTX\n>ok2\nAA\n",
    );
    let err = first_error(&p, &opts());
    let msg = err.to_string();
    assert!(
        msg.ends_with("data.fa:5: record 'bad': invalid character 'X' at position 9 (allowed: A C G T N, any case)"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
    assert!(err.is_skippable());
    assert_eq!(err.line(), Some(5));
}

#[test]
fn fasta_empty_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "e.fa", b">a\nAC\n>empty\n>c\nGG\n");
    let msg = first_error(&p, &opts()).to_string();
    assert!(
        msg.contains("e.fa:3: record 'empty': empty sequence"),
        "{msg}"
    );
    // a header at the very end, without sequence lines
    let p = write(dir.path(), "e.fa", b">a\nAC\n>last\n");
    let o = InputOptions {
        on_invalid: InvalidPolicy::Skip,
        ..opts()
    };
    let mut r = open(&p, &o).unwrap();
    assert_eq!(r.by_ref().count(), 1);
    assert_eq!(r.skipped(), 1);
    assert!(r.skip_report().unwrap().contains("e.fa:3: empty sequence"));
}

#[test]
fn fasta_without_id_gets_line_id() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "a.fa", b">\nAC\n> \nGG\n");
    let recs = read_all(&p, &opts()).unwrap();
    assert_eq!(recs[0].id, "line:1");
    assert_eq!(recs[1].id, "line:3");
}

#[test]
fn fastq_records_and_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "r.fq",
        b"@r1 x\nACGT\n+\nIIII\n@r2\nggnn\n+r2\nIIII\n",
    );
    let recs = read_all(&p, &opts()).unwrap();
    assert_eq!(
        recs,
        vec![rec("r1", "ACGT", &[], 1), rec("r2", "GGNN", &[], 5)]
    );
    assert_eq!(open(&p, &opts()).unwrap().format(), Format::Fastq);
}

#[test]
fn fastq_quality_length_mismatch_is_malformed_and_never_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "r.fq",
        b"@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\nIII\n@r3\nAAAA\n+\nIIII\n",
    );
    let o = InputOptions {
        on_invalid: InvalidPolicy::Skip,
        ..opts()
    };
    let mut r = open(&p, &o).unwrap();
    assert!(r.next().unwrap().is_ok());
    let err = r.next().unwrap().unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}:5: record 'r2': malformed FASTQ", p.display())),
        "{msg}"
    );
    assert!(msg.contains("quality"), "{msg}");
    assert!(!err.is_skippable());
    assert!(r.next().is_none(), "structural errors end the iteration");
}

#[test]
fn fastq_invalid_character_and_truncated_record() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "r.fq",
        b"@r1\nACGT\n+\nIIII\n@r2\nAC.T\n+\nIIII\n",
    );
    let msg = first_error(&p, &opts()).to_string();
    assert!(
        msg.contains("r.fq:6: record 'r2': invalid character '.' at position 3"),
        "{msg}"
    );
    let p = write(dir.path(), "t.fq", b"@r1\nACGT\n+\nIIII\n@r2\nACGT\n");
    let err = first_error(&p, &opts());
    assert!(!err.is_skippable());
    let msg = err.to_string();
    assert!(
        msg.contains("t.fq:") && msg.contains("record 'r2'") && msg.contains("unexpected end"),
        "{msg}"
    );
}

#[test]
fn explicit_format_overrides_detection() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "r.fq", b"@r1\nACGT\n+\nIIII\n");
    let o = InputOptions {
        format: Format::Fasta,
        ..opts()
    };
    let msg = first_error(&p, &o).to_string();
    assert!(
        msg.contains("r.fq:1") && msg.contains("malformed FASTA"),
        "{msg}"
    );
    // --format tsv: the first line is data even if it looks like a header
    let p = write(dir.path(), "h.tsv", b"sequence\tvalue\nACGT\t1\n");
    let o = InputOptions {
        format: Format::Tsv,
        ..opts()
    };
    let msg = first_error(&p, &o).to_string();
    assert!(
        msg.contains("h.tsv:1: invalid character 's' at position 1"),
        "{msg}"
    );
}

#[test]
fn challenge_tsv_labels_third_column_and_no_final_newline() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "d.txt",
        b"ACGT\t15.18\t3\nacgn\t12\t1\n\nTTTT\t0.5\t2",
    );
    let r = open(&p, &opts()).unwrap();
    assert_eq!(r.format(), Format::Tsv);
    assert_eq!(r.label_names(), ["value"]);
    let recs: Vec<_> = r.collect::<Result<_, _>>().unwrap();
    assert_eq!(
        recs,
        vec![
            rec("line:1", "ACGT", &[15.18], 1),
            rec("line:2", "ACGN", &[12.0], 2),
            rec("line:4", "TTTT", &[0.5], 4),
        ]
    );
}

#[test]
fn challenge_tsv_sequences_only() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.txt", b"ACGT\nGGCC\r\n");
    let r = open(&p, &opts()).unwrap();
    assert!(r.label_names().is_empty());
    let recs: Vec<_> = r.collect::<Result<_, _>>().unwrap();
    assert_eq!(
        recs,
        vec![rec("line:1", "ACGT", &[], 1), rec("line:2", "GGCC", &[], 2)]
    );
}

#[test]
fn challenge_tsv_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[u8], &str)] = &[
        (
            b"ACGT\t1\nACGT\n",
            "t.txt:2: expected 2 field(s) (sequence, value) as on line 1, found 1 field(s)",
        ),
        (b"ACGT\t1\nACGT\t1\t2\t3\n", "t.txt:2: expected 2 field(s)"),
        (
            b"ACGT\t1\nACGT\tabc\n",
            "t.txt:2: unreadable label 'abc' in column 2 (not a number)",
        ),
        (b"ACGT\t1\nACGT\tnan\n", "t.txt:2: unreadable label 'nan'"),
        (b"ACGT\t1\n\t2\n", "t.txt:2: empty sequence"),
        (
            b"ACGT\t1\nAC GT\t2\n",
            "t.txt:2: invalid character ' ' at position 3",
        ),
        (
            b"ACGT\t1\nACGU\t2\n",
            "t.txt:2: invalid character 'U' at position 4 (allowed: A C G T N, any case)",
        ),
        (
            b"ACGT\t1\nAC\x01T\t2\n",
            "t.txt:2: invalid character byte 0x01 at position 3",
        ),
    ];
    for (content, want) in cases {
        let p = write(dir.path(), "t.txt", content);
        let err = first_error(&p, &opts());
        let msg = err.to_string();
        assert!(msg.contains(want), "want {want:?}, got {msg:?}");
        assert!(!msg.contains('\n'), "{msg}");
        assert!(err.is_skippable(), "{msg}");
    }
}

#[test]
fn error_policy_can_continue_after_a_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "t.txt", b"ACGT\t1\nAXGT\t2\nGG\t3\n");
    let items: Vec<_> = open(&p, &opts()).unwrap().collect();
    assert_eq!(items.len(), 3);
    assert!(items[0].is_ok() && items[1].is_err() && items[2].is_ok());
}

#[test]
fn skip_policy_counts_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "t.txt",
        b"ACGT\t1\nAXGT\t2\nGG\t3\n\t4\nCC\tx\nAA\t5\nA-\t6\nA*\t7\nA!\t8\nA?\t9\n",
    );
    let o = InputOptions {
        on_invalid: InvalidPolicy::Skip,
        ..opts()
    };
    let mut r = open(&p, &o).unwrap();
    let recs: Vec<SeqRecord> = r.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        recs.iter().map(|r| r.line).collect::<Vec<_>>(),
        vec![1, 3, 6]
    );
    assert_eq!(r.skipped(), 7);
    assert_eq!(r.skip_examples().len(), infer::input::MAX_SKIP_EXAMPLES);
    assert_eq!(r.skip_examples()[0].line(), Some(2));
    let report = r.skip_report().unwrap();
    assert!(
        report.starts_with("skipped 7 invalid records (first: "),
        "{report}"
    );
    assert!(
        report.contains("t.txt:2: invalid character 'X' at position 2"),
        "{report}"
    );

    let p = write(dir.path(), "ok.txt", b"ACGT\t1\n");
    let mut r = open(&p, &o).unwrap();
    assert_eq!(r.by_ref().count(), 1);
    assert_eq!(r.skipped(), 0);
    assert!(r.skip_report().is_none());
}

#[test]
fn table_with_named_columns() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "h.txt",
        b"seq_id\tseq\tmean_value\tfold\nx1\tACGT\t-0.5\t0\nx2\tggcc\t2\t8\n",
    );
    let o = InputOptions {
        label_columns: vec!["mean_value".into(), "fold".into()],
        ..opts()
    };
    let r = open(&p, &o).unwrap();
    assert_eq!(r.format(), Format::Table);
    assert_eq!(r.label_names(), ["mean_value", "fold"]);
    let recs: Vec<_> = r.collect::<Result<_, _>>().unwrap();
    assert_eq!(
        recs,
        vec![
            rec("x1", "ACGT", &[-0.5, 0.0], 2),
            rec("x2", "GGCC", &[2.0, 8.0], 3)
        ]
    );

    // explicit names, case-insensitive fallback, id from another column
    let o = InputOptions {
        id_column: Some("FOLD".into()),
        seq_column: Some("seq".into()),
        label_columns: vec!["mean_value".into()],
        ..opts()
    };
    let recs = read_all(&p, &o).unwrap();
    assert_eq!(recs[1], rec("8", "GGCC", &[2.0], 3));
}

#[test]
fn table_auto_detected_without_names() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.tsv",
        b"index\tsequence\texpression\n2\tACGT\t0.39\n3\tGGGG\t-0.4",
    );
    let r = open(&p, &opts()).unwrap();
    assert_eq!(r.format(), Format::Table);
    let recs: Vec<_> = r.collect::<Result<_, _>>().unwrap();
    assert_eq!(
        recs,
        vec![rec("2", "ACGT", &[], 2), rec("3", "GGGG", &[], 3)]
    );
}

#[test]
fn table_csv_delimiter_is_sniffed() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "c.csv",
        b"\"id\",\"seq\",\"y\"\nr1,ACGT,1.5\nr2,\"GG\",\"2\"\n",
    );
    let o = InputOptions {
        label_columns: vec!["y".into()],
        ..opts()
    };
    let recs = read_all(&p, &o).unwrap();
    assert_eq!(
        recs,
        vec![rec("r1", "ACGT", &[1.5], 2), rec("r2", "GG", &[2.0], 3)]
    );
}

#[test]
fn table_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "h.txt",
        b"seq_id\tseq\tmean_value\nx1\tACGT\t1\nx2\tACGT\nx3\tACGT\tNA\n",
    );
    // missing named column: at open, line 1, not skippable
    let o = InputOptions {
        label_columns: vec!["activity".into()],
        ..opts()
    };
    let err = open(&p, &o).err().expect("missing column");
    let msg = err.to_string();
    assert!(
        msg.contains(
            "h.txt:1: column 'activity' not found in the header (columns: seq_id, seq, mean_value)"
        ),
        "{msg}"
    );
    assert!(!err.is_skippable());

    let o = InputOptions {
        label_columns: vec!["mean_value".into()],
        ..opts()
    };
    let items: Vec<_> = open(&p, &o).unwrap().collect();
    let msgs: Vec<String> = items
        .iter()
        .filter_map(|x| x.as_ref().err())
        .map(|e| e.to_string())
        .collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        msgs[0].contains("h.txt:3: expected 3 fields as in the header, found 2"),
        "{msgs:?}"
    );
    assert!(
        msgs[1].contains("h.txt:4: record 'x3': unreadable label 'NA' in column 'mean_value'"),
        "{msgs:?}"
    );

    // header without a recognisable sequence column
    let p = write(dir.path(), "n.txt", b"name\tdna\tvalue\nx\tACGT\t1\n");
    let msg = open(&p, &opts()).err().expect("no seq column").to_string();
    assert!(msg.contains("n.txt:1: no sequence column"), "{msg}");
    assert!(msg.contains("--seq-column"), "{msg}");
    // with the name given it works
    let o = InputOptions {
        seq_column: Some("dna".into()),
        ..opts()
    };
    assert_eq!(read_all(&p, &o).unwrap()[0], rec("x", "ACGT", &[], 2));
}

#[test]
fn column_names_need_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "a.fa", b">a\nACGT\n");
    let o = InputOptions {
        seq_column: Some("seq".into()),
        ..opts()
    };
    let err = open(&p, &o).err().expect("options error");
    assert!(err.to_string().contains("a.fa: column names"), "{err}");
}

#[test]
fn empty_inputs() {
    let dir = tempfile::tempdir().unwrap();
    for content in [&b""[..], b"\n\n", b"  \n"] {
        let p = write(dir.path(), "empty.txt", content);
        assert_eq!(read_all(&p, &opts()).unwrap().len(), 0);
        let o = InputOptions {
            format: Format::Fasta,
            ..opts()
        };
        assert_eq!(read_all(&p, &o).unwrap().len(), 0);
        let gz = write(dir.path(), "empty.gz", &gzip(content));
        assert_eq!(read_all(&gz, &opts()).unwrap().len(), 0);
    }
    let p = write(dir.path(), "empty.txt", b"");
    let o = InputOptions {
        format: Format::Table,
        ..opts()
    };
    assert!(open(&p, &o).is_err(), "a table needs a header");
}

#[test]
fn missing_file_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let err = open(&dir.path().join("nope.fa"), &opts()).err().unwrap();
    assert!(err.to_string().contains("nope.fa: cannot open"), "{err}");
    let err = open(dir.path(), &opts()).err().unwrap();
    assert!(err.to_string().contains("cannot open"), "{err}");
}

#[test]
fn gzip_detected_by_content_for_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[u8], usize)] = &[
        ("a.fa", b">a\nACGT\n>b\nGG\n", 2),
        ("r.fq", b"@r1\nACGT\n+\nIIII\n", 1),
        ("d.txt", b"ACGT\t1\nGG\t2", 2),
        ("h.txt", b"id\tseq\nx\tACGT\n", 1),
    ];
    for (name, content, n) in cases {
        // named without .gz: detection must look at the bytes
        let p = write(dir.path(), name, &gzip(content));
        let r = open(&p, &opts()).unwrap();
        assert!(r.is_gzip());
        let plain = read_all(&write(dir.path(), "plain", content), &opts()).unwrap();
        let recs: Vec<_> = r.collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), *n);
        assert_eq!(recs, plain, "{name}");
    }
    // concatenated gzip members (as from `cat a.gz b.gz`) are one stream
    let mut two = gzip(b"ACGT\t1\n");
    two.extend(gzip(b"GGGG\t2\n"));
    let p = write(dir.path(), "two.gz", &two);
    assert_eq!(read_all(&p, &opts()).unwrap().len(), 2);
}

#[test]
fn gzip_line_numbers_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "d.txt.gz",
        &gzip(b"ACGT\t1\nACGT\t2\nAC#T\t3\n"),
    );
    let msg = first_error(&p, &opts()).to_string();
    assert!(
        msg.contains("d.txt.gz:3: invalid character '#' at position 3"),
        "{msg}"
    );
}

/// A big enough file that a cut lands mid-stream, far from the start.
fn big_tsv() -> Vec<u8> {
    let mut s = Vec::new();
    let mut x: u64 = 12345;
    for i in 0..20_000 {
        for _ in 0..110 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.push(b"ACGT"[(x >> 62) as usize]);
        }
        s.extend(format!("\t{}.{}\n", i % 17, i).as_bytes());
    }
    s
}

#[test]
fn truncated_gzip_is_an_error_not_eof() {
    let dir = tempfile::tempdir().unwrap();
    let content = big_tsv();
    let gz = gzip(&content);
    for (label, cut) in [
        ("mid-stream", gz.len() / 2),
        ("trailer", gz.len() - 4),
        ("one byte", gz.len() - 1),
    ] {
        {
            let p = write(dir.path(), "cut.txt.gz", &gz[..cut]);
            for policy in [InvalidPolicy::Error, InvalidPolicy::Skip] {
                let o = InputOptions {
                    on_invalid: policy,
                    ..opts()
                };
                let mut r = open(&p, &o).unwrap();
                let mut ok = 0;
                let err = loop {
                    match r.next() {
                        Some(Ok(_)) => ok += 1,
                        Some(Err(e)) => break e,
                        None => {
                            panic!("{label}: truncated gzip read as a complete file ({ok} records)")
                        }
                    }
                };
                if label == "mid-stream" {
                    assert!(ok < 20_000, "{label}");
                }
                // A cut trailer leaves all records readable, but the end must not pass.
                assert!(!err.is_skippable());
                let msg = err.to_string();
                assert!(
                    msg.contains("cut.txt.gz:") && msg.contains("truncated gzip stream"),
                    "{label}: {msg}"
                );
                let line = err.line().unwrap();
                assert!(
                    line as usize > ok,
                    "{label}: line {line} after {ok} records"
                );
                assert!(r.next().is_none());
            }
        }
    }
    // FASTA and FASTQ go through needletail: the same error must come through
    let mut fa = Vec::new();
    for (i, chunk) in content.split(|&b| b == b'\n').take(5000).enumerate() {
        let seq = chunk.split(|&b| b == b'\t').next().unwrap();
        fa.extend(format!(">s{i}\n").as_bytes());
        fa.extend(seq);
        fa.push(b'\n');
    }
    let mut fq = Vec::new();
    for (i, chunk) in content.split(|&b| b == b'\n').take(5000).enumerate() {
        let seq = chunk.split(|&b| b == b'\t').next().unwrap();
        fq.extend(format!("@s{i}\n").as_bytes());
        fq.extend(seq);
        fq.extend(b"\n+\n");
        fq.extend(vec![b'I'; seq.len()]);
        fq.push(b'\n');
    }
    for (name, plain) in [("cut.fa.gz", fa), ("cut.fq.gz", fq)] {
        let gz = gzip(&plain);
        for cut in [gz.len() / 2, gz.len() - 3] {
            let p = write(dir.path(), name, &gz[..cut]);
            let err = first_error(
                &p,
                &InputOptions {
                    on_invalid: InvalidPolicy::Skip,
                    ..opts()
                },
            );
            let msg = err.to_string();
            assert!(
                msg.contains(name) && msg.contains("truncated gzip stream"),
                "{msg}"
            );
            assert!(err.line().unwrap() > 1, "{msg}");
        }
    }
}

#[test]
fn corrupt_gzip_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut gz = gzip(&big_tsv());
    let mid = gz.len() / 2;
    for b in &mut gz[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let p = write(dir.path(), "bad.gz", &gz);
    let err = first_error(
        &p,
        &InputOptions {
            on_invalid: InvalidPolicy::Skip,
            ..opts()
        },
    );
    assert!(!err.is_skippable());
    assert!(err.to_string().contains("bad.gz:"), "{err}");
    assert!(err.to_string().contains("gzip"), "{err}");
}

#[test]
fn records_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<infer::input::Records>();
    assert_send::<InputError>();
}

#[test]
fn format_names_parse() {
    assert_eq!("FASTA".parse::<Format>().unwrap(), Format::Fasta);
    assert_eq!("fq".parse::<Format>().unwrap(), Format::Fastq);
    assert_eq!("table".parse::<Format>().unwrap(), Format::Table);
    assert!("csv".parse::<Format>().is_err());
    assert_eq!(Format::Tsv.to_string(), "tsv");
}

fn count(path: &str, o: &InputOptions) -> (usize, Vec<SeqRecord>) {
    let p = Path::new(DATA).join(path);
    let recs = read_all(&p, o).unwrap_or_else(|e| panic!("{path}: {e}"));
    (recs.len(), recs.into_iter().take(2).collect())
}

#[test]
fn reads_all_shared_data() {
    let (n, first) = count("dream/demo_train.txt", &opts());
    assert_eq!(n, 6370);
    assert_eq!(first[0].labels.len(), 1);
    assert!(first[0].seq.starts_with(b"TGCATTTTTTTCACATC"));
    assert_eq!(first[0].id, "line:1");

    let o = InputOptions {
        id_column: Some("index".into()),
        seq_column: Some("sequence".into()),
        label_columns: vec!["expression".into()],
        ..opts()
    };
    let (n, first) = count("dream/public_leaderboard.tsv", &o);
    assert_eq!(n, 9045);
    assert_eq!(first[0].id, "2");
    assert_eq!(first[0].line, 2);
    assert!((first[0].labels[0] - 0.398692283648616).abs() < 1e-15);
    // and without any options (header auto-detected, id = index)
    let (n, first) = count("dream/public_leaderboard.tsv", &opts());
    assert_eq!(n, 9045);
    assert_eq!(first[0].id, "2");

    for split in ["train", "valid", "test"] {
        let o = InputOptions {
            label_columns: vec!["mean_value".into()],
            ..opts()
        };
        let (n, first) = count(&format!("human/sample_{split}.txt"), &o);
        assert_eq!(n, 1000, "human {split}");
        assert_eq!(first[0].seq.len(), 230);
        assert_eq!(first[0].labels.len(), 1);
    }
    for split in ["train", "val", "test"] {
        let o = InputOptions {
            id_column: Some("ID".into()),
            seq_column: Some("Sequence".into()),
            label_columns: vec!["Dev_log2_enrichment".into(), "Hk_log2_enrichment".into()],
            ..opts()
        };
        let (n, first) = count(&format!("drosophila/sample_{split}.txt"), &o);
        assert_eq!(n, 1000, "drosophila {split}");
        assert_eq!(first[0].seq.len(), 249);
        assert_eq!(first[0].labels.len(), 2);
        assert!(first[0].id.starts_with("chrX_"));
    }
}

#[test]
fn shared_data_gzipped_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let raw = std::fs::read(Path::new(DATA).join("dream/demo_train.txt")).unwrap();
    let p = write(dir.path(), "demo_train.txt", &gzip(&raw));
    let plain = read_all(&Path::new(DATA).join("dream/demo_train.txt"), &opts()).unwrap();
    assert_eq!(read_all(&p, &opts()).unwrap(), plain);
}
