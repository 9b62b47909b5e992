// Runs assets/dashboard.js (path in argv[2]) against a stub DOM, fetch and Cytoscape, on
// findings whose names hold bidi and control characters; prints the graph labels as JSON.
"use strict";
const fs = require("fs");
const src = fs.readFileSync(process.argv[2], "utf8");
let graph = null;
globalThis.window = { cytoscape: (options) => { graph = options; } };
globalThis.document = { getElementById: (id) => (id === "graph" ? {} : null), querySelectorAll: () => [], body: { setAttribute: () => {} } };
const evil = { kind: "Service", namespace: "app", name: "\u202egnp.exe" };
const findings = {
  chains: [{
    entry: evil,
    target: { kind: "Secret", namespace: "app", name: "db\u001b[2J" },
    steps: [{ edge: "routes-to", from: evil, to: { kind: "Pod", namespace: "app\u2066", name: "web\u0085\n" } }],
  }],
};
globalThis.fetch = () => Promise.resolve({ json: () => Promise.resolve(findings) });
new Function(src)();
setTimeout(() => {
  process.stdout.write(JSON.stringify(graph.elements.map((e) => e.data.label)));
}, 50);
