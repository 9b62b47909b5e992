//! The dashboard router in-process: the headers that keep a browser from sniffing, framing,
//! caching or running anything the page did not ship.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use rampart_http::dashboard::{CONTENT_SECURITY_POLICY, DashboardState, router};
use tower::ServiceExt;

async fn get(path: &str) -> (StatusCode, HeaderMap) {
    let state = Arc::new(DashboardState::default());
    state.set_findings(br#"{"chains": []}"#.to_vec(), 1, 0);
    let resp = router(state)
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    (resp.status(), resp.headers().clone())
}

fn header<'h>(h: &'h HeaderMap, name: &str) -> &'h str {
    h.get(name)
        .unwrap_or_else(|| panic!("no {name} in {h:?}"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn every_response_is_nosniff_and_unframeable() {
    for path in [
        "/",
        "/findings",
        "/status",
        "/metrics",
        "/healthz",
        "/assets/dashboard.js",
        "/assets/dashboard.css",
        "/assets/cytoscape.min.js",
        "/no-such-page",
    ] {
        let (status, h) = get(path).await;
        assert_eq!(
            status == StatusCode::NOT_FOUND,
            path == "/no-such-page",
            "{path}: {status}"
        );
        assert_eq!(header(&h, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(
            header(&h, "content-security-policy"),
            CONTENT_SECURITY_POLICY,
            "{path}"
        );
        assert_eq!(header(&h, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&h, "referrer-policy"), "no-referrer", "{path}");
        assert_eq!(h.get_all("x-content-type-options").iter().count(), 1);
    }
}

#[tokio::test]
async fn the_page_policy_is_strict() {
    let (_, h) = get("/").await;
    let csp = header(&h, "content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ] {
        assert!(
            csp.split(';').any(|d| d.trim() == directive),
            "{directive} in {csp}"
        );
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert!(header(&h, "content-type").starts_with("text/html"));
}

#[tokio::test]
async fn live_data_is_never_cached_assets_are() {
    for path in ["/", "/findings", "/status", "/metrics"] {
        let (_, h) = get(path).await;
        assert_eq!(header(&h, "cache-control"), "no-store", "{path}");
    }
    for path in ["/assets/dashboard.js", "/assets/dashboard.css"] {
        let (_, h) = get(path).await;
        assert_eq!(header(&h, "cache-control"), "max-age=3600", "{path}");
    }
    let (_, h) = get("/assets/dashboard.css").await;
    assert!(header(&h, "content-type").starts_with("text/css"));
}

#[test]
fn graph_labels_show_bidi_and_control_characters_as_markers() {
    // The page's script, run by Node against a stub DOM.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = match std::process::Command::new("node")
        .arg(dir.join("tests/js/labels.js"))
        .arg(dir.join("assets/dashboard.js"))
        .output()
    {
        Ok(out) => out,
        // Not a silent skip: `.ci/run` installs Node where it is missing.
        Err(e) => panic!("this test runs the page's script with Node, which is not installed: {e}"),
    };
    assert!(out.status.success(), "{out:?}");
    let labels: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        labels.contains(&"Service app/⟨U+202E⟩gnp.exe".to_string())
            && labels.contains(&"Pod app⟨U+2066⟩/web⟨U+0085⟩⟨U+000A⟩".to_string())
            && labels.contains(&"✂ routes-to⟨U+001B⟩[2J".to_string()),
        "{labels:?}"
    );
    for l in &labels {
        assert!(!l.chars().any(rampart_report::is_unsafe_char), "{l:?}");
    }
}

/// `/findings` with `accept_encoding`: status, `Content-Encoding`, `Vary`, and the body as sent.
async fn findings(accept_encoding: Option<&str>) -> (StatusCode, Option<String>, String, Vec<u8>) {
    let state = Arc::new(DashboardState::default());
    let doc = format!(
        r#"{{"chains": [{}]}}"#,
        vec![r#"{"id": "chain:x", "steps": ["a", "b"]}"#; 500].join(",")
    );
    state.set_findings(doc.into_bytes(), 1, 500);
    let mut req = Request::get("/findings");
    if let Some(a) = accept_encoding {
        req = req.header("accept-encoding", a);
    }
    let resp = router(state)
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let h = resp.headers().clone();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (
        status,
        h.get("content-encoding")
            .map(|v| v.to_str().unwrap().to_string()),
        header(&h, "vary").to_string(),
        body,
    )
}

#[tokio::test]
async fn findings_go_compressed_to_clients_that_take_gzip_and_plain_to_the_others() {
    use std::io::Read as _;
    let (status, encoding, vary, plain) = findings(None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(encoding, None);
    assert_eq!(vary, "accept-encoding");
    let doc: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(doc["chains"].as_array().map(Vec::len), Some(500));

    for accepted in ["gzip", "br, gzip;q=0.8", "deflate, *"] {
        let (status, encoding, _, gz) = findings(Some(accepted)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(encoding.as_deref(), Some("gzip"), "{accepted}");
        assert!(
            gz.len() * 5 < plain.len(),
            "{} of {}",
            gz.len(),
            plain.len()
        );
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_end(&mut json)
            .unwrap();
        assert_eq!(json, plain, "{accepted}");
    }
    for refused in ["gzip;q=0", "br", "identity"] {
        let (_, encoding, _, body) = findings(Some(refused)).await;
        assert_eq!(encoding, None, "{refused}");
        assert_eq!(body, plain, "{refused}");
    }
}

/// A router over a small findings document: two entries, a cut, an engine's report.
fn explorer_router() -> axum::Router {
    let state = Arc::new(DashboardState::default());
    let step = |edge: &str, from: (&str, &str, &str), to: (&str, &str, &str), cut: Option<&str>| {
        let o = |(k, n, m): (&str, &str, &str)| serde_json::json!({"kind": k, "namespace": n, "name": m});
        let mut s = serde_json::json!({"edge": edge, "from": o(from), "to": o(to), "evidence": []});
        if let Some(c) = cut {
            s["cut"] = c.into();
        }
        s
    };
    let doc = serde_json::json!({
        "schema": "rampart.dev/scan/v1",
        "summary": {"endpoints": 2, "jewels_reachable": 2, "cut_cost": 3},
        "chains": [
            {"id": "c1", "confidence": "proven",
             "entry": {"kind": "Service", "namespace": "shop", "name": "web", "detail": "LoadBalancer TCP 80"},
             "target": {"kind": "Secret", "namespace": "shop", "name": "db"},
             "steps": [step("routes-to", ("Service", "shop", "web"), ("Deployment", "shop", "web"), Some("cut-1")),
                       step("reads-secret", ("Deployment", "shop", "web"), ("Secret", "shop", "db"), None)]},
            {"id": "c2", "confidence": "proven",
             "entry": {"kind": "Service", "namespace": "ci", "name": "hook", "detail": "NodePort 30080"},
             "target": {"kind": "Node", "name": "n1"},
             "steps": [step("routes-to", ("Service", "ci", "hook"), ("Deployment", "ci", "hook"), None),
                       step("mounts-host", ("Deployment", "ci", "hook"), ("Node", "", "n1"), Some("cut-2"))]}
        ],
        "cuts": [
            {"id": "cut-1", "breaks": ["c1"], "breaks_unnamed": 0, "cost": 1, "action": "live",
             "edge": "routes-to", "from": "a", "to": "b", "fix": "deny ingress"},
            {"id": "cut-2", "breaks": ["c2"], "breaks_unnamed": 0, "cost": 2, "action": "propose",
             "edge": "mounts-host", "from": "c", "to": "d", "fix": "drop the hostPath"}
        ],
        "report": {"generation": 3, "decisions": [{"cut": "cut-1", "fix": "deny ingress", "decision": "propose: ClassDisabled"}]}
    });
    state.set_findings(serde_json::to_vec(&doc).unwrap(), 3, 2);
    if let Ok(mut l) = state.ledger.write() {
        *l = vec![serde_json::json!({"namespace": "rampart", "name": "m1", "phase": "Applied"})];
    }
    router(state)
}

/// `GET path`: the status and the body as text.
async fn text(r: &axum::Router, path: &str) -> (StatusCode, String) {
    let resp = r
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into())
}

/// `GET path`: the status and the body as JSON (a string when it is not).
async fn json(r: &axum::Router, path: &str) -> (StatusCode, serde_json::Value) {
    let (status, body) = text(r, path).await;
    let v = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
    (status, v)
}

#[tokio::test]
async fn the_page_s_json_endpoints_regroup_the_findings() {
    let r = explorer_router();
    let (status, s) = json(&r, "/api/summary").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["schema"], "rampart.dev/dashboard-summary/v1");
    assert_eq!(
        (s["chains"].as_u64(), s["entries_with_chains"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(s["cut"]["live"], 1);
    assert_eq!(s["mitigations"]["Applied"], 1, "the ledger, by phase");
    assert_eq!(s["entries"][0]["key"], "Service/ci/hook @ NodePort 30080");

    let (_, m) = json(&r, "/api/entries?namespace=shop&target=Secret").await;
    assert_eq!(m["chains"], 1);
    assert_eq!(
        m["entries"][0]["key"],
        "Service/shop/web @ LoadBalancer TCP 80"
    );

    let (status, c) = json(
        &r,
        "/api/chains?entry=Service%2Fshop%2Fweb%20%40%20LoadBalancer%20TCP%2080",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c["chains"][0]["id"], "c1");
    assert_eq!(c["chains"][0]["broken_by"], serde_json::json!(["cut-1"]));

    let (_, g) = json(
        &r,
        "/api/graph?entry=Service%2Fci%2Fhook%20%40%20NodePort%2030080",
    )
    .await;
    assert_eq!(g["omitted"], 1);
    let cut: Vec<&serde_json::Value> = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cut"].is_string())
        .collect();
    assert_eq!(cut.len(), 1);
    assert_eq!(cut[0]["kind"], "mounts-host");

    let (_, mitigations) = json(&r, "/api/mitigations").await;
    assert_eq!(mitigations["ledger"][0]["name"], "m1");
    assert!(
        mitigations["cut"]["items"][0]["verdict"]
            .as_str()
            .unwrap()
            .starts_with("would apply"),
        "{mitigations}"
    );
}

#[tokio::test]
async fn the_json_endpoints_refuse_what_they_cannot_answer() {
    let r = explorer_router();
    for (path, want) in [
        ("/api/chains", StatusCode::BAD_REQUEST),
        (
            "/api/chains?entry=Service%2Fno%2Fsuch",
            StatusCode::NOT_FOUND,
        ),
        ("/api/entries?colour=red", StatusCode::BAD_REQUEST),
        ("/api/graph?colour=red", StatusCode::BAD_REQUEST),
        (
            "/api/graph?entry=Service%2Fno%2Fsuch",
            StatusCode::NOT_FOUND,
        ),
        ("/?colour=red", StatusCode::BAD_REQUEST),
    ] {
        let (status, body) = json(&r, path).await;
        assert_eq!(status, want, "{path}: {body}");
    }
    let long = format!("/api/entries?q={}", "x".repeat(300));
    let (status, body) = json(&r, &long).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.as_str().unwrap().contains("longer than 256"), "{body}");
    let many: Vec<String> = (0..65).map(|i| format!("entry=e{i}")).collect();
    let (status, _) = json(&r, &format!("/api/graph?{}", many.join("&"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_filtered_page_lists_only_the_matching_entries() {
    let (_, html) = text(&explorer_router(), "/?target=Node").await;
    assert_eq!(html.matches("<li class=\"entry\"").count(), 1, "{html}");
    assert!(html.contains("Service ci/hook"));
    assert!(html.contains("<option value=\"Node\" selected>"));
    assert!(
        html.contains("<td>rampart/m1</td><td>Applied</td>"),
        "the ledger's row: {html}"
    );
}

#[tokio::test]
async fn with_a_source_url_the_entries_link_to_their_files() {
    use rampart_http::dashboard::explorer::SourceLinks;
    let state = Arc::new(DashboardState::default());
    let doc = serde_json::json!({"chains": [{"id": "c1", "confidence": "proven",
        "entry": {"kind": "Service", "namespace": "shop", "name": "web", "file": "clusters/prod/shop web.yaml", "line": 12},
        "target": {"kind": "Node", "name": "n1"}, "steps": []}]});
    state.set_findings(serde_json::to_vec(&doc).unwrap(), 1, 1);
    state
        .source_links
        .set(SourceLinks::parse("https://git.example.com/ops/blob/main/{file}#L{line}").unwrap())
        .unwrap();
    let (_, html) = text(&router(state), "/").await;
    assert!(
        html.contains("<a class=\"source\" href=\"https://git.example.com/ops/blob/main/clusters/prod/shop%20web.yaml#L12\">"),
        "{html}"
    );
    assert!(
        html.contains("data-source-url=\"https://git.example.com/ops/blob/main/{file}#L{line}\"")
    );
}
