//! Names written once: a block asks a [`Scope`] for its tensors by their local names and
//! keeps the full state_dict name beside each tensor ([`Var`]), so the tch forward pass,
//! the weights files and the ONNX exporter all read the name from the same place (the
//! pattern of candle's `VarBuilder::pp`).

use std::fmt::Display;
use std::ops::Deref;

use tch::{Device, Kind, Tensor};

use super::store::Store;

/// A tensor with its reference state_dict name.
pub struct Var {
    pub name: String,
    pub tensor: Tensor,
}

impl Deref for Var {
    type Target = Tensor;
    fn deref(&self) -> &Tensor {
        &self.tensor
    }
}

impl Var {
    pub fn shallow_clone(&self) -> Var {
        Var { name: self.name.clone(), tensor: self.tensor.shallow_clone() }
    }
}

/// A position in the model's name tree: `pp("conv_list").pp(0).param("weight")` registers
/// `<scope>.conv_list.0.weight`. An empty root scope gives unprefixed names (whole-model
/// architectures whose state_dict starts at the root, e.g. LegNet's `mapper.0.weight`).
pub struct Scope<'a> {
    store: &'a mut Store,
    prefix: String,
}

impl<'a> Scope<'a> {
    pub fn new(store: &'a mut Store, prefix: &str) -> Self {
        Scope { store, prefix: prefix.to_string() }
    }

    /// A sub-scope (`push prefix`, as candle's `VarBuilder::pp`).
    pub fn pp(&mut self, name: impl Display) -> Scope<'_> {
        let prefix = self.name(&name.to_string());
        Scope { store: self.store, prefix }
    }

    /// The full name of this scope (empty at the root).
    pub fn path(&self) -> &str {
        &self.prefix
    }

    /// The full name of `leaf` in this scope.
    pub fn name(&self, leaf: &str) -> String {
        match (self.prefix.is_empty(), leaf.is_empty()) {
            (true, _) => leaf.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}.{leaf}", self.prefix),
        }
    }

    pub fn device(&self) -> Device {
        self.store.device()
    }

    /// A float32 parameter, zero until initialised or loaded.
    pub fn param(&mut self, leaf: &str, shape: &[i64]) -> Var {
        let name = self.name(leaf);
        let tensor = self.store.param(&name, shape);
        Var { name, tensor }
    }

    /// A buffer (not learned): running statistics, bin centres.
    pub fn buffer(&mut self, leaf: &str, t: Tensor) -> Var {
        let name = self.name(leaf);
        let tensor = self.store.buffer(&name, t);
        Var { name, tensor }
    }

    /// A buffer that leads the state_dict: a whole-model architecture whose module
    /// registers it before its submodules (LegNet's `SeqNN.bins`).
    pub fn buffer_first(&mut self, leaf: &str, t: Tensor) -> Var {
        let name = self.name(leaf);
        let tensor = self.store.buffer_first(&name, t);
        Var { name, tensor }
    }

    /// A float32 buffer of zeros/ones etc. built on the store's device.
    pub fn buffer_like(&mut self, leaf: &str, shape: &[i64], kind: Kind, fill: f64) -> Var {
        let t = Tensor::full(shape, fill, (kind, self.device()));
        self.buffer(leaf, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_join_names_with_dots_and_the_root_adds_nothing() {
        let mut store = Store::new(Device::Cpu);
        let mut root = Scope::new(&mut store, "");
        assert_eq!(root.param("bins", &[2]).name, "bins");
        let mut m = root.pp("mapper");
        assert_eq!(m.pp(0).param("weight", &[1]).name, "mapper.0.weight");
        let mut core = Scope::new(&mut store, "core");
        assert_eq!(core.pp("lstm").name("weight_ih_l0"), "core.lstm.weight_ih_l0");
        assert_eq!(core.pp("").path(), "core");
        let names: Vec<&str> = store.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["bins", "mapper.0.weight"]);
    }
}
