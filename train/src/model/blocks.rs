//! The Prix Fixe blocks (models.md §2): first-layers, core and final-layers blocks.
//! Each block is built from its spec, registers its tensors under the reference
//! state_dict names, and maps (B, C_in, L) to (B, C_out, L_out).

use tch::{Kind, Tensor};

use super::legnet::{LegnetCore, LegnetHead, LegnetStem};
use super::layers::{BatchNorm1d, Conv1d, InitScheme, LayerNorm, Linear};
use super::spec::{CoreSpec, FinalSpec, FirstSpec};
use super::store::Store;

/// BHI `ConvBlock`: conv (bias) -> ReLU -> MaxPool(pool) -> Dropout.
pub struct BhiConvBlock {
    pub conv: Conv1d,
    pub pool: i64,
    pub dropout: f64,
}

impl BhiConvBlock {
    fn new(store: &mut Store, prefix: &str, cin: i64, cout: i64, k: i64, pool: i64, dropout: f64) -> Self {
        let conv = Conv1d::new(store, &format!("{prefix}.conv"), cin, cout, k, 1, true);
        BhiConvBlock { conv, pool, dropout }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut y = self.conv.forward(x).relu();
        if self.pool > 1 {
            y = y.max_pool1d([self.pool], [self.pool], [0], [1], false);
        }
        y.dropout(self.dropout, train)
    }
}

fn concat_branches(branches: &[BhiConvBlock], x: &Tensor, train: bool) -> Tensor {
    let outs: Vec<Tensor> = branches.iter().map(|b| b.forward_t(x, train)).collect();
    Tensor::cat(&outs, 1)
}

pub struct BhiFirst {
    pub branches: Vec<BhiConvBlock>,
}

pub struct AutosomeFirst {
    pub conv: Conv1d,
    pub bn: BatchNorm1d,
}

pub enum First {
    Bhi(BhiFirst),
    Autosome(AutosomeFirst),
    Legnet(LegnetStem),
}

impl First {
    pub fn new(store: &mut Store, spec: &FirstSpec) -> Self {
        match spec {
            FirstSpec::Bhi { in_channels, out_channels, kernel_sizes, pool_size, dropout } => {
                let per = (*out_channels / kernel_sizes.len()) as i64;
                let branches = kernel_sizes
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| {
                        BhiConvBlock::new(
                            store,
                            &format!("first.conv_list.{i}"),
                            *in_channels as i64,
                            per,
                            k as i64,
                            *pool_size as i64,
                            *dropout,
                        )
                    })
                    .collect();
                First::Bhi(BhiFirst { branches })
            }
            FirstSpec::Autosome { in_channels, out_channels } => {
                let conv = Conv1d::new(store, "first.block.0", *in_channels as i64, *out_channels as i64, 7, 1, false);
                let bn = BatchNorm1d::new(store, "first.block.1", *out_channels as i64);
                First::Autosome(AutosomeFirst { conv, bn })
            }
            FirstSpec::LegnetStem { in_channels, out_channels, kernel_size } => {
                First::Legnet(LegnetStem::new(store, *in_channels, *out_channels, *kernel_size))
            }
        }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            First::Bhi(b) => concat_branches(&b.branches, x, train),
            First::Autosome(a) => a.bn.forward_t(&a.conv.forward(x), train).silu(),
            First::Legnet(s) => s.forward_t(x, train),
        }
    }

    pub fn init(&self) {
        match self {
            First::Bhi(b) => b.branches.iter().for_each(|c| c.conv.init(InitScheme::PyTorch)),
            First::Autosome(a) => {
                a.conv.init(InitScheme::Autosome);
                a.bn.init();
            }
            First::Legnet(s) => s.init(),
        }
    }
}

/// Bidirectional single-layer LSTM with PyTorch's parameter names and gate order.
pub struct BiLstm {
    /// w_ih, w_hh, b_ih, b_hh, then the same four for the reverse direction.
    pub params: Vec<Tensor>,
    pub hidden: i64,
}

