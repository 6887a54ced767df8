//! The `.pth` reader against the reference fixtures: every tensor of the PyTorch
//! checkpoints must match the safetensors export bit for bit, and come out in the
//! order PyTorch's `state_dict()` lists them (spec/state_dicts.txt).

use std::collections::{BTreeSet, HashMap};
use std::io::Cursor;
use std::path::{Path, PathBuf};

use train::pth::{
    read_safetensors, read_state_dict, read_state_dict_from_reader, DType, RawTensor,
};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared");

fn fixture(name: &str) -> PathBuf {
    Path::new(SHARED).join("fixtures/prixfixe").join(name)
}

/// One line of spec/state_dicts.txt: `name<TAB>(d0, d1, ...)<TAB>dtype`.
struct SpecEntry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
}

/// spec/state_dicts.txt: per model a `# DREAM-XXX: ...` header, then one entry per
/// line, blocks separated by blank lines.
fn spec_state_dicts() -> HashMap<String, Vec<SpecEntry>> {
    let path = Path::new(SHARED).join("spec/state_dicts.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut models: HashMap<String, Vec<SpecEntry>> = HashMap::new();
    let mut current: Option<String> = None;
    for (lineno, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", path.display(), lineno + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix("# ") {
            let model = header.split(':').next().unwrap_or_default();
            let file = match model {
                "DREAM-RNN" => "dream_rnn",
                "DREAM-CNN" => "dream_cnn",
                "DREAM-Attn" => "dream_attn",
                other => panic!("{}: unknown model '{other}'", at()),
            };
            current = Some(file.to_string());
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 3, "{}: expected name, shape, dtype", at());
        let inner = fields[1].trim_start_matches('(').trim_end_matches(')');
        let shape = inner
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|d| {
                d.parse()
                    .unwrap_or_else(|e| panic!("{}: dimension '{d}': {e}", at()))
            })
            .collect();
        let model = current
            .clone()
            .unwrap_or_else(|| panic!("{}: entry before any model header", at()));
        models.entry(model).or_default().push(SpecEntry {
            name: fields[0].to_string(),
            shape,
            dtype: fields[2].to_string(),
        });
    }
    models
}

fn check_model(model: &str) {
    let spec = spec_state_dicts();
    let spec = spec
        .get(model)
        .unwrap_or_else(|| panic!("{model} missing from spec/state_dicts.txt"));
    let pth = read_state_dict(&fixture(&format!("{model}.pth"))).unwrap_or_else(|e| panic!("{e}"));
    let st = read_safetensors(&fixture(&format!("{model}.safetensors")))
        .unwrap_or_else(|e| panic!("{e}"));

    let pth_names: Vec<&str> = pth.iter().map(|(n, _)| n.as_str()).collect();
    let spec_names: Vec<&str> = spec.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        pth_names, spec_names,
        "{model}.pth: names or their order differ from the spec"
    );

    let st_names: BTreeSet<&str> = st.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        st_names,
        pth_names.iter().copied().collect(),
        "{model}: .pth and .safetensors name sets differ"
    );
    let st: HashMap<&str, &RawTensor> = st.iter().map(|(n, t)| (n.as_str(), t)).collect();

    for ((name, t), entry) in pth.iter().zip(spec) {
        assert_eq!(t.shape, entry.shape, "{model}.pth: '{name}' shape");
        assert_eq!(
            t.dtype.torch_name(),
            entry.dtype,
            "{model}.pth: '{name}' dtype"
        );
        assert_eq!(
            t.data.len(),
            t.numel() * t.dtype.size(),
            "{model}.pth: '{name}' byte length"
        );
        let reference = st[name.as_str()];
        assert_eq!(
            t.dtype, reference.dtype,
            "{model}: '{name}' dtype vs safetensors"
        );
        assert_eq!(
            t.shape, reference.shape,
            "{model}: '{name}' shape vs safetensors"
        );
        // Bytes, not floats: NaN payloads and signed zeros must survive too.
        assert!(
            t.data == reference.data,
            "{model}: '{name}' bytes differ from safetensors"
        );
    }
}

#[test]
fn dream_rnn_matches_safetensors_in_spec_order() {
    check_model("dream_rnn");
}

#[test]
fn dream_cnn_matches_safetensors_in_spec_order() {
    check_model("dream_cnn");
}

#[test]
fn dream_attn_matches_safetensors_in_spec_order() {
    check_model("dream_attn");
}

#[test]
fn batchnorm_counter_is_a_zero_dim_int64() {
    let sd = read_state_dict(&fixture("dream_cnn.pth")).unwrap();
    let (name, t) = sd
        .iter()
        .find(|(n, _)| n.ends_with("num_batches_tracked"))
        .expect("a BatchNorm counter");
    assert_eq!(
        (t.dtype, t.shape.len(), t.data.len()),
        (DType::I64, 0, 8),
        "{name}"
    );
    // The fixture models were trained for 12 steps (fixtures/README.md).
    assert_eq!(
        i64::from_le_bytes(t.data[..8].try_into().unwrap()),
        12,
        "{name}"
    );
}

#[test]
fn damaged_fixture_is_an_error_not_a_panic() {
    let path = fixture("dream_rnn.pth");
    let whole = std::fs::read(&path).unwrap();
    for frac in [0.0, 0.001, 0.3, 0.7, 0.999] {
        let cut = (whole.len() as f64 * frac) as usize;
        let r = read_state_dict_from_reader(Cursor::new(&whole[..cut]), &path);
        assert!(r.is_err(), "truncated to {cut} bytes but accepted");
    }
    // A flipped bit inside tensor data must be caught (zip CRC), not read as a weight.
    let mut flipped = whole.clone();
    let mid = whole.len() / 2;
    flipped[mid] ^= 0x01;
    let e = read_state_dict_from_reader(Cursor::new(flipped), &path)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("dream_rnn.pth"),
        "error does not name the file: {e}"
    );

    let e = read_state_dict(Path::new("/nonexistent/model.pth"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/model.pth"), "{e}");
}

#[test]
fn safetensors_reader_rejects_a_pth() {
    let e = read_safetensors(&fixture("dream_rnn.pth"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("dream_rnn.pth") && e.contains("invalid safetensors"),
        "{e}"
    );
}
