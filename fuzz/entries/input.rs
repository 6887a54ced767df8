//! Fuzz entry for the sequence readers (FASTA, FASTQ, headerless TSV, tables; plain or
//! gzip). The first byte picks the options, the rest is the file. Shared by
//! fuzz/fuzz_targets/input.rs and infer/tests/fuzz_replay.rs.

use infer::input::{self, Format, InputOptions, InvalidPolicy, Limits};

pub fn run(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else { return };
    let format = [Format::Auto, Format::Fasta, Format::Fastq, Format::Tsv, Format::Table][(sel % 5) as usize];
    let named = sel & 0x08 != 0;
    let opts = InputOptions {
        format,
        id_column: named.then(|| "id".to_string()),
        seq_column: named.then(|| "seq".to_string()),
        label_columns: if sel & 0x10 != 0 { vec!["value".to_string()] } else { Vec::new() },
        delimiter: [None, Some(b','), Some(b'\t'), Some(b';')][((sel >> 5) & 3) as usize],
        on_invalid: if sel & 0x80 != 0 { InvalidPolicy::Skip } else { InvalidPolicy::Error },
    };
    // Small limits, so the fuzzer reaches them.
    let limits = Limits { max_record_length: 4096, max_decompressed_size: 1 << 20 };
    let reader: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(body.to_vec()));
    let Ok(mut records) = input::open_reader("fuzz", reader, &opts, &limits) else { return };
    let mut n = 0;
    while let Some(rec) = records.next() {
        match rec {
            Ok(rec) => {
                assert!(!rec.seq.is_empty(), "empty sequence passed validation");
                assert!(rec.seq.len() <= limits.max_record_length, "record over the length limit");
                assert!(rec.seq.iter().all(|b| b"ACGTN".contains(b)), "sequence not upper-case ACGTN");
                assert!(rec.line >= 1, "line numbers are 1-based");
            }
            Err(e) => {
                let _ = e.to_string();
                assert!(e.line().is_none_or(|l| l >= 1), "line numbers are 1-based");
            }
        }
        n += 1;
        if n > 100_000 {
            break;
        }
    }
    let _ = records.skip_report();
    let _ = (records.format(), records.label_names(), records.skipped());
}
