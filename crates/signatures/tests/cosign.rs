//! cosign's tag-scheme image signatures (fixtures from sigstore-rs, three derived), and the
//! same checks on signatures made here with fresh keys.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampart_signatures::{
    Attestor, CosignSignature, Digest, Matcher, PublicKey, Signature, TrustRoot, verify_image,
};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora/sigstore/cosign")
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Unix seconds now: only to refuse log entries from the future.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[test]
fn the_six_fixtures_agree() {
    let base = corpus();
    let tsv = std::fs::read_to_string(base.join("cases.tsv")).unwrap();
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let mut seen = 0;
    let mut disagreements = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let col = |name: &str| f[header.iter().position(|c| *c == name).expect(name)];
        let dir = base.join(col("dir"));
        let trust: Vec<&str> = col("trust_material")
            .split(';')
            .filter(|s| !s.is_empty())
            .collect();
        let mut signature = CosignSignature {
            payload: std::fs::read(dir.join(col("payload"))).unwrap(),
            signature: read(&dir, col("signature")),
            ..Default::default()
        };
        let attestor = if trust.is_empty() {
            Attestor::Key {
                key: PublicKey::from_pem(&read(&dir, col("verifier"))).unwrap(),
                log: None,
            }
        } else {
            signature.certificate = Some(read(&dir, col("verifier")));
            signature.rekor_bundle = Some(read(&dir, trust[2]));
            let root = TrustRoot::from_pem(&read(&dir, trust[0]), &read(&dir, trust[1])).unwrap();
            let subject = col("identity_constraint")
                .strip_prefix("email=")
                .expect("an email constraint");
            // The 2021 certificate predates Fulcio's issuer extension.
            Attestor::Keyless {
                subject: Matcher::exact(subject),
                issuer: None,
                root: Arc::new(root),
            }
        };
        let digest = Digest::parse(col("image_digest_under_admission")).unwrap();
        let got = verify_image(
            &digest,
            &[Signature::Cosign(signature)],
            &attestor,
            &TrustRoot::empty().unwrap(),
            now(),
        );
        seen += 1;
        if got.is_ok() != (col("expected") == "pass") {
            disagreements.push(format!(
                "{}: expected {}, got {got:?}",
                col("case"),
                col("expected")
            ));
        }
    }
    assert_eq!(seen, 6);
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

fn keyless_fixture() -> (CosignSignature, Arc<TrustRoot>, Digest) {
    let dir = corpus().join("keyless-2021");
    let signature = CosignSignature {
        payload: std::fs::read(dir.join("payload.json")).unwrap(),
        signature: read(&dir, "signature-from-entry.b64"),
        certificate: Some(read(&dir, "cert.pem")),
        chain: None,
        rekor_bundle: Some(read(&dir, "rekor-bundle.json")),
    };
    let root =
        TrustRoot::from_pem(&read(&dir, "fulcio-roots.pem"), &read(&dir, "rekor.pub")).unwrap();
    let digest =
        Digest::parse("sha256:5f481572d088dc4023afb35fced9530ced3d9b03bf7299c6f492163cb9f0452e")
            .unwrap();
    (signature, Arc::new(root), digest)
}

fn keyless(root: &Arc<TrustRoot>) -> Attestor {
    Attestor::Keyless {
        subject: Matcher::pattern(".*@castelli\\.me").unwrap(),
        issuer: None,
        root: root.clone(),
    }
}

