//! The published benchmark layouts for fine-tuning: DeepSTARR (a FASTA plus an activity
//! table per split) and lentiMPRA (MPRA-MNIST-style tables with `seq_id`, `seq` and task
//! columns); and `train finetune --resume`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use infer::input::Format;
use tch::Device;
use train::model::ModelDescription;
use train::recipe::compact::{read_compact, TrainingData};
use train::run::StoredData;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared");

fn stored(train: &Path, labels: &[&str]) -> StoredData {
    StoredData {
        train: train.to_path_buf(),
        valid: None,
        valid_fraction: 0.2,
        split_seed: 7,
        format: Format::Auto,
        id_column: None,
        seq_column: None,
        label_columns: labels.iter().map(|s| s.to_string()).collect(),
        skip_invalid: false,
        train_activity: None,
        valid_activity: None,
    }
}

/// The DeepSTARR sample table split into DeepSTARR's published layout:
/// `Sequences_Train.fa` + `Sequences_activity_Train.txt` (gzip when asked).
fn deepstarr_files(dir: &Path, rows: usize, gzip: bool) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(format!("{SHARED}/data/drosophila/sample_train.txt")).unwrap();
    let mut fasta = String::new();
    let mut activity = String::from("Dev_log2_enrichment\tHk_log2_enrichment\n");
    for line in text.lines().skip(1).take(rows) {
        let f: Vec<&str> = line.split('\t').collect();
        fasta += &format!(">{}\n{}\n", f[3], f[5]);
        activity += &format!("{}\t{}\n", f[6], f[7]);
    }
    let write = |name: &str, body: &str| -> PathBuf {
        if gzip {
            let p = dir.join(format!("{name}.gz"));
            let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), flate2::Compression::fast());
            enc.write_all(body.as_bytes()).unwrap();
            enc.finish().unwrap();
            p
        } else {
            let p = dir.join(name);
            std::fs::write(&p, body).unwrap();
            p
        }
    };
    (write("Sequences_Train.fa", &fasta), write("Sequences_activity_Train.txt", &activity))
}

fn drosophila_desc() -> ModelDescription {
    let base = ModelDescription::preset("dream-cnn").unwrap();
    let tasks = ["Dev_log2_enrichment".to_string(), "Hk_log2_enrichment".to_string()];
    train::finetune::adapted(&base, &tasks, 249, 256).unwrap()
}

fn assert_same_rows(a: &dyn TrainingData, b: &dyn TrainingData) {
    assert_eq!(a.rows(), b.rows());
    let idx: Vec<i64> = (0..a.rows() as i64).collect();
    let (x, y) = (a.batch(&idx, Device::Cpu), b.batch(&idx, Device::Cpu));
    assert!(x.x.equal(&y.x) && x.y.equal(&y.y), "rows differ");
}

#[test]
fn deepstarr_fasta_plus_activity_equals_the_table_layout() {
    let dir = tempfile::tempdir().unwrap();
    let desc = drosophila_desc();
    let labels = ["Dev_log2_enrichment", "Hk_log2_enrichment"];
    let table = stored(Path::new(&format!("{SHARED}/data/drosophila/sample_train.txt")), &labels);
    let (want_train, want_valid) = read_compact(&table, &desc).unwrap();
    for gzip in [false, true] {
        let (fa, act) = deepstarr_files(dir.path(), 1000, gzip);
        let mut data = stored(&fa, &labels);
        data.train_activity = Some(act);
        let (train, valid) = read_compact(&data, &desc).unwrap();
        assert_eq!(train.records() + valid.as_ref().unwrap().records(), 1000);
        assert_same_rows(&want_train, &train);
        assert_same_rows(want_valid.as_ref().unwrap(), valid.as_ref().unwrap());
        // Orientation comes from the FASTA ids (`_-_` marks the minus strand).
        let x = train.batch(&(0..train.rows() as i64).collect::<Vec<_>>(), Device::Cpu).x;
        let rev = x.select(1, 4).mean_dim([1i64].as_slice(), false, tch::Kind::Float);
        let flagged = rev.sum(tch::Kind::Float).double_value(&[]);
        assert!(flagged > 0.3 * train.rows() as f64 && flagged < 0.7 * train.rows() as f64, "{flagged}");
    }
}

