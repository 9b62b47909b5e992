//! Client certificates authenticate ingest requests (issue 14 item 9): the API server's audit
//! webhook sends no bearer token over plain HTTP, but its kubeconfig can present a client
//! certificate over HTTPS. A certificate signed by the configured client CA is accepted without
//! a token; no certificate and no token is 401; a certificate from another CA fails the
//! handshake.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rampart_http::ingest::{Ingest, IngestConfig, IngestMetrics};
use rampart_http::serve::{Limits, ServeMetrics, Server};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A CA and a client certificate it signed (DER certificate, PKCS#8 key).
struct Client {
    ca_pem: String,
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

fn client_signed_by_a_new_ca() -> Client {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["kube-apiserver".to_string()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    Client {
        ca_pem: ca.pem(),
        cert: cert.der().clone(),
        key: key.serialize_der(),
    }
}

async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    trust: &CertificateDer<'static>,
    client: Option<&Client>,
    token: Option<&str>,
) -> Result<u16, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trust.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match client {
        Some(c) => builder
            .with_client_auth_cert(
                vec![c.cert.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.key.clone())),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = hyper::Request::post(path)
        .header("host", "localhost")
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = if path == "/audit" {
        r#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}"#
    } else {
        "[]"
    };
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

#[tokio::test]
async fn a_client_certificate_from_the_client_ca_authenticates_the_audit_webhook() {
    let dir = std::env::temp_dir().join(format!("rampart-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server_cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("c.pem"), server_cert.cert.pem()).unwrap();
    std::fs::write(dir.join("k.pem"), server_cert.signing_key.serialize_pem()).unwrap();
    let reloading = Arc::new(
        rampart_http::tls::ReloadingCert::load(&dir.join("c.pem"), &dir.join("k.pem")).unwrap(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let apiserver = client_signed_by_a_new_ca();
    let stranger = client_signed_by_a_new_ca();
    let tls =
        rampart_http::tls::server_config_with_clients(reloading, Some(apiserver.ca_pem.as_bytes()))
            .unwrap();

    let mut registry = prometheus_client::registry::Registry::default();
    let ingest = Arc::new(Ingest::new(
        IngestConfig {
            token: Some("the-token".into()),
            rate_per_peer: std::num::NonZeroU32::new(100).unwrap(),
            max_body: 1 << 20,
            mapping: Default::default(),
            allow: Default::default(),
        },
        rampart_signals::observe::Store::new(300, 100),
        IngestMetrics::register(&mut registry),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::new(Limits::default(), None, ServeMetrics::default());
    let cancel = CancellationToken::new();
    let app = rampart_http::ingest::router(ingest, &["falco", "audit"]);
    let stop = cancel.clone();
    tokio::spawn(async move { server.serve(listener, Some(tls), app, stop).await });
    let trust = server_cert.cert.der().clone();

    // The API server's client certificate, no token: accepted.
    assert_eq!(
        post(addr, "/audit", &trust, Some(&apiserver), None).await,
        Ok(200)
    );
    // Neither certificate nor token: refused.
    assert_eq!(post(addr, "/audit", &trust, None, None).await, Ok(401));
    // The token alone still works.
    assert_eq!(
        post(addr, "/audit", &trust, None, Some("the-token")).await,
        Ok(200)
    );
    // The certificate is the audit webhook's: /falco still wants the token.
    assert_eq!(
        post(addr, "/falco", &trust, Some(&apiserver), None).await,
        Ok(401)
    );
    assert_eq!(
        post(addr, "/falco", &trust, None, Some("the-token")).await,
        Ok(200)
    );
    // A certificate another CA signed: the handshake fails, nothing is served.
    let stranger = post(addr, "/audit", &trust, Some(&stranger), None).await;
    assert!(stranger.is_err(), "{stranger:?}");
    cancel.cancel();
}
