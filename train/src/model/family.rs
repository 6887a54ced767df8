//! The plug-in point of the model layer. A block family (BHI first-layers, Autosome core,
//! the 18-bin head, ...) is one type implementing [`BlockFamily`]: its spec in model.json,
//! the checks of that spec, building and initialising its tensors under a [`Scope`], and
//! the built [`Block`]'s forward pass (train/eval) and ONNX export. Families are looked up
//! by slot and `"block"` tag in one registry ([`builtin`] is the registration point;
//! [`register`] adds a family from outside the crate).

use std::marker::PhantomData;
use std::sync::{LazyLock, RwLock};

use infer::onnx::GraphBuilder;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::blocks;
use super::scope::Scope;
use super::spec::BlockSpec;

/// Where a block sits in the network: first-layers -> core -> final-layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    First,
    Core,
    Final,
}

impl Slot {
    pub const ALL: [Slot; 3] = [Slot::First, Slot::Core, Slot::Final];

    /// The Prix Fixe state_dict scope of the slot (`first`, `core`, `final`): the default
    /// name scope of a family's tensors.
    pub fn reference_scope(self) -> &'static str {
        match self {
            Slot::First => "first",
            Slot::Core => "core",
            Slot::Final => "final",
        }
    }

    pub fn label(self) -> &'static str {
        self.reference_scope()
    }
}

/// The training objective a head is trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// KL divergence to the 18-bin soft target (the DREAM recipe).
    SoftBinKl,
    /// Mean squared error per task, summed over tasks (the benchmark heads).
    Mse,
}

/// What flows into a block: channels and positions of `(B, C, L)`. For the final slot the
/// channels of the output are the number of predicted tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    pub channels: usize,
    pub length: usize,
}

/// What a final block produces: the prediction, and for the soft-bin head the pooled
/// class logits its KL training loss needs.
pub struct FinalOutput {
    /// (B,) for one task, (B, T) for several.
    pub prediction: Tensor,
    pub logits: Option<Tensor>,
}

/// A built block: its tensors live in the network's store; it maps `(B, C_in, L)` to
/// `(B, C_out, L_out)` (a final block: to the prediction).
pub trait Block: Send {
    /// The reference initialisation (draws from libtorch's seeded generator).
    fn init(&self);
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor;
    /// For final blocks: the prediction plus what the loss needs beyond it.
    fn forward_final(&self, x: &Tensor, train: bool) -> FinalOutput {
        FinalOutput { prediction: self.forward_t(x, train), logits: None }
    }
    /// Emits the eval-mode forward pass on graph value `x`; returns the output value.
    fn export(&self, g: &mut GraphBuilder, x: &str) -> String;
}

/// A block family: everything about one kind of block.
pub trait BlockFamily: 'static {
    /// The family's hyperparameters as they appear in model.json (beside `"block": TAG`).
    type Spec: Serialize + DeserializeOwned;
    const SLOT: Slot;
    /// The `"block"` tag in model.json (unique within the slot).
    const TAG: &'static str;
    /// The name scope of the family's tensors when the description names none.
    fn scope() -> &'static str {
        Self::SLOT.reference_scope()
    }
    /// Checks the spec against its input; returns the block's output.
    fn check(spec: &Self::Spec, input: Signal) -> Result<Signal, String>;
    fn build(spec: &Self::Spec, vs: &mut Scope) -> Box<dyn Block>;
    /// The spec re-fitted to another input (fine-tuning on another layout or length).
    fn adapt(spec: &mut Self::Spec, input: Signal) {
        let _ = (spec, input);
    }
    /// Final-slot families: the objective their output is trained with.
    fn objective(spec: &Self::Spec) -> Objective {
        let _ = spec;
        Objective::Mse
    }
}

/// A registered family behind its spec-erasing adaptor.
pub trait DynFamily: Send + Sync {
    fn slot(&self) -> Slot;
    fn tag(&self) -> &'static str;
    fn scope(&self) -> &'static str;
    fn check(&self, spec: &BlockSpec, input: Signal) -> Result<Signal, String>;
    fn build(&self, spec: &BlockSpec, vs: &mut Scope) -> Result<Box<dyn Block>, String>;
    fn adapt(&self, spec: &BlockSpec, input: Signal) -> Result<BlockSpec, String>;
    fn objective(&self, spec: &BlockSpec) -> Result<Objective, String>;
}

