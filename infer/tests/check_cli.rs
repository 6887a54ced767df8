//! `infer check` as a user sees it: exit codes and one-line messages, files and stdin.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use flate2::write::GzEncoder;
use flate2::Compression;

const BIN: &str = env!("CARGO_BIN_EXE_infer");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");

fn check(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .arg("check")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // The reader may stop early on an error; a closed pipe is fine then.
        let _ = pipe.write_all(data);
    }
    child.wait_with_output().unwrap()
}

fn gzip(content: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(content).unwrap();
    enc.finish().unwrap()
}

/// Exit code 2, exactly one stderr line mentioning `name:line`, no panic.
fn assert_usage_error(out: &Output, want: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr:?}");
    assert!(stderr.starts_with("infer: "), "{stderr}");
    assert!(stderr.contains(want), "want {want:?} in {stderr:?}");
}

#[test]
fn bad_files_give_one_line_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "chars.fa",
            b">a\nACGT\n>b\nACXT\n",
            "chars.fa:4: record 'b': invalid character 'X' at position 3",
        ),
        (
            "empty.fa",
            b">a\nACGT\n>b\n>c\nGG\n",
            "empty.fa:3: record 'b': empty sequence",
        ),
        (
            "last_empty.fa",
            b">a\nACGT\n>b\n",
            "last_empty.fa:3: empty sequence",
        ),
        (
            "qual.fq",
            b"@a\nACGT\n+\nIII\n",
            "qual.fq:1: record 'a': malformed FASTQ",
        ),
        (
            "fields.txt",
            b"ACGT\t1\nACGT\n",
            "fields.txt:2: expected 2 field(s)",
        ),
        (
            "label.txt",
            b"ACGT\t1\nACGT\t1.2.3\n",
            "label.txt:2: unreadable label '1.2.3'",
        ),
        (
            "table.txt",
            b"id\tseq\nx\tAC\ny\n",
            "table.txt:3: expected 2 fields as in the header",
        ),
        (
            "bin.txt",
            b"ACGT\t1\n\xff\xfe\x00\t1\n",
            "bin.txt:2: invalid character byte 0xff at position 1",
        ),
    ];
    for (name, content, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let out = check(&["--input", path.to_str().unwrap()], None);
        assert_usage_error(&out, want);
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
    }
}

#[test]
fn truncated_gzip_fails() {
    let dir = tempfile::tempdir().unwrap();
    let raw = std::fs::read(Path::new(DATA).join("dream/demo_train.txt")).unwrap();
    let gz = gzip(&raw);
    let path = dir.path().join("demo.txt.gz");
    std::fs::write(&path, &gz[..gz.len() / 3]).unwrap();
    let out = check(&["-i", path.to_str().unwrap(), "--skip-invalid"], None);
    assert_usage_error(&out, "demo.txt.gz:");
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated gzip stream"));
    // same from stdin
    let out = check(&["-i", "-"], Some(&gz[..gz.len() / 3]));
    assert_usage_error(&out, "<stdin>:");
}

#[test]
fn missing_file_and_missing_column() {
    let out = check(&["-i", "/nonexistent/seqs.fa"], None);
    assert_usage_error(&out, "/nonexistent/seqs.fa: cannot open");
    let human = format!("{DATA}/human/sample_test.txt");
    let out = check(&["-i", &human, "--label-columns", "activity"], None);
    assert_usage_error(&out, "sample_test.txt:1: column 'activity' not found");
}

#[test]
fn bad_flags_are_usage_errors() {
    let out = check(&["-i", "x", "--format", "bam"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn real_files_are_counted() {
    let out = check(&["--input", &format!("{DATA}/dream/demo_train.txt")], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("6370 records (0 skipped)\n"), "{stdout}");
    assert!(stdout.contains("labels: value"), "{stdout}");

    let out = check(
        &[
            "-i",
            &format!("{DATA}/drosophila/sample_val.txt"),
            "--id-column",
            "ID",
            "--seq-column",
            "Sequence",
            "--label-columns",
            "Dev_log2_enrichment,Hk_log2_enrichment",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("1000 records (0 skipped)\n"), "{stdout}");
    assert!(
        stdout.contains("labels: Dev_log2_enrichment, Hk_log2_enrichment"),
        "{stdout}"
    );
    assert!(stdout.contains("length: min 249, max 249"), "{stdout}");
}

#[test]
fn stdin_plain_and_gzip() {
    let raw = std::fs::read(Path::new(DATA).join("dream/public_leaderboard.tsv")).unwrap();
    for data in [raw.clone(), gzip(&raw)] {
        let out = check(
            &[
                "-i",
                "-",
                "--id-column",
                "index",
                "--label-columns",
                "expression",
            ],
            Some(&data),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.starts_with("9045 records (0 skipped)\n"), "{stdout}");
        assert!(stdout.contains("<stdin>"), "{stdout}");
    }
    let out = check(&["-i", "-"], Some(b">a\nACGT\n>b\nAC*T\n"));
    assert_usage_error(
        &out,
        "<stdin>:4: record 'b': invalid character '*' at position 3",
    );
    let out = check(
        &["-i", "-", "--format", "fastq"],
        Some(b"@r\nACGT\n+\nIIII\n"),
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("1 records (0 skipped)"));
}

#[test]
fn skip_invalid_reports_count_and_first_message() {
    let data = b"ACGT\t1\nAXGT\t2\nGGGG\t3\nCC\tfoo\n";
    let out = check(&["-i", "-", "--skip-invalid"], Some(data));
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.starts_with("2 records (2 skipped)\n"), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(
            "skipped 2 invalid records (first: <stdin>:2: invalid character 'X' at position 2"
        ),
        "{stderr}"
    );
    // nothing valid at all is an error
    let out = check(&["-i", "-", "--skip-invalid"], Some(b"AXGT\t2\n"));
    assert_usage_error(&out, "no valid records");
}
