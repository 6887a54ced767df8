//! The reference encoding (spec training.md §1.2–1.5, §7; benchmarks.md §1).

use infer::preprocess::{
    reverse_complement, ExtraChannel, NPolicy, Padding, PreprocessError, Preprocessing,
    DREAM_PLASMID_UPSTREAM,
};
use proptest::prelude::*;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared");

// Literal example of spec training.md §1.2 and §1.4.
const RAW_110: &str = "TGCATTTTTTTCACATCCTTCAACCAAAATATAATATTCAATATCTTGTAGGGACGATCAATATAAGTCGCCCGGACCATATAAGGCTAAGGTGTGGGGTTACGGCTGTT";
const PADDED_150: &str = "AGTGCTAGCAGGAATGATGCAAAAGGTTCCCGATTCGAACTGCATTTTTTTCACATCCTTCAACCAAAATATAATATTCAATATCTTGTAGGGACGATCAATATAAGTCGCCCGGACCATATAAGGCTAAGGTGTGGGGTTACGGCTGTT";
const REVCOMP_150: &str = "AACAGCCGTAACCCCACACCTTAGCCTTATATGGTCCGGGCGACTTATATTGATCGTCCCTACAAGATATTGAATATTATATTTTGGTTGAAGGATGTGAAAAAAATGCAGTTCGAATCGGGAACCTTTTGCATCATTCCTGCTAGCACT";

fn yeast() -> Preprocessing {
    Preprocessing::dream_yeast()
}

/// Channel-major (C, L) value at channel `c`, position `i`.
fn at(enc: &[f32], len: usize, c: usize, i: usize) -> f32 {
    enc[c * len + i]
}

fn encode(p: &Preprocessing, padded: &[u8], rev: bool, single: bool) -> Vec<f32> {
    let mut out = vec![f32::NAN; p.channels() * p.length];
    p.encode(padded, rev, single, &mut out);
    out
}

#[test]
fn golden_padding_and_reverse_complement_from_spec() {
    let p = yeast();
    assert_eq!(RAW_110.len(), 110);
    let padded = p.pad(RAW_110.as_bytes()).unwrap();
    assert_eq!(String::from_utf8(padded.clone()).unwrap(), PADDED_150);
    assert_eq!(
        String::from_utf8(reverse_complement(&padded)).unwrap(),
        REVCOMP_150
    );
}

