//! The compact training data (`train::recipe::compact`) gives exactly the tensors of the
//! eager float encoding (`encode_yeast`, `encode_regression`) for every row, so training
//! on it is bit-identical; it reads plain and gzip input in one streamed pass.

use std::io::Write;
use std::path::Path;

use infer::input::{Format, SeqRecord};
use infer::preprocess::NPolicy;
use infer::Preprocessing;
use tch::Device;
use train::fit::{FitConfig, Trainer};
use train::model::{ModelDescription, PrixFixeNet};
use train::recipe::compact::{read_compact, CompactSet, TrainingData};
use train::recipe::{encode_regression, encode_yeast, EncodedSet, SoftBinTarget};
use train::run::{encode_sets, StoredData};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared");

fn demo_records(n: usize) -> Vec<SeqRecord> {
    let text = std::fs::read_to_string(format!("{SHARED}/data/dream/demo_train.txt")).unwrap();
    text.lines()
        .take(n)
        .enumerate()
        .map(|(i, l)| {
            let (seq, value) = l.split_once('\t').unwrap();
            SeqRecord { id: format!("line:{}", i + 1), seq: seq.as_bytes().to_vec(), labels: vec![value.parse().unwrap()], line: i as u64 + 1 }
        })
        .collect()
}

fn rec(id: &str, seq: &str, labels: &[f64]) -> SeqRecord {
    SeqRecord { id: id.into(), seq: seq.as_bytes().to_vec(), labels: labels.to_vec(), line: 1 }
}

/// Every row, in a shuffled order with repeats, batch by batch.
fn assert_same_batches(eager: &EncodedSet, compact: &CompactSet) {
    assert_eq!(compact.rows(), eager.len());
    let n = eager.len() as i64;
    let order: Vec<i64> = (0..n).map(|i| (i * 7 + 3) % n).chain([0, n - 1, 0]).collect();
    for idx in order.chunks(13) {
        let a = eager.batch(idx, Device::Cpu);
        let b = compact.batch(idx, Device::Cpu);
        assert_eq!(a.x.size(), b.x.size());
        assert_eq!(a.x.kind(), b.x.kind());
        assert!(a.x.equal(&b.x), "inputs differ for rows {idx:?}");
        assert!(b.x.is_contiguous());
        // The accelerator path (bytes expanded by a table lookup on the device), run on
        // the CPU, gives the same inputs.
        assert!(a.x.equal(&compact.inputs_expanded_on(idx, Device::Cpu)), "device expansion differs for rows {idx:?}");
        assert!(a.y.equal(&b.y), "targets differ for rows {idx:?}");
        match (&a.y_probs, &b.y_probs) {
            (Some(p), Some(q)) => assert!(p.equal(q), "soft targets differ for rows {idx:?}"),
            (None, None) => {}
            _ => panic!("soft targets present in one set only"),
        }
    }
    assert!(eager.targets().equal(&compact.targets()));
}

fn compact_of(records: &[SeqRecord], mut set: CompactSet) -> CompactSet {
    for r in records {
        set.push(r).unwrap();
    }
    set
}

#[test]
fn yeast_batches_equal_the_eager_encoding_with_and_without_reverse_complements() {
    let mut records = demo_records(200);
    // Ns, lower case, a short and a long record (plasmid padding, trimming).
    records[3].seq[40] = b'N';
    records[4].seq = records[4].seq.to_ascii_lowercase();
    records[5].seq.truncate(30);
    records[6].seq.extend_from_slice(b"ACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGT");
    assert!(records.iter().any(|r| r.labels[0].fract() == 0.0) && records.iter().any(|r| r.labels[0].fract() != 0.0));
    let pre = Preprocessing::dream_yeast();
    let t = SoftBinTarget::default();
    for rc in [true, false] {
        let eager = encode_yeast(&records, &pre, &t, rc).unwrap();
        assert_same_batches(&eager, &compact_of(&records, CompactSet::yeast(&pre, t, rc)));
    }
    // A layout without the singleton channel and with N as 0.25.
    let mut other = pre.clone();
    other.extra_channels.retain(|c| *c == infer::preprocess::ExtraChannel::Reverse);
    other.n_policy = NPolicy::Uniform;
    let eager = encode_yeast(&records, &other, &t, true).unwrap();
    assert_same_batches(&eager, &compact_of(&records, CompactSet::yeast(&other, t, true)));
}

#[test]
fn regression_batches_equal_the_eager_encoding() {
    let pre = Preprocessing::benchmark(6);
    let records = vec![
        rec("chrX_1_7_+_peak", "ACGTNA", &[1.5, -0.25]),
        rec("chrX_5_11_-_negative", "ttttgg", &[0.0, 2.0]),
        rec("seq_Reversed:3", "GGGCCC", &[3.0, 1.0]),
        rec("plain", "NNNNNN", &[-1.0, 0.5]),
    ];
    let eager = encode_regression(&records, &pre, |r| pre.reverse_from_id(&r.id)).unwrap();
    assert_same_batches(&eager, &compact_of(&records, CompactSet::regression(&pre)));
    let mut uniform = pre.clone();
    uniform.n_policy = NPolicy::Uniform;
    let eager = encode_regression(&records, &uniform, |r| uniform.reverse_from_id(&r.id)).unwrap();
    assert_same_batches(&eager, &compact_of(&records, CompactSet::regression(&uniform)));
}

