//! The benchmarks' regression heads (benchmarks.md §1-3), one per task:
//! Conv1d(C -> hidden, K=1) -> mean over positions -> Linear(hidden -> 1).
//! The reference names a single head `mapper`/`linear.0`, several
//! `mapper1`/`linear1.0`, `mapper2`/`linear2.0`, ...

use infer::onnx::{Attr, GraphBuilder};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::model::family::{Block, BlockFamily, Signal, Slot};
use crate::model::layers::{Conv1d, InitScheme, Linear};
use crate::model::onnx::mean_over_positions;
use crate::model::scope::Scope;

pub struct Regression;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub in_channels: usize,
    pub hidden: usize,
    pub tasks: Vec<String>,
}

pub struct RegressionHead {
    pub mapper: Conv1d,
    pub linear: Linear,
}

pub struct RegressionHeads {
    pub heads: Vec<RegressionHead>,
    scope: String,
}

/// The reference's suffix of head `i` of `n`: none for a single head, else 1-based.
pub fn head_suffix(i: usize, n: usize) -> String {
    if n == 1 {
        String::new()
    } else {
        (i + 1).to_string()
    }
}

impl BlockFamily for Regression {
    type Spec = Spec;
    const SLOT: Slot = Slot::Final;
    const TAG: &'static str = "regression";

    fn check(s: &Spec, input: Signal) -> Result<Signal, String> {
        super::check_input("final", s.in_channels, input.channels, "the core block gives")?;
        Ok(Signal { channels: s.tasks.len(), length: 1 })
    }

    fn build(s: &Spec, vs: &mut Scope) -> Box<dyn Block> {
        let n = s.tasks.len();
        let heads = (0..n)
            .map(|i| {
                let suffix = head_suffix(i, n);
                RegressionHead {
                    mapper: Conv1d::new(&mut vs.pp(format!("mapper{suffix}")), s.in_channels as i64, s.hidden as i64, 1, 1, true),
                    linear: Linear::new(&mut vs.pp(format!("linear{suffix}.0")), s.hidden as i64, 1, true),
                }
            })
            .collect();
        Box::new(RegressionHeads { heads, scope: vs.path().to_string() })
    }

    fn adapt(s: &mut Spec, input: Signal) {
        s.in_channels = input.channels;
    }
}

impl Block for RegressionHeads {
    fn init(&self) {
        for h in &self.heads {
            h.mapper.init(InitScheme::Autosome);
            h.linear.init(InitScheme::Autosome);
        }
    }

    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        let outs: Vec<Tensor> = self
            .heads
            .iter()
            .map(|h| h.linear.forward(&h.mapper.forward(x).mean_dim([2i64].as_slice(), false, Kind::Float)))
            .collect();
        let y = Tensor::cat(&outs, 1);
        if self.heads.len() == 1 {
            y.squeeze_dim(1)
        } else {
            y
        }
    }

    /// (B,) for one head, (B, T) for several.
    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let outs: Vec<String> = self
            .heads
            .iter()
            .map(|h| {
                let y = h.mapper.export(g, x);
                let y = mean_over_positions(g, &y);
                h.linear.export(g, &y)
            })
            .collect();
        let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
        if self.heads.len() == 1 {
            let axes = g.initializer_i64(&format!("{}.squeeze_axes", self.scope), &[1], &[1]);
            g.op("Squeeze", &[refs[0], &axes], vec![])
        } else {
            g.op("Concat", &refs, vec![Attr::Int("axis", 1)])
        }
    }
}