impl BiLstm {
    fn new(store: &mut Store, prefix: &str, input: i64, hidden: i64) -> Self {
        let mut params = Vec::with_capacity(8);
        for suffix in ["", "_reverse"] {
            params.push(store.param(&format!("{prefix}.weight_ih_l0{suffix}"), &[4 * hidden, input]));
            params.push(store.param(&format!("{prefix}.weight_hh_l0{suffix}"), &[4 * hidden, hidden]));
            params.push(store.param(&format!("{prefix}.bias_ih_l0{suffix}"), &[4 * hidden]));
            params.push(store.param(&format!("{prefix}.bias_hh_l0{suffix}"), &[4 * hidden]));
        }
        BiLstm { params, hidden }
    }

    /// (B, L, C) -> (B, L, 2H), zero initial states.
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let b = x.size()[0];
        let h0 = Tensor::zeros([2, b, self.hidden], (x.kind(), x.device()));
        let c0 = h0.zeros_like();
        let (out, _, _) = x.lstm(&[h0, c0], &self.params, true, 1, 0.0, train, true, true);
        out
    }

    fn init(&self) {
        let _g = tch::no_grad_guard();
        let bound = 1.0 / (self.hidden as f64).sqrt();
        for p in &self.params {
            let _ = p.shallow_clone().uniform_(-bound, bound);
        }
    }
}

