//! Versioned, sha256-verified pretrained weights.
//!
//! ```no_run
//! let zoo = zoo::Zoo::from_env()?;
//! let dir = zoo.resolve(&zoo::ModelSpec::parse("dream-rnn@0.1.0")?)?;
//! let onnx = dir.join("model.onnx");
//! # Ok::<(), zoo::ZooError>(())
//! ```
//!
//! A registry (directory or http(s) URL) holds `index.json` and
//! `<name>/<version>/<files>`; [`Zoo::resolve`] returns a directory in the local cache
//! holding verified copies, pulling them first if needed. See [`layout`] for the cache
//! layout and [`index`] for the index schema.

pub mod atomic;
pub mod card;
pub mod derived;
pub mod error;
pub mod exit;
mod fetch;
pub mod hash;
pub mod index;
pub mod layout;
mod publish;
mod spec;
pub mod upstream;
mod cache;
mod config;
mod registry;

pub use error::ZooError;
pub use fetch::NetConfig;
pub use index::{FileEntry, Index, Metric, ModelCard, ModelEntry, VersionEntry};
pub use publish::{publish, Published, CARD_FILE, MODEL_JSON};
pub use spec::{validate_name, ModelSpec};
pub use derived::{Derived, DERIVE_ONNX};
pub use upstream::{ConvertRequest, Converter, Upstream};
pub use cache::{CachedVersion, Manifest, Pulled, VerifyReport, Zoo};
pub use registry::{Registry, BUILTIN_REGISTRY_DIR};

/// `Zoo::from_env()?.resolve(&ModelSpec::parse(spec)?)`: the local directory of
/// `name[@version]`, pulled on demand, configured from the environment.
pub fn resolve(spec: &str) -> Result<std::path::PathBuf, ZooError> {
    Zoo::from_env()?.resolve(&ModelSpec::parse(spec)?)
}