#[test]
fn golden_example_matches_spec_test_vectors() {
    let text = std::fs::read_to_string(format!("{SHARED}/spec/test_vectors.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let raw = v["raw_sequence"].as_str().unwrap();
    let padded = yeast().pad(raw.as_bytes()).unwrap();
    assert_eq!(
        std::str::from_utf8(&padded).unwrap(),
        v["padded_150"].as_str().unwrap()
    );
    assert_eq!(
        std::str::from_utf8(&reverse_complement(&padded)).unwrap(),
        v["revcomp_150"].as_str().unwrap()
    );
}

#[test]
fn upstream_const_is_the_150_nt_before_the_plasmid_n_run() {
    let text = std::fs::read_to_string(format!("{SHARED}/data/dream/plasmid.json")).unwrap();
    let plasmid: String = serde_json::from_str(&text).unwrap();
    let run = "N".repeat(80);
    let start = plasmid.find(&run).expect("80-N insert site");
    assert_eq!(start, 3648, "spec: INSERT_START = 3648");
    assert!(
        !plasmid[start + 80..].starts_with('N'),
        "the N run is exactly 80 long"
    );
    assert_eq!(plasmid.matches(&run).count(), 1);
    assert_eq!(&plasmid[start - 150..start], DREAM_PLASMID_UPSTREAM);
    let spec_txt = std::fs::read_to_string(format!("{SHARED}/spec/plasmid.txt")).unwrap();
    assert_eq!(spec_txt.trim(), plasmid);
}

#[test]
fn dream_yeast_description() {
    let p = yeast();
    assert_eq!(p.length, 150);
    assert_eq!(p.channels(), 6);
    assert_eq!(p.alphabet, "AGCT");
    assert_eq!(
        p.extra_channels,
        vec![ExtraChannel::Reverse, ExtraChannel::Singleton]
    );
    assert_eq!(p.n_policy, NPolicy::Zeros);
    assert!(p.rc_average);
    assert_eq!(
        p.padding,
        Padding::Plasmid {
            upstream: DREAM_PLASMID_UPSTREAM.to_string(),
            trim_5prime: 17
        }
    );
    p.validate().unwrap();
    let b = Preprocessing::benchmark(230);
    assert_eq!(b.channels(), 5);
    b.validate().unwrap();
}

#[test]
fn one_hot_order_is_agct_with_flag_channels() {
    let p = yeast();
    let mut padded = PADDED_150.as_bytes().to_vec();
    padded[..5].copy_from_slice(b"AGCTN");
    let enc = encode(&p, &padded, true, false);
    let expect_col = |i: usize, col: [f32; 4]| {
        for (c, &want) in col.iter().enumerate() {
            assert_eq!(at(&enc, 150, c, i), want, "position {i} channel {c}");
        }
    };
    expect_col(0, [1.0, 0.0, 0.0, 0.0]);
    expect_col(1, [0.0, 1.0, 0.0, 0.0]);
    expect_col(2, [0.0, 0.0, 1.0, 0.0]);
    expect_col(3, [0.0, 0.0, 0.0, 1.0]);
    expect_col(4, [0.0, 0.0, 0.0, 0.0]); // N -> zeros
    for i in 0..150 {
        assert_eq!(at(&enc, 150, 4, i), 1.0, "reverse channel");
        assert_eq!(at(&enc, 150, 5, i), 0.0, "singleton channel");
    }
    // each non-N column is exactly one-hot
    for i in 5..150 {
        let s: f32 = (0..4).map(|c| at(&enc, 150, c, i)).sum();
        assert_eq!(s, 1.0);
    }
    let enc = encode(&p, &padded, false, true);
    assert!((0..150).all(|i| at(&enc, 150, 4, i) == 0.0 && at(&enc, 150, 5, i) == 1.0));
}

#[test]
fn n_encodes_as_all_zero_column() {
    let p = yeast();
    let raw = format!("{}{}", &RAW_110[..17], "N".repeat(93));
    let padded = p.pad(raw.as_bytes()).unwrap();
    assert!(padded[57..].iter().all(|&b| b == b'N'));
    let enc = encode(&p, &padded, false, false);
    for i in 57..150 {
        for c in 0..4 {
            assert_eq!(at(&enc, 150, c, i), 0.0);
        }
    }
    assert_eq!(reverse_complement(b"ACGTNacgtn"), b"NACGTNACGT");
}

#[test]
fn lowercase_is_accepted_and_upper_cased() {
    let p = yeast();
    let lower = RAW_110.to_ascii_lowercase();
    assert_eq!(p.pad(lower.as_bytes()).unwrap(), PADDED_150.as_bytes());
    let padded_lower = PADDED_150.to_ascii_lowercase();
    assert_eq!(
        encode(&p, padded_lower.as_bytes(), false, false),
        encode(&p, PADDED_150.as_bytes(), false, false)
    );
    assert_eq!(
        reverse_complement(padded_lower.as_bytes()),
        REVCOMP_150.as_bytes()
    );
}

/// Reference: t = upstream + s[17:]; t[-150:]
fn reference_pad(raw: &str) -> String {
    let insert = raw.get(17..).unwrap_or("");
    let t = format!("{DREAM_PLASMID_UPSTREAM}{insert}");
    t[t.len() - 150..].to_string()
}

#[test]
fn short_and_long_inserts() {
    let p = yeast();
    let body = RAW_110.repeat(3);
    for len in [0usize, 5, 17, 18, 90, 110, 120, 167, 168, 200, 300] {
        let raw = &body[..len];
        let padded = p.pad(raw.as_bytes()).unwrap();
        assert_eq!(padded.len(), 150, "len {len}");
        assert_eq!(
            std::str::from_utf8(&padded).unwrap(),
            reference_pad(raw),
            "len {len}"
        );
    }
    // 90 nt: 73 nt of insert after the trim, 77 nt of plasmid before it
    let padded = p.pad(&body.as_bytes()[..90]).unwrap();
    assert_eq!(
        &padded[..77],
        &DREAM_PLASMID_UPSTREAM.as_bytes()[150 - 77..]
    );
    assert_eq!(&padded[77..], &body.as_bytes()[17..90]);
    // 200 nt: only the last 150 survive, no plasmid at all
    let padded = p.pad(&body.as_bytes()[..200]).unwrap();
    assert_eq!(&padded[..], &body.as_bytes()[50..200]);
    // 120 nt: 103 from the insert, 47 from the plasmid
    let padded = p.pad(&body.as_bytes()[..120]).unwrap();
    assert_eq!(&padded[47..], &body.as_bytes()[17..120]);
}

#[test]
fn upstream_longer_than_length_and_other_lengths() {
    let mut p = yeast();
    p.length = 100;
    p.validate().unwrap();
    let padded = p.pad(RAW_110.as_bytes()).unwrap();
    assert_eq!(std::str::from_utf8(&padded).unwrap(), &PADDED_150[50..]);

    p.length = 200; // the 150-nt flank cannot fill 200 positions
    assert!(matches!(
        p.validate(),
        Err(PreprocessError::InvalidDescription(_))
    ));
    assert!(matches!(
        p.pad(RAW_110.as_bytes()),
        Err(PreprocessError::InvalidDescription(_))
    ));
    let long = RAW_110.repeat(3);
    assert!(
        p.pad(long.as_bytes()).is_err(),
        "flank too short is an error for every input"
    );

    let plasmid: String = serde_json::from_str(
        &std::fs::read_to_string(format!("{SHARED}/data/dream/plasmid.json")).unwrap(),
    )
    .unwrap();
    p.padding = Padding::Plasmid {
        upstream: plasmid[3648 - 200..3648].to_string(),
        trim_5prime: 17,
    };
    p.validate().unwrap();
    let padded = p.pad(RAW_110.as_bytes()).unwrap();
    assert_eq!(padded.len(), 200);
    assert_eq!(&padded[50..], PADDED_150.as_bytes());
}

#[test]
fn exact_padding_requires_exact_length() {
    let p = Preprocessing::benchmark(230);
    let seq = "ACGTN".repeat(46);
    assert_eq!(p.pad(seq.as_bytes()).unwrap(), seq.as_bytes());
    assert_eq!(
        p.pad(&seq.as_bytes()[..229]),
        Err(PreprocessError::WrongLength {
            expected: 230,
            found: 229
        })
    );
    let longer = format!("{seq}A");
    assert_eq!(
        p.pad(longer.as_bytes()),
        Err(PreprocessError::WrongLength {
            expected: 230,
            found: 231
        })
    );
    assert!(p.pad(b"").is_err());
}

#[test]
fn invalid_characters_are_rejected_with_position() {
    let p = yeast();
    let mut raw = RAW_110.as_bytes().to_vec();
    raw[4] = b'X';
    let err = p.pad(&raw).unwrap_err();
    assert_eq!(
        err,
        PreprocessError::InvalidCharacter {
            byte: b'X',
            position: 5
        }
    );
    assert!(
        err.to_string()
            .contains("invalid character 'X' at position 5"),
        "{err}"
    );
    // also inside the kept part and in the 5' excess of a long sequence
    raw[4] = b'C';
    raw[100] = b'-';
    assert!(matches!(
        p.pad(&raw),
        Err(PreprocessError::InvalidCharacter { position: 101, .. })
    ));
    let mut long = RAW_110.repeat(3).into_bytes();
    long[30] = b'U';
    assert!(matches!(
        p.pad(&long),
        Err(PreprocessError::InvalidCharacter { position: 31, .. })
    ));
    let b = Preprocessing::benchmark(4);
    assert!(matches!(
        b.pad(b"AC\tT"),
        Err(PreprocessError::InvalidCharacter {
            byte: b'\t',
            position: 3
        })
    ));
}

#[test]
fn validate_rejects_broken_descriptions() {
    let mut p = yeast();
    p.alphabet = "ACGU".into();
    assert!(p.validate().is_err());
    let mut p = yeast();
    p.alphabet = "AGC".into();
    assert!(p.validate().is_err());
    let mut p = yeast();
    p.extra_channels = vec![ExtraChannel::Reverse, ExtraChannel::Reverse];
    assert!(p.validate().is_err());
    let mut p = yeast();
    p.length = 0;
    assert!(p.validate().is_err());
    let mut p = yeast();
    p.padding = Padding::Plasmid {
        upstream: format!("{}X", &DREAM_PLASMID_UPSTREAM[1..]),
        trim_5prime: 17,
    };
    assert!(p.validate().is_err());
    assert!(p.pad(RAW_110.as_bytes()).is_err());
}

#[test]
fn alphabet_order_is_respected() {
    let mut p = Preprocessing::benchmark(4);
    p.alphabet = "ACGT".into();
    let enc = encode(&p, b"ACGT", false, false);
    // ACGT order makes the one-hot block the identity
    for c in 0..4 {
        for i in 0..4 {
            assert_eq!(at(&enc, 4, c, i), if c == i { 1.0 } else { 0.0 });
        }
    }
}

#[test]
fn encode_for_scoring_is_forward_then_reverse_complement() {
    let p = yeast();
    let mut out = vec![0f32; 2 * 6 * 150];
    p.encode_for_scoring(RAW_110.as_bytes(), &mut out).unwrap();
    let fwd = encode(&p, PADDED_150.as_bytes(), false, false);
    let rev = encode(&p, REVCOMP_150.as_bytes(), true, false);
    assert_eq!(&out[..900], &fwd[..]);
    assert_eq!(&out[900..], &rev[..]);
    let b = Preprocessing::benchmark(110);
    let mut out = vec![0f32; 5 * 110];
    b.encode_for_scoring(RAW_110.as_bytes(), &mut out).unwrap();
    assert_eq!(out, encode(&b, RAW_110.as_bytes(), false, false));
    // lengths beyond the stack scratch take the heap path
    let mut long = Preprocessing::benchmark(600);
    long.rc_average = true;
    let seq = RAW_110.repeat(6)[..600].to_string();
    let mut out = vec![0f32; 2 * 5 * 600];
    long.encode_for_scoring(seq.as_bytes(), &mut out).unwrap();
    assert_eq!(&out[..3000], &encode(&long, seq.as_bytes(), false, false)[..]);
    let rc = reverse_complement(seq.as_bytes());
    assert_eq!(&out[3000..], &encode(&long, &rc, true, false)[..]);
}

#[test]
fn serde_round_trip_and_names() {
    let p = yeast();
    let json = serde_json::to_string(&p).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["length"], 150);
    assert_eq!(v["padding"]["kind"], "plasmid");
    assert_eq!(v["padding"]["trim_5prime"], 17);
    assert_eq!(v["padding"]["upstream"], DREAM_PLASMID_UPSTREAM);
    assert_eq!(v["alphabet"], "AGCT");
    assert_eq!(
        v["extra_channels"],
        serde_json::json!(["reverse", "singleton"])
    );
    assert_eq!(v["n_policy"], "zeros");
    assert_eq!(v["rc_average"], true);
    let back: Preprocessing = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);

    let b = Preprocessing::benchmark(249);
    let json = serde_json::to_string(&b).unwrap();
    assert!(json.contains(r#""padding":{"kind":"exact"}"#), "{json}");
    assert_eq!(serde_json::from_str::<Preprocessing>(&json).unwrap(), b);
}

fn dna(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(b"ACGTNacgtn".to_vec()), min..max)
}

/// Complement swaps channels A<->T and G<->C; with AGCT order that is 0<->3, 1<->2.
fn complement_channel(alphabet: &str, c: usize) -> usize {
    let base = alphabet.as_bytes()[c];
    let comp = match base {
        b'A' => b'T',
        b'T' => b'A',
        b'G' => b'C',
        _ => b'G',
    };
    alphabet.bytes().position(|b| b == comp).unwrap()
}

proptest! {
    #[test]
    fn encoding_of_reverse_complement_is_reversed_complemented_encoding(raw in dna(0, 260)) {
        let p = yeast();
        let padded = p.pad(&raw).unwrap();
        let rc = reverse_complement(&padded);
        let e = encode(&p, &padded, false, false);
        let erc = encode(&p, &rc, false, false);
        let len = p.length;
        for c in 0..4 {
            let cc = complement_channel(&p.alphabet, c);
            for i in 0..len {
                prop_assert_eq!(at(&erc, len, c, i), at(&e, len, cc, len - 1 - i));
            }
        }
        // flag channels unaffected by sequence content
        prop_assert!(erc[4 * len..].iter().all(|&x| x == 0.0));
        // reverse complement is an involution on the padded sequence
        prop_assert_eq!(reverse_complement(&rc), padded);
    }

    #[test]
    fn padding_matches_the_python_reference(raw in dna(0, 260)) {
        let p = yeast();
        let padded = p.pad(&raw).unwrap();
        let upper = String::from_utf8(raw.to_ascii_uppercase()).unwrap();
        prop_assert_eq!(String::from_utf8(padded).unwrap(), reference_pad(&upper));
    }
}

#[test]
fn benchmark_records_take_their_reverse_flag_from_the_id() {
    let p = Preprocessing::benchmark(8);
    assert!(p.reverse_from_id("seq22915_Reversed:"));
    assert!(p.reverse_from_id("chrX_20638201_20638449_-_negative"));
    assert!(!p.reverse_from_id("ENSG00000126251_F"));
    assert!(!p.reverse_from_id("chrX_15200212_15200460_+_peak_849bp_region"));
    let mut out = vec![0f32; p.input_size()];
    p.encode_record_for_scoring(b"ACGTACGT", true, &mut out).unwrap();
    // Channel 4 is the orientation flag, set at every position.
    assert!(out[4 * 8..5 * 8].iter().all(|&v| v == 1.0));
    p.encode_record_for_scoring(b"ACGTACGT", false, &mut out).unwrap();
    assert!(out[4 * 8..5 * 8].iter().all(|&v| v == 0.0));
    // The yeast models never read ids.
    assert!(!Preprocessing::dream_yeast().reverse_from_id("x_Reversed:"));
}

/// LegNet's two predictors differ only in `N` (spec submissions/legnet.md §1.4): the
/// submission copy's int64 bug gives zeros, the authors' `legnet/test.py` 0.25 per base.
#[test]
fn uniform_n_policy_writes_a_quarter_in_each_base_channel_on_both_strands() {
    let p = Preprocessing::legnet_upstream();
    assert_eq!(p.n_policy, NPolicy::Uniform);
    assert_eq!(Preprocessing { n_policy: NPolicy::Zeros, ..p.clone() }, yeast());
    let raw = format!("{}nNAC{}", &RAW_110[..17], &RAW_110[21..]);
    let mut out = vec![0f32; 2 * p.input_size()];
    p.encode_for_scoring(raw.as_bytes(), &mut out).unwrap();
    let (fwd, rc) = out.split_at(p.input_size());
    // Positions 57 and 58 of the padded forward sequence are the two Ns.
    for i in [57, 58] {
        for c in 0..4 {
            assert_eq!(at(fwd, 150, c, i), 0.25, "fwd channel {c} position {i}");
            assert_eq!(at(rc, 150, c, 149 - i), 0.25, "rc channel {c} position {}", 149 - i);
        }
    }
    // Bases next to them stay one-hot (A = channel 0, C = channel 2).
    assert_eq!((0..4).map(|c| at(fwd, 150, c, 59)).collect::<Vec<_>>(), [1.0, 0.0, 0.0, 0.0]);
    assert_eq!((0..4).map(|c| at(fwd, 150, c, 60)).collect::<Vec<_>>(), [0.0, 0.0, 1.0, 0.0]);
    // The same input under the submission copy's policy: all-zero N columns.
    let zeros = yeast();
    let mut out0 = vec![0f32; 2 * zeros.input_size()];
    zeros.encode_for_scoring(raw.as_bytes(), &mut out0).unwrap();
    assert!((0..4).all(|c| at(&out0, 150, c, 57) == 0.0));
    let differing = out.iter().zip(&out0).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 2 * 2 * 4, "only the N columns differ");
}

#[test]
fn n_policy_names_are_a_contract_and_old_descriptions_still_parse() {
    let json = serde_json::to_value(Preprocessing::legnet_upstream()).unwrap();
    assert_eq!(json["n_policy"], "uniform");
    // Every model.json published before the uniform policy existed still reads.
    for m in ["dream-rnn", "dream-cnn", "dream-attn"] {
        let path = format!("{}/../weights/{m}/0.1.0/model.json", env!("CARGO_MANIFEST_DIR"));
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let p: Preprocessing = serde_json::from_value(v["preprocessing"].clone()).unwrap();
        assert_eq!(p, yeast(), "{path}");
    }
    let bad = serde_json::to_string(&yeast()).unwrap().replace("\"zeros\"", "\"halves\"");
    assert!(serde_json::from_str::<Preprocessing>(&bad).is_err());
}
