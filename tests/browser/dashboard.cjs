// The dashboard in a real browser: playwright-core drives Debian's Chromium (no browser
// download), axe-core checks accessibility. Starts `rampart dashboard` itself on the demo and
// on a cluster named with the CRS corpus's XSS payloads, and checks what a user sees:
//
//   * the overview's numbers equal /findings;
//   * filtering by namespace and target narrows the entries to exactly the matching chains;
//   * an overview number opens the explorer filtered;
//   * opening an entry lists its chains with their steps, evidence and the cut's marks;
//   * picking a chain highlights exactly its path in the graph; the cut's edges are marked;
//   * the what-if greys out exactly the chains the ticked changes break;
//   * keyboard alone opens an entry and picks a chain;
//   * no console errors; hostile names render as text; axe-core finds no serious or critical
//     violation;
//   * a screenshot of each view in $ARTIFACTS.
//
// Usage: node tests/browser/dashboard.cjs   (env: RAMPART, CHROMIUM, ARTIFACTS, NODE_PATH
// holding playwright-core and axe-core; scripts/browser-test.sh sets them).
"use strict";
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const root = path.resolve(__dirname, "../..");
const rampart = path.resolve(root, process.env.RAMPART || "target/release/rampart");
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const artifacts = path.resolve(process.env.ARTIFACTS || path.join(root, "ci-artifacts"));
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
fs.mkdirSync(artifacts, { recursive: true });

let failures = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}\n     ${String(e && e.stack || e).split("\n").join("\n     ")}`);
  }
}

/// Starts `rampart dashboard ARGS` on a free port; resolves to {url, stop}.
function dashboard(args) {
  return new Promise((resolve, reject) => {
    // From the repository's root: the page names the files as the README's commands do.
    const child = spawn(rampart, ["dashboard", ...args, "--addr", "127.0.0.1:0"], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    const timer = setTimeout(() => { child.kill(); reject(new Error("the dashboard did not start: " + err)); }, 60000);
    child.stderr.on("data", (d) => {
      err += d;
      const m = /(http:\/\/[0-9.:]+)\n/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], stop: () => child.kill() });
      }
    });
    child.on("exit", (code) => reject(new Error(`rampart dashboard exited ${code}: ${err}`)));
  });
}

/// Namespaces a chain passes through (the explorer's namespace filter).
function namespaces(c) {
  const ns = new Set();
  for (const o of [c.entry, c.target]) if (o && o.namespace) ns.add(o.namespace);
  for (const s of c.steps) for (const o of [s.from, s.to]) if (o.namespace) ns.add(o.namespace);
  return ns;
}
const key = (o) => `${o.kind || ""}/${o.namespace || ""}/${o.name || ""}`;
const entryKey = (e) => (e.detail ? `${key(e)} @ ${e.detail}` : key(e));
/// The graph's edge ids of a chain's path (the exposure, then each step).
function pathOf(c) {
  const ids = [`Internet//internet>${key(c.entry)}:exposes`];
  for (const s of c.steps) ids.push(`${key(s.from)}>${key(s.to)}:${s.edge}`);
  return ids;
}
const text = async (page, sel) => (await page.locator(sel).first().textContent()).trim();
const num = async (page, sel) => Number(await text(page, sel));
const body = (page, name) => page.evaluate((n) => document.body.getAttribute(n), name);

/// Console errors and uncaught exceptions of a page.
function watch(page) {
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  return errors;
}

async function axe(page, label) {
  // Evaluated over the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const words = bad.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.length}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")})`);
  assert.deepEqual(words, [], `axe-core on ${label}`);
  return r.violations.length;
}

