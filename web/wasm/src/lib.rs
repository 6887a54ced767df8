//! `infer` in the browser: load a zoo `model.onnx` from its bytes, read its
//! preprocessing from the ONNX metadata, and score FASTA/FASTQ text or one sequence per
//! line with tract, through the same `input`, `preprocess`, `batch` and `Scorer` code as
//! `infer score`, so the TSV a page writes is the one the CLI would.
//!
//! Scoring is incremental ([`Model::begin`] then [`Model::next`] until done) so a Web
//! Worker can report progress between batches.

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
    scored: u64,
}

/// One step of scoring: the records scored in it, as ids, values and TSV lines.
#[wasm_bindgen(getter_with_clone)]
pub struct Step {
    /// Record ids, in input order.
    pub ids: Vec<String>,
    /// `ids.len() * outputs` predictions, row-major.
    pub values: Vec<f32>,
    /// The lines `infer score` writes for these records.
    pub tsv: String,
    /// 1-based input line of the last record read (for progress).
    pub line: u64,
    /// Records scored so far.
    pub scored: u64,
    /// No records are left.
    pub done: bool,
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

    /// Starts scoring `text` (FASTA, FASTQ, or one sequence per line; the format is
    /// detected as `infer score` detects it); `name` stands for it in error messages.
    /// Errors in the input's start (e.g. an empty table) come here, errors in records
    /// from [`Model::next`].
    pub fn begin(&mut self, name: &str, text: String) -> Result<(), JsError> {
        let reader = Box::new(Cursor::new(text.into_bytes()));
        let records = input::open_reader(name, reader, &InputOptions::default(), &Limits::default()).map_err(js_error)?;
        self.job = Some(Job { records, name: name.to_string(), scored: 0 });
        Ok(())
    }

    /// Scores up to `max_records` more records. A bad record stops the job with the
    /// message `infer score` gives, `NAME:LINE: record ID: problem`.
    pub fn next(&mut self, max_records: usize) -> Result<Step, JsError> {
        let job = self.job.as_mut().ok_or_else(|| JsError::new("no input: call begin() first"))?;
        let n_out = self.scorer.outputs().len();
        let mut step = Step { ids: Vec::new(), values: Vec::new(), tsv: String::new(), line: 0, scored: 0, done: false };
        let mut taken = 0usize;
        let name = job.name.clone();
        let records = job.records.by_ref().take(max_records.max(1)).inspect(|_| taken += 1);
        let result = batch::score_all(
            &mut self.scorer,
            records.map(|r| r.map_err(|e| Failure(e.to_string()))),
            |rec: &SeqRecord, problem| Err(Failure(format!("{name}:{}: record {}: {problem}", rec.line, rec.id))),
            |batch, y| {
                for (rec, row) in batch.iter().zip(y.chunks_exact(n_out)) {
                    step.tsv.push_str(&rec.id);
                    for v in row {
                        // As `infer score`: f32's Display, the shortest string that reads back.
                        let _ = write!(step.tsv, "\t{v}");
                    }
                    step.tsv.push('\n');
                    step.ids.push(rec.id.clone());
                    step.line = rec.line;
                }
                step.values.extend_from_slice(y);
                Ok(())
            },
        );
        match result {
            Ok(n) => {
                job.scored += n;
                step.scored = job.scored;
                step.done = taken < max_records.max(1);
                if step.done {
                    self.job = None;
                }
                Ok(step)
            }
            Err(Failure(message)) => {
                self.job = None;
                Err(JsError::new(&message))
            }
        }
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
