//! autosome.org's blocks (models.md §2.4-2.7): `AutosomeFirstLayersBlock` (conv K=7
//! without bias -> BatchNorm -> SiLU) and `AutosomeCoreBlock` (six inverted-residual +
//! squeeze-excitation stages, each concatenated with its input and resized).

use infer::onnx::{Attr, GraphBuilder};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::model::family::{Block, BlockFamily, Signal, Slot};
use crate::model::layers::{BatchNorm1d, Conv1d, InitScheme, Linear};
use crate::model::onnx::silu;
use crate::model::scope::Scope;

/// AutosomeFirstLayersBlock.
pub struct AutosomeFirst;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstSpec {
    pub in_channels: usize,
    pub out_channels: usize,
}

/// Conv -> BatchNorm -> SiLU, the unit both Autosome blocks are made of.
pub struct ConvBnSilu {
    pub conv: Conv1d,
    pub bn: BatchNorm1d,
}

impl ConvBnSilu {
    /// `<scope>.0` is the conv, `<scope>.1` the BatchNorm (an `nn.Sequential`).
    pub fn new(vs: &mut Scope, cin: i64, cout: i64, k: i64) -> Self {
        ConvBnSilu { conv: Conv1d::new(&mut vs.pp(0), cin, cout, k, 1, false), bn: BatchNorm1d::new(&mut vs.pp(1), cout) }
    }

    pub fn init(&self) {
        self.conv.init(InitScheme::Autosome);
        self.bn.init();
    }
}

impl Block for ConvBnSilu {
    fn init(&self) {
        ConvBnSilu::init(self)
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.bn.forward_t(&self.conv.forward(x), train).silu()
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = self.conv.export(g, x);
        let y = self.bn.export(g, &y);
        silu(g, &y)
    }
}

impl BlockFamily for AutosomeFirst {
    type Spec = FirstSpec;
    const SLOT: Slot = Slot::First;
    const TAG: &'static str = "autosome";

    fn check(s: &FirstSpec, input: Signal) -> Result<Signal, String> {
        super::check_input("first", s.in_channels, input.channels, "preprocessing produces")?;
        Ok(Signal { channels: s.out_channels, length: input.length })
    }

    fn build(s: &FirstSpec, vs: &mut Scope) -> Box<dyn Block> {
        Box::new(ConvBnSilu::new(&mut vs.pp("block"), s.in_channels as i64, s.out_channels as i64, 7))
    }

    fn adapt(s: &mut FirstSpec, input: Signal) {
        s.in_channels = input.channels;
    }
}

/// AutosomeCoreBlock.
pub struct AutosomeCore;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreSpec {
    pub in_channels: usize,
    pub out_channels: usize,
}

pub struct InvResBlock {
    pub expand: Conv1d,
    pub bn1: BatchNorm1d,
    pub depthwise: Conv1d,
    pub bn2: BatchNorm1d,
    pub se_fc1: Linear,
    pub se_fc2: Linear,
    pub project: Conv1d,
    pub bn3: BatchNorm1d,
}