async function demo(browser) {
  const SOURCE = "https://git.example.com/acme/cluster/blob/main/{file}#L{line}";
  const d = await dashboard(["examples/demo-cluster", "examples/guard", "--source-url", SOURCE]);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = watch(page);
  try {
    const findings = await (await page.request.get(d.url + "/findings")).json();
    const chains = findings.chains;
    await page.goto(d.url + "/");
    await page.waitForSelector("body[data-ready='1']");

    await check("overview numbers equal /findings", async () => {
      assert.equal(await num(page, "#card-chains .big a"), chains.length);
      assert.equal(await num(page, "[data-count=entries]"), findings.summary.entries_with_chains);
      assert.equal(await num(page, "[data-count=jewels]"), findings.summary.jewels_reachable);
      assert.equal(await num(page, "[data-count=cut]"), findings.cuts.length);
      assert.equal(await num(page, "[data-count=cut-cost]"), findings.summary.cut_cost);
      assert.equal(await num(page, "[data-count=cut-live]"), findings.cuts.filter((c) => c.action === "live").length);
      const targets = [...new Set(chains.map((c) => c.target.kind))];
      assert.ok(targets.length >= 3, "the demo reaches several kinds of target");
      for (const t of targets) {
        for (const conf of ["proven", "corroborated", "judged"]) {
          const want = chains.filter((c) => c.target.kind === t && c.confidence === conf).length;
          assert.equal(await num(page, `#by-target tr[data-target='${t}'] td[data-confidence='${conf}'] a`), want, `${t} ${conf}`);
        }
        assert.equal(await num(page, `#by-target tr[data-target='${t}'] td[data-confidence='all'] a`), findings.summary.by_target[t]);
      }
      assert.equal(await page.locator("li.entry").count(), findings.summary.entries_with_chains);
    });
    await page.locator("#overview").screenshot({ path: path.join(artifacts, "dashboard-overview.png") });

    await check("filtering by namespace, then target, narrows to exactly the matching chains", async () => {
      const all = await num(page, "[data-count=matching-chains]");
      assert.equal(all, chains.length);
      const ns = "monitoring";
      const inNs = chains.filter((c) => namespaces(c).has(ns));
      assert.ok(inNs.length > 0 && inNs.length < chains.length, "the demo has chains in and out of " + ns);
      await page.selectOption("#filter-namespace", ns);
      await page.waitForFunction((n) => document.querySelector("[data-count=matching-chains]").textContent === String(n), inNs.length);
      const entries = new Set(inNs.map((c) => entryKey(c.entry)));
      const shown = await page.locator("li.entry").evaluateAll((els) => els.map((e) => decodeURIComponent(e.getAttribute("data-key"))));
      assert.deepEqual(new Set(shown), entries);
      assert.match(page.url(), /namespace=monitoring/);
      const both = inNs.filter((c) => c.target.kind === "Secret");
      await page.selectOption("#filter-target", "Secret");
      await page.waitForFunction((n) => document.querySelector("[data-count=matching-chains]").textContent === String(n), both.length);
      const counts = await page.locator("li.entry .count").evaluateAll((els) => els.reduce((a, e) => a + Number(e.getAttribute("data-chains")), 0));
      assert.equal(counts, both.length, "each entry counts its matching chains");
      // An entry opened under the filter lists only the matching chains.
      await page.locator("li.entry summary").first().click();
      await page.waitForSelector("li.entry ol.chains[data-loaded]");
      const listed = await page.locator("li.entry details[open] li.chain").evaluateAll((els) => els.map((e) => e.getAttribute("data-id")));
      const wanted = new Set(both.map((c) => c.id));
      assert.ok(listed.length > 0 && listed.every((id) => wanted.has(id)), "only matching chains");
      await page.click("#filter-reset");
      await page.waitForFunction((n) => document.querySelector("[data-count=matching-chains]").textContent === String(n), chains.length);
    });

    await check("an overview number opens the explorer filtered", async () => {
      const nodes = chains.filter((c) => c.target.kind === "Node").length;
      await page.click("#by-target tr[data-target='Node'] td[data-confidence='all'] a");
      await page.waitForFunction((n) => document.querySelector("[data-count=matching-chains]").textContent === String(n), nodes);
      assert.equal(await page.inputValue("#filter-target"), "Node");
      await page.click("#filter-reset");
      await page.waitForFunction((n) => document.querySelector("[data-count=matching-chains]").textContent === String(n), chains.length);
    });

    const entry = page.locator("li.entry").first();
    const key0 = decodeURIComponent(await entry.getAttribute("data-key"));
    const ofEntry = chains.filter((c) => entryKey(c.entry) === key0);
    await check("opening an entry lists its chains with steps, evidence and the cut's marks", async () => {
      await entry.locator("summary").click();
      await entry.locator("ol.chains[data-loaded]").waitFor();
      const ids = await entry.locator("li.chain").evaluateAll((els) => els.map((e) => e.getAttribute("data-id")));
      assert.deepEqual(new Set(ids), new Set(ofEntry.map((c) => c.id)));
      const first = chains.find((c) => c.id === ids[0]);
      const li = entry.locator(`li.chain[data-id='${ids[0]}']`);
      const steps = first.steps.length + (first.entry.cut ? 1 : 0);
      assert.equal(await li.locator("ol.steps > li").count(), steps);
      const marks = first.steps.filter((s) => s.cut).length + (first.entry.cut ? 1 : 0);
      assert.equal(await li.locator(".cut-mark").count(), marks);
      assert.ok(marks > 0, "the demo's chains cross the cut");
      const proofs = first.steps.reduce((a, s) => a + s.evidence.length, 0);
      assert.equal(await li.locator(".proof > li").count(), proofs);
      // --source-url: the entry's and the proof's file:line are links to the repository.
      const withFiles = ofEntry.find((c) => c.steps.some((s) => s.evidence.some((e) => e.file)));
      assert.ok(withFiles, "the demo's proof names files");
      const filed = withFiles.steps.flatMap((s) => s.evidence).filter((e) => e.file);
      const hrefs = await entry.locator(`li.chain[data-id='${withFiles.id}'] .proof a.source`)
        .evaluateAll((els) => els.map((a) => a.getAttribute("href")));
      assert.deepEqual(hrefs, filed.map((e) => SOURCE.replace("{file}", e.file).replace("{line}", e.line ? String(e.line) : "")));
      assert.equal(await entry.locator(".where a.source").getAttribute("href"),
        SOURCE.replace("{file}", first.entry.file).replace("{line}", String(first.entry.line)));
      if (first.cheapest_cut) assert.match(await li.locator(".cheapest").textContent(), /cheapest single cut: /);
      // The graph now draws this entry's chains.
      await page.waitForFunction((k) => document.body.getAttribute("data-graph-entries") === k, key0);
    });
    await page.locator("#explorer").screenshot({ path: path.join(artifacts, "dashboard-explorer.png") });

    const graph = await (await page.request.get(d.url + "/api/graph?entry=" + encodeURIComponent(key0))).json();
    await check("picking a chain highlights exactly its path; the cut's edges are marked", async () => {
      const c = ofEntry[ofEntry.length - 1];
      await entry.locator(`li.chain[data-id='${c.id}'] button.pick`).click();
      await page.waitForFunction((id) => document.body.getAttribute("data-highlighted-chain") === id, c.id);
      const hl = (await body(page, "data-highlighted-path")).split("\n");
      assert.deepEqual(new Set(hl), new Set(pathOf(c)));
      const cutEdges = graph.edges.filter((e) => e.cut).length;
      assert.ok(cutEdges > 0);
      assert.equal(Number(await body(page, "data-cut-edges")), cutEdges);
      assert.equal(await entry.locator("li.chain.picked").count(), 1);
    });
    // The explorer beside the graph, a chain picked: what the README shows.
    await page.evaluate(() => document.getElementById("explorer").scrollIntoView());
    await page.screenshot({ path: path.join(artifacts, "dashboard-workspace.png") });

    await check("the what-if greys out exactly what the ticked changes break", async () => {
      const expect = (ticked) => {
        const broken = new Set(Object.keys(graph.broken_by).filter((id) => graph.broken_by[id].some((k) => ticked.has(k))));
        const greyed = graph.edges.filter((e) => e.chains.length && e.chains.every((id) => broken.has(id))).length;
        return { broken, greyed };
      };
      const cuts = new Set(findings.cuts.map((c) => c.id));
      await page.check("#what-if");
      let want = expect(cuts);
      await page.waitForFunction(() => document.body.getAttribute("data-what-if") === "on");
      assert.equal(Number(await body(page, "data-broken-chains")), want.broken.size);
      assert.equal(Number(await body(page, "data-greyed-edges")), want.greyed);
      assert.equal(want.broken.size, Object.keys(graph.broken_by).length, "the whole cut breaks every chain");
      assert.equal(await entry.locator("li.chain.broken").count(), ofEntry.length);
      // Untick the change that breaks the picked chain: it is no longer greyed.
      const c = ofEntry[ofEntry.length - 1];
      const mine = graph.broken_by[c.id][0];
      await page.uncheck(`input.cut-toggle[data-cut='${mine}']`);
      cuts.delete(mine);
      want = expect(cuts);
      assert.ok(want.broken.size < Object.keys(graph.broken_by).length);
      assert.equal(Number(await body(page, "data-broken-chains")), want.broken.size);
      assert.equal(Number(await body(page, "data-greyed-edges")), want.greyed);
      assert.equal(await entry.locator(`li.chain[data-id='${c.id}'].broken`).count(), want.broken.has(c.id) ? 1 : 0);
    });
    // The what-if over the nearest entries, one change of the cut left out.
    await page.click("#graph-nearest");
    await page.waitForFunction((k) => document.body.getAttribute("data-graph-entries") !== k, key0);
    await page.locator("#graph-view").screenshot({ path: path.join(artifacts, "dashboard-graph.png") });
    await page.uncheck("#what-if");
    for (const box of await page.locator("input.cut-toggle").all()) await box.check();

    await check("keyboard alone opens an entry and picks a chain", async () => {
      const second = page.locator("li.entry").nth(1);
      await second.locator("summary").focus();
      await page.keyboard.press("Enter");
      await second.locator("ol.chains[data-loaded]").waitFor();
      const id = await second.locator("li.chain").first().getAttribute("data-id");
      await second.locator("li.chain button.pick").first().focus();
      await page.keyboard.press("Enter");
      await page.waitForFunction((x) => document.body.getAttribute("data-highlighted-chain") === x, id);
    });

    await check("the mitigations view says what the action bar would do", async () => {
      const live = findings.cuts.filter((c) => c.action === "live").length;
      assert.equal(await page.locator("#verdicts li").count(), live);
      assert.equal(await page.locator("#verdicts li.would-apply").count(), live, "offline is shadow mode: every live cut would apply");
      assert.equal(await page.locator("#cut-table tr.cut-item").count(), findings.cuts.length);
    });
    await page.locator("#mitigations").screenshot({ path: path.join(artifacts, "dashboard-mitigations.png") });
    await page.screenshot({ path: path.join(artifacts, "dashboard.png"), fullPage: true });

    await check("axe-core: no serious or critical violations (demo, an entry open, a chain picked)", async () => {
      await axe(page, "the demo");
    });
    await check("no console errors on the demo", async () => {
      assert.deepEqual(errors, []);
    });

    // The JSON endpoints, as documented.
    await check("the JSON endpoints answer and refuse as documented", async () => {
      const get = async (p) => page.request.get(d.url + p);
      const s = await (await get("/api/summary")).json();
      assert.equal(s.schema, "rampart.dev/dashboard-summary/v1");
      assert.equal(s.chains, chains.length);
      assert.equal((await get("/api/chains")).status(), 400, "entry is required");
      assert.equal((await get("/api/chains?entry=Service/x/y")).status(), 404);
      assert.equal((await get("/api/entries?q=" + "x".repeat(300))).status(), 400);
      assert.equal((await get("/api/entries?bogus=1")).status(), 400);
      assert.equal((await get("/api/graph?nope=1")).status(), 400);
      const m = await (await get("/api/mitigations")).json();
      assert.ok(Array.isArray(m.ledger) && m.cut.changes === findings.cuts.length);
    });
  } finally {
    await page.close();
    d.stop();
  }
}