#[test]
fn each_part_of_a_keyless_signature_is_checked_and_named() {
    let (good, root, digest) = keyless_fixture();
    let empty = TrustRoot::empty().unwrap();
    let check = |s: CosignSignature, attestor: &Attestor| {
        verify_image(&digest, &[Signature::Cosign(s)], attestor, &empty, now())
    };
    let verified = check(good.clone(), &keyless(&root)).expect("the fixture verifies");
    assert_eq!(verified.signer.to_string(), "flavio@castelli.me");

    // The corpus's `signature.b64` holds the SET, not the signature (SOURCE.md).
    let mut s = good.clone();
    s.signature = read(&corpus().join("keyless-2021"), "signature.b64");
    assert_eq!(
        check(s, &keyless(&root)).unwrap_err().reason(),
        "bad-signature"
    );

    // No Rekor bundle: the certificate's validity cannot be placed in time.
    let mut s = good.clone();
    s.rekor_bundle = None;
    assert_eq!(
        check(s, &keyless(&root)).unwrap_err().reason(),
        "transparency-log"
    );

    // The SET tampered with (the integrated time moved by one second).
    let mut s = good.clone();
    let bundle = s.rekor_bundle.clone().unwrap();
    s.rekor_bundle = Some(bundle.replace("1634714717", "1634714718"));
    assert_eq!(
        check(s, &keyless(&root)).unwrap_err().reason(),
        "transparency-log"
    );

    // A root that does not hold the Rekor key, and one without the Fulcio roots.
    let dir = corpus().join("keyless-2021");
    let other_key = read(&corpus().join("key-busybox"), "other.pub");
    let wrong_log =
        Arc::new(TrustRoot::from_pem(&read(&dir, "fulcio-roots.pem"), &other_key).unwrap());
    assert_eq!(
        check(good.clone(), &keyless(&wrong_log))
            .unwrap_err()
            .reason(),
        "transparency-log"
    );
    let no_fulcio = Arc::new(TrustRoot::from_pem("", &read(&dir, "rekor.pub")).unwrap());
    assert_eq!(
        check(good.clone(), &keyless(&no_fulcio))
            .unwrap_err()
            .reason(),
        "untrusted-root"
    );

    // Another identity.
    let wrong = Attestor::Keyless {
        subject: Matcher::exact("alice@example.com"),
        issuer: None,
        root: root.clone(),
    };
    let err = check(good.clone(), &wrong).unwrap_err();
    assert_eq!(err.reason(), "wrong-identity");
    assert!(err.to_string().contains("flavio@castelli.me"), "{err}");
    // An issuer required that the certificate does not record.
    let wrong = Attestor::Keyless {
        subject: Matcher::exact("flavio@castelli.me"),
        issuer: Some(Matcher::exact("https://accounts.google.com")),
        root: root.clone(),
    };
    assert_eq!(
        check(good.clone(), &wrong).unwrap_err().reason(),
        "wrong-identity"
    );

    // The payload re-signed claim: a signature copied beside another image's digest.
    let other = Digest::sha256_of(b"another image");
    let err = verify_image(
        &other,
        &[Signature::Cosign(good.clone())],
        &keyless(&root),
        &empty,
        now(),
    )
    .unwrap_err();
    assert_eq!(err.reason(), "digest-mismatch");

    // The log entry dated in the future of `now` (the fixture's own time, minus a day).
    let err = verify_image(
        &digest,
        &[Signature::Cosign(good.clone())],
        &keyless(&root),
        &empty,
        1_634_714_717 - 86_400,
    )
    .unwrap_err();
    assert_eq!(err.reason(), "transparency-log");

    // Garbage in every field: clear errors, no panic.
    for mutate in [
        |s: &mut CosignSignature| s.payload = b"{not json".to_vec(),
        |s: &mut CosignSignature| s.signature = "!!!".into(),
        |s: &mut CosignSignature| {
            s.certificate =
                Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into())
        },
        |s: &mut CosignSignature| s.rekor_bundle = Some("[]".into()),
        |s: &mut CosignSignature| s.payload = vec![b' '; 100_000],
    ] {
        let mut s = good.clone();
        mutate(&mut s);
        assert_eq!(check(s, &keyless(&root)).unwrap_err().reason(), "malformed");
    }
}

#[test]
fn the_most_telling_reason_wins_and_one_good_signature_is_enough() {
    let (good, root, digest) = keyless_fixture();
    let empty = TrustRoot::empty().unwrap();
    let mut unlogged = good.clone();
    unlogged.rekor_bundle = None;
    let garbage = CosignSignature {
        payload: b"{}".to_vec(),
        ..Default::default()
    };
    let attestor = keyless(&root);
    let sigs =
        |list: Vec<CosignSignature>| list.into_iter().map(Signature::Cosign).collect::<Vec<_>>();
    assert_eq!(
        verify_image(&digest, &[], &attestor, &empty, now())
            .unwrap_err()
            .reason(),
        "no-signature"
    );
    assert_eq!(
        verify_image(
            &digest,
            &sigs(vec![garbage.clone(), unlogged.clone()]),
            &attestor,
            &empty,
            now()
        )
        .unwrap_err()
        .reason(),
        "transparency-log"
    );
    assert!(
        verify_image(
            &digest,
            &sigs(vec![garbage, unlogged, good]),
            &attestor,
            &empty,
            now()
        )
        .is_ok()
    );
}

mod made_here {
    //! The same checks on keyless signatures made by a private instance (rampart-testkit):
    //! the parts no fixture varies.

    use super::*;
    use rampart_testkit::sigstore::{Identity, TestInstance, payload};

    fn setup() -> (TestInstance, Arc<TrustRoot>, Digest, Identity) {
        let instance = TestInstance::generate();
        let root = Arc::new(TrustRoot::from_json(&instance.trusted_root_json()).unwrap());
        let digest = Digest::sha256_of(b"an image");
        let identity = Identity {
            subject: "alice@example.com".into(),
            issuer: "https://accounts.example.com".into(),
        };
        (instance, root, digest, identity)
    }

    fn cosign(s: rampart_testkit::sigstore::SignedPayload) -> CosignSignature {
        let a = |k: &str| s.annotations.get(k).cloned();
        CosignSignature {
            payload: s.payload.clone(),
            signature: a("dev.cosignproject.cosign/signature").unwrap(),
            certificate: a("dev.sigstore.cosign/certificate"),
            chain: None,
            rekor_bundle: a("dev.sigstore.cosign/bundle"),
        }
    }

    fn attestor(root: &Arc<TrustRoot>, identity: &Identity) -> Attestor {
        Attestor::Keyless {
            subject: Matcher::exact(&identity.subject),
            issuer: Some(Matcher::exact(&identity.issuer)),
            root: root.clone(),
        }
    }

