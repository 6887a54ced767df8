//! The model description (`model.json`): which blocks, their hyperparameters, the
//! preprocessing contract, outputs and provenance. Presets equal the reference
//! tutorial's DREAM-RNN, DREAM-CNN and DREAM-Attn.

use serde::{Deserialize, Serialize};

use infer::Preprocessing;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "block", rename_all = "snake_case")]
pub enum FirstSpec {
    /// BHIFirstLayersBlock: parallel convs (one per kernel size), concatenated.
    Bhi { in_channels: usize, out_channels: usize, kernel_sizes: Vec<usize>, pool_size: usize, dropout: f64 },
    /// AutosomeFirstLayersBlock: conv K=7 (no bias) -> BatchNorm -> SiLU.
    Autosome { in_channels: usize, out_channels: usize },
    /// LegNet's `seqextractor.blc0`: conv (no bias) -> BatchNorm -> SiLU (model/legnet.rs).
    LegnetStem { in_channels: usize, out_channels: usize, kernel_size: usize },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "block", rename_all = "snake_case")]
pub enum CoreSpec {
    /// BHICoreBlock: bidirectional LSTM then parallel convs.
    Bhi {
        in_channels: usize,
        out_channels: usize,
        lstm_hidden_channels: usize,
        kernel_sizes: Vec<usize>,
        pool_size: usize,
        dropout1: f64,
        dropout2: f64,
    },
    /// AutosomeCoreBlock: 6 inverted-residual + squeeze-excitation stages with resize convs.
    Autosome { in_channels: usize, out_channels: usize },
    /// UnlockDNACoreBlock: positional embedding + conformer-style layers.
    UnlockDna {
        in_channels: usize,
        out_channels: usize,
        seqsize: usize,
        n_blocks: usize,
        kernel_size: usize,
        rate: f64,
        /// Kept as the reference passes it; the reference attention always has 4 heads.
        num_heads: usize,
    },
    /// LegNet's inverted-residual stages with the full SE (TRL term); `block_sizes[0]` is
    /// the stem width, as the team's `--blocks` (model/legnet.rs).
    Legnet { block_sizes: Vec<usize>, kernel_size: usize, resize_factor: usize, se_reduction: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "block", rename_all = "snake_case")]
pub enum FinalSpec {
    /// AutosomeFinalLayersBlock: 18 expression bins, softmax, expected bin.
    SoftBins { in_channels: usize, n_bins: usize },
    /// Benchmark regression heads, one per task (benchmarks.md §1).
    Regression { in_channels: usize, hidden: usize, tasks: Vec<String> },
    /// LegNet's `mapper` (1x1 conv + SiLU) + 18-bin soft-argmax; `bins` leads the state_dict.
    LegnetBins { in_channels: usize, n_bins: usize },
}

