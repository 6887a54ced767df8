//! Scoring DNA sequences with sequence-to-expression models.
//!
//! `input` reads sequence files of every supported format, `preprocess` turns a raw
//! sequence into the model's input tensor exactly as the reference pipeline does,
//! `backend` runs ONNX models (tract or ONNX Runtime), `rewrite` reshapes graphs into
//! forms tract runs fast, `scorer` ties them together, `eval` computes the DREAM
//! challenge metrics, and `effects` turns scores into variant effects and in-silico
//! mutagenesis.

#[cfg(feature = "native")]
pub mod atomic;
pub mod backend;
#[cfg(feature = "native")]
pub mod effects;
#[cfg(feature = "native")]
pub mod ensemble;
pub mod batch;
#[cfg(feature = "native")]
pub mod eval;
pub mod input;
pub mod onnx;
#[cfg(feature = "native")]
pub mod precision;
pub mod preprocess;
pub mod rewrite;
pub mod scorer;
pub mod window;
pub mod shard;

pub use preprocess::Preprocessing;