#[test]
fn deepstarr_row_count_mismatches_are_errors_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let desc = drosophila_desc();
    let (fa, act) = deepstarr_files(dir.path(), 20, false);
    let text = std::fs::read_to_string(&act).unwrap();
    let short: String = text.lines().take(15).map(|l| format!("{l}\n")).collect();
    std::fs::write(&act, short).unwrap();
    let mut data = stored(&fa, &["Dev_log2_enrichment", "Hk_log2_enrichment"]);
    data.train_activity = Some(act.clone());
    let e = format!("{:#}", read_compact(&data, &desc).err().unwrap());
    assert!(e.contains("has 14 activity rows") && e.contains("Sequences_Train.fa"), "{e}");
    std::fs::write(&act, text + "1\t2\n").unwrap();
    let e = format!("{:#}", read_compact(&data, &desc).err().unwrap());
    assert!(e.contains("more activity rows than the 20 sequences"), "{e}");
}

#[test]
fn lentimpra_tables_with_several_task_columns_read_as_tasks() {
    // MPRA-MNIST-style: seq_id, seq, one column per cell type; comma-separated here.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(format!("{SHARED}/data/human/sample_train.txt")).unwrap();
    let mut csv = String::from("seq_id,seq,HepG2,K562,WTC11\n");
    for (i, line) in text.lines().skip(1).take(300).enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        csv += &format!("{},{},{},{},{}\n", f[0], f[1], f[2], i as f64 / 10.0, -(i as f64));
    }
    let path = dir.path().join("lentimpra.csv");
    std::fs::write(&path, csv).unwrap();
    let tasks = ["HepG2", "K562", "WTC11"];
    let base = ModelDescription::preset("dream-cnn").unwrap();
    let names: Vec<String> = tasks.iter().map(|s| s.to_string()).collect();
    let desc = train::finetune::adapted(&base, &names, 230, 256).unwrap();
    let mut data = stored(&path, &tasks);
    data.valid_fraction = 0.0;
    let (train, valid) = read_compact(&data, &desc).unwrap();
    assert!(valid.is_none());
    assert_eq!(train.rows(), 300);
    let y = train.targets();
    assert_eq!(y.size(), [300, 3]);
    assert_eq!(y.double_value(&[7, 1]), 0.7f32 as f64);
    assert_eq!(y.double_value(&[7, 2]), -7.0);
}

fn train_cmd(zoo_home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_train"));
    c.env("ZOO_HOME", zoo_home).env_remove("ZOO_OFFLINE").env_remove("ZOO_REGISTRY").stdin(Stdio::null());
    c
}

fn run_ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{c:?}: {err}");
    err
}

#[test]
fn finetune_on_deepstarr_files_resumes_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("zoo");
    let (fa, act) = deepstarr_files(dir.path(), 60, true);
    let finetune = |out: &Path| {
        let mut c = train_cmd(&home);
        c.args(["finetune", "--from", "dream-cnn@0.1.0", "--device", "cpu", "--threads", "2"])
            .args(["--epochs", "2", "--batch-size", "8", "--batches-per-epoch", "2", "--valid-fraction", "0.2"])
            .args(["--label-columns", "Dev_log2_enrichment,Hk_log2_enrichment", "--train"])
            .arg(&fa)
            .arg("--train-activity")
            .arg(&act)
            .arg("--out")
            .arg(out);
        c
    };
    let whole = dir.path().join("whole");
    let err = run_ok(&mut finetune(&whole));
    assert!(err.contains("Dev_log2_enrichment pearson"), "{err}");
    // A run stopped before its first checkpoint: only run.json and finetune.json exist.
    let stopped = dir.path().join("stopped");
    std::fs::create_dir(&stopped).unwrap();
    for f in ["run.json", "finetune.json"] {
        std::fs::copy(whole.join(f), stopped.join(f)).unwrap();
    }
    let err = run_ok(train_cmd(&home).args(["finetune", "--resume"]).arg(&stopped));
    assert!(err.contains("resuming"), "{err}");
    let weights = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(weights(&whole) == weights(&stopped), "resumed run differs from the uninterrupted one");
    // A fit run directory is not a fine-tuning run.
    let e = train_cmd(&home).args(["finetune", "--resume"]).arg(dir.path()).output().unwrap();
    assert_eq!(e.status.code(), Some(2), "{}", String::from_utf8_lossy(&e.stderr));
}
