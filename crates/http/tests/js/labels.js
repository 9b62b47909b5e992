// Loads assets/dashboard.js (path in argv[2]) as a module (it exports its pure helpers when
// `module` exists), turns an /api/graph answer whose names hold bidi and control characters
// into Cytoscape elements, and prints the labels and tooltips drawn as JSON.
"use strict";
const dashboard = require(process.argv[2]);
const evil = { kind: "Service", namespace: "app", name: "\u202egnp.exe" };
const graph = {
  nodes: [
    { id: "Service/app/\u202egnp.exe", kind: "Service", role: "entry", label: evil.name, full: "Service app/\u202egnp.exe" },
    { id: "Pod/app\u2066/web", kind: "Pod", role: "step", label: "web\u0085\n", full: "Pod app\u2066/web\u0085\n" },
  ],
  edges: [{ id: "e1", source: "Service/app/\u202egnp.exe", target: "Pod/app\u2066/web", kind: "routes-to\u001b[2J", chains: ["c1"], cut: "cut-1" }],
};
const out = [];
for (const e of dashboard.elementsOf(graph)) {
  out.push(e.data.label);
  if (e.data.full) out.push(e.data.full);
}
process.stdout.write(JSON.stringify(out));
