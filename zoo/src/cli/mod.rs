//! One module per verb; each is a thin layer over the library that formats output.

pub mod info;
pub mod list;
pub mod path;
pub mod publish;
pub mod pull;
pub mod rm;
pub mod verify;

use zoo::ModelSpec;

/// A mistake in how the command was invoked (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// clap value parser for NAME[@VERSION] arguments, so bad specs are usage errors.
pub fn parse_spec(s: &str) -> Result<ModelSpec, String> {
    ModelSpec::parse(s).map_err(|e| e.to_string())
}