pub struct BhiCore {
    pub lstm: BiLstm,
    pub branches: Vec<BhiConvBlock>,
    pub dropout: f64,
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

pub struct ResizeBlock {
    pub conv: Conv1d,
    pub bn: BatchNorm1d,
}

pub struct AutosomeCore {
    pub stages: Vec<(InvResBlock, ResizeBlock)>,
}

pub struct ConformerLayer {
    pub ff1: FeedForward,
    pub ln1: LayerNorm,
    pub dwconv: Conv1d,
    pub pwconv: Conv1d,
    pub ln2: LayerNorm,
    pub in_proj_weight: Tensor,
    pub in_proj_bias: Tensor,
    pub out_proj: Linear,
    pub ff2: FeedForward,
    pub heads: i64,
    pub rate: f64,
}

pub struct FeedForward {
    pub ln: LayerNorm,
    pub linear1: Linear,
    pub linear2: Linear,
    pub rate: f64,
}

pub struct UnlockDnaCore {
    pub layers: Vec<ConformerLayer>,
    pub pos_embedding: Tensor,
}

pub enum Core {
    Bhi(BhiCore),
    Autosome(AutosomeCore),
    UnlockDna(UnlockDnaCore),
    Legnet(LegnetCore),
}

/// LayerNorm eps of every UnlockDNA block (BatchNorm uses 1e-5).
pub const UNLOCKDNA_LN_EPS: f64 = 1e-6;
/// `nn.MultiheadAttention` in the reference is built with 4 heads whatever its argument says.
pub const UNLOCKDNA_HEADS: i64 = 4;

impl Core {
    pub fn new(store: &mut Store, spec: &CoreSpec) -> Self {
        match spec {
            CoreSpec::Bhi { in_channels, out_channels, lstm_hidden_channels, kernel_sizes, pool_size, dropout1, dropout2 } => {
                let h = *lstm_hidden_channels as i64;
                let lstm = BiLstm::new(store, "core.lstm", *in_channels as i64, h);
                let per = (*out_channels / kernel_sizes.len()) as i64;
                let branches = kernel_sizes
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| {
                        BhiConvBlock::new(store, &format!("core.conv_list.{i}"), 2 * h, per, k as i64, *pool_size as i64, *dropout1)
                    })
                    .collect();
                Core::Bhi(BhiCore { lstm, branches, dropout: *dropout2 })
            }
            CoreSpec::Autosome { in_channels, out_channels } => {
                let sizes = [*in_channels as i64, 128, 128, 64, 64, 64, *out_channels as i64];
                let mut stages = Vec::new();
                for i in 0..sizes.len() - 1 {
                    let (p, s) = (sizes[i], sizes[i + 1]);
                    let e = 4 * s;
                    let h = p / 4;
                    let pre = format!("core.seqextractor.inv_res_blc{i}");
                    let inv = InvResBlock {
                        expand: Conv1d::new(store, &format!("{pre}.0"), p, e, 1, 1, false),
                        bn1: BatchNorm1d::new(store, &format!("{pre}.1"), e),
                        depthwise: Conv1d::new(store, &format!("{pre}.3"), e, e, 7, e / 2, false),
                        bn2: BatchNorm1d::new(store, &format!("{pre}.4"), e),
                        se_fc1: Linear::new(store, &format!("{pre}.6.fc.0"), e, h, true),
                        se_fc2: Linear::new(store, &format!("{pre}.6.fc.2"), h, e, true),
                        project: Conv1d::new(store, &format!("{pre}.7"), e, p, 1, 1, false),
                        bn3: BatchNorm1d::new(store, &format!("{pre}.8"), p),
                    };
                    let pre = format!("core.seqextractor.resize_blc{i}");
                    let resize = ResizeBlock {
                        conv: Conv1d::new(store, &format!("{pre}.0"), 2 * p, s, 7, 1, false),
                        bn: BatchNorm1d::new(store, &format!("{pre}.1"), s),
                    };
                    stages.push((inv, resize));
                }
                Core::Autosome(AutosomeCore { stages })
            }
            CoreSpec::UnlockDna { in_channels, out_channels: _, seqsize, n_blocks, kernel_size, rate, num_heads: _ } => {
                let e = *in_channels as i64;
                let mut layers = Vec::new();
                for n in 0..*n_blocks {
                    let pre = format!("core.blocks.{n}");
                    let ff = |store: &mut Store, name: &str| FeedForward {
                        ln: LayerNorm::new(store, &format!("{pre}.{name}.layernorm"), e, UNLOCKDNA_LN_EPS),
                        linear1: Linear::new(store, &format!("{pre}.{name}.linear1"), e, 4 * e, false),
                        linear2: Linear::new(store, &format!("{pre}.{name}.linear2"), 2 * e, e, false),
                        rate: *rate,
                    };
                    let ff1 = ff(store, "ff1");
                    let ln1 = LayerNorm::new(store, &format!("{pre}.layernorm1"), e, UNLOCKDNA_LN_EPS);
                    let dwconv = Conv1d::new(store, &format!("{pre}.conv.0"), e, e, *kernel_size as i64, e, false);
                    let pwconv = Conv1d::new(store, &format!("{pre}.conv.1"), e, e, 1, 1, true);
                    let ln2 = LayerNorm::new(store, &format!("{pre}.layernorm2"), e, UNLOCKDNA_LN_EPS);
                    let in_proj_weight = store.param(&format!("{pre}.attn.in_proj_weight"), &[3 * e, e]);
                    let in_proj_bias = store.param(&format!("{pre}.attn.in_proj_bias"), &[3 * e]);
                    let out_proj = Linear::new(store, &format!("{pre}.attn.out_proj"), e, e, true);
                    let ff2 = ff(store, "ff2");
                    layers.push(ConformerLayer {
                        ff1,
                        ln1,
                        dwconv,
                        pwconv,
                        ln2,
                        in_proj_weight,
                        in_proj_bias,
                        out_proj,
                        ff2,
                        heads: UNLOCKDNA_HEADS,
                        rate: *rate,
                    });
                }
                let pos_embedding = store.param("core.pos_embedding.weight", &[*seqsize as i64, e]);
                Core::UnlockDna(UnlockDnaCore { layers, pos_embedding })
            }
            CoreSpec::Legnet { block_sizes, kernel_size, resize_factor, se_reduction } => {
                Core::Legnet(LegnetCore::new(store, block_sizes, *kernel_size, *resize_factor, *se_reduction))
            }
        }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            Core::Bhi(c) => {
                let y = c.lstm.forward(&x.permute([0, 2, 1]), train).permute([0, 2, 1]);
                concat_branches(&c.branches, &y, train).dropout(c.dropout, train)
            }
            Core::Autosome(c) => {
                let mut x = x.shallow_clone();
                for (inv, resize) in &c.stages {
                    let y = inv.forward_t(&x, train);
                    let cat = Tensor::cat(&[&x, &y], 1);
                    x = resize.bn.forward_t(&resize.conv.forward(&cat), train).silu();
                }
                x
            }
            Core::UnlockDna(c) => {
                let l = x.size()[2];
                let pos = c.pos_embedding.narrow(0, 0, l).transpose(0, 1).unsqueeze(0);
                let mut x = x + pos;
                for layer in &c.layers {
                    x = layer.forward_t(&x, train);
                }
                x
            }
            Core::Legnet(c) => c.forward_t(x, train),
        }
    }

    pub fn init(&self) {
        match self {
            Core::Bhi(c) => {
                c.lstm.init();
                c.branches.iter().for_each(|b| b.conv.init(InitScheme::PyTorch));
            }
            Core::Autosome(c) => {
                for (inv, resize) in &c.stages {
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
            Core::UnlockDna(c) => {
                let _g = tch::no_grad_guard();
                for layer in &c.layers {
                    for ff in [&layer.ff1, &layer.ff2] {
                        ff.linear1.init(InitScheme::PyTorch);
                        ff.linear2.init(InitScheme::PyTorch);
                        let _ = ff.ln.weight.shallow_clone().fill_(1.0);
                        let _ = ff.ln.bias.shallow_clone().zero_();
                    }
                    for ln in [&layer.ln1, &layer.ln2] {
                        let _ = ln.weight.shallow_clone().fill_(1.0);
                        let _ = ln.bias.shallow_clone().zero_();
                    }
                    layer.dwconv.init(InitScheme::PyTorch);
                    layer.pwconv.init(InitScheme::PyTorch);
                    let e = layer.in_proj_weight.size()[1];
                    let bound = (6.0 / (e + 3 * e) as f64).sqrt();
                    let _ = layer.in_proj_weight.shallow_clone().uniform_(-bound, bound);
                    let _ = layer.in_proj_bias.shallow_clone().zero_();
                    layer.out_proj.init(InitScheme::PyTorch);
                    if let Some(b) = &layer.out_proj.bias {
                        let _ = b.shallow_clone().zero_();
                    }
                }
                let _ = c.pos_embedding.shallow_clone().normal_(0.0, 1.0);
            }
            Core::Legnet(c) => c.init(),
        }
    }
}

impl InvResBlock {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = self.bn1.forward_t(&self.expand.forward(x), train).silu();
        let y = self.bn2.forward_t(&self.depthwise.forward(&y), train).silu();
        // Squeeze-excitation: channel gates from the mean over positions.
        let s = y.mean_dim([2i64].as_slice(), false, Kind::Float);
        let s = self.se_fc2.forward(&self.se_fc1.forward(&s).silu()).sigmoid();
        let y = &y * s.unsqueeze(2);
        self.bn3.forward_t(&self.project.forward(&y), train).silu()
    }
}

