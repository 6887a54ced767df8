// What the browser test and the benchmark share: a static server on the loopback
// interface and Debian's Chromium, headless, with the flags this closed network needs.
import { createServer } from "node:http";
import { createReadStream, mkdtempSync, rmSync, statSync, statfsSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
  ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm",
  ".onnx": "application/octet-stream", ".png": "image/png",
};

/// Serves `routes` ({ "/": dir, "/ort/": dir }) on 127.0.0.1; resolves to { url, close }.
/// `headers` go on every response (the benchmark sends cross-origin isolation so that
/// onnxruntime-web may use threads).
export function serve(routes, headers = {}) {
  const prefixes = Object.keys(routes).sort((a, b) => b.length - a.length);
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://localhost");
    const prefix = prefixes.find((p) => url.pathname.startsWith(p));
    let rel = decodeURIComponent(url.pathname.slice(prefix.length));
    if (rel === "" || rel.endsWith("/")) rel += "index.html";
    const root = path.resolve(routes[prefix]);
    const file = path.resolve(root, rel);
    if (!file.startsWith(root + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[path.extname(file)] || "application/octet-stream",
      "content-length": statSync(file).size,
      "cache-control": "no-store",
      ...headers,
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

export const CHROMIUM_FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

/// Where the throwaway profile goes. Chromium refuses Cache Storage writes when the
/// profile's disk is nearly full, whatever its size (a CI disk after a cold build has
/// been seen at 99 %), which would make the offline check measure the disk, not the page.
/// A RAM disk with room keeps it about the page; the temporary folder otherwise.
function profileParent() {
  for (const dir of ["/dev/shm"]) {
    try {
      const fs = statfsSync(dir);
      if (fs.bavail * fs.bsize >= 2 ** 30) return dir;
    } catch {
      // not there: fall through
    }
  }
  return tmpdir();
}

/// Chromium in a fresh profile (passed as --user-data-dir by playwright), removed by close().
export async function launch() {
  const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
  if (!existsSync(executablePath)) {
    throw new Error(`${executablePath} not found: install Debian's chromium (scripts/setup.sh does)`);
  }
  const profile = mkdtempSync(path.join(profileParent(), "prixfixe-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath, headless: true, args: CHROMIUM_FLAGS, acceptDownloads: true,
    viewport: { width: 1100, height: 900 },
  });
  return {
    context,
    profile,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/// Reads `--name value` pairs.
export function args(argv = process.argv.slice(2)) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith("--") || argv[i + 1] === undefined) throw new Error(`bad argument ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

/// Opens the page for `model` (a published model's name) and waits until it is loaded.
export async function openPage(context, siteUrl, model, query = "") {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  await page.goto(`${siteUrl}index.html?model=${encodeURIComponent(model)}${query}`);
  await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 300_000 });
  if ((await page.getAttribute("body", "data-state")) === "error") {
    throw new Error(`${model}: the page could not load it: ${await page.textContent("#error")} ${problems.join("; ")}`);
  }
  return { page, problems };
}

/// Scores the file `input` on an opened page; resolves to the final state ("done" or "error").
export async function scoreFile(page, input) {
  await page.setInputFiles("#input-file", input);
  await page.waitForSelector(`#input-text[data-file="${path.basename(input)}"]`);
  await page.click("#score-button");
  await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 600_000 });
  return page.getAttribute("body", "data-state");
}
