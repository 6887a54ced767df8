//! Entries published as weights whose `model.onnx` is built at pull time: publish leaves
//! it out, a program without the converter stops before downloading and names `train
//! pull`, the built file is verified like a fetched one, and republished weights rebuild it.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use semver::Version;
use zoo::{ConvertRequest, Converter, Derived, ModelSpec, Registry, Zoo, ZooError, DERIVE_ONNX};

/// Stands in for `train`'s exporter: the "graph" is the weights with a prefix.
struct Export {
    calls: AtomicUsize,
    fail: bool,
}

impl Converter for Export {
    fn name(&self) -> &str {
        DERIVE_ONNX
    }
    fn convert(&self, req: &ConvertRequest<'_>) -> Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert!(req.upstream.is_none());
        if self.fail {
            return Err("weights do not match model.json".into());
        }
        let weights = std::fs::read(req.source.join("model.safetensors")).map_err(|e| e.to_string())?;
        std::fs::write(req.out_dir.join("model.onnx"), [b"onnx:".as_slice(), &weights].concat()).map_err(|e| e.to_string())
    }
}

fn publish(reg: &Path, src: &Path, weights: &[u8], version: &str) {
    std::fs::create_dir_all(src).unwrap();
    std::fs::write(src.join("model.safetensors"), weights).unwrap();
    std::fs::write(src.join("model.json"), br#"{"name": "w"}"#).unwrap();
    std::fs::write(src.join("model.onnx"), b"exported during training").unwrap();
    zoo::publish(src, reg, "w", &Version::parse(version).unwrap(), None, Some(Derived::onnx())).unwrap();
}

fn zoo_with(reg: &Path, home: &Path, conv: Option<&Arc<Export>>) -> Zoo {
    let z = Zoo::new(Registry::parse(reg.to_str().unwrap()).unwrap(), home);
    match conv {
        Some(c) => z.with_converter(c.clone()),
        None => z,
    }
}

#[test]
fn publish_leaves_the_derived_file_out_and_records_its_converter() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = tmp.path().join("reg");
    publish(&reg, &tmp.path().join("run"), b"weights-1", "0.1.0");
    let mut published: Vec<_> = std::fs::read_dir(reg.join("w/0.1.0")).unwrap().map(|e| e.unwrap().file_name()).collect();
    published.sort();
    assert_eq!(published, ["model.json", "model.safetensors"]);
    let index = zoo::Index::load(&reg.join("index.json")).unwrap();
    let entry = &index.models["w"].versions[&Version::new(0, 1, 0)];
    assert_eq!(entry.derived, Some(Derived::onnx()));
    assert!(!entry.files.contains_key("model.onnx"));
}

#[test]
fn without_the_converter_nothing_is_downloaded_and_the_message_names_train_pull() {
    let tmp = tempfile::tempdir().unwrap();
    let (reg, home) = (tmp.path().join("reg"), tmp.path().join("home"));
    publish(&reg, &tmp.path().join("run"), b"weights-1", "0.1.0");
    let z = zoo_with(&reg, &home, None);
    let err = z.resolve(&ModelSpec::parse("w").unwrap()).unwrap_err();
    assert!(matches!(err, ZooError::NeedsDerivation { .. }), "{err}");
    assert!(err.to_string().contains("train pull w@0.1.0"), "{err}");
    assert!(!home.join("models/w/0.1.0/model.safetensors").exists());
}

#[test]
fn pull_builds_verifies_and_resolves_offline_without_building_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (reg, home) = (tmp.path().join("reg"), tmp.path().join("home"));
    publish(&reg, &tmp.path().join("run"), b"weights-1", "0.1.0");
    let conv = Arc::new(Export { calls: AtomicUsize::new(0), fail: false });
    let z = zoo_with(&reg, &home, Some(&conv));
    let spec = ModelSpec::parse("w").unwrap();
    let dir = z.resolve(&spec).unwrap();
    assert_eq!(std::fs::read(dir.join("model.onnx")).unwrap(), b"onnx:weights-1");
    assert_eq!(z.pull(&spec).unwrap().fetched_files, 0);
    assert_eq!(z.resolve(&spec).unwrap(), dir);
    assert_eq!(conv.calls.load(Ordering::SeqCst), 1, "a cached build is reused");
    // The built file is in the manifest: verify catches tampering, pull rebuilds it.
    assert!(z.verify(None).unwrap()[0].problems.is_empty());
    std::fs::write(dir.join("model.onnx"), b"onnx:tampered!").unwrap();
    assert!(!z.verify(None).unwrap()[0].problems.is_empty());
    z.pull(&spec).unwrap();
    assert_eq!(conv.calls.load(Ordering::SeqCst), 2);
    assert!(z.verify(None).unwrap()[0].problems.is_empty());
    // Offline, even a program without the converter uses the built version.
    let off = zoo_with(&reg, &home, None).with_offline(true);
    assert_eq!(off.resolve(&spec).unwrap(), dir);
    // A newer version's weights get their own build.
    publish(&reg, &tmp.path().join("run2"), b"weights-2", "0.2.0");
    let dir2 = z.resolve(&spec).unwrap();
    assert_eq!(std::fs::read(dir2.join("model.onnx")).unwrap(), b"onnx:weights-2");
}

#[test]
fn a_failed_build_leaves_no_usable_version_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let (reg, home) = (tmp.path().join("reg"), tmp.path().join("home"));
    publish(&reg, &tmp.path().join("run"), b"weights-1", "0.1.0");
    let bad = Arc::new(Export { calls: AtomicUsize::new(0), fail: true });
    let spec = ModelSpec::parse("w").unwrap();
    let err = zoo_with(&reg, &home, Some(&bad)).resolve(&spec).unwrap_err();
    assert!(matches!(err, ZooError::Conversion { .. }), "{err}");
    assert!(err.to_string().contains("weights do not match"), "{err}");
    assert!(zoo_with(&reg, &home, None).with_offline(true).resolve(&spec).is_err());
    assert!(!home.join("models/w/0.1.0/model.onnx").exists());
    let good = Arc::new(Export { calls: AtomicUsize::new(0), fail: false });
    let dir = zoo_with(&reg, &home, Some(&good)).resolve(&spec).unwrap();
    assert!(dir.join("model.onnx").is_file());
}
