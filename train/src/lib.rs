//! Models of the Prix Fixe / DREAM framework in libtorch, their weights, ONNX export
//! and the DREAM training recipe.

pub mod pth;
