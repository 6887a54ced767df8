//! Fine-tuning a pretrained model on new assay data: the adapted description (new input
//! layout, new heads) and the transfer of every pretrained tensor that still fits.
//!
//! When the new data has the model's own target (one label, same preprocessing) the
//! model keeps its head and objective. Otherwise the head is replaced by one regression
//! head per label column (benchmarks.md §1: Conv1d(C->256, K=1) -> mean -> Linear(256->1),
//! MSE per task) and the input becomes the benchmark layout: sequences of exactly
//! `length` nt, one-hot A,G,C,T plus the orientation flag read from the record id.
//! Every pretrained tensor whose name and shape still fit is transferred; the first
//! convolutions keep their weights for the channels both layouts share.

use std::path::Path;

use anyhow::Context;
use tch::Tensor;

use crate::model::blocks::regression;
use crate::model::family::lookup;
use crate::model::{BlockSpec, ModelDescription, Objective, PrixFixeNet, Slot};

/// The description of the adapted model; fails when a block cannot follow the new input.
pub fn adapted(pre: &ModelDescription, tasks: &[String], length: usize, head_hidden: usize) -> Result<ModelDescription, String> {
    let mut d = pre.clone();
    let keeps_head = tasks.len() <= 1 && pre.objective()? == Objective::SoftBinKl && pre.preprocessing.length == length;
    if keeps_head {
        return Ok(d);
    }
    let mut prep = pre.preprocessing.clone();
    prep.length = length;
    prep.padding = infer::preprocess::Padding::Exact;
    prep.extra_channels = vec![infer::preprocess::ExtraChannel::Reverse];
    prep.rc_average = false;
    prep.reverse_id_markers = infer::preprocess::BENCHMARK_REVERSE_MARKERS.iter().map(|m| m.to_string()).collect();
    d.preprocessing = prep;
    // Each family re-fits its spec to what now flows into it.
    let mut signal = d.input_signal();
    for slot in [Slot::First, Slot::Core] {
        let spec = d.architecture.slot(slot).clone();
        let family = lookup(slot, &spec.block)?;
        let fitted = family.adapt(&spec, signal)?;
        signal = family.check(&fitted, signal)?;
        *d.architecture.slot_mut(slot) = fitted;
    }
    let names: Vec<String> = if tasks.is_empty() { vec!["y".into()] } else { tasks.to_vec() };
    let head = regression::Spec { in_channels: signal.channels, hidden: head_hidden, tasks: names.clone() };
    let mut final_ = BlockSpec::of::<regression::Regression>(&head);
    final_.scope = pre.architecture.final_.scope.clone();
    d.architecture.final_ = final_;
    d.outputs = names;
    d.units = "the training labels' own scale (regression, MSE per task)".into();
    Ok(d)
}

/// How many tensors a transfer copied whole, in part, or left freshly initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transfer {
    pub full: usize,
    pub partial: usize,
    pub fresh: usize,
}

/// Copies every tensor of `src` (name -> tensor) that still fits into `net`.
pub fn transfer_tensors(net: &mut PrixFixeNet, src: &[(String, Tensor)]) -> Transfer {
    let mut n = Transfer::default();
    let _g = tch::no_grad_guard();
    for e in net.store.entries() {
        let Some((_, s)) = src.iter().find(|(name, _)| *name == e.name) else {
            n.fresh += 1;
            continue;
        };
        let (want, have) = (e.tensor.size(), s.size());
        let s = s.to_device(e.tensor.device()).to_kind(e.tensor.kind());
        if want == have {
            e.tensor.shallow_clone().copy_(&s);
            n.full += 1;
        } else if want.len() == have.len() && want.len() >= 2 && want[0] == have[0] && want[2..] == have[2..] {
            // First-layer weights with another input-channel count: keep the shared
            // leading channels (one-hot, then the orientation flag), init the rest.
            let k = want[1].min(have[1]);
            e.tensor.narrow(1, 0, k).copy_(&s.narrow(1, 0, k));
            n.partial += 1;
        } else if want.len() == 2 && have.len() == 2 && want[1] == have[1] {
            // Positional embedding for another input length: keep the shared positions.
            let k = want[0].min(have[0]);
            e.tensor.narrow(0, 0, k).copy_(&s.narrow(0, 0, k));
            n.partial += 1;
        } else {
            n.fresh += 1;
        }
    }
    n
}

/// [`transfer_tensors`] from a safetensors file.
pub fn transfer(net: &mut PrixFixeNet, weights: &Path) -> anyhow::Result<Transfer> {
    let src = Tensor::read_safetensors(weights).with_context(|| format!("reading {}", weights.display()))?;
    Ok(transfer_tensors(net, &src))
}

#[cfg(test)]
mod tests {
    use tch::Device;

    use super::*;

    fn names(d: &ModelDescription) -> Vec<String> {
        PrixFixeNet::new(d.clone(), Device::Cpu, 0).unwrap().store.entries().iter().map(|e| e.name.clone()).collect()
    }

    #[test]
    fn same_target_keeps_the_head() {
        let pre = ModelDescription::preset("dream-cnn").unwrap();
        assert_eq!(adapted(&pre, &["bin".into()], 150, 256).unwrap(), pre);
    }

    #[test]
    fn new_tasks_get_one_regression_head_each_with_reference_names() {
        let pre = ModelDescription::preset("dream-attn").unwrap();
        let d = adapted(&pre, &["dev".into(), "hk".into()], 249, 256).unwrap();
        d.validate().unwrap();
        assert_eq!(d.preprocessing.channels(), 5);
        assert_eq!(d.architecture.core.get("seqsize"), Some(&serde_json::json!(249)));
        assert_eq!(d.outputs, ["dev", "hk"]);
        let n = names(&d);
        for want in ["final.mapper1.weight", "final.linear1.0.bias", "final.mapper2.bias", "final.linear2.0.weight"] {
            assert!(n.iter().any(|x| x == want), "{want} missing from {n:?}");
        }
        let single = adapted(&pre, &["mean_value".into()], 230, 256).unwrap();
        let n = names(&single);
        assert!(n.iter().any(|x| x == "final.mapper.weight") && n.iter().any(|x| x == "final.linear.0.weight"), "{n:?}");
    }

    #[test]
    fn transfer_copies_fitting_tensors_and_shared_channels() {
        let pre = ModelDescription::preset("dream-attn").unwrap();
        let src = PrixFixeNet::new(pre.clone(), Device::Cpu, 1).unwrap();
        let named: Vec<(String, Tensor)> = src.store.entries().iter().map(|e| (e.name.clone(), e.tensor.shallow_clone())).collect();
        let d = adapted(&pre, &["y".into()], 230, 16).unwrap();
        let mut net = PrixFixeNet::new(d, Device::Cpu, 2).unwrap();
        let n = transfer_tensors(&mut net, &named);
        // First conv (6 -> 5 channels) and the positional embedding (150 -> 230) in part;
        // the new head (mapper, linear: 4 tensors) fresh; the bins buffer is gone.
        assert_eq!((n.partial, n.fresh), (2, 4), "{n:?}");
        assert_eq!(n.full + n.partial + n.fresh, net.store.entries().len());
        let w = net.store.get("first.block.0.weight").unwrap();
        let s = src.store.get("first.block.0.weight").unwrap();
        assert!(w.narrow(1, 0, 5).equal(&s.narrow(1, 0, 5)));
    }
}