impl FeedForward {
    /// (B, E, L) -> (B, E, L): LN, Linear(E->4E), SwiGLU (value = first half), Linear(2E->E).
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let h = self.linear1.forward(&self.ln.forward(&x.transpose(1, 2)));
        let parts = h.chunk(2, 2);
        let h = (&parts[0] * parts[1].silu()).dropout(self.rate, train);
        self.linear2.forward(&h).dropout(self.rate, train).transpose(1, 2)
    }
}

impl ConformerLayer {
    /// The reference's residual paths, quirks included (models.md §2.9).
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let x = x + self.ff1.forward_t(x, train) * 0.5;
        let x1 = self.ln1.forward(&x.transpose(1, 2)).transpose(1, 2);
        let conv = self.pwconv.forward(&self.dwconv.forward(&x1)).relu().dropout(self.rate, train);
        let x = &x + &x1 + conv;
        let t = self.ln2.forward(&x.transpose(1, 2));
        let t = &t + self.attention(&t);
        let x = t.transpose(1, 2);
        &x + self.ff2.forward_t(&x, train) * 0.5
    }

    /// Multi-head self-attention on (B, L, E), heads of contiguous feature slices.
    fn attention(&self, t: &Tensor) -> Tensor {
        let (b, l, e) = t.size3().expect("conformer input is (B, L, E)");
        let d = e / self.heads;
        let qkv = t.linear(&self.in_proj_weight, Some(&self.in_proj_bias));
        let split = |i: i64| qkv.narrow(2, i * e, e).view([b, l, self.heads, d]).transpose(1, 2);
        let (q, k, v) = (split(0), split(1), split(2));
        let o = Tensor::scaled_dot_product_attention(&q, &k, &v, None::<&Tensor>, 0.0, false, None, false);
        self.out_proj.forward(&o.transpose(1, 2).reshape([b, l, e]))
    }
}

