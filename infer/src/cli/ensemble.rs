//! `infer ensemble`: one model that averages several (see `infer::ensemble`), written
//! as a model directory ready for `zoo publish`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// A member: a model directory (holding model.onnx) or an .onnx file; two or more
    #[arg(long = "member", required = true, num_args = 1)]
    members: Vec<PathBuf>,
    /// Output directory (created; must not hold a model.onnx yet)
    #[arg(long, short)]
    out: PathBuf,
}

fn onnx_of(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("model.onnx")
    } else {
        p.to_path_buf()
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let files: Vec<PathBuf> = args.members.iter().map(|p| onnx_of(p)).collect();
    for f in &files {
        if !f.is_file() {
            return Err(UsageError(format!("{}: no such model file", f.display())).into());
        }
    }
    let target = args.out.join("model.onnx");
    if target.exists() {
        return Err(UsageError(format!("{} exists already", target.display())).into());
    }
    let sources: Vec<String> = args.members.iter().map(|p| p.display().to_string()).collect();
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let model = infer::ensemble::merge(&refs, &sources).map_err(|e| UsageError(e.to_string()))?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    // model.json: the first member's description (the members share preprocessing and
    // outputs), with the member list, so `zoo publish` fills the card from it.
    if let Some(first) = args.members.first().filter(|p| p.is_dir()) {
        if let Ok(text) = std::fs::read_to_string(first.join("model.json")) {
            let mut desc: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{}/model.json", first.display()))?;
            if let Some(obj) = desc.as_object_mut() {
                obj.insert(infer::ensemble::ENSEMBLE_KEY.into(), serde_json::json!({ "members": sources, "combine": "mean" }));
            }
            infer::atomic::write(&args.out.join("model.json"), serde_json::to_string_pretty(&desc)?.as_bytes())?;
        }
    }
    infer::onnx::write_atomic(&target, &prost::Message::encode_to_vec(&model))?;
    zoo::outln!("{}: mean of {} members", target.display(), files.len())?;
    Ok(())
}