impl FinalSpec {
    /// Heads trained with the 18-bin soft-target KL loss on the yeast data.
    pub fn is_soft_bins(&self) -> bool {
        matches!(self, FinalSpec::SoftBins { .. } | FinalSpec::LegnetBins { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    pub first: FirstSpec,
    pub core: CoreSpec,
    #[serde(rename = "final")]
    pub final_: FinalSpec,
}

/// Training defaults of the reference recipe for this architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecipeDefaults {
    pub max_lr: f64,
    pub batch_size: usize,
    pub batches_per_epoch: usize,
    pub epochs: usize,
    pub weight_decay: f64,
}

/// Everything `model.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelDescription {
    pub format: String,
    pub name: String,
    pub architecture: Architecture,
    pub preprocessing: Preprocessing,
    /// Output names, one per column of the prediction (`expression` for the yeast models).
    pub outputs: Vec<String>,
    /// What an output means and its scale.
    pub units: String,
    pub recipe: RecipeDefaults,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub license: Option<String>,
    /// Where the weights came from (file, sha256, training run); free-form.
    #[serde(default)]
    pub provenance: serde_json::Value,
}

pub const FORMAT: &str = "prixfixe-model/1";

pub const PRESETS: [&str; 4] = ["dream-rnn", "dream-cnn", "dream-attn", "legnet"];

const YEAST_UNITS: &str = "expected expression bin (0..17) of the DREAM yeast random-promoter assay";

impl ModelDescription {
    /// The reference tutorial's settings (models.md §3, training.md §4-5).
    pub fn preset(name: &str) -> Option<Self> {
        if name == "legnet" {
            return Some(Self::legnet());
        }
        let bhi_first = FirstSpec::Bhi { in_channels: 6, out_channels: 320, kernel_sizes: vec![9, 15], pool_size: 1, dropout: 0.2 };
        let (first, core, final_in, max_lr) = match name {
            "dream-rnn" => (
                bhi_first,
                CoreSpec::Bhi {
                    in_channels: 320,
                    out_channels: 320,
                    lstm_hidden_channels: 320,
                    kernel_sizes: vec![9, 15],
                    pool_size: 1,
                    dropout1: 0.2,
                    dropout2: 0.5,
                },
                320,
                0.005,
            ),
            "dream-cnn" => (bhi_first, CoreSpec::Autosome { in_channels: 320, out_channels: 64 }, 64, 0.005),
            "dream-attn" => (
                FirstSpec::Autosome { in_channels: 6, out_channels: 256 },
                CoreSpec::UnlockDna {
                    in_channels: 256,
                    out_channels: 256,
                    seqsize: 150,
                    n_blocks: 4,
                    kernel_size: 15,
                    rate: 0.1,
                    num_heads: 8,
                },
                256,
                0.001,
            ),
            _ => return None,
        };
        Some(ModelDescription {
            format: FORMAT.to_string(),
            name: name.to_string(),
            architecture: Architecture { first, core, final_: FinalSpec::SoftBins { in_channels: final_in, n_bins: 18 } },
            preprocessing: Preprocessing::dream_yeast(),
            outputs: vec!["expression".to_string()],
            units: YEAST_UNITS.to_string(),
            recipe: RecipeDefaults { max_lr, batch_size: 1024, batches_per_epoch: 1000, epochs: 80, weight_decay: 0.01 },
            version: None,
            license: None,
            provenance: serde_json::Value::Null,
        })
    }

    /// LegNet as the team ran it (spec submissions/legnet.md §2, §4), with the submission
    /// copy's preprocessing (`N` = zeros); the authors' published weights use
    /// [`Preprocessing::legnet_upstream`] instead.
    pub fn legnet() -> Self {
        use super::legnet::{BLOCK_SIZES, FINAL_CH, KERNEL_SIZE, RESIZE_FACTOR, SE_REDUCTION};
        ModelDescription {
            format: FORMAT.to_string(),
            name: "legnet".to_string(),
            architecture: Architecture {
                first: FirstSpec::LegnetStem { in_channels: 6, out_channels: BLOCK_SIZES[0], kernel_size: KERNEL_SIZE },
                core: CoreSpec::Legnet {
                    block_sizes: BLOCK_SIZES.to_vec(),
                    kernel_size: KERNEL_SIZE,
                    resize_factor: RESIZE_FACTOR,
                    se_reduction: SE_REDUCTION,
                },
                final_: FinalSpec::LegnetBins { in_channels: BLOCK_SIZES[BLOCK_SIZES.len() - 1], n_bins: FINAL_CH },
            },
            preprocessing: Preprocessing::dream_yeast(),
            outputs: vec!["expression".to_string()],
            units: YEAST_UNITS.to_string(),
            recipe: RecipeDefaults { max_lr: 0.005, batch_size: 1024, batches_per_epoch: 1000, epochs: 80, weight_decay: 0.01 },
            version: None,
            license: None,
            provenance: serde_json::Value::Null,
        }
    }

