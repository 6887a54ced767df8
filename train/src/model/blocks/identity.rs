//! A first-layers block that passes the encoded input through unchanged: whole-model
//! architectures whose first layer belongs to their trunk (Camformers' `CNN_layers.0`
//! opens a residual pair with `CNN_layers.1`, so the trunk is one core block).

use infer::onnx::GraphBuilder;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::model::family::{Block, BlockFamily, Signal, Slot};
use crate::model::scope::Scope;

pub struct Identity;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub channels: usize,
}

pub struct PassThrough;

impl BlockFamily for Identity {
    type Spec = Spec;
    const SLOT: Slot = Slot::First;
    const TAG: &'static str = "identity";

    fn check(s: &Spec, input: Signal) -> Result<Signal, String> {
        super::check_input("first", s.channels, input.channels, "preprocessing produces")?;
        Ok(input)
    }

    fn build(_: &Spec, _: &mut Scope) -> Box<dyn Block> {
        Box::new(PassThrough)
    }

    fn adapt(s: &mut Spec, input: Signal) {
        s.channels = input.channels;
    }
}

impl Block for PassThrough {
    fn init(&self) {}

    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        x.shallow_clone()
    }

    fn export(&self, _g: &mut GraphBuilder, x: &str) -> String {
        x.to_string()
    }
}