/// The 18-bin soft-argmax head of AutosomeFinalLayersBlock.
pub struct SoftBinHead {
    pub mapper: Conv1d,
    pub bins: Tensor,
}

/// A per-task regression head (benchmarks.md §1): Conv1d(C->hidden, K=1) -> mean over L
/// -> Linear(hidden->1).
pub struct RegressionHead {
    pub mapper: Conv1d,
    pub linear: Linear,
}

pub enum Final {
    SoftBins(SoftBinHead),
    Regression(Vec<RegressionHead>),
    Legnet(LegnetHead),
}

/// What the final block produces: the prediction, and for the soft-bin head the pooled
/// 18-class logits the KL training loss needs.
pub struct FinalOutput {
    /// (B,) for one task, (B, T) for several.
    pub prediction: Tensor,
    pub logits: Option<Tensor>,
}

impl Final {
    pub fn new(store: &mut Store, spec: &FinalSpec) -> Self {
        match spec {
            FinalSpec::SoftBins { in_channels, n_bins } => {
                let dev = store.device();
                let n = *n_bins as i64;
                let bins = store.buffer("final.bins", Tensor::arange(n, (Kind::Int64, dev)));
                let mapper = Conv1d::new(store, "final.mapper.0", *in_channels as i64, n, 1, 1, true);
                Final::SoftBins(SoftBinHead { mapper, bins })
            }
            FinalSpec::Regression { in_channels, hidden, tasks } => {
                let heads = (0..tasks.len())
                    .map(|i| {
                        // The reference names a single head `mapper`/`linear`, several
                        // `mapper1`/`linear1`, `mapper2`/`linear2`, ...
                        let suffix = if tasks.len() == 1 { String::new() } else { (i + 1).to_string() };
                        RegressionHead {
                            mapper: Conv1d::new(store, &format!("final.mapper{suffix}"), *in_channels as i64, *hidden as i64, 1, 1, true),
                            linear: Linear::new(store, &format!("final.linear{suffix}.0"), *hidden as i64, 1, true),
                        }
                    })
                    .collect();
                Final::Regression(heads)
            }
            FinalSpec::LegnetBins { in_channels, n_bins } => Final::Legnet(LegnetHead::new(store, *in_channels, *n_bins)),
        }
    }

    pub fn forward_t(&self, x: &Tensor, _train: bool) -> FinalOutput {
        match self {
            Final::SoftBins(h) => {
                let z = h.mapper.forward(x).mean_dim([2i64].as_slice(), false, Kind::Float);
                let p = z.softmax(1, Kind::Float);
                let prediction = (p * h.bins.to_kind(Kind::Float)).sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
                FinalOutput { prediction, logits: Some(z) }
            }
            Final::Regression(heads) => {
                let outs: Vec<Tensor> = heads
                    .iter()
                    .map(|h| h.linear.forward(&h.mapper.forward(x).mean_dim([2i64].as_slice(), false, Kind::Float)))
                    .collect();
                let y = Tensor::cat(&outs, 1);
                let prediction = if heads.len() == 1 { y.squeeze_dim(1) } else { y };
                FinalOutput { prediction, logits: None }
            }
            Final::Legnet(h) => {
                let (z, prediction) = h.forward(x);
                FinalOutput { prediction, logits: Some(z) }
            }
        }
    }

    pub fn init(&self) {
        match self {
            Final::SoftBins(h) => h.mapper.init(InitScheme::Autosome),
            Final::Legnet(h) => h.init(),
            Final::Regression(heads) => {
                for h in heads {
                    h.mapper.init(InitScheme::Autosome);
                    h.linear.init(InitScheme::Autosome);
                }
            }
        }
    }
}
