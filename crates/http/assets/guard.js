// The Guardian editor of the dashboard's request-guard page: the fields start from the spec in
// force (or from the page's fragment: #mode=block&minSessions=5), and every change rewrites the
// YAML an operator applies with `kubectl apply -f` — the spec only, what was learned stays.
(function () {
  "use strict";
  var editor = document.getElementById("editor");
  if (!editor) { return; }
  var spec = {};
  try { spec = JSON.parse(editor.getAttribute("data-spec")) || {}; } catch (e) { spec = {}; }
  var control = spec.control || {};
  var f = function (id) { return document.getElementById("f-" + id); };
  f("mode").value = control.mode || "alert";
  f("learn").checked = control.learn !== false;
  f("learnAlerted").checked = control.learnAlerted === true;
  f("minSessions").value = control.minSessions || 3;
  f("minClients").value = control.minClients || 2;
  // Preset from the fragment (links from elsewhere: "switch this service to block").
  var hash = (window.location.hash || "").replace(/^#/, "");
  hash.split("&").forEach(function (kv) {
    var p = kv.split("=");
    if (p.length !== 2) { return; }
    var k = decodeURIComponent(p[0]), v = decodeURIComponent(p[1]);
    if (k === "mode" && ["learn", "alert", "block"].indexOf(v) >= 0) { f("mode").value = v; }
    if ((k === "minSessions" || k === "minClients") && /^[1-9][0-9]{0,5}$/.test(v)) { f(k).value = v; }
    if ((k === "learn" || k === "learnAlerted") && (v === "true" || v === "false")) { f(k).checked = v === "true"; }
  });
  var render = function () {
    var sessions = Math.max(1, parseInt(f("minSessions").value, 10) || 1);
    var clients = Math.max(1, parseInt(f("minClients").value, 10) || 1);
    var next = {
      mode: f("mode").value,
      learn: f("learn").checked,
      learnAlerted: f("learnAlerted").checked,
      minSessions: sessions,
      minClients: clients
    };
    var y = "apiVersion: rampart.dev/v1alpha1\nkind: Guardian\nmetadata:\n" +
      "  name: " + JSON.stringify(editor.getAttribute("data-name")) + "\n" +
      "  namespace: " + JSON.stringify(editor.getAttribute("data-namespace")) + "\n" +
      "spec:\n  control: " + JSON.stringify(next) + "\n";
    if (spec.configured) { y += "  configured: " + JSON.stringify(spec.configured) + "\n"; }
    // textContent: never parsed as HTML.
    document.getElementById("guardian-yaml").textContent = y;
    editor.setAttribute("data-edited-mode", next.mode);
    editor.setAttribute("data-warning", clients > sessions ? "more clients than sessions: the webhook refuses it" : "");
  };
  ["mode", "learn", "learnAlerted", "minSessions", "minClients"].forEach(function (id) {
    f(id).addEventListener("change", render);
    f(id).addEventListener("input", render);
  });
  render();
}());
