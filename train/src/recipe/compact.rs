//! Training data kept compact: one byte per base of the padded sequence, plus the
//! labels and per-record flags. The float model inputs (one-hot, reverse complement,
//! the reverse/singleton channels) are made per batch, on the device the model trains
//! on, so the full 6.7-million-record challenge set takes about 1 GB instead of the
//! 48 GB of float tensors [`EncodedSet`](super::data::EncodedSet) would need.
//!
//! On a CPU the floats are written by the eager encoder row by row into one buffer
//! (cheapest there); for an accelerator only the bytes travel and a table lookup on the
//! device makes the floats.
//!
//! Every batch holds exactly the tensors the eager encoding gives for the same rows
//! (same row order, reverse-complement rows after all forward rows, the same targets;
//! tested against [`encode_yeast`](super::data::encode_yeast) and
//! [`encode_regression`](super::data::encode_regression)), so seeded runs are
//! unchanged bit for bit.

use infer::input::SeqRecord;
use infer::preprocess::{reverse_complement_into, ExtraChannel};
use infer::Preprocessing;
use tch::{Device, Kind, Tensor};

use crate::model::{ModelDescription, Objective};
use crate::run::{RunError, StoredData};

use super::data::{first_label, pad_record, DataError, EncodedSet};
use super::target::{is_singleton, SoftBinTarget};

/// One training batch on the training device.
pub struct Batch {
    /// `(B, C, L)` float32 model inputs.
    pub x: Tensor,
    /// `(B,)` yeast expression or `(B, T)` benchmark targets, float32.
    pub y: Tensor,
    /// `(B, n_bins)` soft-bin targets (yeast only).
    pub y_probs: Option<Tensor>,
}

/// What the training loop needs from a dataset: rows gathered into batches.
pub trait TrainingData {
    /// Number of rows (reverse-complement copies included).
    fn rows(&self) -> usize;
    /// The rows `idx`, in that order, on `device`.
    fn batch(&self, idx: &[i64], device: Device) -> Batch;
    /// All targets `(N,)` or `(N, T)` on the CPU, row order.
    fn targets(&self) -> Tensor;
}

impl TrainingData for EncodedSet {
    fn rows(&self) -> usize {
        self.len()
    }

    fn batch(&self, idx: &[i64], device: Device) -> Batch {
        let idx = Tensor::from_slice(idx);
        Batch {
            x: self.x.index_select(0, &idx).to_device(device),
            y: self.y.index_select(0, &idx).to_device(device),
            y_probs: self.y_probs.as_ref().map(|p| p.index_select(0, &idx).to_device(device)),
        }
    }

    fn targets(&self) -> Tensor {
        self.y.shallow_clone()
    }
}

/// How labels become targets.
#[derive(Debug, Clone, Copy)]
enum Targets {
    /// Yeast: label 0 is the expression; soft-bin targets; each record's reverse
    /// complement as a second row when `rc_copies`.
    SoftBin { target: SoftBinTarget, rc_copies: bool },
    /// Benchmarks: every label is a task; orientation from the record id.
    Regression,
}

/// A dataset as compact per-record codes; see the module documentation.
pub struct CompactSet {
    pre: Preprocessing,
    targets: Targets,
    /// Records × `pre.length` bytes: the padded, upper-case sequence (ACGTN).
    codes: Vec<u8>,
    /// Records × tasks label values (f64: the soft-bin targets are computed from it).
    labels: Vec<f64>,
    tasks: usize,
    /// Per record: bit 0 the reverse flag (benchmarks), bit 1 the singleton flag (yeast).
    flags: Vec<u8>,
    /// `(256, one-hot channels)`: the one-hot column of every byte, taken from
    /// [`Preprocessing::encode`] itself so the expansion cannot drift from it.
    onehot_table: Tensor,
    padded: Vec<u8>,
    /// The recipe's target transform, applied to `y` (not to the soft-bin
    /// probabilities, which come from the measured label).
    target_map: Option<super::plan::TargetMap>,
}

const REVERSE: u8 = 1;
const SINGLETON: u8 = 2;

impl CompactSet {
    /// The yeast table (see [`encode_yeast`](super::data::encode_yeast)).
    pub fn yeast(pre: &Preprocessing, target: SoftBinTarget, rc_copies: bool) -> CompactSet {
        Self::new(pre, Targets::SoftBin { target, rc_copies })
    }

    /// A benchmark table (see [`encode_regression`](super::data::encode_regression));
    /// orientation from `pre.reverse_from_id`.
    pub fn regression(pre: &Preprocessing) -> CompactSet {
        Self::new(pre, Targets::Regression)
    }

