//! The sigstore-conformance bundle-verification suite (70 cases: 21 must verify, 49 must not),
//! each run twice as upstream runs it: with the artifact's bytes and with only its digest.
//! Any disagreement is listed.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampart_signatures::{
    Artifact, Attestor, Bundle, Digest, Matcher, PublicKey, TrustRoot, verify_bundle, verify_parsed,
};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora/sigstore/conformance")
}

struct Case {
    name: String,
    dir: PathBuf,
    artifact: PathBuf,
    bundle: PathBuf,
    root: Option<PathBuf>,
    key: Option<PathBuf>,
    pass: bool,
    identity: String,
    issuer: String,
}

fn cases() -> Vec<Case> {
    let base = corpus();
    let tsv = std::fs::read_to_string(base.join("cases.tsv")).expect("cases.tsv");
    let mut header = None;
    let mut out = Vec::new();
    for line in tsv.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let Some(h) = &header else {
            header = Some(fields.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            continue;
        };
        let col = |name: &str| fields[h.iter().position(|c| c == name).expect(name)];
        let dir = base.join("bundle-verify").join(col("case"));
        let root = col("trusted_root");
        out.push(Case {
            name: col("case").to_string(),
            artifact: dir.join(col("artifact")),
            bundle: dir.join(col("bundle")),
            // Cases without a root of their own use the public-good production root.
            root: (!root.starts_with("../../production")).then(|| dir.join(root)),
            key: (!col("key").is_empty()).then(|| dir.join(col("key"))),
            pass: col("expected") == "pass",
            identity: col("identity").to_string(),
            issuer: col("issuer").to_string(),
            dir,
        });
    }
    out
}

/// One case: `Err` with the reason when verification failed (at any step).
fn run(case: &Case, by_digest: bool) -> Result<(), String> {
    let root = match &case.root {
        Some(path) => {
            TrustRoot::from_json(&std::fs::read_to_string(path).map_err(|e| e.to_string())?)
        }
        None => TrustRoot::production(),
    }
    .map_err(|e| e.to_string())?;
    let root = Arc::new(root);
    let attestor = match &case.key {
        Some(path) => Attestor::Key {
            key: PublicKey::from_pem(&std::fs::read_to_string(path).map_err(|e| e.to_string())?)?,
            log: Some(root.clone()),
        },
        None => Attestor::Keyless {
            subject: Matcher::exact(&case.identity),
            issuer: Some(Matcher::exact(&case.issuer)),
            root: root.clone(),
        },
    };
    let empty = TrustRoot::empty().map_err(|e| e.to_string())?;
    let artifact = std::fs::read(&case.artifact).map_err(|e| e.to_string())?;
    let json = std::fs::read(&case.bundle).map_err(|e| e.to_string())?;
    if by_digest {
        verify_bundle(&json, &Digest::sha256_of(&artifact), &attestor, &empty)
    } else {
        let bundle: Bundle = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
        verify_parsed(&bundle, Artifact::Bytes(&artifact), &attestor, &empty)
    }
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[test]
fn all_seventy_cases_agree_with_upstream_by_artifact_and_by_digest() {
    let cases = cases();
    assert_eq!(cases.len(), 70, "the corpus holds 70 cases");
    assert_eq!(cases.iter().filter(|c| c.pass).count(), 21);
    let mut disagreements = Vec::new();
    for case in &cases {
        assert!(case.dir.is_dir(), "{}", case.name);
        for by_digest in [false, true] {
            let got = run(case, by_digest);
            if got.is_ok() != case.pass {
                disagreements.push(format!(
                    "{} ({}): expected {}, got {got:?}",
                    case.name,
                    if by_digest { "digest" } else { "artifact" },
                    if case.pass { "pass" } else { "fail" },
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of 140 runs disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// A passing case verified against the wrong identity, issuer or key must fail: the suite's
/// own failures are mostly broken bundles, this checks the policy side.
#[test]
fn a_valid_bundle_fails_for_another_identity_issuer_or_key() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "happy-path-v0.3")
        .expect("happy path");
    let json = std::fs::read(&case.bundle).unwrap();
    let digest = Digest::sha256_of(&std::fs::read(&case.artifact).unwrap());
    let root = Arc::new(TrustRoot::production().unwrap());
    let empty = TrustRoot::empty().unwrap();
    let keyless = |subject: Matcher, issuer: Option<Matcher>| Attestor::Keyless {
        subject,
        issuer,
        root: root.clone(),
    };
    let ok = keyless(
        Matcher::pattern("https://github.com/sigstore-conformance/.*").unwrap(),
        Some(Matcher::exact(&case.issuer)),
    );
    verify_bundle(&json, &digest, &ok, &empty).expect("pattern identity verifies");
    for wrong in [
        keyless(
            Matcher::exact("someone@example.com"),
            Some(Matcher::exact(&case.issuer)),
        ),
        keyless(
            Matcher::exact(&case.identity),
            Some(Matcher::exact("https://accounts.google.com")),
        ),
        // A pattern matches the whole identity, never a part of it.
        keyless(
            Matcher::pattern("github.com/sigstore-conformance").unwrap(),
            None,
        ),
    ] {
        let err = verify_bundle(&json, &digest, &wrong, &empty).unwrap_err();
        assert_eq!(err.reason(), "wrong-identity", "{err}");
    }
    let other = Digest::sha256_of(b"another artifact");
    let err = verify_bundle(&json, &other, &ok, &empty).unwrap_err();
    assert_eq!(err.reason(), "bad-signature", "{err}");
}
