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
            && labels.contains(&"Pod app⟨U+2066⟩/web⟨U+0085⟩⟨U+000A⟩".to_string()),
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
