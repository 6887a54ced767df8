// Scoring off the page's thread: loads the wasm module and a model, then scores the
// input a few batches at a time, posting each step so the page can show progress.
import init, { Model } from "./pkg/infer_wasm.js";

const ready = init();
let model = null;
let job = 0;

function fail(id, error) {
  postMessage({ type: "error", id, message: String(error && error.message ? error.message : error) });
}

async function load({ id, name, url, bytes, batchSize }) {
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
  model = new Model(name, new Uint8Array(bytes), batchSize);
  postMessage({
    type: "loaded", id, info: JSON.parse(model.info), header: model.header, outputs: model.outputs,
    fetchMs: t1 - t0, loadMs: performance.now() - t1,
  });
}

function countLines(text) {
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) n++;
  return text.length && !text.endsWith("\n") ? n + 1 : n;
}

async function score({ id, name, text, step }) {
  await ready;
  if (!model) throw new Error("no model loaded");
  const mine = ++job;
  const totalLines = countLines(text);
  const t0 = performance.now();
  model.begin(name, text);
  for (;;) {
    const s = model.next(step);
    const done = s.done;
    // u64 fields arrive as BigInt.
    postMessage({
      type: "progress", id, tsv: s.tsv, ids: s.ids, values: s.values, line: Number(s.line), totalLines,
      scored: Number(s.scored), done, ms: performance.now() - t0,
    });
    s.free();
    if (done) return;
    // Let a newer request (or a stop) in between steps.
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (mine !== job) return;
  }
}

onmessage = async (event) => {
  const msg = event.data;
  try {
    if (msg.type === "load") await load(msg);
    else if (msg.type === "score") await score(msg);
    else if (msg.type === "stop") job++;
  } catch (error) {
    fail(msg.id, error);
  }
};
