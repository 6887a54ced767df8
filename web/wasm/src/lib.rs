//! `infer` in the browser: load a zoo `model.onnx` from its bytes, read its
//! preprocessing from the ONNX metadata, and score FASTA/FASTQ text or one sequence per
//! line with tract, through the same `input`, `preprocess`, `batch` and `Scorer` code as
//! `infer score`, so the TSV a page writes is the one the CLI would.
//!
//! Scoring is split so a page can spread it over Web Workers, one per core: the worker
//! that holds the input reads and encodes a batch ([`Model::begin`], [`Model::read`]),
//! any worker with the same model runs it ([`Model::run`]), and the first one averages
//! the rows and writes the TSV lines in input order ([`Model::finish`]). Reading stays
//! in one place, in order, so a bad record gets the message `infer score` gives.

use std::fmt::Write as _;
use std::io::Cursor;

use infer::batch;
use infer::input::{self, InputOptions, Limits, Records, SeqRecord};
use infer::scorer::{ScoreError, Scorer, ScorerOptions};
use wasm_bindgen::prelude::*;

/// A model ready to score, and the input being scored.
#[wasm_bindgen]
pub struct Model {
    scorer: Scorer,
    job: Option<Job>,
}

struct Job {
    records: Records,
    /// What error messages call the input (a file name, or `input`).
    name: String,
}

/// A batch read from the input and encoded for the engine.
#[wasm_bindgen(getter_with_clone)]
pub struct Batch {
    /// The engine's input: every test-time row of each sequence.
    pub x: Vec<f32>,
    /// Record ids, in input order.
    pub ids: Vec<String>,
    /// 1-based input line of the last record read (for progress).
    pub line: u64,
    /// No records are left after this batch (it may be empty).
    pub done: bool,
}

/// A scored batch: ids, values and the lines `infer score` writes for them.
#[wasm_bindgen(getter_with_clone)]
pub struct Scored {
    pub ids: Vec<String>,
    /// `ids.len() * outputs` predictions, row-major.
    pub values: Vec<f32>,
    pub tsv: String,
}

#[wasm_bindgen]
impl Model {
    /// Opens a model from the bytes of its ONNX file; `name` (e.g. `dream-cnn 0.1.0` or
    /// the file name) stands for it in messages. `batch_size` sequences run per pass.
    #[wasm_bindgen(constructor)]
    pub fn new(name: &str, bytes: &[u8], batch_size: usize) -> Result<Model, JsError> {
        let opts = ScorerOptions { batch_size, threads: 1, ..ScorerOptions::default() };
        let scorer = Scorer::from_bytes(name, bytes, &opts).map_err(js_error)?;
        Ok(Model { scorer, job: None })
    }

    /// Output names, one TSV column each.
    #[wasm_bindgen(getter)]
    pub fn outputs(&self) -> Vec<String> {
        self.scorer.outputs().to_vec()
    }

    /// The TSV header line `infer score` writes.
    #[wasm_bindgen(getter)]
    pub fn header(&self) -> String {
        format!("id\t{}\n", self.scorer.outputs().join("\t"))
    }

    /// The model's description as JSON: name, version, license, outputs, preprocessing
    /// (as stored in its metadata) and what runs it.
    #[wasm_bindgen(getter)]
    pub fn info(&self) -> String {
        let info = self.scorer.model();
        serde_json::json!({
            "label": self.scorer.label(),
            "name": info.name,
            "version": info.version,
            "license": info.license,
            "provenance": info.provenance,
            "outputs": self.scorer.outputs(),
            "preprocessing": self.scorer.preprocessing(),
            "engine": self.scorer.describe(),
        })
        .to_string()
    }

