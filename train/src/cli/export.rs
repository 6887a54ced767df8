//! `train export`: reference weights -> our artifact directory.

use std::path::PathBuf;

use anyhow::Context;
use tch::Device;
use train::export::{write_artifacts, Provenance};
use train::model::{ModelDescription, PrixFixeNet};

use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Preset (dream-rnn, dream-cnn, dream-attn, legnet, deepgxp, camformer, wztr) or a model.json
    #[arg(long)]
    arch: String,
    /// PyTorch .pth (as torch.save writes a state_dict) or .safetensors with the reference names
    #[arg(long)]
    weights: PathBuf,
    /// Output directory (created; existing model files in it are replaced atomically)
    #[arg(long)]
    out: PathBuf,
    /// Name recorded in the model description (default: the preset or model.json name)
    #[arg(long)]
    name: Option<String>,
    /// License recorded in the model description
    #[arg(long)]
    license: Option<String>,
    /// Version recorded in the model description and the ONNX metadata (use the one you
    /// will `zoo publish` it as)
    #[arg(long)]
    version: Option<semver::Version>,
    /// Also write reduced-precision variants beside model.onnx (model.int8.onnx:
    /// dynamically quantised Conv/MatMul; model.fp16.onnx: float16 weights), e.g.
    /// `--precision int8 --precision fp16`; measure them with bench/score.sh before publishing
    #[arg(long, value_enum)]
    precision: Vec<infer::precision::Precision>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut desc = ModelDescription::from_arg(&args.arch)?;
    if let Some(name) = args.name {
        desc.name = name;
    }
    if args.license.is_some() {
        desc.license = args.license;
    }
    if let Some(v) = args.version {
        desc.version = Some(v.to_string());
    }
    if !args.weights.is_file() {
        return Err(UsageError(format!("{}: no such weights file", args.weights.display())).into());
    }
    let mut provenance = Provenance::from_weights_file(&args.weights)
        .with_context(|| format!("hashing {}", args.weights.display()))?;
    // A model.json from a training run already says how the weights were made.
    if !desc.provenance.is_null() {
        provenance.training = desc.provenance.clone();
    }
    let net = PrixFixeNet::from_weights(desc, &args.weights, Device::Cpu)?;
    let mut files = write_artifacts(&net, &args.out, provenance)?;
    let onnx = args.out.join("model.onnx");
    for p in args.precision.into_iter().filter(|p| *p != infer::precision::Precision::Fp32) {
        let out = args.out.join(p.file_name());
        infer::precision::write_variant(&onnx, p, &out)?;
        files.push(out);
    }
    for f in files {
        zoo::outln!("{}", f.display())?;
    }
    Ok(())
}
