//! The model description (`model.json`): which blocks, their hyperparameters, the
//! preprocessing contract, outputs and provenance. Presets equal the reference
//! tutorial's DREAM-RNN, DREAM-CNN and DREAM-Attn.

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use infer::Preprocessing;

use super::blocks::{autosome, bhi, legnet, soft_bins, unlock_dna};
use super::family::{lookup, BlockFamily, Objective, Signal, Slot};

/// One block of the architecture as model.json holds it: `{"block": TAG, ...params}`,
/// optionally with `"scope"`, the name scope of its tensors when not the family's own.
/// The parameters keep their order, so descriptions round-trip as written.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSpec {
    pub block: String,
    pub scope: Option<String>,
    pub params: Vec<(String, Value)>,
}

impl BlockSpec {
    /// The spec of family `F` with hyperparameters `spec`.
    pub fn of<F: BlockFamily>(spec: &F::Spec) -> Self {
        let value = serde_json::to_string(spec).expect("block specs serialise");
        let params = match serde_json::from_str::<OrderedObject>(&value) {
            Ok(OrderedObject(p)) => p,
            Err(e) => panic!("the spec of block {} is not a JSON object: {e}", F::TAG),
        };
        BlockSpec { block: F::TAG.to_string(), scope: None, params }
    }

    /// The hyperparameters as the family's own type.
    pub fn typed<T: DeserializeOwned>(&self) -> Result<T, String> {
        let map: serde_json::Map<String, Value> = self.params.iter().cloned().collect();
        serde_json::from_value(Value::Object(map)).map_err(|e| format!("block '{}': {e}", self.block))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl Serialize for BlockSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("block", &self.block)?;
        if let Some(scope) = &self.scope {
            m.serialize_entry("scope", scope)?;
        }
        for (k, v) in &self.params {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for BlockSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let OrderedObject(mut params) = OrderedObject::deserialize(d)?;
        let mut take = |key: &str| params.iter().position(|(k, _)| k == key).map(|i| params.remove(i).1);
        let block = match take("block") {
            Some(Value::String(s)) => s,
            Some(other) => return Err(serde::de::Error::custom(format!("\"block\" must be a string, not {other}"))),
            None => return Err(serde::de::Error::missing_field("block")),
        };
        let scope = match take("scope") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => return Err(serde::de::Error::custom(format!("\"scope\" must be a string, not {other}"))),
        };
        Ok(BlockSpec { block, scope, params })
    }
}

/// A JSON object with its keys in document order.
struct OrderedObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a block object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut out: Vec<(String, Value)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(serde::de::Error::custom(format!("duplicate key \"{k}\"")));
                    }
                    out.push((k, v));
                }
                Ok(OrderedObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    pub first: BlockSpec,
    pub core: BlockSpec,
    #[serde(rename = "final")]
    pub final_: BlockSpec,
}

impl Architecture {
    pub fn slot(&self, slot: Slot) -> &BlockSpec {
        match slot {
            Slot::First => &self.first,
            Slot::Core => &self.core,
            Slot::Final => &self.final_,
        }
    }

