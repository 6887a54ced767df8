//! Resource bounds of the sequence readers: a record without an end, a 10-Mb record and
//! gzip bombs end in a clear error with bounded memory; the limits are options.

use std::io::{Cursor, Read, Write};

use infer::input::{self, InputError, InputOptions, InvalidPolicy, Limits, RecordProblem};

fn open(bytes: Vec<u8>, opts: &InputOptions, limits: &Limits) -> input::Records {
    let reader: Box<dyn Read + Send> = Box::new(Cursor::new(bytes));
    input::open_reader("test", reader, opts, limits).unwrap()
}

fn first_error(records: input::Records) -> InputError {
    records.filter_map(Result::err).next().expect("an error")
}

fn gzip(parts: impl Iterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for p in parts {
        enc.write_all(&p).unwrap();
    }
    enc.finish().unwrap()
}

/// A stream that yields `n` bytes of `fill` without allocating them, counting reads.
struct Endless {
    left: u64,
    fill: u8,
    delivered: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        buf[..n].fill(self.fill);
        self.left -= n as u64;
        self.delivered.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

#[test]
fn ten_megabase_fasta_record_was_read_whole_into_memory() {
    // 10 Mb in 100-base lines: the default limit (1 Mb) stops the reader at ~3 MB.
    let mut fa = b">huge\n".to_vec();
    for _ in 0..100_000 {
        fa.extend_from_slice(&[b'A'; 100]);
        fa.push(b'\n');
    }
    let e = first_error(open(fa, &InputOptions::default(), &Limits::default()));
    assert!(matches!(e, InputError::Limit { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.starts_with("test:") && msg.contains("--max-record-length"), "{msg}");

    // With a higher limit the record is read, and a lower one than its length rejects it
    // as one invalid record that --skip-invalid can skip.
    let mut fa = b">big\n".to_vec();
    fa.extend_from_slice(&[b'C'; 5000]);
    fa.extend_from_slice(b"\n>ok\nACGT\n");
    let limits = Limits { max_record_length: 4096, ..Limits::default() };
    let opts = InputOptions { on_invalid: InvalidPolicy::Skip, ..InputOptions::default() };
    let mut r = open(fa.clone(), &opts, &limits);
    let ids: Vec<String> = r.by_ref().map(|x| x.unwrap().id).collect();
    assert_eq!(ids, ["ok"]);
    assert_eq!(r.skipped(), 1);
    let e = first_error(open(fa, &InputOptions::default(), &limits));
    match e {
        InputError::Record { problem: RecordProblem::TooLong { length: 5000, limit: 4096 }, .. } => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn endless_line_without_a_break_was_buffered_until_oom() {
    // 64 GiB of one line, never allocated: the reader must stop after ~3 MB.
    let delivered = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    for fill in [b'A', b'x'] {
        for format in [input::Format::Fasta, input::Format::Tsv, input::Format::Auto] {
            delivered.store(0, std::sync::atomic::Ordering::Relaxed);
            let mut head = if format == input::Format::Fasta { b">r\n".to_vec() } else { Vec::new() };
            head.push(fill);
            let reader: Box<dyn Read + Send> = Box::new(Cursor::new(head).chain(Endless {
                left: 64 << 30,
                fill,
                delivered: delivered.clone(),
            }));
            let opts = InputOptions { format, ..InputOptions::default() };
            let e = match input::open_reader("endless", reader, &opts, &Limits::default()) {
                Ok(r) => first_error(r),
                Err(e) => e,
            };
            assert!(matches!(e, InputError::Limit { .. }), "{format}: {e:?}");
            let read = delivered.load(std::sync::atomic::Ordering::Relaxed);
            assert!(read < 8 << 20, "{format}: read {read} bytes before stopping");
        }
    }
}

#[test]
fn gzip_bomb_decompressed_without_bound() {
    // 64 MiB of valid records in a few hundred KB, with a 1 MiB limit.
    let line = b"ACGTACGTACGTACGTACGTACGTACGTACGTACGTACGT\t1.5\n".repeat(1 << 10);
    let bomb = gzip((0..(64 << 20) / line.len()).map(|_| line.clone()));
    assert!(bomb.len() < 1 << 20, "bomb is {} bytes", bomb.len());
    let limits = Limits { max_decompressed_size: 1 << 20, ..Limits::default() };
    let records = open(bomb, &InputOptions::default(), &limits);
    let mut ok = 0;
    let mut err = None;
    for r in records {
        match r {
            Ok(_) => ok += 1,
            Err(e) => err = Some(e),
        }
    }
    let e = err.expect("the limit stops the reading");
    assert!(matches!(e, InputError::Limit { .. }), "{e:?}");
    assert!(e.to_string().contains("--max-decompressed-size"), "{e}");
    assert!(ok > 0 && ok < 30_000, "{ok} records read before the limit");

    // Zeros compress best of all and hold no line break: the record guard stops them
    // under the default limits.
    let zeros = gzip((0..64).map(|_| vec![0u8; 1 << 20]));
    let e = match input::open_reader("zeros.gz", Box::new(Cursor::new(zeros)), &InputOptions::default(), &Limits::default()) {
        Ok(r) => first_error(r),
        Err(e) => e,
    };
    assert!(matches!(e, InputError::Limit { .. } | InputError::Record { .. } | InputError::Malformed { .. }), "{e:?}");
}

#[test]
fn sizes_parse_with_binary_suffixes() {
    assert_eq!(input::parse_size("1000").unwrap(), 1000);
    assert_eq!(input::parse_size("512M").unwrap(), 512 << 20);
    assert_eq!(input::parse_size("32G").unwrap(), 32 << 30);
    assert_eq!(input::parse_size("2GiB").unwrap(), 2 << 30);
    assert_eq!(input::parse_size("1kb").unwrap(), 1024);
    assert!(input::parse_size("lots").is_err());
    assert!(input::parse_size("99999999999T").is_err());
    assert_eq!(Limits::default().max_decompressed_size, input::parse_size("32G").unwrap());
}

#[test]
fn limits_are_documented_in_help() {
    for verb in ["score", "check"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_infer")).args([verb, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("--max-record-length") && help.contains("[default: 1000000]"), "{verb}: {help}");
        assert!(help.contains("--max-decompressed-size") && help.contains("[default: 32G]"), "{verb}: {help}");
    }
}
