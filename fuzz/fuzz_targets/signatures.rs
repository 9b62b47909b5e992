//! Image signatures from arbitrary bytes: image references and globs, cosign signatures (the
//! payload check, the signature, the certificate, the Rekor bundle), sigstore bundles, trusted
//! roots and registry credentials. Everything is a verdict or an error; nothing panics, and no
//! input is read past its bound.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use rampart_signatures::{
    Attestor, CosignSignature, Digest, ImageGlob, ImageRef, Matcher, PublicKey, Signature,
    TrustRoot, verify_bundle, verify_image,
};

const KEY: &str = include_str!("../../tests/corpora/sigstore/cosign/key-busybox/cosign.pub");
const FULCIO: &str = include_str!("../../tests/corpora/sigstore/cosign/keyless-2021/fulcio-roots.pem");
const REKOR: &str = include_str!("../../tests/corpora/sigstore/cosign/keyless-2021/rekor.pub");

struct Fixed {
    attestors: Vec<Attestor>,
    empty: TrustRoot,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let root = Arc::new(TrustRoot::from_pem(FULCIO, REKOR).expect("fixture root"));
        let production = Arc::new(TrustRoot::production().expect("production root"));
        let key = PublicKey::from_pem(KEY).expect("fixture key");
        Fixed {
            attestors: vec![
                Attestor::Key { key: key.clone(), log: None },
                Attestor::Key { key, log: Some(root.clone()) },
                Attestor::Keyless { subject: Matcher::exact("flavio@castelli.me"), issuer: None, root },
                Attestor::Keyless {
                    subject: Matcher::pattern(".*").expect("pattern"),
                    issuer: Some(Matcher::pattern(".*").expect("pattern")),
                    root: production,
                },
            ],
            empty: TrustRoot::empty().expect("empty root"),
        }
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let parts: Vec<&[u8]> = rest.splitn(5, |b| *b == 0).collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    let digest = Digest::sha256_of(part(0));
    match mode % 5 {
        0 => {
            if let (Ok(image), Ok(glob)) = (ImageRef::parse(&text(part(0))), ImageGlob::new(&text(part(1)))) {
                let _ = glob.matches(&image);
                let _ = image.whole();
                if let Some(d) = image.digest() {
                    let _ = image.pinned(d);
                }
            }
            let _ = Digest::parse(&text(part(1)));
        }
        1 => {
            // The payload names the digest of part 0 when it can, so the checks past the
            // digest comparison are reached.
            let payload = text(part(1)).replace("DIGEST", &digest.to_string()).into_bytes();
            let signature = Signature::Cosign(CosignSignature {
                payload,
                signature: text(part(2)),
                certificate: (!part(3).is_empty()).then(|| text(part(3))),
                chain: None,
                rekor_bundle: (!part(4).is_empty()).then(|| text(part(4))),
            });
            for a in &fixed().attestors {
                let _ = verify_image(&digest, std::slice::from_ref(&signature), a, &fixed().empty, 1_700_000_000);
            }
        }
        2 => {
            for a in &fixed().attestors {
                let _ = verify_bundle(rest, &digest, a, &fixed().empty);
            }
        }
        3 => {
            let _ = TrustRoot::from_json(&text(rest));
            let _ = TrustRoot::from_pem(&text(part(0)), &text(part(1)));
            let _ = PublicKey::from_pem(&text(rest));
        }
        _ => {
            let _ = rampart_registry::Credentials::from_docker_config(rest);
            let _ = Matcher::pattern(&text(rest));
        }
    }
});