    pub fn slot_mut(&mut self, slot: Slot) -> &mut BlockSpec {
        match slot {
            Slot::First => &mut self.first,
            Slot::Core => &mut self.core,
            Slot::Final => &mut self.final_,
        }
    }
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

pub const PRESETS: [&str; 7] = ["dream-rnn", "dream-cnn", "dream-attn", "legnet", "deepgxp", "camformer", "wztr"];

const YEAST_UNITS: &str = "expected expression bin (0..17) of the DREAM yeast random-promoter assay";

impl ModelDescription {
    /// The reference tutorial's settings (models.md §3, training.md §4-5).
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "legnet" => return Some(Self::legnet()),
            "deepgxp" => return Some(Self::deepgxp()),
            "camformer" => return Some(Self::camformer()),
            "wztr" => return Some(Self::wztr()),
            _ => {}
        }
        let bhi_first = BlockSpec::of::<bhi::BhiFirst>(&bhi::FirstSpec {
            in_channels: 6,
            out_channels: 320,
            kernel_sizes: vec![9, 15],
            pool_size: 1,
            dropout: 0.2,
        });
        let (first, core, final_in, max_lr) = match name {
            "dream-rnn" => (
                bhi_first,
                BlockSpec::of::<bhi::BhiCore>(&bhi::CoreSpec {
                    in_channels: 320,
                    out_channels: 320,
                    lstm_hidden_channels: 320,
                    kernel_sizes: vec![9, 15],
                    pool_size: 1,
                    dropout1: 0.2,
                    dropout2: 0.5,
                }),
                320,
                0.005,
            ),
            "dream-cnn" => (
                bhi_first,
                BlockSpec::of::<autosome::AutosomeCore>(&autosome::CoreSpec { in_channels: 320, out_channels: 64 }),
                64,
                0.005,
            ),
            "dream-attn" => (
                BlockSpec::of::<autosome::AutosomeFirst>(&autosome::FirstSpec { in_channels: 6, out_channels: 256 }),
                BlockSpec::of::<unlock_dna::UnlockDnaCore>(&unlock_dna::Spec {
                    in_channels: 256,
                    out_channels: 256,
                    seqsize: 150,
                    n_blocks: 4,
                    kernel_size: 15,
                    rate: 0.1,
                    num_heads: 8,
                }),
                256,
                0.001,
            ),
            _ => return None,
        };
        let final_ = BlockSpec::of::<soft_bins::SoftBins>(&soft_bins::Spec { in_channels: final_in, n_bins: 18 });
        Some(ModelDescription {
            format: FORMAT.to_string(),
            name: name.to_string(),
            architecture: Architecture { first, core, final_ },
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
    /// [`Preprocessing::legnet_upstream`] instead. The families' own scopes
    /// (`seqextractor`, root) give the team's state_dict names.
    pub fn legnet() -> Self {
        use legnet::{BLOCK_SIZES, FINAL_CH, KERNEL_SIZE, RESIZE_FACTOR, SE_REDUCTION};
        let last = BLOCK_SIZES[BLOCK_SIZES.len() - 1];
        ModelDescription {
            format: FORMAT.to_string(),
            name: "legnet".to_string(),
            architecture: Architecture {
                first: BlockSpec::of::<legnet::LegnetStem>(&legnet::StemSpec {
                    in_channels: 6,
                    out_channels: BLOCK_SIZES[0],
                    kernel_size: KERNEL_SIZE,
                }),
                core: BlockSpec::of::<legnet::LegnetCore>(&legnet::CoreSpec {
                    block_sizes: BLOCK_SIZES.to_vec(),
                    kernel_size: KERNEL_SIZE,
                    resize_factor: RESIZE_FACTOR,
                    se_reduction: SE_REDUCTION,
                }),
                final_: BlockSpec::of::<legnet::LegnetHead>(&legnet::HeadSpec { in_channels: last, n_bins: FINAL_CH }),
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
        Self::from_file(path)
    }

    /// A `model.json`, parsed and validated.
    pub fn from_file(path: &std::path::Path) -> Result<Self, SpecError> {
        let arg = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SpecError::Io(arg.clone(), e.to_string()))?;
        let desc: ModelDescription = serde_json::from_str(&text).map_err(|e| SpecError::Parse(arg.clone(), e.to_string()))?;
        desc.validate().map_err(|e| SpecError::Invalid(arg, e))?;
        Ok(desc)
    }

    /// What the preprocessing feeds the first block.
    pub fn input_signal(&self) -> Signal {
        Signal { channels: self.preprocessing.channels(), length: self.preprocessing.length }
    }

    /// Channel and length agreement between blocks, preprocessing and outputs: each
    /// family checks its spec against what the block before it produces.
    pub fn validate(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format '{}' is not {FORMAT}, the only description format this version reads", self.format));
        }
        let mut signal = self.input_signal();
        for slot in Slot::ALL {
            let spec = self.architecture.slot(slot);
            signal = lookup(slot, &spec.block)?.check(spec, signal)?;
        }
        let n_out = signal.channels;
        if n_out != self.outputs.len() || n_out == 0 {
            return Err(format!("the final block has {n_out} outputs but {} output names are given", self.outputs.len()));
        }
        Ok(())
    }

    /// The objective the final block is trained with.
    pub fn objective(&self) -> Result<Objective, String> {
        let spec = &self.architecture.final_;
        lookup(Slot::Final, &spec.block)?.objective(spec)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("'{0}' is neither a preset (dream-rnn, dream-cnn, dream-attn, legnet, deepgxp, camformer, wztr) nor an existing model.json")]
    Unknown(String),
    #[error("{0}: {1}")]
    Io(String, String),
    #[error("{0}: not a valid model description: {1}")]
    Parse(String, String),
    #[error("{0}: inconsistent model description: {1}")]
    Invalid(String, String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_round_trip_through_json_with_their_key_order() {
        for name in PRESETS {
            let d = ModelDescription::preset(name).unwrap();
            d.validate().unwrap();
            let text = serde_json::to_string(&d).unwrap();
            let back: ModelDescription = serde_json::from_str(&text).unwrap();
            assert_eq!(back, d);
            assert_eq!(serde_json::to_string(&back).unwrap(), text);
        }
        let text = serde_json::to_string(&ModelDescription::preset("dream-cnn").unwrap().architecture.core).unwrap();
        assert_eq!(text, r#"{"block":"autosome","in_channels":320,"out_channels":64}"#);
    }

    #[test]
    fn the_legnet_preset_uses_its_own_families_and_the_soft_bin_objective() {
        let d = ModelDescription::preset("legnet").unwrap();
        assert_eq!(d, ModelDescription::legnet());
        for slot in Slot::ALL {
            assert_eq!(d.architecture.slot(slot).block, "legnet", "{slot:?}");
        }
        assert_eq!(d.objective().unwrap(), Objective::SoftBinKl);
        let text = serde_json::to_string(&d.architecture.core).unwrap();
        assert_eq!(text, r#"{"block":"legnet","block_sizes":[256,128,128,64,64,64,64],"kernel_size":7,"resize_factor":4,"se_reduction":4.0}"#);
    }

    #[test]
    fn published_model_descriptions_still_load_and_validate() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights");
        let mut n = 0;
        for model in std::fs::read_dir(&root).unwrap().flatten() {
            for version in std::fs::read_dir(model.path()).into_iter().flatten().flatten() {
                let path = version.path().join("model.json");
                if path.exists() {
                    ModelDescription::from_arg(path.to_str().unwrap()).unwrap();
                    n += 1;
                }
            }
        }
        assert!(n >= 3, "found {n} published model.json files");
    }

    #[test]
    fn a_description_may_move_a_block_to_another_name_scope() {
        let mut d = ModelDescription::preset("dream-cnn").unwrap();
        let text = serde_json::to_string(&d.architecture.final_).unwrap().replace("{\"block\":\"soft_bins\"", "{\"block\":\"soft_bins\",\"scope\":\"\"");
        d.architecture.final_ = serde_json::from_str(&text).unwrap();
        assert_eq!(d.architecture.final_.scope.as_deref(), Some(""));
        d.validate().unwrap();
    }

    #[test]
    fn unknown_blocks_and_channel_mismatches_are_reported() {
        let mut d = ModelDescription::preset("dream-rnn").unwrap();
        d.architecture.core.block = "transformer".into();
        assert!(d.validate().unwrap_err().contains("unknown block 'transformer'"));
        let mut d = ModelDescription::preset("dream-cnn").unwrap();
        d.preprocessing.extra_channels.clear();
        assert!(d.validate().unwrap_err().contains("first block takes 6 channels"));
    }
}
