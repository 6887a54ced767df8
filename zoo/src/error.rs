//! The one error type of the library. Variants name the domain problem (which model,
//! which file, which URL) so that a one-line message is enough for the user to act on.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ZooError {
    /// A `name[@version]` string that cannot be a model spec.
    #[error("invalid model spec {spec:?}: {reason}")]
    InvalidSpec { spec: String, reason: String },

    #[error("no model named {name:?} in registry {registry}")]
    NotFound { name: String, registry: String },

    #[error("model {name:?} has no version {version} in registry {registry} (available: {available})")]
    NoSuchVersion {
        name: String,
        version: String,
        registry: String,
        available: String,
    },

    /// ZOO_OFFLINE is set and the cache cannot answer.
    #[error("offline (ZOO_OFFLINE=1): {what} is not in the cache {home}; unset ZOO_OFFLINE to download it")]
    Offline { what: String, home: PathBuf },

    /// Nothing of that model/version in the local cache (`zoo rm`, `zoo path` offline).
    #[error("{what} is not in the cache {home}")]
    NotCached { what: String, home: PathBuf },

    #[error("checksum mismatch for {file}: expected sha256 {expected}, got {actual}")]
    ChecksumMismatch {
        file: String,
        expected: String,
        actual: String,
    },

    #[error("size mismatch for {file}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        file: String,
        expected: u64,
        actual: u64,
    },

    #[error("HTTP {status} from {url}")]
    Http { status: u16, url: String },

    #[error("timed out talking to {url} (after {attempts} attempt(s))")]
    Timeout { url: String, attempts: u32 },

    #[error("network error for {url}: {message}")]
    Network { url: String, message: String },

    /// A file name in an index that would land outside its model directory.
    #[error("unsafe file path {path:?} in {context}: {reason}")]
    UnsafePath {
        path: String,
        context: String,
        reason: String,
    },

    #[error("{name}@{version} is already published in {registry}; versions are immutable, publish a new version")]
    AlreadyPublished {
        name: String,
        version: String,
        registry: PathBuf,
    },

    #[error("invalid registry index {location}: {reason}")]
    InvalidIndex { location: String, reason: String },

    /// A ZOO_* environment variable (or equivalent option) with an unusable value.
    #[error("invalid {setting}={value:?}: {reason}")]
    InvalidConfig {
        setting: String,
        value: String,
        reason: String,
    },

    /// The upstream file is not the one the index names (git blob SHA-1).
    #[error("git blob mismatch for {file}: expected {expected}, got {actual}; nothing was kept")]
    GitBlobMismatch { file: String, expected: String, actual: String },

    /// An upstream entry whose converter this program does not include.
    #[error("{model} is built at pull time from the authors' weights ({url}) by the {converter:?} converter, which lives in the `train` tool: run `train pull {model}` (in a checkout: `cargo run --release -p train -- pull {model}`)")]
    NeedsConverter { model: String, converter: String, url: String },

    /// A derived entry whose converter this program does not include.
    #[error("{model} is published as weights; its {files} is built from them at pull time by the {converter:?} converter, which lives in the `train` tool: run `train pull {model}` once (in a checkout: `cargo run --release -p train -- pull {model}`), then every tool finds it in the cache")]
    NeedsDerivation { model: String, converter: String, files: String },

    #[error("converting {model} failed: {reason}")]
    Conversion { model: String, reason: String },

    #[error("invalid registry {registry:?}: {reason}")]
    InvalidRegistry { registry: String, reason: String },

    /// Bad user-supplied input other than the index (card.json, model.json, publish dir).
    #[error("invalid input {path}: {reason}")]
    InvalidInput { path: PathBuf, reason: String },

    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ZooError {
    /// Errors caused by what the user typed (unknown model, bad spec...) rather than by
    /// the world; the CLI maps them to exit status 2.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ZooError::InvalidSpec { .. }
                | ZooError::NotFound { .. }
                | ZooError::NoSuchVersion { .. }
                | ZooError::InvalidRegistry { .. }
                | ZooError::InvalidConfig { .. }
                | ZooError::NotCached { .. }
        )
    }

    /// Worth another attempt against the same URL (5xx, timeouts, dropped connections).
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            ZooError::Http { status, .. } => (500..600).contains(status),
            ZooError::Timeout { .. } | ZooError::Network { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ZooError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = ZooError> = std::result::Result<T, E>;
