//! The named tensors of a model, kept in the reference `state_dict` order.
//!
//! tch's `VarStore` cannot hold the reference's int64 buffers (`final.bins`,
//! `num_batches_tracked`) next to the parameters, and its default initialisations are
//! not PyTorch's; a small store of our own keeps names, order and kinds exactly as the
//! reference state_dict has them.

use std::collections::HashMap;
use std::path::Path;

use tch::{Device, Kind, Tensor};

use crate::pth::{self, DType, RawTensor};

/// Whether an entry is learned (gets gradients, is seen by the optimiser) or a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Parameter,
    Buffer,
}

pub struct Entry {
    pub name: String,
    pub tensor: Tensor,
    pub role: Role,
}

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{file}: cannot read weights: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}: missing tensor '{name}' (expected shape {shape:?})")]
    Missing { file: String, name: String, shape: Vec<i64> },
    #[error("{file}: unexpected tensor '{name}' (not part of this architecture)")]
    Unknown { file: String, name: String },
    #[error("{file}: tensor '{name}' has shape {found:?}, the architecture expects {expected:?}")]
    Shape { file: String, name: String, found: Vec<i64>, expected: Vec<i64> },
    #[error("{file}: tensor '{name}' has dtype {found}, expected {expected}")]
    DType { file: String, name: String, found: String, expected: String },
    #[error("{file}: cannot write weights: {reason}")]
    Write { file: String, reason: String },
}

pub struct Store {
    device: Device,
    entries: Vec<Entry>,
}

impl Store {
    pub fn new(device: Device) -> Self {
        Store { device, entries: Vec::new() }
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// A float32 parameter, zero until initialised or loaded.
    pub fn param(&mut self, name: &str, shape: &[i64]) -> Tensor {
        let t = Tensor::zeros(shape, (Kind::Float, self.device)).set_requires_grad(true);
        self.push(name, t, Role::Parameter)
    }

    pub fn buffer(&mut self, name: &str, t: Tensor) -> Tensor {
        let t = t.to_device(self.device);
        self.push(name, t, Role::Buffer)
    }

    /// A buffer registered ahead of everything else (LegNet's `SeqNN` registers `bins`
    /// before its modules, so its state_dict starts with it).
    pub fn buffer_first(&mut self, name: &str, t: Tensor) -> Tensor {
        let t = t.to_device(self.device);
        debug_assert!(self.entries.iter().all(|e| e.name != name), "duplicate tensor {name}");
        let handle = t.shallow_clone();
        self.entries.insert(0, Entry { name: name.to_string(), tensor: t, role: Role::Buffer });
        handle
    }

    fn push(&mut self, name: &str, t: Tensor, role: Role) -> Tensor {
        debug_assert!(self.entries.iter().all(|e| e.name != name), "duplicate tensor {name}");
        let handle = t.shallow_clone();
        self.entries.push(Entry { name: name.to_string(), tensor: t, role });
        handle
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn parameters(&self) -> Vec<Tensor> {
        self.entries
            .iter()
            .filter(|e| e.role == Role::Parameter)
            .map(|e| e.tensor.shallow_clone())
            .collect()
    }

    pub fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.entries
            .iter()
            .filter(|e| e.role == Role::Parameter)
            .map(|e| (e.name.clone(), e.tensor.shallow_clone()))
            .collect()
    }

    /// Number of trainable scalars (what the reference reports as parameter count).
    pub fn num_parameters(&self) -> i64 {
        self.entries
            .iter()
            .filter(|e| e.role == Role::Parameter)
            .map(|e| e.tensor.numel() as i64)
            .sum()
    }

    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.entries.iter().find(|e| e.name == name).map(|e| &e.tensor)
    }

    /// Load from `.safetensors` or a PyTorch `.pth` (zip + pickle), strictly: every
    /// tensor of the architecture must be present with its shape, and nothing else.
    pub fn load(&mut self, path: &Path) -> Result<(), WeightsError> {
        let file = path.display().to_string();
        let is_safetensors = path.extension().is_some_and(|e| e == "safetensors")
            || sniff_safetensors(path);
        let raw = if is_safetensors {
            pth::read_safetensors(path)
        } else {
            pth::read_state_dict(path)
        }
        .map_err(|e| WeightsError::Read { file: file.clone(), reason: e.to_string() })?;
        self.load_raw(&file, raw)
    }