    /// A preset name or a path to a model.json.
    pub fn from_arg(arg: &str) -> Result<Self, SpecError> {
        if let Some(p) = Self::preset(arg) {
            return Ok(p);
        }
        let path = std::path::Path::new(arg);
        if !path.exists() {
            return Err(SpecError::Unknown(arg.to_string()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| SpecError::Io(arg.to_string(), e.to_string()))?;
        let desc: ModelDescription =
            serde_json::from_str(&text).map_err(|e| SpecError::Parse(arg.to_string(), e.to_string()))?;
        desc.validate().map_err(|e| SpecError::Invalid(arg.to_string(), e))?;
        Ok(desc)
    }

    /// Channel and length agreement between blocks, preprocessing and outputs.
    pub fn validate(&self) -> Result<(), String> {
        let a = &self.architecture;
        let channels = self.preprocessing.channels();
        let (first_in, first_out) = match &a.first {
            FirstSpec::Bhi { in_channels, out_channels, kernel_sizes, .. } => {
                if kernel_sizes.is_empty() || out_channels % kernel_sizes.len() != 0 {
                    return Err(format!(
                        "first block: out_channels {out_channels} must split evenly over {} kernel sizes",
                        kernel_sizes.len()
                    ));
                }
                (*in_channels, *out_channels)
            }
            FirstSpec::Autosome { in_channels, out_channels } => (*in_channels, *out_channels),
            FirstSpec::LegnetStem { in_channels, out_channels, kernel_size } => {
                if kernel_size % 2 == 0 {
                    return Err(format!("legnet stem: kernel_size {kernel_size} must be odd"));
                }
                (*in_channels, *out_channels)
            }
        };
        if first_in != channels {
            return Err(format!("first block takes {first_in} channels but preprocessing produces {channels}"));
        }
        let (core_in, core_out) = match &a.core {
            CoreSpec::Bhi { in_channels, out_channels, kernel_sizes, .. } => {
                if kernel_sizes.is_empty() || out_channels % kernel_sizes.len() != 0 {
                    return Err(format!(
                        "core block: out_channels {out_channels} must split evenly over {} kernel sizes",
                        kernel_sizes.len()
                    ));
                }
                (*in_channels, *out_channels)
            }
            CoreSpec::Autosome { in_channels, out_channels } => (*in_channels, *out_channels),
            CoreSpec::UnlockDna { in_channels, out_channels, seqsize, .. } => {
                if in_channels != out_channels {
                    return Err("unlock_dna core: out_channels must equal in_channels".into());
                }
                if *seqsize != self.preprocessing.length {
                    return Err(format!(
                        "unlock_dna core: positional embedding covers {seqsize} positions but inputs have {}",
                        self.preprocessing.length
                    ));
                }
                if in_channels % UNLOCKDNA_HEADS != 0 {
                    return Err(format!("unlock_dna core: {in_channels} channels do not split into 4 heads"));
                }
                (*in_channels, *out_channels)
            }
            CoreSpec::Legnet { block_sizes, kernel_size, resize_factor, se_reduction } => {
                if block_sizes.len() < 2 || kernel_size % 2 == 0 || *resize_factor == 0 || *se_reduction < 1.0 {
                    return Err("legnet core: needs at least two block sizes, an odd kernel, resize_factor >= 1 and se_reduction >= 1".into());
                }
                if block_sizes.iter().any(|&b| b == 0 || (b as f64 / se_reduction) < 2.0) {
                    return Err(format!("legnet core: block sizes {block_sizes:?} too small for se_reduction {se_reduction}"));
                }
                (block_sizes[0], block_sizes[block_sizes.len() - 1])
            }
        };
        if core_in != first_out {
            return Err(format!("core block takes {core_in} channels but the first block gives {first_out}"));
        }
        let (final_in, n_out) = match &a.final_ {
            FinalSpec::SoftBins { in_channels, .. } | FinalSpec::LegnetBins { in_channels, .. } => (*in_channels, 1),
            FinalSpec::Regression { in_channels, tasks, .. } => (*in_channels, tasks.len()),
        };
        if final_in != core_out {
            return Err(format!("final block takes {final_in} channels but the core block gives {core_out}"));
        }
        if n_out != self.outputs.len() || n_out == 0 {
            return Err(format!("the final block has {n_out} outputs but {} output names are given", self.outputs.len()));
        }
        Ok(())
    }
}

const UNLOCKDNA_HEADS: usize = super::blocks::UNLOCKDNA_HEADS as usize;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("'{0}' is neither a preset (dream-rnn, dream-cnn, dream-attn, legnet) nor an existing model.json")]
    Unknown(String),
    #[error("{0}: {1}")]
    Io(String, String),
    #[error("{0}: not a valid model description: {1}")]
    Parse(String, String),
    #[error("{0}: inconsistent model description: {1}")]
    Invalid(String, String),
}