#[test]
fn compact_push_refuses_what_the_eager_encoders_refuse() {
    let pre = Preprocessing::benchmark(6);
    let mut set = CompactSet::regression(&pre);
    set.push(&rec("a", "ACGTAC", &[1.0, 2.0])).unwrap();
    let e = set.push(&rec("b", "ACGTAC", &[1.0])).unwrap_err().to_string();
    assert!(e.contains("has 1 label values, expected 2"), "{e}");
    let e = set.push(&rec("c", "ACG", &[1.0, 2.0])).unwrap_err().to_string();
    assert!(e.contains("'c'"), "{e}");
    let e = set.push(&rec("d", "ACGTAC", &[f64::NAN, 2.0])).unwrap_err().to_string();
    assert!(e.contains("non-finite"), "{e}");
    assert_eq!(set.records(), 1, "refused records leave nothing behind");
    let mut yeast = CompactSet::yeast(&Preprocessing::dream_yeast(), SoftBinTarget::default(), true);
    assert!(yeast.push(&rec("e", "ACGT", &[])).unwrap_err().to_string().contains("no label"));
}

pub(crate) fn stored(train: &Path) -> StoredData {
    StoredData {
        train: train.to_path_buf(),
        valid: None,
        valid_fraction: 0.2,
        split_seed: 7,
        format: Format::Auto,
        id_column: None,
        seq_column: None,
        label_columns: vec![],
        skip_invalid: false,
        train_activity: None,
        valid_activity: None,
    }
}

pub(crate) fn demo_file(dir: &Path, n: usize, gzip: bool) -> std::path::PathBuf {
    let text = std::fs::read_to_string(format!("{SHARED}/data/dream/demo_train.txt")).unwrap();
    let body: String = text.lines().take(n).map(|l| format!("{l}\n")).collect();
    if gzip {
        let p = dir.join("train.txt.gz");
        let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), flate2::Compression::fast());
        enc.write_all(body.as_bytes()).unwrap();
        enc.finish().unwrap();
        p
    } else {
        let p = dir.join("train.txt");
        std::fs::write(&p, body).unwrap();
        p
    }
}

#[test]
fn streamed_plain_and_gzip_reads_equal_the_eager_split_and_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let desc = ModelDescription::preset("dream-cnn").unwrap();
    let data = stored(&demo_file(dir.path(), 400, false));
    let (eager_train, eager_valid) = encode_sets(&desc, &data.read_split().unwrap()).unwrap();
    let eager_valid = eager_valid.unwrap();
    assert!(eager_valid.len() > 0 && eager_train.len() > eager_valid.len());
    for gzip in [false, true] {
        let data = stored(&demo_file(dir.path(), 400, gzip));
        let (train, valid) = read_compact(&data, &desc).unwrap();
        assert_same_batches(&eager_train, &train);
        assert_same_batches(&eager_valid, &valid.unwrap());
    }
}

fn tiny_config(desc: &ModelDescription) -> FitConfig {
    FitConfig {
        epochs: 2,
        batch_size: 8,
        batches_per_epoch: 2,
        max_lr: 0.005,
        weight_decay: 0.01,
        seed: 5,
        valid_batch_size: 64,
        objective: desc.objective().unwrap(),
        freeze: Default::default(),
        recipe: Default::default(),
        recompute_chunk: None,
    }
}

fn train_on(desc: &ModelDescription, train: &dyn TrainingData, valid: &dyn TrainingData, dir: &Path) -> Vec<u8> {
    let _rng = crate::torch_rng();
    let mut net = PrixFixeNet::new(desc.clone(), Device::Cpu, 5).unwrap();
    let cfg = tiny_config(desc);
    let outcome = Trainer { net: &mut net, train, valid: Some(valid), cfg, dir: dir.to_path_buf(), verbose: false }
        .run(false)
        .unwrap();
    assert_eq!(outcome.epochs_run, 2);
    std::fs::read(dir.join("best.safetensors")).unwrap()
}

#[test]
fn training_on_compact_data_is_bit_identical_to_training_on_the_eager_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let desc = ModelDescription::preset("dream-cnn").unwrap();
    let data = stored(&demo_file(dir.path(), 60, false));
    let (eager_train, eager_valid) = encode_sets(&desc, &data.read_split().unwrap()).unwrap();
    let (train, valid) = read_compact(&data, &desc).unwrap();
    let a = train_on(&desc, &eager_train, &eager_valid.unwrap(), &dir.path().join("eager"));
    let b = train_on(&desc, &train, &valid.unwrap(), &dir.path().join("compact"));
    assert!(a == b, "weights after training differ");
    let logs = |d: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.path().join(d).join("log.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                for timing in ["seconds", "data_seconds", "valid_seconds"] {
                    v.as_object_mut().unwrap().remove(timing);
                }
                v
            })
            .collect()
    };
    assert_eq!(logs("eager"), logs("compact"));
}
