//! Writes a reduced-precision variant of an ONNX model (see `infer::precision`):
//!
//! ```sh
//! cargo run --release -p infer --bin precision-variant -- weights/dream-cnn/0.1.0/model.onnx int8 /tmp/model.int8.onnx
//! ```

use clap::ValueEnum;
use infer::precision::{self, Precision};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, precision, out] = args.as_slice() else {
        anyhow::bail!("usage: precision-variant MODEL.onnx int8|fp16 OUT.onnx");
    };
    let precision = Precision::from_str(precision, true).map_err(|e| anyhow::anyhow!("{e}"))?;
    let changed = precision::write_variant(model.as_ref(), precision, out.as_ref())?;
    eprintln!("{out}: {} ({changed} operators or tensors changed)", precision.name());
    Ok(())
}
