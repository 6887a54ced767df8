//! A Prix Fixe network: first-layers block -> core block -> final-layers block, each
//! built by its family (see [`family`]) under its own name scope.

pub mod blocks;
pub mod family;
pub mod layers;
pub mod onnx;
pub mod scope;
pub mod spec;
pub mod store;
pub mod teams;

use std::collections::HashMap;
use std::path::Path;

use tch::{Device, Kind, Tensor};

pub use family::{register, Block, BlockFamily, FinalOutput, Objective, Signal, Slot};
pub use scope::{Scope, Var};
pub use spec::{Architecture, BlockSpec, ModelDescription, SpecError};
pub use store::{Store, WeightsError};

/// libtorch has one random generator per process. Code that seeds it and then draws
/// (initialisation, a chunked training step's dropout) holds this, so that work on other
/// threads of the process cannot reseed it or take draws in between.
pub fn seeded_draws() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct PrixFixeNet {
    pub desc: ModelDescription,
    pub store: Store,
    /// First, core and final block, in slot order.
    blocks: Vec<Box<dyn Block>>,
    /// The slot that registered each store entry, in store order.
    entry_slots: Vec<Slot>,
}

impl PrixFixeNet {
    /// Builds the network with the reference initialisation drawn from `seed`.
    pub fn new(desc: ModelDescription, device: Device, seed: i64) -> Result<Self, SpecError> {
        let invalid = |e: String| SpecError::Invalid(desc.name.clone(), e);
        desc.validate().map_err(invalid)?;
        let mut store = Store::new(device);
        let mut blocks = Vec::with_capacity(3);
        // Owners by name: a block may put an entry ahead of earlier blocks' entries
        // (`Scope::buffer_first`), so store positions do not group by slot.
        let mut owner: HashMap<String, Slot> = HashMap::new();
        for slot in Slot::ALL {
            let spec = desc.architecture.slot(slot);
            let family = family::lookup(slot, &spec.block).map_err(invalid)?;
            let scope = spec.scope.as_deref().unwrap_or(family.scope());
            blocks.push(family.build(spec, &mut Scope::new(&mut store, scope)).map_err(invalid)?);
            for e in store.entries() {
                if !owner.contains_key(&e.name) {
                    owner.insert(e.name.clone(), slot);
                }
            }
        }
        let entry_slots = store.entries().iter().map(|e| owner[&e.name]).collect();
        {
            // The draws come from libtorch's process-wide generator: two networks built
            // at once on different threads would interleave their draws, so seeding and
            // drawing happen under one lock.
            let _guard = seeded_draws();
            tch::manual_seed(seed);
            if device.is_cuda() {
                tch::Cuda::manual_seed_all(seed as u64);
            }
            blocks.iter().for_each(|b| b.init());
        }
        Ok(PrixFixeNet { desc, store, blocks, entry_slots })
    }

    /// Builds the network and loads weights (`.pth` or `.safetensors`) strictly.
    pub fn from_weights(desc: ModelDescription, weights: &Path, device: Device) -> anyhow::Result<Self> {
        let mut net = Self::new(desc, device, 0)?;
        net.store.load(weights)?;
        Ok(net)
    }

    /// The blocks in forward order.
    pub fn blocks(&self) -> impl Iterator<Item = &dyn Block> {
        self.blocks.iter().map(|b| b.as_ref())
    }

    /// The slot whose block registered store entry `index`.
    pub fn slot_of_entry(&self, index: usize) -> Option<Slot> {
        self.entry_slots.get(index).copied()
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> FinalOutput {
        self.forward_head_t(&self.forward_body_t(x, train), train)
    }

    /// The first and core blocks: what the final block reads.
    pub fn forward_body_t(&self, x: &Tensor, train: bool) -> Tensor {
        let (_, body) = self.blocks.split_last().expect("a network has three blocks");
        let mut h = x.shallow_clone();
        for block in body {
            h = block.forward_t(&h, train);
        }
        h
    }

    /// The final block on the body's output.
    pub fn forward_head_t(&self, h: &Tensor, train: bool) -> FinalOutput {
        self.blocks.last().expect("a network has three blocks").forward_final(h, train)
    }

    /// The first-layers or core block's BatchNorm, if any: in training it normalises with
    /// the batch's statistics, so that block's output for one sequence depends on the
    /// others in the batch.
    pub fn body_batch_statistics(&self) -> Option<&str> {
        self.store
            .entries()
            .iter()
            .zip(&self.entry_slots)
            .find(|(e, slot)| **slot != Slot::Final && e.name.ends_with("running_mean"))
            .map(|(e, _)| e.name.as_str())
    }

    /// Eval-mode prediction without gradient tracking.
    pub fn predict(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| self.forward_t(x, false).prediction)
    }

    /// The reference predictor: every test-time input of each sequence as its
    /// preprocessing describes them (forward and reverse complement for the DREAM models,
    /// shifts x strands for DeepGXP), scores averaged.
    pub fn predict_sequences(&self, seqs: &[&[u8]]) -> anyhow::Result<Vec<Vec<f32>>> {
        let pre = &self.desc.preprocessing;
        let (c, l) = (pre.channels(), pre.length);
        let rows = pre.inputs_per_sequence();
        let mut x = vec![0f32; seqs.len() * rows * c * l];
        for (s, slot) in seqs.iter().zip(x.chunks_exact_mut(rows * c * l)) {
            pre.encode_for_scoring(s, slot)?;
        }
        let x = Tensor::from_slice(&x)
            .view([(seqs.len() * rows) as i64, c as i64, l as i64])
            .to_device(self.store.device());
        let y = self.predict(&x).to_kind(Kind::Float).to_device(Device::Cpu);
        let n_out = self.desc.outputs.len();
        let y = store::to_vec_f32(&y.reshape([(seqs.len() * rows) as i64, n_out as i64]));
        Ok((0..seqs.len())
            .map(|i| {
                (0..n_out)
                    .map(|k| (0..rows).map(|r| y[(i * rows + r) * n_out + k]).sum::<f32>() / rows as f32)
                    .collect()
            })
            .collect())
    }
}
