// Draws the attack paths of /findings as a graph. Every label is data handed to Cytoscape's
// canvas renderer, never HTML, so cluster-provided names cannot inject markup. Control and
// bidi characters in them are shown as markers (as the page's own text shows them), so that
// "\u202egnp.exe" does not read as "exe.png".
(function () {
  "use strict";
  // C0 controls, DEL, C1 controls, bidi marks, embeddings, overrides and isolates: the set of
  // rampart_report::is_unsafe_char.
  var UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
  function shown(s) {
    return String(s).replace(UNSAFE, function (c) {
      return "\u27e8U+" + ("000" + c.charCodeAt(0).toString(16).toUpperCase()).slice(-4) + "\u27e9";
    });
  }
  function ref(o) {
    return [o.kind || "", o.namespace || "", o.name || ""].join("/");
  }
  function label(o) {
    return shown((o.kind || "") + " " + (o.namespace ? o.namespace + "/" : "") + (o.name || ""));
  }
  // Approve buttons (present only when the dashboard is behind a token): the request carries
  // a header no other site's form can send, and the page reloads to show the new phase.
  Array.prototype.forEach.call(document.querySelectorAll("button.approve"), function (b) {
    b.addEventListener("click", function () {
      b.disabled = true;
      fetch("/approve", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Rampart-Approve": "1" },
        body: JSON.stringify({ namespace: b.dataset.namespace, name: b.dataset.name, uid: b.dataset.uid })
      }).then(function (r) {
        if (r.ok) { window.location.reload(); return; }
        return r.text().then(function (t) { b.textContent = "refused: " + t; });
      });
    });
  });
  fetch("/findings")
    .then(function (r) { return r.json(); })
    .then(function (f) {
      var nodes = {}, edges = {};
      function node(o, cls) {
        var id = ref(o);
        if (!nodes[id]) nodes[id] = { data: { id: id, label: label(o) }, classes: cls || "" };
        return id;
      }
      (f.chains || []).forEach(function (c) {
        var prev = node({ kind: "Internet", name: "internet" }, "internet");
        var entry = node(c.entry, "entry");
        edges[prev + ">" + entry] = { data: { id: prev + ">" + entry, source: prev, target: entry, label: "exposes" } };
        prev = entry;
        (c.steps || []).forEach(function (s) {
          var from = node(s.from);
          var to = node(s.to);
          var id = from + ">" + to + ":" + s.edge;
          edges[id] = { data: { id: id, source: from, target: to, label: shown(s.edge || "") } };
          prev = to;
        });
        nodes[ref(c.target.object || c.target)] && (nodes[ref(c.target.object || c.target)].classes = "jewel");
      });
      var elements = Object.keys(nodes).map(function (k) { return nodes[k]; })
        .concat(Object.keys(edges).map(function (k) { return edges[k]; }));
      var container = document.getElementById("graph");
      if (window.cytoscape && container) {
        window.cytoscape({
          container: container,
          elements: elements,
          layout: { name: "breadthfirst", directed: true, roots: ["Internet//internet"] },
          style: [
            { selector: "node", style: { label: "data(label)", "font-size": 9, "background-color": "#6b7b8c" } },
            { selector: "node.internet", style: { "background-color": "#b00" } },
            { selector: "node.entry", style: { "background-color": "#e68a00" } },
            { selector: "node.jewel", style: { "background-color": "#6a0dad" } },
            { selector: "edge", style: { label: "data(label)", "font-size": 7, "curve-style": "bezier", "target-arrow-shape": "triangle", width: 1 } }
          ]
        });
      }
      document.body.setAttribute("data-graph-nodes", String(Object.keys(nodes).length));
      document.body.setAttribute("data-graph-edges", String(Object.keys(edges).length));
    })
    .catch(function (e) {
      document.body.setAttribute("data-graph-error", String(e));
    });
  // Observed connections (NetworkPolicies from flows): workloads and external peers as nodes,
  // one edge per pair with its ports, drawn beside the suggested policies.
  var flowsBox = document.getElementById("flows-graph");
  if (flowsBox) {
    fetch("/netpol")
      .then(function (r) { return r.json(); })
      .then(function (p) {
        var fnodes = {}, fedges = {};
        function fnode(name) {
          if (!fnodes[name]) fnodes[name] = { data: { id: name, label: shown(String(name).replace(/\[[A-Za-z]+\]$/, "")) } };
          return name;
        }
        (p.connections || []).slice(0, 2000).forEach(function (c) {
          var a = fnode(c.from), b = fnode(c.to), id = a + ">" + b;
          if (fedges[id]) fedges[id].data.label += ", " + shown(c.port);
          else fedges[id] = { data: { id: id, source: a, target: b, label: shown(c.port) } };
        });
        if (window.cytoscape) {
          window.cytoscape({
            container: flowsBox,
            elements: Object.keys(fnodes).map(function (k) { return fnodes[k]; })
              .concat(Object.keys(fedges).map(function (k) { return fedges[k]; })),
            layout: { name: "cose", animate: false, randomize: false },
            style: [
              { selector: "node", style: { label: "data(label)", "font-size": 9, "background-color": "#2a6f97" } },
              { selector: "edge", style: { label: "data(label)", "font-size": 7, "curve-style": "bezier", "target-arrow-shape": "triangle", width: 1 } }
            ]
          });
        }
        document.body.setAttribute("data-flows-nodes", String(Object.keys(fnodes).length));
        document.body.setAttribute("data-flows-edges", String(Object.keys(fedges).length));
      })
      .catch(function (e) {
        document.body.setAttribute("data-flows-error", String(e));
      });
  }
})();