    fn check(s: CosignSignature, digest: &Digest, a: &Attestor) -> Result<(), String> {
        verify_image(
            digest,
            &[Signature::Cosign(s)],
            a,
            &TrustRoot::empty().unwrap(),
            now(),
        )
        .map(|_| ())
        .map_err(|e| e.reason().to_string())
    }

    #[test]
    fn a_good_signature_verifies() {
        let (instance, root, digest, identity) = setup();
        let s = cosign(instance.sign(payload("r/app", &digest.to_string()), &identity, now()));
        assert_eq!(check(s, &digest, &attestor(&root, &identity)), Ok(()));
    }

    #[test]
    fn a_log_entry_for_another_signature_is_refused() {
        let (instance, root, digest, identity) = setup();
        let p = payload("r/app", &digest.to_string());
        let a = cosign(instance.sign(p.clone(), &identity, now()));
        let b = cosign(instance.sign(p, &identity, now()));
        // b's signature and certificate with a's (validly signed) log entry.
        let mut mixed = b.clone();
        mixed.rekor_bundle = a.rekor_bundle.clone();
        assert_eq!(
            check(mixed, &digest, &attestor(&root, &identity)),
            Err("transparency-log".into())
        );
    }

    #[test]
    fn a_certificate_expired_when_the_log_recorded_it_is_refused() {
        let (instance, root, digest, identity) = setup();
        let p = payload("r/app", &digest.to_string());
        let t = now() - 7200;
        let late = cosign(instance.sign_logged_at(p.clone(), &identity, t, t + 3600));
        assert_eq!(
            check(late, &digest, &attestor(&root, &identity)),
            Err("expired-certificate".into())
        );
        // Issued and logged an hour ago, inside its ten minutes: still good now.
        let old = cosign(instance.sign_logged_at(p, &identity, t, t + 60));
        assert_eq!(check(old, &digest, &attestor(&root, &identity)), Ok(()));
    }

    #[test]
    fn a_ca_outside_its_trusted_window_at_log_time_is_refused() {
        let (instance, _, digest, identity) = setup();
        // The root trusts this CA only from 2030: a signature logged now predates it.
        let mut root: serde_json::Value =
            serde_json::from_str(&instance.trusted_root_json()).unwrap();
        root["certificateAuthorities"][0]["validFor"]["start"] = "2030-01-01T00:00:00Z".into();
        let root = Arc::new(TrustRoot::from_json(&root.to_string()).unwrap());
        let s = cosign(instance.sign(payload("r/app", &digest.to_string()), &identity, now()));
        assert_eq!(
            check(s, &digest, &attestor(&root, &identity)),
            Err("untrusted-root".into())
        );
    }

    #[test]
    fn another_instances_certificate_or_log_is_refused() {
        let (instance, _, digest, identity) = setup();
        let other = TestInstance::generate();
        let other_root = Arc::new(TrustRoot::from_json(&other.trusted_root_json()).unwrap());
        let s = cosign(instance.sign(payload("r/app", &digest.to_string()), &identity, now()));
        // The other root knows neither this log's key nor this CA.
        assert_eq!(
            check(s.clone(), &digest, &attestor(&other_root, &identity)),
            Err("transparency-log".into())
        );
        // Its log's key but another CA: the chain is what fails.
        let mixed =
            Arc::new(TrustRoot::from_pem(&other.fulcio_pem(), &instance.rekor_pem()).unwrap());
        assert_eq!(
            check(s, &digest, &attestor(&mixed, &identity)),
            Err("untrusted-root".into())
        );
    }
}

/// Every key type cosign signs with (fixtures made with OpenSSL, `tests/fixtures/keys/`): ECDSA
/// P-384 with SHA-256 (cosign's choice on every curve) and SHA-384, RSA PKCS#1 v1.5 and PSS,
/// Ed25519; and none of them verifies another's signature.
#[test]
fn every_key_type_verifies_its_own_signatures_only() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys");
    let payload = std::fs::read(dir.join("payload.json")).unwrap();
    let digest =
        Digest::parse("sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b")
            .unwrap();
    let cases = [
        ("p384.pub", "p384-sha256.sig"),
        ("p384.pub", "p384-sha384.sig"),
        ("rsa.pub", "rsa-pkcs1-sha256.sig"),
        ("rsa.pub", "rsa-pss-sha256.sig"),
        ("ed25519.pub", "ed25519.sig"),
    ];
    let empty = TrustRoot::empty().unwrap();
    for (key, _) in cases {
        let attestor = Attestor::Key {
            key: PublicKey::from_pem(&read(&dir, key)).unwrap(),
            log: None,
        };
        for (signer, sig) in cases {
            let s = Signature::Cosign(CosignSignature {
                payload: payload.clone(),
                signature: read(&dir, sig),
                ..Default::default()
            });
            let got = verify_image(&digest, &[s], &attestor, &empty, now());
            assert_eq!(got.is_ok(), key == signer, "{key} on {sig}: {got:?}");
        }
    }
}
