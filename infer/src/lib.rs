//! Scoring DNA sequences with sequence-to-expression models.
//!
//! `input` reads sequence files of every supported format, `preprocess` turns a raw
//! sequence into the model's input tensor exactly as the reference pipeline does,
//! `backend` runs ONNX models (tract or ONNX Runtime), `scorer` ties them together,
//! and `eval` computes the DREAM challenge metrics.

pub mod atomic;
pub mod backend;
pub mod batch;
pub mod eval;
pub mod input;
pub mod onnx;
pub mod preprocess;
pub mod scorer;

pub use preprocess::Preprocessing;
