//! Shared-secret tokens for rampart's own endpoints (ingest, dashboard).
//!
//! A token is kept only as its SHA-256 digest and compared in constant time, so neither its
//! content nor its length shows in response times, and it never appears in `Debug` output.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

/// A secret token.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

fn digest(s: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, s);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl Token {
    /// A token from its secret (surrounding whitespace, as a file's trailing newline, is not
    /// part of it).
    pub fn new(secret: &str) -> Token {
        Token {
            digest: digest(secret.trim().as_bytes()),
        }
    }

    /// Whether `given` is the secret.
    pub fn matches(&self, given: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(digest(given).ct_eq(&self.digest))
    }

    /// Whether the request carries the token as `Authorization: Bearer <token>`.
    pub fn bearer(&self, headers: &HeaderMap) -> bool {
        authorization(headers)
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| self.matches(given.as_bytes()))
    }

    /// Whether the request carries the token as a bearer token or as the password of HTTP
    /// Basic authentication (any user name): a browser asks for the latter by itself.
    pub fn bearer_or_basic(&self, headers: &HeaderMap) -> bool {
        if self.bearer(headers) {
            return true;
        }
        authorization(headers)
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|pair| {
                let colon = pair.iter().position(|&c| c == b':')?;
                Some(self.matches(&pair[colon + 1..]))
            })
            .unwrap_or(false)
    }
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// Paths served without the token: the kubelet's liveness and readiness probes carry none
/// (readiness says which kinds are still unlisted, nothing of the graph).
const OPEN_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// Requires `token` (bearer, or Basic password) on every route of `router` but the health
/// probes.
pub fn protect(router: axum::Router, token: Token) -> axum::Router {
    router.layer(axum::middleware::from_fn_with_state(Arc::new(token), check))
}

async fn check(State(token): State<Arc<Token>>, req: Request, next: Next) -> Response {
    if OPEN_PATHS.contains(&req.uri().path()) || token.bearer_or_basic(req.headers()) {
        return next.run(req).await;
    }
    let mut r = (StatusCode::UNAUTHORIZED, "missing or wrong token\n").into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"rampart\", charset=\"UTF-8\""),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(header::AUTHORIZATION, v);
        }
        h
    }

    #[test]
    fn bearer_and_basic() {
        let t = Token::new("s3cret\n");
        assert!(t.bearer(&headers("Bearer s3cret")));
        assert!(!t.bearer(&headers("Bearer s3cre")));
        assert!(!t.bearer(&headers("Bearer s3cret ")));
        assert!(!t.bearer(&headers("")));
        // "admin:s3cret", ":s3cret", "admin:wrong"
        assert!(t.bearer_or_basic(&headers("Basic YWRtaW46czNjcmV0")));
        assert!(t.bearer_or_basic(&headers("Basic OnMzY3JldA==")));
        assert!(!t.bearer_or_basic(&headers("Basic YWRtaW46d3Jvbmc=")));
        assert!(!t.bearer_or_basic(&headers("Basic !!!")));
        assert!(!t.bearer(&headers("Basic YWRtaW46czNjcmV0")));
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }
}