struct Erased<F>(PhantomData<fn() -> F>);

impl<F: BlockFamily> Erased<F> {
    fn typed(&self, spec: &BlockSpec) -> Result<F::Spec, String> {
        spec.typed::<F::Spec>()
    }
}

impl<F: BlockFamily> DynFamily for Erased<F> {
    fn slot(&self) -> Slot {
        F::SLOT
    }
    fn tag(&self) -> &'static str {
        F::TAG
    }
    fn scope(&self) -> &'static str {
        F::scope()
    }
    fn check(&self, spec: &BlockSpec, input: Signal) -> Result<Signal, String> {
        F::check(&self.typed(spec)?, input)
    }
    fn build(&self, spec: &BlockSpec, vs: &mut Scope) -> Result<Box<dyn Block>, String> {
        Ok(F::build(&self.typed(spec)?, vs))
    }
    fn adapt(&self, spec: &BlockSpec, input: Signal) -> Result<BlockSpec, String> {
        let mut typed = self.typed(spec)?;
        F::adapt(&mut typed, input);
        let mut out = BlockSpec::of::<F>(&typed);
        out.scope = spec.scope.clone();
        Ok(out)
    }
    fn objective(&self, spec: &BlockSpec) -> Result<Objective, String> {
        Ok(F::objective(&self.typed(spec)?))
    }
}

/// The registration point: every built-in family, one line each.
fn builtin() -> Vec<&'static dyn DynFamily> {
    vec![
        family::<blocks::bhi::BhiFirst>(),
        family::<blocks::bhi::BhiCore>(),
        family::<blocks::autosome::AutosomeFirst>(),
        family::<blocks::autosome::AutosomeCore>(),
        family::<blocks::unlock_dna::UnlockDnaCore>(),
        family::<blocks::soft_bins::SoftBins>(),
        family::<blocks::regression::Regression>(),
        family::<blocks::legnet::LegnetStem>(),
        family::<blocks::legnet::LegnetCore>(),
        family::<blocks::legnet::LegnetHead>(),
        family::<blocks::identity::Identity>(),
        family::<blocks::deepgxp::DeepgxpFirst>(),
        family::<blocks::deepgxp::DeepgxpCore>(),
        family::<blocks::deepgxp::DeepgxpHead>(),
        family::<blocks::camformer::CamformerCore>(),
        family::<blocks::camformer::CamformerHead>(),
        family::<blocks::wztr::WztrStem>(),
        family::<blocks::wztr::WztrCore>(),
        family::<blocks::wztr::WztrHead>(),
    ]
}

fn family<F: BlockFamily>() -> &'static dyn DynFamily {
    // A zero-sized adaptor: leaking it allocates nothing.
    Box::leak(Box::new(Erased::<F>(PhantomData)))
}

static REGISTRY: LazyLock<RwLock<Vec<&'static dyn DynFamily>>> = LazyLock::new(|| RwLock::new(builtin()));

/// Adds a family defined outside this crate (a test, an extension). Registering the same
/// slot and tag again is a no-op.
pub fn register<F: BlockFamily>() {
    let mut reg = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    if !reg.iter().any(|f| f.slot() == F::SLOT && f.tag() == F::TAG) {
        reg.push(family::<F>());
    }
}

/// The family of a block spec in `slot`.
pub fn lookup(slot: Slot, tag: &str) -> Result<&'static dyn DynFamily, String> {
    let reg = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = reg.iter().find(|f| f.slot() == slot && f.tag() == tag) {
        return Ok(*f);
    }
    let known: Vec<&str> = reg.iter().filter(|f| f.slot() == slot).map(|f| f.tag()).collect();
    Err(format!("{} block: unknown block '{tag}' (known: {})", slot.label(), known.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_family_has_a_unique_slot_and_tag() {
        let all = builtin();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(!(a.slot() == b.slot() && a.tag() == b.tag()), "{:?} {} registered twice", a.slot(), a.tag());
            }
        }
    }

    #[test]
    fn unknown_tags_name_the_known_ones() {
        let e = lookup(Slot::Core, "nope").err().unwrap();
        assert!(e.contains("unknown block 'nope'") && e.contains("unlock_dna"), "{e}");
    }
}
