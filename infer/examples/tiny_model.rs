//! Writes the smallest model `infer score` accepts (the DREAM preprocessing, one 1x1
//! convolution and a mean), so benchmarks of the input and output path are not
//! dominated by the network: `cargo run --release -p infer --example tiny_model -- OUT.onnx`.

use infer::onnx::{meta, Attr, Dim, Elem, GraphBuilder, INPUT, OUTPUT};
use infer::Preprocessing;

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "tiny.onnx".to_string());
    let pre = Preprocessing::dream_yeast();
    let c = pre.channels() as i64;
    let mut g = GraphBuilder::new("tiny");
    g.input(INPUT, Elem::F32, &[Dim::Sym("batch"), Dim::Fixed(c), Dim::Fixed(pre.length as i64)]);
    g.output(OUTPUT, Elem::F32, &[Dim::Sym("batch")]);
    let w: Vec<f32> = (0..c).map(|i| 0.1 * (i + 1) as f32).collect();
    let w = g.initializer_f32("w", &[1, c, 1], &w);
    let h = g.op("Conv", &[INPUT, &w], vec![Attr::Ints("kernel_shape", vec![1])]);
    g.node("ReduceMean", &[&h], &[OUTPUT], vec![Attr::Ints("axes", vec![1, 2]), Attr::Int("keepdims", 0)]);
    g.metadata(meta::PREPROCESSING, &serde_json::to_string(&pre).expect("preprocessing serialises"));
    g.metadata(meta::OUTPUTS, r#"["score"]"#);
    g.metadata(meta::MODEL, r#"{"arch":"tiny"}"#);
    g.metadata(meta::NAME, "tiny");
    g.metadata(meta::VERSION, "0.0.0");
    g.metadata(meta::LICENSE, "MIT");
    g.metadata(meta::PROVENANCE, "infer/examples/tiny_model.rs, for benchmarks");
    if let Err(e) = g.save(std::path::Path::new(&out)) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
