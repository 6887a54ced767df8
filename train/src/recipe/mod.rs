//! Building blocks of the DREAM training recipe (spec `training.md` §1–6, §10 and
//! `benchmarks.md` §1–3): soft-bin targets, the one-cycle schedule, AdamW, encoded
//! datasets with a resumable batch sampler, a stable held-out split and validation
//! metrics. The training loop itself lives in `crate::fit`.

pub mod activity;
pub mod compact;
pub mod data;
pub mod metrics;
pub mod optim;
pub mod plan;
pub mod schedule;
pub mod split;
pub mod target;

pub use data::{
    drosophila_reverse_flag, encode_regression, encode_yeast, human_reverse_flag, BatchSampler,
    DataError, EncodedSet, SamplerState,
};
pub use compact::{Batch, CompactSet, TrainingData};
pub use metrics::{metrics, ValidMetrics};
pub use optim::AdamW;
pub use schedule::OneCycle;
pub use split::{holdout, is_held_out};
pub use target::{is_singleton, SoftBinTarget};
