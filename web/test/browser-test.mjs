// The browser test's driver (run by tests/tests/browser.rs): scores each case's FASTA
// file on the built page in headless Chromium, saves the page's TSV download, the
// message a bad input gets, the page's timings and a screenshot into --out.
//   node browser-test.mjs --site DIR --cases cases.json --out DIR
// cases.json: { "score": [{ "model": "dream-cnn", "input": "x.fa" }], "bad": { "model", "input" },
//               "offline": { "model", "input" }, "refused": { "model", "input" } }
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { args, launch, openPage, scoreFile, serve } from "./harness.mjs";

const opt = args();
const cases = JSON.parse(readFileSync(opt.cases, "utf8"));
const server = await serve({ "/": opt.site });
const browser = await launch();
const report = { score: [] };
try {
  for (const c of cases.score) {
    const t0 = Date.now();
    const { page, problems } = await openPage(browser.context, server.url, c.model);
    const loadedMs = Date.now() - t0;
    const state = await scoreFile(page, c.input);
    if (state !== "done") throw new Error(`${c.model}: scoring failed: ${await page.textContent("#error")}`);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-button")]);
    const tsv = path.join(opt.out, `${c.model}.tsv`);
    await download.saveAs(tsv);
    const run = await page.evaluate(() => window.lastRun);
    report.score.push({ model: c.model, tsv, pageLoadMs: loadedMs, scored: run.scored, scoreMs: run.ms, problems });
    if (c === cases.score[cases.score.length - 1]) {
      await page.screenshot({ path: path.join(opt.out, "screenshot.png"), fullPage: true });
    }
    await page.close();
    console.log(`${c.model}: ${run.scored} sequences in ${(run.ms / 1000).toFixed(2)} s (page and model loaded in ${loadedMs} ms)`);
  }
  if (cases.bad) {
    const { page } = await openPage(browser.context, server.url, cases.bad.model);
    const state = await scoreFile(page, cases.bad.input);
    report.bad = { state, message: await page.textContent("#error"), visible: await page.isVisible("#error") };
    await page.screenshot({ path: path.join(opt.out, "bad-input.png") });
    await page.close();
    console.log(`bad input: ${state}: ${report.bad.message}`);
  }
  if (cases.offline) {
    // The service worker kept what the pages above fetched: with the network gone the
    // page still opens, loads the model and scores.
    await browser.context.setOffline(true);
    const { page } = await openPage(browser.context, server.url, cases.offline.model);
    const state = await scoreFile(page, cases.offline.input);
    const run = await page.evaluate(() => window.lastRun);
    // What the browser granted, so that a failure here can tell a full disk from a bug.
    const storage = await page.evaluate(() => navigator.storage.estimate()).catch((e) => String(e));
    report.offline = { state, scored: run ? run.scored : 0, error: await page.textContent("#error"), storage, profile: browser.profile };
    await page.close();
    await browser.context.setOffline(false);
    console.log(`offline: ${state}, ${report.offline.scored} sequences`);
  }
  if (cases.refused) {
    // Regression (CI, disk at 99 %): Chromium refused the service worker's cache writes,
    // the worker threw, and the page could not even fetch its model. In a fresh profile
    // whose service worker's every Cache.put is refused as a full disk refuses it, the
    // page must still load and score online, and say why it will not work offline.
    const fresh = await launch();
    try {
      // The first visit installs the service worker.
      const first = await openPage(fresh.context, server.url, cases.refused.model);
      await first.page.evaluate(() => navigator.serviceWorker.ready);
      await first.page.close();
      const [sw] = fresh.context.serviceWorkers();
      if (!sw) throw new Error("the page installed no service worker");
      await sw.evaluate(() => {
        Cache.prototype.put = async () => {
          throw new DOMException("the browser refused to store (simulated full disk)", "QuotaExceededError");
        };
      });
      // The second goes through it.
      const { page } = await openPage(fresh.context, server.url, cases.refused.model);
      const state = await scoreFile(page, cases.refused.input);
      const run = await page.evaluate(() => window.lastRun);
      report.refused = {
        state, scored: run ? run.scored : 0, error: await page.textContent("#error"),
        noteVisible: await page.isVisible("#offline-note"), note: await page.textContent("#offline-note"),
      };
      await page.close();
    } finally {
      await fresh.close();
    }
    console.log(`storage refused: ${report.refused.state}, ${report.refused.scored} sequences; note: ${report.refused.note}`);
  }
} finally {
  await browser.close();
  await server.close();
}
writeFileSync(path.join(opt.out, "report.json"), JSON.stringify(report, null, 1));