impl InvResBlock {
    /// `nn.Sequential` indices of the reference: 0 expand, 1 BN, 3 depthwise, 4 BN,
    /// 6 squeeze-excitation (`fc.0`, `fc.2`), 7 project, 8 BN.
    fn new(vs: &mut Scope, p: i64, e: i64) -> Self {
        let h = p / 4;
        InvResBlock {
            expand: Conv1d::new(&mut vs.pp(0), p, e, 1, 1, false),
            bn1: BatchNorm1d::new(&mut vs.pp(1), e),
            depthwise: Conv1d::new(&mut vs.pp(3), e, e, 7, e / 2, false),
            bn2: BatchNorm1d::new(&mut vs.pp(4), e),
            se_fc1: Linear::new(&mut vs.pp("6.fc.0"), e, h, true),
            se_fc2: Linear::new(&mut vs.pp("6.fc.2"), h, e, true),
            project: Conv1d::new(&mut vs.pp(7), e, p, 1, 1, false),
            bn3: BatchNorm1d::new(&mut vs.pp(8), p),
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = self.bn1.forward_t(&self.expand.forward(x), train).silu();
        let y = self.bn2.forward_t(&self.depthwise.forward(&y), train).silu();
        // Squeeze-excitation: channel gates from the mean over positions.
        let s = y.mean_dim([2i64].as_slice(), false, Kind::Float);
        let s = self.se_fc2.forward(&self.se_fc1.forward(&s).silu()).sigmoid();
        let y = &y * s.unsqueeze(2);
        self.bn3.forward_t(&self.project.forward(&y), train).silu()
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let y = self.expand.export(g, x);
        let y = self.bn1.export(g, &y);
        let y = silu(g, &y);
        let y = self.depthwise.export(g, &y);
        let y = self.bn2.export(g, &y);
        let y = silu(g, &y);
        // Squeeze-excitation on (B, e, 1): the two Linears become 1x1 convolutions.
        let s = g.op("GlobalAveragePool", &[&y], vec![]);
        let s = self.se_fc1.export_as_conv1x1(g, &s);
        let s = silu(g, &s);
        let s = self.se_fc2.export_as_conv1x1(g, &s);
        let s = g.op("Sigmoid", &[&s], vec![]);
        let y = g.op("Mul", &[&y, &s], vec![]);
        let y = self.project.export(g, &y);
        let y = self.bn3.export(g, &y);
        silu(g, &y)
    }

}

pub struct AutosomeCoreBlock {
    pub stages: Vec<(InvResBlock, ConvBnSilu)>,
}

impl BlockFamily for AutosomeCore {
    type Spec = CoreSpec;
    const SLOT: Slot = Slot::Core;
    const TAG: &'static str = "autosome";

    fn check(s: &CoreSpec, input: Signal) -> Result<Signal, String> {
        super::check_input("core", s.in_channels, input.channels, "the first block gives")?;
        Ok(Signal { channels: s.out_channels, length: input.length })
    }

    fn build(s: &CoreSpec, vs: &mut Scope) -> Box<dyn Block> {
        let sizes = [s.in_channels as i64, 128, 128, 64, 64, 64, s.out_channels as i64];
        let mut vs = vs.pp("seqextractor");
        let stages = (0..sizes.len() - 1)
            .map(|i| {
                let (p, s) = (sizes[i], sizes[i + 1]);
                let inv = InvResBlock::new(&mut vs.pp(format!("inv_res_blc{i}")), p, 4 * s);
                let resize = ConvBnSilu::new(&mut vs.pp(format!("resize_blc{i}")), 2 * p, s, 7);
                (inv, resize)
            })
            .collect();
        Box::new(AutosomeCoreBlock { stages })
    }
}

impl Block for AutosomeCoreBlock {
    fn init(&self) {
        // The draw order of earlier releases (convs, then the squeeze-excitation
        // Linears), so seeded runs reproduce.
        for (inv, resize) in &self.stages {
            for conv in [&inv.expand, &inv.depthwise, &inv.project, &resize.conv] {
                conv.init(InitScheme::Autosome);
            }
            for bn in [&inv.bn1, &inv.bn2, &inv.bn3, &resize.bn] {
                bn.init();
            }
            inv.se_fc1.init(InitScheme::Autosome);
            inv.se_fc2.init(InitScheme::Autosome);
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = x.shallow_clone();
        for (inv, resize) in &self.stages {
            let y = inv.forward_t(&x, train);
            let cat = Tensor::cat(&[&x, &y], 1);
            x = Block::forward_t(resize, &cat, train);
        }
        x
    }

    fn export(&self, g: &mut GraphBuilder, x: &str) -> String {
        let mut x = x.to_string();
        for (inv, resize) in &self.stages {
            let y = inv.export(g, &x);
            let cat = g.op("Concat", &[&x, &y], vec![Attr::Int("axis", 1)]);
            x = Block::export(resize, g, &cat);
        }
        x
    }
}
