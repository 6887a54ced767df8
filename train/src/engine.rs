//! The training crate's network as an `infer` inference engine: `train eval` scores a
//! benchmark through it with `infer`'s preprocessing, batching and averaging, on the GPU
//! where there is one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use infer::backend::{Backend, BackendError};
use tch::{Device, Kind, Tensor};

use crate::model::PrixFixeNet;
use crate::torch_call;

/// The network in eval mode. `forward_ns` adds up the time spent in forward passes,
/// host-device copies included (the copy back waits for the GPU).
pub struct TorchBackend {
    net: PrixFixeNet,
    channels: i64,
    length: i64,
    forward_ns: Arc<AtomicU64>,
}

impl TorchBackend {
    pub fn new(net: PrixFixeNet, channels: usize, length: usize, forward_ns: Arc<AtomicU64>) -> Self {
        Self { net, channels: channels as i64, length: length as i64, forward_ns }
    }
}

impl Backend for TorchBackend {
    fn run(&mut self, x: &[f32], rows: usize) -> Result<Vec<f32>, BackendError> {
        let t = Instant::now();
        let dev = self.net.store.device();
        let (net, shape) = (&self.net, [rows as i64, self.channels, self.length]);
        // A GPU out of memory (a large --batch-size, or other jobs on the GPU) is a libtorch
        // exception, which tch turns into a panic: caught here, it becomes the run's error.
        let y = torch_call::catch("the forward pass", || {
            let input = Tensor::from_slice(x).view(shape).to_device(dev);
            net.predict(&input).to_kind(Kind::Float).to_device(Device::Cpu).reshape([-1])
        })
        .map_err(|e| {
            let hint = if e.message.contains("out of memory") { "; try a smaller --batch-size" } else { "" };
            BackendError::EngineRun { engine: "libtorch", message: format!("{}{hint}", e.message) }
        })?;
        let out = crate::model::store::to_vec_f32(&y);
        self.forward_ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("libtorch {:?}, {} intra-op threads", self.net.store.device(), tch::get_num_threads())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelDescription;

    /// Regression: `train eval` panicked when libtorch threw in the forward pass (CUDA out
    /// of memory on a shared GPU). A batch of the wrong shape makes libtorch throw on a CPU.
    #[test]
    fn a_libtorch_failure_in_the_forward_pass_is_an_error_not_a_panic() {
        let desc = ModelDescription::preset("dream-cnn").unwrap();
        let net = PrixFixeNet::new(desc, Device::Cpu, 1).unwrap();
        // 5 channels where the first convolution wants 6.
        let mut engine = TorchBackend::new(net, 5, 150, Arc::default());
        let e = engine.run(&vec![0.0; 2 * 5 * 150], 2).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("libtorch failed to run the model: "), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}
