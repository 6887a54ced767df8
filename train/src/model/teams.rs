//! The teams' own models as presets (spec `submissions/*.md`): each description holds
//! the team's hyper-parameters, its preprocessing as data (so the exported ONNX file
//! scores like the team's predictor), and its training recipe's defaults (an epoch is
//! one pass over the data, as in the teams' loaders).

use super::blocks::{camformer, deepgxp, identity, wztr};
use super::spec::{Architecture, BlockSpec, ModelDescription, RecipeDefaults, FORMAT};

fn team(name: &str, architecture: Architecture, preprocessing: infer::Preprocessing, units: &str, recipe: RecipeDefaults) -> ModelDescription {
    ModelDescription {
        format: FORMAT.to_string(),
        name: name.to_string(),
        architecture,
        preprocessing,
        outputs: vec!["expression".to_string()],
        units: units.to_string(),
        recipe,
        version: None,
        license: None,
        provenance: serde_json::Value::Null,
    }
}

impl ModelDescription {
    /// BHI's DeepGXP (`net.DeepGXP()` defaults; `train_full.py` recipe).
    pub fn deepgxp() -> Self {
        let architecture = Architecture {
            first: BlockSpec::of::<deepgxp::DeepgxpFirst>(&deepgxp::FirstSpec { in_channels: 4, out_channels: 512, kernel_sizes: vec![9, 15], dropout: 0.2 }),
            core: BlockSpec::of::<deepgxp::DeepgxpCore>(&deepgxp::CoreSpec {
                in_channels: 512,
                lstm_hidden_channels: 320,
                out_channels: 320,
                kernel_sizes: vec![9, 15],
                dropout: 0.2,
            }),
            final_: BlockSpec::of::<deepgxp::DeepgxpHead>(&deepgxp::HeadSpec { in_channels: 320, length: 110, hidden: vec![64, 64], dropout: 0.5, outputs: 1 }),
        };
        team(
            "deepgxp",
            architecture,
            deepgxp::preprocessing(),
            "standardised expression (e - 11) / sd of the training expression; `--postprocess team-cdf` gives the submitted normal-CDF values",
            RecipeDefaults { max_lr: 1.5e-3, batch_size: 512, batches_per_epoch: 0, epochs: 15, weight_decay: 0.01 },
        )
    }

    /// Camformers' `CNN` (the arguments of `camformers_submission.py`).
    pub fn camformer() -> Self {
        let architecture = Architecture {
            first: BlockSpec::of::<identity::Identity>(&identity::Spec { channels: 4 }),
            core: BlockSpec::of::<camformer::CamformerCore>(&camformer::CoreSpec {
                in_channels: 4,
                channels: 512,
                layers: 6,
                kernel_size: 10,
                pool_layer: 4,
                pool_kernel: 10,
                pool_stride: 4,
                dropout: 0.3,
            }),
            final_: BlockSpec::of::<camformer::CamformerHead>(&camformer::HeadSpec { in_channels: 512, length: 26, hidden: vec![256, 256], outputs: 1 }),
        };
        team(
            "camformer",
            architecture,
            camformer::preprocessing(),
            "expression in the challenge's units (MAUDE bin scale, untransformed targets)",
            RecipeDefaults { max_lr: 1e-3, batch_size: 256, batches_per_epoch: 0, epochs: 50, weight_decay: 1e-3 },
        )
    }

    /// wztr's `Hybrid_CNN` (`train_model.py` defaults).
    pub fn wztr() -> Self {
        let architecture = Architecture {
            first: BlockSpec::of::<wztr::WztrStem>(&wztr::StemSpec { in_channels: 4, length: 142, out_channels: 1024, kernel_size: 5 }),
            core: BlockSpec::of::<wztr::WztrCore>(&wztr::CoreSpec {
                in_channels: 1024,
                length: 284,
                channels: 256,
                kernel_size: 3,
                stages: 6,
                blocks_per_stage: 3,
                dilations: vec![1, 2, 4, 6],
            }),
            final_: BlockSpec::of::<wztr::WztrHead>(&wztr::HeadSpec { in_channels: 256, length: 5, hidden: 256, hidden_layers: 2, dropout: 0.2, outputs: 1 }),
        };
        team(
            "wztr",
            architecture,
            wztr::preprocessing(),
            "expression in the challenge's units (untransformed targets; clipped at 0 by the final ReLU)",
            // Lightning's default max_epochs (the parsed --epochs is unused); early stopping ends the run.
            RecipeDefaults { max_lr: 1e-3, batch_size: 512, batches_per_epoch: 0, epochs: 1000, weight_decay: 0.0 },
        )
    }
}