    /// Starts reading `text` (FASTA, FASTQ, or one sequence per line; the format is
    /// detected as `infer score` detects it); `name` stands for it in error messages.
    /// Errors in the input's start (e.g. an empty table) come here, errors in records
    /// from [`Model::read`].
    pub fn begin(&mut self, name: &str, text: String) -> Result<(), JsError> {
        let reader = Box::new(Cursor::new(text.into_bytes()));
        let mut records = input::open_reader(name, reader, &InputOptions::default(), &Limits::default()).map_err(js_error)?;
        // As `infer score`: a case-sensitive model (Camformer) sees lower case as written.
        records.set_keep_case(self.scorer.preprocessing().rules.case_sensitive);
        self.job = Some(Job { records, name: name.to_string() });
        Ok(())
    }

    /// Reads the next batch (up to `max_records`, at most the batch size) and encodes it. A bad record stops
    /// the job with the message `infer score` gives, `NAME:LINE: record ID: problem`.
    pub fn read(&mut self, max_records: usize) -> Result<Batch, JsError> {
        let job = self.job.as_mut().ok_or_else(|| JsError::new("no input: call begin() first"))?;
        let name = job.name.clone();
        // `infer score`'s message for a record it cannot score.
        let bad_record = |rec: &SeqRecord, problem: &dyn std::fmt::Display| {
            Failure(format!("{name}:{}: record {}: {problem}", rec.line, rec.id))
        };
        let mut pending: Vec<SeqRecord> = Vec::new();
        let mut records = job.records.by_ref().map(|r| r.map_err(|e| Failure(e.to_string())));
        let limit = max_records.min(self.scorer.batch_size());
        let read = batch::next_batch(&self.scorer, &mut records, limit, &mut pending, &mut |rec: &SeqRecord, problem| {
            Err(bad_record(rec, &problem))
        });
        let encoded = read.and_then(|done| {
            let seqs: Vec<&[u8]> = pending.iter().map(|r| r.seq.as_slice()).collect();
            let ids: Vec<&str> = pending.iter().map(|r| r.id.as_str()).collect();
            let mut x = Vec::new();
            self.scorer.encode_into(&seqs, Some(&ids), 0, &mut x).map_err(|e| match &e {
                ScoreError::Sequence { index, source } => bad_record(&pending[*index], source),
                _ => Failure::from(e),
            })?;
            Ok((x, done))
        });
        match encoded {
            Ok((x, done)) => {
                if done {
                    self.job = None;
                }
                let line = pending.last().map_or(0, |r| r.line);
                Ok(Batch { x, ids: pending.into_iter().map(|r| r.id).collect(), line, done })
            }
            Err(Failure(message)) => {
                self.job = None;
                Err(JsError::new(&message))
            }
        }
    }

    /// Runs the engine on a batch's input (from [`Model::read`] on any worker holding the
    /// same model) of `sequences` sequences; returns the raw rows for [`Model::finish`].
    pub fn run(&mut self, x: Vec<f32>, sequences: usize) -> Result<Vec<f32>, JsError> {
        self.scorer.run_encoded(&x, sequences).map_err(js_error)
    }

    /// Averages a batch's rows per sequence and writes its TSV lines as `infer score` does.
    pub fn finish(&self, ids: Vec<String>, rows: Vec<f32>) -> Scored {
        let mut values = Vec::with_capacity(ids.len() * self.scorer.outputs().len());
        self.scorer.average_into(&rows, &mut values);
        let mut tsv = String::new();
        for (id, row) in ids.iter().zip(values.chunks_exact(self.scorer.outputs().len())) {
            tsv.push_str(id);
            for v in row {
                // As `infer score`: f32's Display, the shortest string that reads back.
                let _ = write!(tsv, "\t{v}");
            }
            tsv.push('\n');
        }
        Scored { ids, values, tsv }
    }
}

/// Why scoring stopped, as one line.
struct Failure(String);

impl From<ScoreError> for Failure {
    fn from(e: ScoreError) -> Self {
        Failure(chain(&e))
    }
}

fn js_error(e: impl std::error::Error) -> JsError {
    JsError::new(&chain(&e))
}

/// The message of an error and its causes, one line, as the CLI prints them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
