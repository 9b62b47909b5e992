// The dashboard's script. The page arrives with the overview and the entries rendered; this
// fetches what is opened (an entry's chains: /api/chains, the graph: /api/graph, filters:
// /api/entries) and draws the graph with Cytoscape. Every cluster-provided string becomes DOM
// text (textContent) or a canvas label, never HTML, so names cannot inject markup; control and
// bidi characters are shown as markers (as the server's HTML shows them), so that
// "\u202egnp.exe" does not read as "exe.png". Interactions leave performance measures
// ("rampart:filter", "rampart:open-entry", "rampart:highlight", "rampart:what-if") and the
// first graph the mark "rampart:ready": the browser suite reads them.
(function () {
  "use strict";
  // C0 controls, DEL, C1 controls, bidi marks, embeddings, overrides and isolates: the set of
  // rampart_report::is_unsafe_char.
  var UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
  function shown(s) {
    return String(s == null ? "" : s).replace(UNSAFE, function (c) {
      return "\u27e8U+" + ("000" + c.charCodeAt(0).toString(16).toUpperCase()).slice(-4) + "\u27e9";
    });
  }
  // Cytoscape elements of an /api/graph answer: short labels drawn, full names kept for the
  // tooltip, the cut's edges marked with scissors.
  function elementsOf(g) {
    var nodes = (g.nodes || []).map(function (n) {
      return {
        data: { id: n.id, label: shown(n.label), full: shown(n.full), kind: n.kind },
        classes: n.role
      };
    });
    var edges = (g.edges || []).map(function (e) {
      return {
        data: {
          id: e.id, source: e.source, target: e.target, kind: e.kind, chains: e.chains || [],
          cut: e.cut || "", label: (e.cut ? "\u2702 " : "") + shown(e.kind)
        },
        classes: e.cut ? "cut" : ""
      };
    });
    return nodes.concat(edges);
  }
  if (typeof module === "object" && module.exports) {
    module.exports = { shown: shown, elementsOf: elementsOf };
    return;
  }

  var body = document.body;
  function $(sel, root) { return (root || document).querySelector(sel); }
  function all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = shown(text);
    return e;
  }
  function name(o) {
    o = o || {};
    return (o.kind || "") + " " + (o.namespace ? o.namespace + "/" : "") + (o.name || "");
  }
  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error(r.status + " " + t); });
      return r.json();
    });
  }
  function measure(label, start) {
    try { performance.measure(label, { start: start }); } catch (e) { /* old browsers */ }
  }
  function fail(where, e) {
    body.setAttribute("data-" + where + "-error", String(e));
  }

  // ---- Filters ----
  var form = $("#filters");
  var FIELDS = ["namespace", "target", "confidence", "edge", "q"];
  function query() {
    var p = new URLSearchParams();
    if (!form) return p;
    FIELDS.forEach(function (n) {
      var v = form.elements[n] && form.elements[n].value.trim();
      if (v) p.set(n, v);
    });
    return p;
  }
  var filterSeq = 0;
  function applyFilter() {
    var t0 = performance.now();
    var q = query();
    var seq = ++filterSeq;
    var qs = q.toString();
    history.replaceState(null, "", (qs ? "?" + qs : location.pathname) + "#explorer");
    return getJSON("/api/entries" + (qs ? "?" + qs : "")).then(function (m) {
      if (seq !== filterSeq) return; // a later filter won
      renderEntries(m);
      measure("rampart:filter", t0);
    }).catch(function (e) { fail("filter", e); });
  }
  if (form) {
    form.addEventListener("submit", function (e) { e.preventDefault(); applyFilter(); });
    all("select", form).forEach(function (s) { s.addEventListener("change", applyFilter); });
    var typing = null;
    form.elements.q.addEventListener("input", function () {
      clearTimeout(typing);
      typing = setTimeout(applyFilter, 150);
    });
    form.addEventListener("reset", function () { setTimeout(applyFilter, 0); });
  }
  // The overview's numbers open the explorer filtered.
  all("a.filter-link").forEach(function (a) {
    a.addEventListener("click", function (e) {
      if (!form) return;
      e.preventDefault();
      var p = new URLSearchParams(a.getAttribute("data-filter") || "");
      FIELDS.forEach(function (n) { form.elements[n].value = p.get(n) || ""; });
      applyFilter().then(function () {
        var x = $("#explorer");
        if (x) x.scrollIntoView();
        var first = $("#entries summary");
        if (first) first.focus();
      });
    });
  });

  function entryItem(e) {
    var li = el("li", "entry");
    li.setAttribute("data-key", encodeURIComponent(e.key));
    var d = el("details");
    var s = el("summary");
    s.appendChild(el("span", "entry-name", e.namespace ? e.kind + " " + e.namespace + "/" + e.name : e.kind + " " + e.name));
    s.appendChild(document.createTextNode(" "));
    s.appendChild(el("span", "endpoint", e.endpoint + " " + e.detail));
    s.appendChild(document.createTextNode(" "));
    var count = el("span", "count", e.chains + (e.chains === 1 ? " chain" : " chains"));
    count.setAttribute("data-chains", String(e.chains));
    s.appendChild(count);
    s.appendChild(document.createTextNode(", nearest " + e.nearest + " steps \u00b7 "));
    s.appendChild(el("span", "targets", Object.keys(e.targets || {}).map(function (k) { return k + " " + e.targets[k]; }).join(", ")));
    if (e.caption) {
      var c = el("span", "caption", e.caption.verdict.replace(/_/g, " ") + " (" + Number(e.caption.confidence).toFixed(2) + ") \u2014 " + e.caption.reason);
      c.setAttribute("data-verdict", e.caption.verdict);
      s.appendChild(c);
    }
    d.appendChild(s);
    if (e.file) {
      var w = el("p", "where", "written in ");
      var code = el("code", null, e.file + (e.line ? ":" + e.line : ""));
      if (sourceUrl) {
        var a = el("a", "source");
        a.href = sourceLink(e.file, e.line);
        a.appendChild(code);
        w.appendChild(a);
      } else {
        w.appendChild(code);
      }
      d.appendChild(w);
    }
    var ol = el("ol", "chains");
    ol.setAttribute("aria-live", "polite");
    d.appendChild(ol);
    li.appendChild(d);
    return li;
  }
  function renderEntries(m) {
    var ul = $("#entries");
    if (!ul) return;
    var items = m.entries.map(entryItem);
    ul.replaceChildren.apply(ul, items);
    var c = $("[data-count=matching-chains]"), n = $("[data-count=matching-entries]");
    if (c) c.textContent = String(m.chains);
    if (n) n.textContent = String(m.entries.length);
  }

  // ---- An entry's chains, fetched when it is opened ----
  // --source-url: the proof's file:line as links (the template is http(s), checked by the
  // server; the path is encoded here as the server encodes the entries').
  var sourceUrl = body.getAttribute("data-source-url");
  function sourceLink(file, line) {
    var p = String(file).replace(/^\.\//, "").split("/").map(encodeURIComponent).join("/");
    return sourceUrl.split("{file}").join(p).split("{line}").join(line ? String(line) : "");
  }
  function evidenceItem(ev) {
    var li = el("li", null, name(ev.object) + " \u00b7 " + ev.field);
    if (ev.file) {
      var at = ev.file + (ev.line ? ":" + ev.line : "");
      li.appendChild(document.createTextNode(" ("));
      if (sourceUrl) {
        var a = el("a", "source", at);
        a.href = sourceLink(ev.file, ev.line);
        li.appendChild(a);
      } else {
        li.appendChild(el("span", null, at));
      }
      li.appendChild(document.createTextNode(")"));
    }
    return li;
  }
  function chainItem(c) {
    var li = el("li", "chain");
    li.setAttribute("data-id", c.id);
    li.setAttribute("data-entry", c.entry_key);
    var head = el("div", "chain-head");
    var pick = el("button", "pick", "show in graph");
    pick.type = "button";
    pick.setAttribute("aria-label", "show in graph: " + c.id);
    head.appendChild(pick);
    head.appendChild(document.createTextNode(" "));
    head.appendChild(el("span", "confidence", "[" + c.confidence + "]"));
    head.appendChild(document.createTextNode(" \u2192 "));
    head.appendChild(el("strong", "target", c.target.kind + " " + (c.target.namespace ? c.target.namespace + "/" : "") + c.target.name));
    if (c.target.technique) {
      var t = el("abbr", "technique", c.target.technique.id);
      t.title = shown(c.target.technique.name);
      head.appendChild(document.createTextNode(" "));
      head.appendChild(t);
    }
    li.appendChild(head);
    var steps = el("ol", "steps");
    if (c.entry.cut) {
      var x = el("li", "step exposure");
      x.appendChild(el("span", "edge", "exposes"));
      x.appendChild(document.createTextNode(" \u2192 " + shown(name(c.entry)) + " "));
      x.appendChild(cutMark(c.entry.cut));
      steps.appendChild(x);
    }
    (c.steps || []).forEach(function (s) {
      var st = el("li", "step");
      st.appendChild(el("span", "edge", s.edge));
      st.appendChild(document.createTextNode(" \u2192 "));
      st.appendChild(el("span", "obj", name(s.to)));
      if (s.ports) st.appendChild(el("span", "ports", " (" + s.ports + ")"));
      if (s.cut) { st.appendChild(document.createTextNode(" ")); st.appendChild(cutMark(s.cut)); }
      if (s.evidence && s.evidence.length) {
        var ev = el("ul", "proof");
        s.evidence.forEach(function (e) { ev.appendChild(evidenceItem(e)); });
        st.appendChild(ev);
      }
      steps.appendChild(st);
    });
    li.appendChild(steps);
    if (c.cheapest_cut) {
      var k = c.cheapest_cut;
      li.appendChild(el("p", "cheapest", "cheapest single cut: " + k.edge + " " + name(k.from) + " \u2192 " + name(k.to) + " (cost " + k.cost + ")"));
    }
    (c.evidence || []).forEach(function (e) {
      var line = e.behaviour + " by " + e.subject + " at " + e.at + ": " + e.summary;
      if (e.candidates && e.candidates.length) line += " (one of: " + e.candidates.join(", ") + ")";
      li.appendChild(el("p", "evidence", line));
    });
    if (c.judgement) {
      var j = c.judgement;
      li.appendChild(el("p", "judgement", "model: " + (j.error ? "not judged: " + j.error :
        j.verdict.replace(/_/g, " ") + " (" + Number(j.confidence).toFixed(2) + ") \u2014 " + j.reason)));
    }
    if (c.broken_by && c.broken_by.length) li.appendChild(el("p", "broken-by", "broken by " + c.broken_by.join(", ")));
    pick.addEventListener("click", function () { highlight(c.id, li.getAttribute("data-entry")); });
    return li;
  }
  function cutMark(id) {
    var a = el("a", "cut-mark", "\u2702 " + id);
    a.href = "#" + encodeURIComponent(id);
    a.title = "a change of the minimal cut falls here";
    return a;
  }
  document.addEventListener("toggle", function (ev) {
    var d = ev.target;
    if (!d || d.tagName !== "DETAILS" || !d.open) return;
    var li = d.closest("li.entry");
    var ol = $("ol.chains", d);
    if (!li || !ol || ol.getAttribute("data-loaded")) return;
    var t0 = performance.now();
    var key = decodeURIComponent(li.getAttribute("data-key"));
    var q = query();
    q.set("entry", key);
    ol.setAttribute("aria-busy", "true");
    getJSON("/api/chains?" + q.toString()).then(function (r) {
      ol.replaceChildren.apply(ol, r.chains.map(chainItem));
      if (r.omitted) ol.appendChild(el("li", "omitted", r.omitted + " more chains: narrow the filter"));
      ol.setAttribute("data-loaded", "1");
      ol.removeAttribute("aria-busy");
      measure("rampart:open-entry", t0);
      return drawGraph([key]);
    }).catch(function (e) { fail("chains", e); });
  }, true);

  // ---- The graph ----
  var box = $("#graph");
  var cy = null;
  var drawn = null; // the last /api/graph answer
  var picked = null;
  var STYLE = [
    { selector: "node", style: {
      label: "data(label)", "font-size": 12, "text-valign": "bottom", "text-margin-y": 3,
      "background-color": "#607d8b", width: 22, height: 22, color: "#1b1b1b",
      "text-background-color": "#ffffff", "text-background-opacity": 0.8, "text-background-padding": 1,
      "min-zoomed-font-size": 7, "text-wrap": "ellipsis", "text-max-width": 96 } },
    { selector: "node.internet", style: { "background-color": "#b71c1c", shape: "diamond", width: 30, height: 30 } },
    { selector: "node.entry", style: { "background-color": "#e65100", shape: "round-rectangle" } },
    { selector: "node.target", style: { "background-color": "#6a1b9a", shape: "star", width: 28, height: 28 } },
    { selector: "edge", style: {
      label: "data(label)", "font-size": 10, "curve-style": "bezier", "target-arrow-shape": "triangle",
      width: 1.5, "line-color": "#90a4ae", "target-arrow-color": "#90a4ae", color: "#37474f",
      "text-rotation": "autorotate", "text-background-color": "#ffffff", "text-background-opacity": 0.85,
      "min-zoomed-font-size": 8 } },
    { selector: "edge.cut", style: {
      "line-color": "#d50000", "target-arrow-color": "#d50000", "line-style": "dashed", width: 4,
      color: "#b71c1c", "font-weight": "bold", "font-size": 12 } },
    { selector: ".faded", style: { opacity: 0.2 } },
    { selector: "edge.hl", style: { "line-color": "#0d47a1", "target-arrow-color": "#0d47a1", width: 5, opacity: 1 } },
    { selector: "edge.hl.cut", style: { "line-color": "#d50000", "target-arrow-color": "#d50000" } },
    { selector: "node.hl", style: { "border-width": 3, "border-color": "#0d47a1", opacity: 1 } },
    { selector: ".broken", style: { "line-color": "#cfd8dc", "target-arrow-color": "#cfd8dc", "background-color": "#cfd8dc", opacity: 0.35 } }
  ];
  var drawSeq = 0;
  function drawGraph(entries) {
    var t0 = performance.now();
    var seq = ++drawSeq;
    var qs = entries.map(function (k) { return "entry=" + encodeURIComponent(k); }).join("&");
    return getJSON("/api/graph" + (qs ? "?" + qs : "")).then(function (g) {
      if (seq !== drawSeq) return;
      drawn = g;
      picked = null;
      if (window.cytoscape && box) {
        var layout = { name: "breadthfirst", directed: true, roots: ["Internet//internet"], spacingFactor: 1.1, animate: false };
        if (cy) {
          // One instance for the page: replacing its elements costs far less than a new one.
          cy.batch(function () {
            cy.elements().remove();
            cy.add(elementsOf(g));
          });
          cy.layout(layout).run();
        } else {
          cy = window.cytoscape({ container: box, elements: elementsOf(g), layout: layout, style: STYLE, minZoom: 0.2, maxZoom: 3 });
          var tip = $("#graph-tip");
          cy.on("mouseover tap", "node", function (e) { if (tip) tip.textContent = e.target.data("full"); });
          cy.on("mouseover tap", "edge", function (e) {
            var d = e.target.data();
            if (tip) tip.textContent = d.kind + ": " + cy.getElementById(d.source).data("full") + " \u2192 " +
              cy.getElementById(d.target).data("full") + (d.cut ? " \u2014 \u2702 " + d.cut : "") +
              " (" + d.chains.length + (d.chains.length === 1 ? " chain)" : " chains)");
          });
        }
        // Readable at the default zoom: a small graph is never drawn smaller than life.
        if (cy.zoom() < 1 && g.nodes.length < 40) { cy.zoom(1); cy.center(); }
      }
      var cuts = g.edges.filter(function (e) { return e.cut; }).length;
      body.setAttribute("data-graph-nodes", String(g.nodes.length));
      body.setAttribute("data-graph-edges", String(g.edges.length));
      body.setAttribute("data-cut-edges", String(cuts));
      body.setAttribute("data-graph-entries", g.entries.join("\n"));
      var cap = $("#graph-caption");
      if (cap) {
        cap.textContent = shown((entries.length ? "The chains of " + g.entries.join(", ") :
          "The chains of the " + g.entries.length + " nearest entries") +
          ": " + g.nodes.length + " vertices, " + g.edges.length + " relations, " + cuts + " cut by the minimal cut" +
          (g.omitted ? "; " + g.omitted + " more entries not drawn (open one to draw it)." : "."));
      }
      whatIf();
      measure("rampart:graph", t0);
    }).catch(function (e) { fail("graph", e); });
  }
  function highlight(id, entry) {
    var t0 = performance.now();
    var ready = drawn && drawn.broken_by && Object.prototype.hasOwnProperty.call(drawn.broken_by, id)
      ? Promise.resolve() : drawGraph([entry]);
    return ready.then(function () {
      picked = id;
      var path = [];
      if (cy) {
        cy.batch(function () {
          cy.elements().removeClass("hl").addClass("faded");
          cy.edges().forEach(function (e) {
            if (e.data("chains").indexOf(id) >= 0) {
              path.push(e.id());
              e.removeClass("faded").addClass("hl");
              e.source().removeClass("faded").addClass("hl");
              e.target().removeClass("faded").addClass("hl");
            }
          });
        });
      }
      body.setAttribute("data-highlighted-chain", id);
      body.setAttribute("data-highlighted-edges", String(path.length));
      body.setAttribute("data-highlighted-path", path.join("\n"));
      all("li.chain.picked").forEach(function (x) { x.classList.remove("picked"); });
      all("li.chain").forEach(function (x) { if (x.getAttribute("data-id") === id) x.classList.add("picked"); });
      var g = $("#graph-view");
      if (g && g.scrollIntoView) g.scrollIntoView({ block: "nearest" });
      measure("rampart:highlight", t0);
    });
  }
  // What if: greys out every chain a ticked change of the cut breaks.
  var toggle = $("#what-if");
  function whatIf() {
    var t0 = performance.now();
    var on = toggle && toggle.checked;
    var ticked = {};
    all("input.cut-toggle").forEach(function (c) { if (c.checked) ticked[c.getAttribute("data-cut")] = true; });
    var broken = {}, nb = 0;
    if (on && drawn) {
      Object.keys(drawn.broken_by).forEach(function (chain) {
        if (drawn.broken_by[chain].some(function (c) { return ticked[c]; })) { broken[chain] = true; nb++; }
      });
    }
    var greyed = 0;
    if (cy) {
      cy.batch(function () {
        cy.elements().removeClass("broken");
        if (!on) return;
        cy.edges().forEach(function (e) {
          var cs = e.data("chains");
          if (cs.length && cs.every(function (c) { return broken[c]; })) { e.addClass("broken"); greyed++; }
        });
        cy.nodes().forEach(function (n) {
          var es = n.connectedEdges();
          if (!n.hasClass("internet") && es.length && es.every(function (e) { return e.hasClass("broken"); })) n.addClass("broken");
        });
      });
    }
    body.setAttribute("data-what-if", on ? "on" : "off");
    body.setAttribute("data-broken-chains", String(nb));
    body.setAttribute("data-greyed-edges", String(greyed));
    all("li.chain").forEach(function (li) { li.classList.toggle("broken", !!broken[li.getAttribute("data-id")]); });
    measure("rampart:what-if", t0);
  }
  if (toggle) toggle.addEventListener("change", whatIf);
  all("input.cut-toggle").forEach(function (c) { c.addEventListener("change", whatIf); });
  var nearest = $("#graph-nearest");
  if (nearest) nearest.addEventListener("click", function () { drawGraph([]); });
  var fit = $("#graph-fit");
  if (fit) fit.addEventListener("click", function () { if (cy) cy.fit(undefined, 20); });

  // The ledger's ages, from the browser's clock ("applied 2026-… (3 h 5 min ago)").
  all("time[data-age]").forEach(function (t) {
    var at = Date.parse(t.getAttribute("datetime"));
    if (isNaN(at)) return;
    var s = Math.max(0, Math.round((Date.now() - at) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    t.appendChild(document.createTextNode(" (" + (h ? h + " h " : "") + m + " min ago)"));
  });

  // Approve buttons (present only when the dashboard is behind a token): the request carries
  // a header no other site's form can send, and the page reloads to show the new phase.
  all("button.approve").forEach(function (b) {
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

  if (box) {
    drawGraph([]).then(function () {
      performance.mark("rampart:ready");
      body.setAttribute("data-ready", "1");
    });
  }

  // Observed connections (NetworkPolicies from flows): workloads and external peers as nodes,
  // one edge per pair with its ports, drawn beside the suggested policies.
  var flowsBox = $("#flows-graph");
  if (flowsBox) {
    getJSON("/netpol").then(function (p) {
      var fnodes = {}, fedges = {};
      function fnode(n) {
        if (!fnodes[n]) fnodes[n] = { data: { id: n, label: shown(String(n).replace(/\[[A-Za-z]+\]$/, "")) } };
        return n;
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
            { selector: "node", style: { label: "data(label)", "font-size": 11, "background-color": "#2a6f97" } },
            { selector: "edge", style: { label: "data(label)", "font-size": 9, "curve-style": "bezier", "target-arrow-shape": "triangle", width: 1 } }
          ]
        });
      }
      body.setAttribute("data-flows-nodes", String(Object.keys(fnodes).length));
      body.setAttribute("data-flows-edges", String(Object.keys(fedges).length));
    }).catch(function (e) { fail("flows", e); });
  }
})();
