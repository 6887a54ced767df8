//! PyTorch primitives with the reference semantics (models.md §0) and initialisations
//! (models.md §5). Every layer registers its tensors under the reference names.

use tch::{Kind, Tensor};

use super::store::Store;

/// How a freshly built layer is initialised when training from scratch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitScheme {
    /// PyTorch's defaults (BHI blocks, UnlockDNA core).
    PyTorch,
    /// autosome.org's `initialize_weights` (Autosome blocks).
    Autosome,
}

pub struct Conv1d {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    pub groups: i64,
    /// Zero padding (left, right) for 'same' output length.
    pub pad: (i64, i64),
}

impl Conv1d {
    pub fn new(store: &mut Store, prefix: &str, cin: i64, cout: i64, k: i64, groups: i64, bias: bool) -> Self {
        let weight = store.param(&format!("{prefix}.weight"), &[cout, cin / groups, k]);
        let bias = bias.then(|| store.param(&format!("{prefix}.bias"), &[cout]));
        // PyTorch 'same': the extra zero of an even kernel goes on the right.
        let left = (k - 1) / 2;
        Conv1d { weight, bias, groups, pad: (left, k - 1 - left) }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        if self.pad.0 == self.pad.1 {
            x.conv1d(&self.weight, self.bias.as_ref(), [1], [self.pad.0], [1], self.groups)
        } else {
            let x = x.constant_pad_nd([self.pad.0, self.pad.1]);
            x.conv1d(&self.weight, self.bias.as_ref(), [1], [0], [1], self.groups)
        }
    }

    pub fn init(&self, scheme: InitScheme) {
        let _g = tch::no_grad_guard();
        let s = self.weight.size();
        let (cout, cin_g, k) = (s[0], s[1], s[2]);
        match scheme {
            InitScheme::PyTorch => {
                let bound = 1.0 / ((cin_g * k) as f64).sqrt();
                let _ = self.weight.shallow_clone().uniform_(-bound, bound);
                if let Some(b) = &self.bias {
                    let _ = b.shallow_clone().uniform_(-bound, bound);
                }
            }
            InitScheme::Autosome => {
                // The reference uses K * out_channels even for grouped convs.
                let _ = self.weight.shallow_clone().normal_(0.0, (2.0 / (k * cout) as f64).sqrt());
                if let Some(b) = &self.bias {
                    let _ = b.shallow_clone().zero_();
                }
            }
        }
    }
}

pub struct BatchNorm1d {
    pub weight: Tensor,
    pub bias: Tensor,
    pub running_mean: Tensor,
    pub running_var: Tensor,
    pub num_batches_tracked: Tensor,
}

pub const BN_MOMENTUM: f64 = 0.1;
pub const BN_EPS: f64 = 1e-5;

impl BatchNorm1d {
    pub fn new(store: &mut Store, prefix: &str, c: i64) -> Self {
        let dev = store.device();
        let weight = store.param(&format!("{prefix}.weight"), &[c]);
        let bias = store.param(&format!("{prefix}.bias"), &[c]);
        let running_mean = store.buffer(&format!("{prefix}.running_mean"), Tensor::zeros([c], (Kind::Float, dev)));
        let running_var = store.buffer(&format!("{prefix}.running_var"), Tensor::ones([c], (Kind::Float, dev)));
        let num_batches_tracked =
            store.buffer(&format!("{prefix}.num_batches_tracked"), Tensor::zeros([], (Kind::Int64, dev)));
        let bn = BatchNorm1d { weight, bias, running_mean, running_var, num_batches_tracked };
        bn.init();
        bn
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        if train {
            let _g = tch::no_grad_guard();
            let _ = self.num_batches_tracked.shallow_clone().g_add_scalar_(1);
        }
        x.batch_norm(
            Some(&self.weight),
            Some(&self.bias),
            Some(&self.running_mean),
            Some(&self.running_var),
            train,
            BN_MOMENTUM,
            BN_EPS,
            true,
        )
    }

    /// Both schemes set gamma 1, beta 0 and leave the running statistics at 0 / 1.
    pub fn init(&self) {
        let _g = tch::no_grad_guard();
        let _ = self.weight.shallow_clone().fill_(1.0);
        let _ = self.bias.shallow_clone().zero_();
    }
}

pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    pub fn new(store: &mut Store, prefix: &str, fin: i64, fout: i64, bias: bool) -> Self {
        let weight = store.param(&format!("{prefix}.weight"), &[fout, fin]);
        let bias = bias.then(|| store.param(&format!("{prefix}.bias"), &[fout]));
        Linear { weight, bias }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.weight, self.bias.as_ref())
    }

    pub fn init(&self, scheme: InitScheme) {
        let _g = tch::no_grad_guard();
        match scheme {
            InitScheme::PyTorch => {
                let bound = 1.0 / (self.weight.size()[1] as f64).sqrt();
                let _ = self.weight.shallow_clone().uniform_(-bound, bound);
                if let Some(b) = &self.bias {
                    let _ = b.shallow_clone().uniform_(-bound, bound);
                }
            }
            InitScheme::Autosome => {
                let _ = self.weight.shallow_clone().normal_(0.0, 0.001);
                if let Some(b) = &self.bias {
                    let _ = b.shallow_clone().zero_();
                }
            }
        }
    }
}

pub struct LayerNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    pub eps: f64,
}

impl LayerNorm {
    pub fn new(store: &mut Store, prefix: &str, c: i64, eps: f64) -> Self {
        let weight = store.param(&format!("{prefix}.weight"), &[c]);
        let bias = store.param(&format!("{prefix}.bias"), &[c]);
        let ln = LayerNorm { weight, bias, eps };
        let _g = tch::no_grad_guard();
        let _ = ln.weight.shallow_clone().fill_(1.0);
        ln
    }

    /// Normalises over the last axis.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let c = self.weight.size()[0];
        x.layer_norm([c], Some(&self.weight), Some(&self.bias), self.eps, true)
    }
}
