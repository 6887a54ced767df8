//! The final block of `AutosomeFinalLayersBlock` (models.md §2.7): a 1x1 conv to one
//! logit per expression bin, mean over positions, softmax, and the expected bin.

use infer::onnx::{Attr, GraphBuilder};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::model::family::{Block, BlockFamily, FinalOutput, Objective, Signal, Slot};
use crate::model::layers::{Conv1d, InitScheme};
use crate::model::onnx::mean_over_positions;
use crate::model::scope::{Scope, Var};
use crate::model::store::to_vec_f32;

pub struct SoftBins;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub in_channels: usize,
    pub n_bins: usize,
}

pub struct SoftBinHead {
    pub mapper: Conv1d,
    pub bins: Var,
}

impl BlockFamily for SoftBins {
    type Spec = Spec;
    const SLOT: Slot = Slot::Final;
    const TAG: &'static str = "soft_bins";

    fn check(s: &Spec, input: Signal) -> Result<Signal, String> {
        super::check_input("final", s.in_channels, input.channels, "the core block gives")?;
        if s.n_bins == 0 {
            return Err("soft_bins final block: n_bins must be at least 1".into());
        }
        Ok(Signal { channels: 1, length: 1 })
    }

    fn build(s: &Spec, vs: &mut Scope) -> Box<dyn Block> {
        let n = s.n_bins as i64;
        let bins = vs.buffer("bins", Tensor::arange(n, (Kind::Int64, vs.device())));
        let mapper = Conv1d::new(&mut vs.pp("mapper.0"), s.in_channels as i64, n, 1, 1, true);
        Box::new(SoftBinHead { mapper, bins })
    }

    fn objective(_: &Spec) -> Objective {
        Objective::SoftBinKl
    }
}

impl Block for SoftBinHead {
    fn init(&self) {
        self.mapper.init(InitScheme::Autosome)
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_final(x, train).prediction
    }

    fn forward_final(&self, x: &Tensor, _train: bool) -> FinalOutput {
        let z = self.mapper.forward(x).mean_dim([2i64].as_slice(), false, Kind::Float);
        let p = z.softmax(1, Kind::Float);
        let prediction = (p * self.bins.to_kind(Kind::Float)).sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
        FinalOutput { prediction, logits: Some(z) }
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let z = self.mapper.export(g, x);
        let z = mean_over_positions(g, &z);
        let p = g.op("Softmax", &[&z], vec![Attr::Int("axis", 1)]);
        // The bins are int64 in the state_dict; the expectation needs floats.
        let bins: Vec<f32> = to_vec_f32(&self.bins);
        let bins = g.initializer_f32(&self.bins.name, &[bins.len() as i64], &bins);
        g.op("MatMul", &[&p, &bins], vec![])
    }
}
