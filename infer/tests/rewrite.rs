//! The load-time graph rewrites for tract (`infer::rewrite`) keep the published models'
//! numbers: tract on the rewritten graph against tract on the graph as written.

use crate::support;

use std::path::{Path, PathBuf};

use infer::backend::{BackendOptions, TractBackend};
use support::Rng;
use tract_onnx::prelude::*;

fn published(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("weights").join(name).join("0.1.0").join("model.onnx")
}

fn run(path: &Path, rows: usize, rewrite: bool, x: &[f32]) -> Vec<f32> {
    let opts = BackendOptions { max_rows: rows, channels: 6, length: 150, threads: 1 };
    let plan = TractBackend::load_plan_with(path, &opts, rewrite).unwrap();
    let input = Tensor::from_shape(&[rows, 6, 150], x).unwrap();
    let out = plan.run(tvec!(input.into_tvalue())).unwrap();
    out[0].to_plain_array_view::<f32>().unwrap().iter().copied().collect()
}

/// One-hot rows with the reverse/singleton channels set at random, like encoded sequences.
fn one_hot(rows: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut x = vec![0.0; rows * 6 * 150];
    for r in 0..rows {
        for l in 0..150 {
            let base = ((rng.uniform(1.0) + 1.0) * 2.0) as usize % 4;
            x[r * 900 + base * 150 + l] = 1.0;
        }
        if rng.uniform(1.0) > 0.0 {
            x[r * 900 + 4 * 150..r * 900 + 5 * 150].fill(1.0);
        }
    }
    x
}

#[test]
fn rewritten_published_models_score_like_the_graphs_as_written() {
    for name in ["dream-cnn", "dream-rnn", "dream-attn"] {
        let path = published(name);
        let x = one_hot(2, 7);
        let plain = run(&path, 2, false, &x);
        let rewritten = run(&path, 2, true, &x);
        assert_eq!(plain.len(), 2, "{name}");
        let worst = plain.iter().zip(&rewritten).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-5, "{name}: rewritten graph differs by {worst}");
    }
}

#[test]
fn dream_cnn_gets_its_batch_norms_folded_and_grouped_convs_lowered() {
    use prost::Message;
    let bytes = std::fs::read(published("dream-cnn")).unwrap();
    let mut proto = tract_onnx::pb::ModelProto::decode(bytes.as_slice()).unwrap();
    let done = infer::rewrite::for_tract(&mut proto);
    // 6 stages x (3 BatchNorms in the inverted-residual block + 1 in the resize block).
    assert_eq!(done.batch_norms_folded, 24, "{done:?}");
    // One convolution with 2 channels per group in each inverted-residual block.
    assert_eq!(done.grouped_convs_lowered, 6, "{done:?}");
    let graph = proto.graph.unwrap();
    assert!(graph.node.iter().all(|n| n.op_type != "BatchNormalization"));
    assert!(graph.node.iter().filter(|n| n.op_type == "Conv").all(|n| {
        let group = n.attribute.iter().find(|a| a.name == "group").map_or(1, |a| a.i);
        group == 1 || n.input.get(1).and_then(|w| graph.initializer.iter().find(|t| &t.name == w)).is_some_and(|t| t.dims[1] == 1)
    }));
}