    fn new(pre: &Preprocessing, targets: Targets) -> CompactSet {
        let (l, n1h) = (pre.length, pre.alphabet.len());
        let mut table = vec![0f32; 256 * n1h];
        let mut out = vec![0f32; pre.input_size()];
        for b in *b"ACGTN" {
            pre.encode(&vec![b; l], false, false, &mut out);
            for c in 0..n1h {
                table[b as usize * n1h + c] = out[c * l];
            }
        }
        CompactSet {
            pre: pre.clone(),
            targets,
            codes: Vec::new(),
            labels: Vec::new(),
            tasks: 0,
            flags: Vec::new(),
            onehot_table: Tensor::from_slice(&table).view([256, n1h as i64]),
            padded: vec![0u8; l],
            target_map: None,
        }
    }

    /// Number of records (rows are twice that with reverse-complement copies).
    pub fn records(&self) -> usize {
        self.flags.len()
    }

    /// Memory held by the codes, labels and flags, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.codes.capacity() + self.labels.capacity() * 8 + self.flags.capacity()
    }

    /// Adds one record, with the checks (and messages) of the eager encoders.
    pub fn push(&mut self, r: &SeqRecord) -> Result<(), DataError> {
        let flags = match self.targets {
            Targets::SoftBin { .. } => {
                let e = first_label(r)?;
                pad_record(&self.pre, r, &mut self.padded)?;
                self.tasks = 1;
                self.labels.push(e);
                if is_singleton(e) { SINGLETON } else { 0 }
            }
            Targets::Regression => {
                if self.flags.is_empty() {
                    self.tasks = r.labels.len();
                    if self.tasks == 0 {
                        return Err(DataError::MissingLabel { id: r.id.clone(), line: r.line });
                    }
                }
                if r.labels.len() != self.tasks {
                    return Err(DataError::LabelCount {
                        id: r.id.clone(),
                        line: r.line,
                        expected: self.tasks,
                        found: r.labels.len(),
                    });
                }
                if let Some(&value) = r.labels.iter().find(|v| !v.is_finite()) {
                    return Err(DataError::NonFiniteLabel { id: r.id.clone(), line: r.line, value });
                }
                pad_record(&self.pre, r, &mut self.padded)?;
                self.labels.extend_from_slice(&r.labels);
                if self.pre.reverse_from_id(&r.id) { REVERSE } else { 0 }
            }
        };
        self.codes.extend_from_slice(&self.padded);
        self.flags.push(flags);
        Ok(())
    }

    /// Transforms every target `y` this set yields (the recipe's target transform).
    pub fn map_targets(&mut self, map: super::plan::TargetMap) {
        self.target_map = Some(map);
    }

    fn target(&self, label: f64) -> f32 {
        let y = label as f32;
        match &self.target_map {
            Some(f) => f(y),
            None => y,
        }
    }

    /// Gives back spare capacity once every record is in.
    pub fn shrink_to_fit(&mut self) {
        self.codes.shrink_to_fit();
        self.labels.shrink_to_fit();
        self.flags.shrink_to_fit();
    }

    /// Record index and whether the row is a reverse-complement copy.
    fn locate(&self, row: usize) -> (usize, bool) {
        let n = self.records();
        (row % n, row >= n)
    }

    /// The padded codes of the rows `idx` (reverse complemented for copies) and each
    /// row's extra-channel values, `(B, extras)` row-major.
    fn gather(&self, idx: &[i64], codes: &mut [u8], extras: &mut Vec<f32>) {
        let l = self.pre.length;
        extras.clear();
        for (k, &row) in idx.iter().enumerate() {
            let (rec, rc_copy) = self.locate(row as usize);
            let src = &self.codes[rec * l..(rec + 1) * l];
            let dst = &mut codes[k * l..(k + 1) * l];
            if rc_copy {
                reverse_complement_into(src, dst);
            } else {
                dst.copy_from_slice(src);
            }
            let flags = self.flags[rec];
            let reverse = rc_copy || flags & REVERSE != 0;
            let singleton = flags & SINGLETON != 0;
            for kind in &self.pre.extra_channels {
                let on = match kind {
                    ExtraChannel::Reverse => reverse,
                    ExtraChannel::Singleton => singleton,
                };
                extras.push(if on { 1.0 } else { 0.0 });
            }
        }
    }

    /// Expands `(B, L)` codes and `(B, extras)` channel values into `(B, C, L)` float
    /// inputs on `device`: only the bytes travel, the floats are made there.
    fn expand(&self, codes: &[u8], extras: &[f32], b: usize, device: Device) -> Tensor {
        let l = self.pre.length as i64;
        let b = b as i64;
        let n1h = self.pre.alphabet.len() as i64;
        let idx = Tensor::from_slice(codes).to_device(device).to_kind(Kind::Int64);
        let onehot = self
            .onehot_table
            .to_device(device)
            .index_select(0, &idx)
            .view([b, l, n1h])
            .permute([0, 2, 1]);
        let n_extra = self.pre.extra_channels.len() as i64;
        if n_extra == 0 {
            return onehot.contiguous();
        }
        let extra = Tensor::from_slice(extras).to_device(device).view([b, n_extra, 1]).expand([b, n_extra, l], false);
        Tensor::cat(&[onehot, extra], 1).contiguous()
    }

    fn row_targets(&self, idx: &[i64]) -> (Tensor, Option<Tensor>) {
        let t = self.tasks;
        match self.targets {
            Targets::SoftBin { target, .. } => {
                let mut y = Vec::with_capacity(idx.len());
                let mut probs = Vec::with_capacity(idx.len() * target.n_bins);
                for &row in idx {
                    let e = self.labels[self.locate(row as usize).0];
                    y.push(self.target(e));
                    probs.extend(target.probs(e));
                }
                let p = Tensor::from_slice(&probs).view([idx.len() as i64, target.n_bins as i64]);
                (Tensor::from_slice(&y), Some(p))
            }
            Targets::Regression => {
                let mut y = Vec::with_capacity(idx.len() * t);
                for &row in idx {
                    let rec = self.locate(row as usize).0;
                    y.extend(self.labels[rec * t..(rec + 1) * t].iter().map(|&v| self.target(v)));
                }
                (Tensor::from_slice(&y).view([idx.len() as i64, t as i64]), None)
            }
        }
    }

    /// Only the model inputs of rows `idx`, made where they are cheapest: for a CPU
    /// model by [`Preprocessing::encode`] straight into one buffer; for an accelerator
    /// only the bytes travel and [`Self::inputs_expanded_on`] makes the floats there.
    pub fn inputs(&self, idx: &[i64], device: Device) -> Tensor {
        if device != Device::Cpu {
            return self.inputs_expanded_on(idx, device);
        }
        let (l, size) = (self.pre.length, self.pre.input_size());
        let mut x = vec![0f32; idx.len() * size];
        let mut padded = vec![0u8; l];
        for (k, &row) in idx.iter().enumerate() {
            let (rec, rc_copy) = self.locate(row as usize);
            let src = &self.codes[rec * l..(rec + 1) * l];
            let seq = if rc_copy {
                reverse_complement_into(src, &mut padded);
                &padded[..]
            } else {
                src
            };
            let flags = self.flags[rec];
            let reverse = rc_copy || flags & REVERSE != 0;
            // The eager encoder itself: CPU batches are the reference encoding by construction.
            self.pre.encode(seq, reverse, flags & SINGLETON != 0, &mut x[k * size..(k + 1) * size]);
        }
        let (c, l) = (self.pre.channels() as i64, l as i64);
        Tensor::from_slice(&x).view([idx.len() as i64, c, l])
    }

    /// The model inputs of rows `idx` expanded on `device` from the sequence bytes
    /// (one-hot by a table lookup there, the flag channels broadcast): what an
    /// accelerator gets, and equal to [`Self::inputs`] on any device (tested on the CPU).
    pub fn inputs_expanded_on(&self, idx: &[i64], device: Device) -> Tensor {
        let mut codes = vec![0u8; idx.len() * self.pre.length];
        let mut extras = Vec::with_capacity(idx.len() * self.pre.extra_channels.len());
        self.gather(idx, &mut codes, &mut extras);
        self.expand(&codes, &extras, idx.len(), device)
    }
}

