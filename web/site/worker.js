// Scoring off the page's thread. This worker holds the model and the input: it reads
// and encodes batches in input order, hands each to a helper worker (one per core, each
// with its own copy of the model) to run, and averages and posts the results in input
// order, so the page can show progress. The same file runs as a helper: it then only
// runs the batches it is given.
import init, { Model } from "./pkg/infer_wasm.js";

const ready = init();
let model = null;
let job = 0;
let helpers = []; // { worker, busy } once loaded
let batchSize = 32;
// Records this worker scores at a time while no helper is ready yet.
const INLINE_RECORDS = 4;

function fail(id, error) {
  postMessage({ type: "error", id, message: String(error && error.message ? error.message : error) });
}

/// Helpers to start: the page's `workers` if given, else one per core (at most 8).
function helperCount(asked) {
  if (asked > 0) return Math.min(asked, 16);
  return Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 8));
}

/// Starts `n` helpers, each building its own copy of the model from `bytes`. They join
/// `helpers` as they become ready (a running job takes them on at once, see `wake`), so
/// the page is ready as soon as this worker's own model is: until a helper is, this
/// worker runs the batches itself.
let started = [];
let loads = 0; // which load the helpers belong to: a newer load ignores older ones
let wake = () => {};
function startHelpers(n, name, bytes, batchSize) {
  for (const worker of started) worker.terminate();
  started = [];
  helpers = [];
  const generation = ++loads;
  for (let i = 0; i < n; i++) {
    const worker = new Worker("worker.js", { type: "module", name: `helper ${i + 1}` });
    started.push(worker);
    worker.onmessage = (event) => {
      if (generation !== loads) return;
      if (event.data.type === "ready") {
        helpers.push({ worker, busy: false });
        wake();
      } else {
        // A helper that cannot start leaves the work to the others (and to this worker).
        console.warn(`helper ${i + 1}: ${event.data.message}`);
      }
    };
    worker.postMessage({ type: "helper", name, bytes: bytes.slice(0), batchSize });
  }
}

async function load({ id, name, url, bytes, batchSize: size, workers }) {
  await ready;
  const t0 = performance.now();
  if (!bytes) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`cannot fetch ${url}: HTTP ${response.status}`);
    bytes = await response.arrayBuffer();
  }
  const t1 = performance.now();
  if (model) model.free();
  model = null;
  const data = new Uint8Array(bytes);
  batchSize = size;
  model = new Model(name, data, batchSize);
  const info = JSON.parse(model.info);
  info.workers = helperCount(workers);
  startHelpers(info.workers, name, data, batchSize);
  postMessage({
    type: "loaded", id, info, header: model.header, outputs: model.outputs,
    fetchMs: t1 - t0, loadMs: performance.now() - t1,
  });
}

function countLines(text) {
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) n++;
  return text.length && !text.endsWith("\n") ? n + 1 : n;
}

/// Scores `text`: batches go to idle helpers as they free up; results are posted in input
/// order. A newer request or a stop (`job` moves on) drops the rest.
async function score({ id, name, text }) {
  await ready;
  if (!model) throw new Error("no model loaded");
  const mine = ++job;
  const totalLines = countLines(text);
  const t0 = performance.now();
  model.begin(name, text);
  let reading = true;
  let sent = 0;
  let posted = 0;
  let scored = 0;
  const waiting = new Map(); // batch number -> { ids, line }
  const results = new Map(); // batch number -> rows
  await new Promise((resolve, reject) => {
    const stop = (error) => {
      job++;
      reject(error);
    };
    // Posts every finished batch that is next in input order.
    const post = () => {
      while (results.has(posted)) {
        const { ids, line } = waiting.get(posted);
        const out = model.finish(ids, results.get(posted));
        waiting.delete(posted);
        results.delete(posted);
        posted++;
        scored += out.ids.length;
        postMessage({
          type: "progress", id, tsv: out.tsv, ids: out.ids, values: out.values, line, totalLines,
          scored, done: false, ms: performance.now() - t0,
        });
        out.free();
      }
    };
    // Once everything read is posted: the closing message (no rows).
    let finished = false;
    const finishIfDone = () => {
      if (finished || reading || posted !== sent || mine !== job) return;
      finished = true;
      postMessage({
        type: "progress", id, tsv: "", ids: [], values: [], line: totalLines, totalLines,
        scored, done: true, ms: performance.now() - t0,
      });
      resolve();
    };
    // Numbers a batch in input order and remembers what its rows will be posted with.
    const register = (batch) => {
      const number = sent++;
      // u64 fields arrive as BigInt.
      waiting.set(number, { ids: batch.ids, line: Number(batch.line) });
      return number;
    };
    const pump = () => {
      for (const helper of helpers) {
        if (!reading || mine !== job) break;
        if (helper.busy) continue;
        let batch;
        try {
          batch = model.read(batchSize);
        } catch (error) {
          stop(error);
          return;
        }
        reading = !batch.done;
        const n = batch.ids.length;
        if (n === 0) {
          batch.free();
          continue;
        }
        const number = register(batch);
        const x = batch.x;
        batch.free();
        helper.busy = true;
        helper.worker.onmessage = (event) => {
          helper.busy = false;
          if (mine !== job) return;
          if (event.data.type === "error") {
            stop(new Error(event.data.message));
            return;
          }
          results.set(event.data.number, event.data.rows);
          try {
            post();
          } catch (error) {
            stop(error);
            return;
          }
          pump();
        };
        helper.worker.postMessage({ type: "run", number, x, sequences: n }, [x.buffer]);
      }
      if (reading && mine === job && helpers.length === 0) {
        // No helper is ready yet: run a few records here, then look again (a small step,
        // so that helpers take over as soon as they are ready).
        try {
          const batch = model.read(INLINE_RECORDS);
          reading = !batch.done;
          const n = batch.ids.length;
          if (n > 0) {
            results.set(register(batch), model.run(batch.x, n));
            post();
          }
          batch.free();
        } catch (error) {
          stop(error);
          return;
        }
        setTimeout(pump, 0);
        return;
      }
      finishIfDone();
    };
    wake = pump;
    pump();
  });
}

// A helper: one copy of the model, running the batches it is sent.
let helperModel = null;
async function help(msg) {
  await ready;
  if (msg.type === "helper") {
    helperModel = new Model(msg.name, new Uint8Array(msg.bytes), msg.batchSize);
    postMessage({ type: "ready" });
  } else if (msg.type === "run") {
    const rows = helperModel.run(msg.x, msg.sequences);
    postMessage({ type: "ran", number: msg.number, rows }, [rows.buffer]);
  }
}

onmessage = async (event) => {
  const msg = event.data;
  try {
    if (msg.type === "helper" || msg.type === "run") await help(msg);
    else if (msg.type === "load") await load(msg);
    else if (msg.type === "score") await score(msg);
    else if (msg.type === "stop") job++;
  } catch (error) {
    fail(msg.id, error);
  }
};
