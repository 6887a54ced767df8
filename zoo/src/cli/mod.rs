//! One module per verb; each is a thin layer over the library that formats output.

pub mod info;
pub mod list;
pub mod path;
pub mod publish;
pub mod pull;
pub mod rm;
pub mod verify;

use zoo::ModelSpec;

pub use zoo::exit::UsageError;

/// clap value parser for NAME[@VERSION] arguments, so bad specs are usage errors.
pub fn parse_spec(s: &str) -> Result<ModelSpec, String> {
    ModelSpec::parse(s).map_err(|e| e.to_string())
}