impl TrainingData for CompactSet {
    fn rows(&self) -> usize {
        match self.targets {
            Targets::SoftBin { rc_copies: true, .. } => 2 * self.records(),
            _ => self.records(),
        }
    }

    fn batch(&self, idx: &[i64], device: Device) -> Batch {
        let x = self.inputs(idx, device);
        let (y, y_probs) = self.row_targets(idx);
        Batch { x, y: y.to_device(device), y_probs: y_probs.map(|p| p.to_device(device)) }
    }

    fn targets(&self) -> Tensor {
        let all: Vec<i64> = (0..self.rows() as i64).collect();
        match self.targets {
            // Without the soft-bin probabilities: they are only needed for training.
            Targets::SoftBin { .. } => {
                let y: Vec<f32> = all.iter().map(|&r| self.target(self.labels[self.locate(r as usize).0])).collect();
                Tensor::from_slice(&y)
            }
            Targets::Regression => self.row_targets(&all).0,
        }
    }
}

/// The training and validation sets of a run, read in one streamed pass per file
/// (plain or gzip) straight into compact codes: no record is held beyond its own
/// parsing. The held-out split is the one [`StoredData::read_split`] makes (same
/// records, same order on each side).
pub fn read_compact(data: &StoredData, desc: &ModelDescription) -> anyhow::Result<(CompactSet, Option<CompactSet>)> {
    read_compact_where(data, desc, |_| true).map(|(train, valid, _)| (train, valid))
}