    pub fn load_raw(&mut self, file: &str, raw: Vec<(String, RawTensor)>) -> Result<(), WeightsError> {
        let mut by_name: HashMap<String, RawTensor> = HashMap::with_capacity(raw.len());
        for (name, t) in raw {
            if !self.entries.iter().any(|e| e.name == name) {
                return Err(WeightsError::Unknown { file: file.to_string(), name });
            }
            by_name.insert(name, t);
        }
        for e in &self.entries {
            let expected = e.tensor.size();
            let Some(src) = by_name.get(&e.name) else {
                return Err(WeightsError::Missing { file: file.to_string(), name: e.name.clone(), shape: expected });
            };
            let found: Vec<i64> = src.shape.iter().map(|&d| d as i64).collect();
            if found != expected {
                return Err(WeightsError::Shape { file: file.to_string(), name: e.name.clone(), found, expected });
            }
            let want = e.tensor.kind();
            let ok = matches!((want, src.dtype), (Kind::Float, DType::F32) | (Kind::Int64, DType::I64));
            if !ok {
                return Err(WeightsError::DType {
                    file: file.to_string(),
                    name: e.name.clone(),
                    found: format!("{:?}", src.dtype),
                    expected: format!("{want:?}"),
                });
            }
        }
        let _guard = tch::no_grad_guard();
        for e in &mut self.entries {
            let src = &by_name[&e.name];
            let kind = e.tensor.kind();
            let t = Tensor::from_data_size(&src.data, &e.tensor.size(), kind);
            e.tensor.copy_(&t);
        }
        Ok(())
    }

    /// Write every tensor under its reference name, in reference order.
    pub fn save_safetensors(&self, path: &Path) -> Result<(), WeightsError> {
        let named: Vec<(String, Tensor)> = self.entries.iter().map(|e| (e.name.clone(), e.tensor.shallow_clone())).collect();
        write_safetensors(path, &named)
    }

    /// Host copies of every tensor, in order (for export and checkpoints).
    pub fn to_raw(&self) -> Vec<(String, RawTensor)> {
        self.entries
            .iter()
            .map(|e| {
                let t = e.tensor.detach().to_device(Device::Cpu).contiguous();
                let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
                let (dtype, data) = match t.kind() {
                    Kind::Int64 => (DType::I64, bytes_of::<i64>(&t)),
                    _ => (DType::F32, bytes_of::<f32>(&t.to_kind(Kind::Float))),
                };
                (e.name.clone(), RawTensor { dtype, shape, data })
            })
            .collect()
    }
}

/// Writes named tensors (host copies, in the given order) atomically as safetensors.
pub fn write_safetensors(path: &Path, named: &[(String, Tensor)]) -> Result<(), WeightsError> {
    let file = path.display().to_string();
    let write = |reason: String| WeightsError::Write { file: file.clone(), reason };
    let cpu: Vec<(String, Tensor)> =
        named.iter().map(|(n, t)| (n.clone(), t.detach().to_device(Device::Cpu).contiguous())).collect();
    let tmp = infer::atomic::temp_beside(path).map_err(|e| write(e.to_string()))?;
    Tensor::write_safetensors(&cpu, tmp.path()).map_err(|e| write(e.to_string()))?;
    tmp.persist(path).map_err(|e| write(e.to_string()))?;
    Ok(())
}

fn bytes_of<T: tch::kind::Element + Copy>(t: &Tensor) -> Vec<u8> {
    let n = t.numel();
    let mut v = vec![0u8; n * std::mem::size_of::<T>()];
    t.copy_data_u8(&mut v, n);
    v
}

/// A safetensors file starts with a little-endian u64 header length and then `{`.
fn sniff_safetensors(path: &Path) -> bool {
    use std::io::Read;
    let mut buf = [0u8; 9];
    match std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut buf)) {
        Ok(()) => buf[8] == b'{',
        Err(_) => false,
    }
}

/// Values of a float tensor as a host vector (row-major).
pub fn to_vec_f32(t: &Tensor) -> Vec<f32> {
    let t = t.detach().to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
    let n = t.numel();
    let mut v = vec![0f32; n];
    t.copy_data(&mut v, n);
    v
}
