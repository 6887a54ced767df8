//! Models of the Prix Fixe / DREAM framework in libtorch, their weights, ONNX export
//! and the DREAM training recipe.

pub mod device;
pub mod engine;
pub mod export;
pub mod finetune;
pub mod fit;
pub mod model;
pub mod openmp;
pub mod pth;
pub mod recipe;
pub mod upstream;
pub mod run;
pub mod torch_call;