/// Object names taken from the CRS regression corpus's XSS cases (REQUEST-941): the first
/// payloads with markup, decoded, each cut to 100 characters.
function xssPayloads(n) {
  const tsv = fs.readFileSync(path.join(root, "tests/corpora/crs-regression/cases.tsv"), "utf8").split("\n");
  const out = [];
  for (const line of tsv) {
    const f = line.split("\t");
    if (f[1] !== "941") continue;
    const q = (f[8] || "").split("?")[1];
    if (!q) continue;
    for (const part of q.split("&")) {
      let v = part.slice(part.indexOf("=") + 1);
      try { v = decodeURIComponent(v.replace(/\+/g, " ")); } catch (e) { continue; }
      if (/<[a-z]/i.test(v) && !out.includes(v.slice(0, 100))) out.push(v.slice(0, 100));
    }
    if (out.length >= n) break;
  }
  return out;
}

async function hostile(browser) {
  const payloads = xssPayloads(6);
  assert.ok(payloads.length === 6, "the corpus has XSS payloads");
  // Each payload names an exposed Service and the privileged Deployment behind it (a chain to
  // a node), in a namespace that is markup too.
  const items = [];
  payloads.forEach((p, i) => {
    const ns = `ns${i}"><img src=x onerror="window.pwned=1">\u202e`;
    items.push({ apiVersion: "v1", kind: "Service", metadata: { name: p, namespace: ns },
      spec: { type: "LoadBalancer", selector: { app: `a${i}` }, ports: [{ port: 80, targetPort: 8080 }] } });
    items.push({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: `${p}-deploy`, namespace: ns },
      spec: { selector: { matchLabels: { app: `a${i}` } }, template: { metadata: { labels: { app: `a${i}` } },
        spec: { containers: [{ name: "c", image: "busybox", securityContext: { privileged: true }, ports: [{ containerPort: 8080 }] }] } } } });
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rampart-hostile-"));
  fs.writeFileSync(path.join(dir, "hostile.json"), JSON.stringify({ apiVersion: "v1", kind: "List", items }));
  const d = await dashboard([dir]);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = watch(page);
  try {
    await page.goto(d.url + "/");
    await page.waitForSelector("body[data-ready='1']");
    await check("hostile names from the CRS corpus render as text", async () => {
      const names = await page.locator("li.entry .entry-name").allTextContents();
      assert.equal(names.length, payloads.length);
      for (const p of payloads) assert.ok(names.some((n) => n.includes(p.replace(/[\u202e]/g, ""))), `shown as text: ${p}`);
      for (let i = 0; i < 3; i++) {
        await page.locator("li.entry summary").nth(i).click();
        await page.locator("li.entry").nth(i).locator("ol.chains[data-loaded]").waitFor();
      }
      await page.locator("li.chain button.pick").first().click();
      await page.waitForFunction(() => document.body.hasAttribute("data-highlighted-chain"));
      const injected = await page.evaluate(() => ({
        pwned: window.pwned === 1,
        title: document.title,
        elements: document.querySelectorAll("img, svg, iframe, object, embed, math").length,
        scripts: Array.from(document.scripts).map((s) => s.getAttribute("src")),
        markers: document.body.textContent.includes("\u27e8U+202E\u27e9"),
        bidi: document.body.textContent.includes("\u202e"),
      }));
      assert.deepEqual(injected, { pwned: false, title: "rampart", elements: 0,
        scripts: ["/assets/cytoscape.min.js", "/assets/dashboard.js"], markers: true, bidi: false });
      const label = await page.evaluate(() => document.getElementById("graph-caption").textContent);
      assert.ok(label.includes("<"), "the graph's caption names the markup as text");
    });
    await page.screenshot({ path: path.join(artifacts, "dashboard-hostile.png"), fullPage: true });
    await check("no console errors on the hostile cluster", async () => {
      assert.deepEqual(errors, []);
    });
  } finally {
    await page.close();
    d.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

(async () => {
  const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
  try {
    await demo(browser);
    await hostile(browser);
  } finally {
    await browser.close();
  }
  console.log(failures ? `browser suite: ${failures} failed` : `browser suite: ok (screenshots in ${artifacts})`);
  process.exit(failures ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