/// [`read_compact`] keeping only the records `keep` accepts (e.g. a team reader that
/// drops sequences outside its training domain); also returns how many records each
/// side (training, validation) left out.
pub fn read_compact_where(
    data: &StoredData,
    desc: &ModelDescription,
    keep: impl Fn(&SeqRecord) -> bool,
) -> anyhow::Result<(CompactSet, Option<CompactSet>, [usize; 2])> {
    let pre = &desc.preprocessing;
    let mut dropped = [0usize; 2];
    let objective = desc.objective().map_err(anyhow::Error::msg)?;
    let empty = || match objective {
        Objective::SoftBinKl => CompactSet::yeast(pre, SoftBinTarget::default(), pre.rc_average),
        Objective::Mse => CompactSet::regression(pre),
    };
    let (mut train, mut valid) = (empty(), empty());
    let holdout = if data.valid.is_none() { data.valid_fraction } else { 0.0 };
    read_into(data, &data.train, data.train_activity.as_deref(), |r| {
        let held_out = holdout > 0.0 && super::split::is_held_out(&r.seq, holdout, data.split_seed);
        if !keep(r) {
            dropped[held_out as usize] += 1;
            return Ok(());
        }
        if held_out { valid.push(r) } else { train.push(r) }
    })?;
    if let Some(v) = &data.valid {
        read_into(data, v, data.valid_activity.as_deref(), |r| {
            if !keep(r) {
                dropped[1] += 1;
                return Ok(());
            }
            valid.push(r)
        })?;
    }
    if train.records() == 0 {
        return Err(RunError::NoTrainingRecords(data.train.clone()).into());
    }
    train.shrink_to_fit();
    valid.shrink_to_fit();
    Ok((train, (valid.records() > 0).then_some(valid), dropped))
}

/// Streams the records of `path` into `push`; with an `activity` table (DeepSTARR
/// layout) each record's labels are that table's next row.
fn read_into(
    data: &StoredData,
    path: &std::path::Path,
    activity: Option<&std::path::Path>,
    mut push: impl FnMut(&SeqRecord) -> Result<(), DataError>,
) -> anyhow::Result<()> {
    let mut reader = infer::input::open(path, &sequence_options(data, activity.is_some()))?;
    let mut table = activity.map(|a| super::activity::ActivityTable::open(a, &data.label_columns)).transpose()?;
    let mut records = 0u64;
    for rec in reader.by_ref() {
        let mut rec = rec?;
        records += 1;
        if let Some(t) = table.as_mut() {
            rec.labels = t.labels_for_next(path)?;
        }
        if rec.labels.is_empty() {
            return Err(RunError::NoLabel { path: path.to_path_buf(), line: rec.line, id: rec.id }.into());
        }
        push(&rec)?;
    }
    if let Some(t) = table {
        t.finish(path, records)?;
    }
    if let Some(report) = reader.skip_report() {
        eprintln!("train: {report}");
    }
    Ok(())
}

/// The length of the first training record (the first one the held-out split keeps),
/// or `None` for an input without records: fine-tuning's default input length.
pub fn first_training_length(data: &StoredData) -> anyhow::Result<Option<usize>> {
    let holdout = if data.valid.is_none() { data.valid_fraction } else { 0.0 };
    for rec in infer::input::open(&data.train, &sequence_options(data, data.train_activity.is_some()))? {
        let rec = rec?;
        if !(holdout > 0.0 && super::split::is_held_out(&rec.seq, holdout, data.split_seed)) {
            return Ok(Some(rec.seq.len()));
        }
    }
    Ok(None)
}

/// How to read a sequence file: with an activity table the labels come from the table,
/// so the sequence file (a FASTA) is read without label columns.
fn sequence_options(data: &StoredData, activity: bool) -> infer::input::InputOptions {
    let mut opts = data.input_options();
    if activity {
        opts.label_columns.clear();
    }
    opts
}
