// The page: model picker, input, results. All scoring happens in worker.js.
const $ = (id) => document.getElementById(id);
const TABLE_ROWS = 1000; // rows shown; the download has all of them
// Sequences per forward pass (`?batch=N` to change it).
const BATCH_SIZE = Math.max(1, Number(new URLSearchParams(location.search).get("batch")) || 32);
// Helper workers running batches (`?workers=N`; default one per core).
const WORKERS = Math.max(0, Number(new URLSearchParams(location.search).get("workers")) || 0);

const worker = new Worker("worker.js", { type: "module" });
let requestId = 0;
let model = null; // { label, header, outputs }
let input = { name: "input", text: "" };
let run = null; // the scoring in progress or last finished

if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register("sw.js").catch(() => {});
  // The worker could not keep a copy for offline use: scoring works, but only online.
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "not-kept-offline") {
      $("offline-note").textContent =
        `This browser refused to keep the page for offline use (${event.data.reason}); ` +
        "scoring works while the site can be reached. A nearly full disk is the usual cause.";
      $("offline-note").hidden = false;
    }
  });
}

function setState(state) {
  document.body.dataset.state = state;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
  setState("error");
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function mb(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

async function listModels() {
  const select = $("model-select");
  try {
    const response = await fetch("models.json");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const models = await response.json();
    select.innerHTML = '<option value="">choose a model…</option>';
    for (const m of models) {
      const option = document.createElement("option");
      option.value = m.file;
      option.textContent = `${m.name} ${m.version} (${mb(m.size)})`;
      option.title = m.description;
      option.dataset.name = m.name;
      option.dataset.label = `${m.name} ${m.version}`;
      select.append(option);
    }
    const wanted = new URLSearchParams(location.search).get("model");
    const pick = [...select.options].find((o) => o.dataset.name === wanted);
    if (pick) {
      select.value = pick.value;
      loadModel({ name: pick.dataset.label, url: pick.value });
    }
  } catch (error) {
    select.innerHTML = '<option value="">no published models found</option>';
    $("model-status").textContent = `cannot read models.json (${error.message}); open a model.onnx instead`;
  }
  setState("idle");
}

function loadModel({ name, url, bytes }) {
  model = null;
  $("score-button").disabled = true;
  $("model-status").textContent = `loading ${name}…`;
  setState("loading");
  const id = ++requestId;
  worker.postMessage({ type: "load", id, name, url, bytes, batchSize: BATCH_SIZE, workers: WORKERS }, bytes ? [bytes] : []);
}

$("model-select").addEventListener("change", (event) => {
  const option = event.target.selectedOptions[0];
  if (option && option.value) loadModel({ name: option.dataset.label, url: option.value });
});

$("model-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  $("model-select").value = "";
  loadModel({ name: file.name, bytes: await file.arrayBuffer() });
});

async function takeInputFile(file) {
  const text = await file.text();
  input = { name: file.name, text };
  $("input-text").value = text.length <= 2_000_000 ? text : `${file.name}: ${mb(text.length)} read (not shown)`;
  $("input-text").dataset.file = file.name;
}

$("input-file").addEventListener("change", (event) => {
  if (event.target.files[0]) takeInputFile(event.target.files[0]);
});
$("input-text").addEventListener("input", () => {
  input = { name: "input", text: $("input-text").value };
  delete $("input-text").dataset.file;
});
for (const type of ["dragenter", "dragover"]) {
  $("input-text").addEventListener(type, (event) => {
    event.preventDefault();
    $("input-text").classList.add("drop");
  });
}
$("input-text").addEventListener("dragleave", () => $("input-text").classList.remove("drop"));
$("input-text").addEventListener("drop", (event) => {
  event.preventDefault();
  $("input-text").classList.remove("drop");
  const file = event.dataTransfer.files[0];
  if (file) takeInputFile(file);
});

$("score-button").addEventListener("click", () => {
  if (!model) return;
  clearError();
  const id = ++requestId;
  run = { id, chunks: [], values: [], scored: 0, ms: 0, t0: performance.now(), inputName: input.name };
  $("results-section").hidden = true;
  $("results").querySelector("thead").innerHTML =
    "<tr><th>id</th>" + model.outputs.map((o) => `<th>${escapeHtml(o)}</th>`).join("") + "</tr>";
  $("results").querySelector("tbody").innerHTML = "";
  $("progress").hidden = false;
  $("progress").value = 0;
  $("progress-text").textContent = "scoring…";
  $("score-button").disabled = true;
  $("cancel-button").hidden = false;
  setState("scoring");
  worker.postMessage({ type: "score", id, name: input.name, text: input.text });
});

$("cancel-button").addEventListener("click", () => {
  worker.postMessage({ type: "stop" });
  finish(`stopped after ${run.scored} sequences`);
});

$("download-button").addEventListener("click", () => {
  const blob = new Blob([model.header, ...run.chunks], { type: "text/tab-separated-values" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "scores.tsv";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
});

function escapeHtml(s) {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

function addRows(ids, values) {
  const body = $("results").querySelector("tbody");
  const n = model.outputs.length;
  const rows = [];
  for (let i = 0; i < ids.length && body.rows.length + rows.length < TABLE_ROWS; i++) {
    const cells = Array.from(values.slice(i * n, (i + 1) * n), (v) => `<td class="num">${v.toFixed(4)}</td>`);
    rows.push(`<tr><td>${escapeHtml(ids[i])}</td>${cells.join("")}</tr>`);
  }
  if (rows.length) body.insertAdjacentHTML("beforeend", rows.join(""));
}

function finish(text) {
  $("progress").hidden = true;
  $("cancel-button").hidden = true;
  $("score-button").disabled = !model;
  $("progress-text").textContent = text;
  requestId++; // late steps of this run are ignored
}

function drawHistogram(values, stride, label) {
  const canvas = $("histogram");
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, left = 48, bottom = 30, top = 12, right = 12;
  ctx.clearRect(0, 0, W, H);
  const xs = [];
  for (let i = 0; i < values.length; i += stride) xs.push(values[i]);
  if (!xs.length) return;
  let lo = Math.min(...xs), hi = Math.max(...xs);
  if (hi === lo) { lo -= 0.5; hi += 0.5; }
  const bins = new Array(Math.min(40, Math.max(5, Math.ceil(Math.sqrt(xs.length))))).fill(0);
  for (const x of xs) bins[Math.min(bins.length - 1, Math.floor(((x - lo) / (hi - lo)) * bins.length))]++;
  const max = Math.max(...bins);
  const bw = (W - left - right) / bins.length;
  ctx.fillStyle = "#0969da";
  bins.forEach((c, i) => {
    const h = ((H - top - bottom) * c) / max;
    ctx.fillRect(left + i * bw + 1, H - bottom - h, bw - 2, h);
  });
  ctx.fillStyle = "#1b1f24";
  ctx.font = "12px system-ui, sans-serif";
  ctx.textAlign = "left";
  ctx.fillText(lo.toFixed(3), left, H - 10);
  ctx.textAlign = "right";
  ctx.fillText(hi.toFixed(3), W - right, H - 10);
  ctx.fillText(String(max), left - 6, top + 10);
  ctx.fillText("0", left - 6, H - bottom);
  ctx.textAlign = "center";
  ctx.fillText(`${label} (${xs.length} sequences)`, W / 2, H - 10);
  ctx.strokeStyle = "#8c959f";
  ctx.beginPath();
  ctx.moveTo(left, top);
  ctx.lineTo(left, H - bottom);
  ctx.lineTo(W - right, H - bottom);
  ctx.stroke();
}

worker.onmessage = (event) => {
  const msg = event.data;
  if (msg.id !== requestId) return; // a superseded request
  if (msg.type === "loaded") {
    model = { label: msg.info.label, header: msg.header, outputs: msg.outputs, info: msg.info };
    const p = msg.info.preprocessing;
    $("model-status").textContent =
      `${msg.info.label}: ${p.length} nt input, ${msg.outputs.join(", ")}` +
      `${p.rc_average ? ", forward/reverse-complement averaged" : ""}; loaded in ${(msg.loadMs / 1000).toFixed(2)} s` +
      ` (${msg.info.workers} worker${msg.info.workers === 1 ? "" : "s"})`;
    $("score-button").disabled = false;
    setState("ready");
  } else if (msg.type === "progress") {
    run.chunks.push(msg.tsv);
    for (const v of msg.values) run.values.push(v);
    run.scored = msg.scored;
    run.ms = msg.ms;
    addRows(msg.ids, msg.values);
    $("progress").value = msg.totalLines ? msg.line / msg.totalLines : 1;
    $("progress-text").textContent = `${msg.scored} sequences scored`;
    if (msg.done) {
      const seconds = run.ms / 1000;
      finish(`${run.scored} sequences scored in ${seconds.toFixed(2)} s (${(run.scored / seconds).toFixed(1)} per second)`);
      $("summary").textContent = `${run.scored} sequences, ${model.label}`;
      $("table-note").textContent = run.scored > TABLE_ROWS ? `first ${TABLE_ROWS} of ${run.scored} rows shown; the download has all` : "";
      $("results-section").hidden = false;
      drawHistogram(run.values, model.outputs.length, model.outputs[0]);
      window.lastRun = { scored: run.scored, ms: run.ms, firstScoreMs: performance.now() };
      setState("done");
    }
  } else if (msg.type === "error") {
    if (run && run.id === msg.id) finish("");
    else {
      model = null;
      $("model-status").textContent = "no model loaded";
    }
    showError(msg.message);
  }
};

listModels();
