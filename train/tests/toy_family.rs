//! A block family defined entirely in this file proves the model layer's plug-in point:
//! one type implementing `BlockFamily` plus one `register` line, and the new block
//! composes with the built-in first and final blocks, trains, exports ONNX under the
//! same tensor names, and scores identically in tch, tract and ONNX Runtime.

use infer::backend::{self, BackendKind, BackendOptions};
use infer::onnx::GraphBuilder;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};
use train::model::layers::{Conv1d, InitScheme};
use train::model::store::to_vec_f32;
use train::model::{register, Block, BlockFamily, BlockSpec, ModelDescription, PrixFixeNet, Scope, Signal, Slot};
use train::recipe::optim::AdamW;

/// A toy core: a 1x1 convolution with ReLU and a residual-free gain, under `toy.mix`.
struct Toy;

#[derive(Serialize, Deserialize)]
struct ToySpec {
    in_channels: usize,
    out_channels: usize,
}

struct ToyBlock {
    mix: Conv1d,
}

impl BlockFamily for Toy {
    type Spec = ToySpec;
    const SLOT: Slot = Slot::Core;
    const TAG: &'static str = "toy";

    fn scope() -> &'static str {
        "toy"
    }

    fn check(s: &ToySpec, input: Signal) -> Result<Signal, String> {
        if s.in_channels != input.channels {
            return Err(format!("toy core takes {} channels, gets {}", s.in_channels, input.channels));
        }
        Ok(Signal { channels: s.out_channels, length: input.length })
    }

    fn build(s: &ToySpec, vs: &mut Scope) -> Box<dyn Block> {
        Box::new(ToyBlock { mix: Conv1d::new(&mut vs.pp("mix"), s.in_channels as i64, s.out_channels as i64, 1, 1, true) })
    }
}

impl Block for ToyBlock {
    fn init(&self) {
        self.mix.init(InitScheme::PyTorch);
    }

    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        self.mix.forward(x).relu()
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = self.mix.export(g, x);
        g.op("Relu", &[&y], vec![])
    }
}

fn toy_description() -> ModelDescription {
    register::<Toy>();
    let mut d = ModelDescription::preset("dream-cnn").unwrap();
    d.name = "toy".into();
    d.architecture.core = BlockSpec::of::<Toy>(&ToySpec { in_channels: 320, out_channels: 16 });
    let mut head: serde_json::Value = serde_json::to_value(&d.architecture.final_).unwrap();
    head["in_channels"] = 16.into();
    d.architecture.final_ = serde_json::from_value(head).unwrap();
    d
}

#[test]
fn a_family_defined_in_one_file_trains_exports_and_scores_in_tch_tract_and_ort() {
    let desc = toy_description();
    // The description round-trips through model.json like the built-in ones.
    let text = serde_json::to_string(&desc).unwrap();
    assert!(text.contains(r#""core":{"block":"toy","in_channels":320,"out_channels":16}"#), "{text}");
    let desc: ModelDescription = serde_json::from_str(&text).unwrap();
    let net = PrixFixeNet::new(desc.clone(), Device::Cpu, 7).unwrap();
    let names: Vec<&str> = net.store.entries().iter().map(|e| e.name.as_str()).collect();
    assert!(names.contains(&"toy.mix.weight") && names.contains(&"toy.mix.bias"), "{names:?}");
    assert!(names.contains(&"first.conv_list.0.conv.weight") && names.contains(&"final.mapper.0.weight"), "{names:?}");

    // One training step moves the toy block's weights.
    let (c, l, b) = (desc.preprocessing.channels() as i64, desc.preprocessing.length as i64, 4i64);
    tch::manual_seed(5);
    let bases = Tensor::randint(4, [b, l], (Kind::Int64, Device::Cpu));
    let x = Tensor::cat(&[bases.one_hot(4).permute([0, 2, 1]).to_kind(Kind::Float), Tensor::zeros([b, c - 4, l], (Kind::Float, Device::Cpu))], 1);
    let target = Tensor::rand([b, 18], (Kind::Float, Device::Cpu)).softmax(1, Kind::Float);
    let before = net.store.get("toy.mix.weight").unwrap().detach().copy();
    let mut opt = AdamW::new(net.store.parameters(), 0.01);
    let z = net.forward_t(&x, true).logits.expect("the soft-bin head gives logits");
    let loss = z.log_softmax(1, Kind::Float).kl_div(&target, tch::Reduction::Sum, false) / b as f64;
    opt.zero_grad();
    loss.backward();
    opt.step(1e-3, 0.9);
    let after = net.store.get("toy.mix.weight").unwrap();
    assert!(f64::try_from((after - &before).abs().max()).unwrap() > 0.0, "the toy block did not train");

    // Export, then score the same inputs in tract and ONNX Runtime.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toy.onnx");
    net.to_onnx().save(&path).unwrap();
    let want = to_vec_f32(&net.predict(&x));
    let xs = to_vec_f32(&x);
    for kind in [BackendKind::Tract, BackendKind::Ort] {
        let opts = BackendOptions { max_rows: b as usize, channels: c as usize, length: l as usize, threads: 1 };
        let mut be = backend::open(kind, &path, &opts).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let got = be.run(&xs, b as usize).unwrap();
        assert_eq!(got.len(), want.len());
        let d = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max);
        eprintln!("toy family via {kind}: max |diff| {d:.3e}");
        assert!(d <= 1e-4, "{kind}: max |diff| {d}");
    }
}
