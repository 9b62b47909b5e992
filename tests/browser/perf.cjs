// The dashboard's speed in headless Chromium, read from the performance API: the first render
// (navigation's responseEnd → the page's "rampart:ready" mark: the graph drawn) and the
// interactions' measures the page leaves ("rampart:filter", "rampart:open-entry",
// "rampart:highlight", "rampart:what-if"). Prints medians and maxima over RUNS page loads.
// Not a test: numbers, for docs/benchmarks.md (scripts/bench-dashboard.sh runs it).
//
// Usage: node tests/browser/perf.cjs URL [RUNS]   (env: CHROMIUM, NODE_PATH with playwright-core)
"use strict";
const { chromium } = require("playwright-core");

const url = process.argv[2];
const runs = Number(process.argv[3] || 5);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox", "--disable-dev-shm-usage"] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const samples = { first_render: [], dom_ready: [], filter: [], open_entry: [], highlight: [], what_if: [] };
  let shape = null;
  for (let i = 0; i < runs; i++) {
    await page.goto(url);
    await page.waitForSelector("body[data-ready='1']", { timeout: 30000 });
    const load = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const ready = performance.getEntriesByName("rampart:ready")[0];
      return { first: ready.startTime - nav.responseEnd, dom: nav.domContentLoadedEventEnd - nav.responseEnd,
        html: nav.transferSize, entries: document.querySelectorAll("li.entry").length,
        chains: document.querySelector("[data-count=matching-chains]").textContent,
        nodes: document.body.dataset.graphNodes, edges: document.body.dataset.graphEdges };
    });
    samples.first_render.push(load.first);
    samples.dom_ready.push(load.dom);
    shape = load;
    // A namespace filter, an entry opened (its chains fetched and listed, its graph drawn),
    // a chain picked, the what-if toggled.
    const ns = await page.evaluate(() => document.querySelectorAll("#filter-namespace option")[1].value);
    await page.selectOption("#filter-namespace", ns);
    await page.waitForFunction(() => performance.getEntriesByName("rampart:filter").length > 0);
    await page.click("#filter-reset");
    await page.waitForFunction(() => performance.getEntriesByName("rampart:filter").length > 1);
    await page.locator("li.entry summary").first().click();
    await page.waitForFunction(() => performance.getEntriesByName("rampart:graph").length > 1);
    await page.locator("li.chain button.pick").first().click();
    await page.waitForFunction(() => performance.getEntriesByName("rampart:highlight").length > 0);
    await page.check("#what-if");
    await page.waitForFunction(() => document.body.dataset.whatIf === "on");
    const m = await page.evaluate(() => {
      const d = (n) => performance.getEntriesByName(n).map((e) => e.duration);
      // The entry's chains listed, then its graph drawn: both are the one interaction.
      const graphs = d("rampart:graph");
      return { filter: d("rampart:filter")[0], open_entry: d("rampart:open-entry")[0] + graphs[graphs.length - 1],
        highlight: d("rampart:highlight")[0], what_if: Math.max(...d("rampart:what-if").slice(-1)) };
    });
    for (const k of Object.keys(m)) samples[k].push(m[k]);
  }
  await browser.close();
  console.log(`${url}: ${shape.chains} chains, ${shape.entries} entries, first graph ${shape.nodes} vertices / ${shape.edges} edges, HTML ${(shape.html / 1024).toFixed(0)} KiB`);
  for (const [k, xs] of Object.entries(samples)) {
    console.log(`  ${k.padEnd(13)} median ${median(xs).toFixed(0).padStart(5)} ms   max ${Math.max(...xs).toFixed(0).padStart(5)} ms   (${runs} runs)`);
  }
})().catch((e) => { console.error(e); process.exit(1); });
