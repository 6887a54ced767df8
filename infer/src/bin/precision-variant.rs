//! Writes a reduced-precision variant of an ONNX model (see `infer::precision`):
//!
//! ```sh
//! cargo run --release -p infer --bin precision-variant -- weights/dream-cnn/0.1.0/model.onnx int8 /tmp/model.int8.onnx
//! ```

use anyhow::Context;
use clap::ValueEnum;
use infer::precision::{self, Precision};
use prost::Message;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, precision, out] = args.as_slice() else {
        anyhow::bail!("usage: precision-variant MODEL.onnx int8|fp16 OUT.onnx");
    };
    let precision = Precision::from_str(precision, true).map_err(|e| anyhow::anyhow!("{e}"))?;
    let bytes = std::fs::read(model).with_context(|| format!("cannot read {model}"))?;
    let mut proto = tract_onnx::pb::ModelProto::decode(bytes.as_slice()).with_context(|| format!("{model} is not an ONNX model"))?;
    let changed = precision::convert(&mut proto, precision);
    infer::onnx::write_atomic(std::path::Path::new(out), &proto.encode_to_vec())?;
    eprintln!("{out}: {} ({changed} operators or tensors changed)", precision.name());
    Ok(())
}
