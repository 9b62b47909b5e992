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
