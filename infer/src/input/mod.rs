//! (being written)

/// Placeholder until the input module lands.
#[derive(Debug, thiserror::Error)]
#[error("input error")]
pub struct InputError;
