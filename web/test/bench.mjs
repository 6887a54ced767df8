// bench/web.sh's browser half: in one headless Chromium run, per model, the page's
// sequences/s (scoring --fasta through the UI, twice: cold plan, then warm; with its
// default helper workers, one per core, and with one), the time from opening the page
// to the first score (one sequence, fresh profile), and onnxruntime-web's wasm backend
// on the same ONNX file as the baseline, with one thread and with one per core (the
// server sends cross-origin isolation headers so that it may use threads). Prints JSON.
//   node bench.mjs --site DIR --fasta FILE --sequences N --models a,b,c --batch 32
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { args, launch, openPage, scoreFile, serve } from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const opt = args();
const models = opt.models.split(",");
const batch = Number(opt.batch || 32);
const site = JSON.parse(readFileSync(path.join(opt.site, "models.json"), "utf8"));
const server = await serve(
  { "/": opt.site, "/ort/": path.join(here, "node_modules/onnxruntime-web/dist"), "/bench/": here },
  { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" },
);
const oneSequence = readFileSync(opt.fasta, "utf8").split("\n").slice(0, 2).join("\n") + "\n";
const results = [];
try {
  for (const name of models) {
    const entry = site.find((m) => m.name === name);
    if (!entry) throw new Error(`${name} is not in ${opt.site}/models.json`);
    const row = { model: name };

    // Page open to first score, in a fresh profile (nothing cached).
    let browser = await launch();
    try {
      const page = await browser.context.newPage();
      const t0 = Date.now();
      await page.goto(`${server.url}index.html?model=${name}`);
      await page.waitForSelector('body[data-state="ready"]', { timeout: 300_000 });
      await page.fill("#input-text", oneSequence);
      await page.click("#score-button");
      await page.waitForSelector('body[data-state="done"]', { timeout: 300_000 });
      row.firstScoreMs = Date.now() - t0;
    } finally {
      await browser.close();
    }

    browser = await launch();
    try {
      for (const [suffix, query] of [["", ""], ["_1worker", "&workers=1"]]) {
        const { page } = await openPage(browser.context, server.url, name, query);
        row[`workers${suffix}`] = Number((await page.textContent("#model-status")).match(/\((\d+) workers?\)/)[1]);
        for (const pass of suffix ? ["warm"] : ["cold", "warm"]) {
          if (suffix) await scoreFile(page, opt.fasta); // the plans, then the timed pass
          const state = await scoreFile(page, opt.fasta);
          if (state !== "done") throw new Error(`${name}: ${await page.textContent("#error")}`);
          const run = await page.evaluate(() => window.lastRun);
          row[`page_${pass}${suffix}`] = (run.scored / run.ms) * 1000;
        }
        await page.close();
      }
      const iterations = Math.max(2, Math.ceil(Number(opt.sequences) / batch));
      for (const threads of [1, row.workers]) {
        const ort = await browser.context.newPage();
        await ort.goto(`${server.url}bench/ort-bench.html?threads=${threads}`);
        await ort.waitForFunction(() => window.ortReady === true);
        if (threads > 1 && !(await ort.evaluate(() => window.crossOriginIsolated))) {
          throw new Error("the benchmark page is not cross-origin isolated: onnxruntime-web cannot use threads");
        }
        const r = await ort.evaluate(
          ([url, rows, it]) => window.benchOrt(url, rows, 6, 150, it),
          [`${server.url}${entry.file}`, 2 * batch, iterations],
        );
        row[threads === 1 ? "ort_web" : "ort_web_threads"] = (r.iterations * batch) / r.ms * 1000;
        if (threads === 1) row.ortLoadMs = r.loadMs;
        await ort.close();
      }
    } finally {
      await browser.close();
    }
    console.error(JSON.stringify(row));
    results.push(row);
  }
} finally {
  await server.close();
}
console.log(JSON.stringify(results));
