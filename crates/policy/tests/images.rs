//! `verifyImages` conditions, the pure half: which images need verifying, what each verdict
//! means for the decision (the reason in the denial, `required: false`, the failure policy),
//! and the digest pin `/mutate` writes.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::BTreeMap;

use rampart_policy::images::{ImageVerdict, ImageVerdicts};
use rampart_policy::review::{
    Decision, NamedPolicy, Operation, PolicySet, PssConfig, Request, image_checks, mutate_images,
    validate_images,
};
use rampart_policy::store::ObjectStore;
use rampart_signatures::{Digest, Rejection, Signer, Verified};
use serde_json::{Value, json};

const KEY: &str = include_str!("../../../tests/corpora/sigstore/cosign/key-busybox/cosign.pub");

fn policy(extra: Value) -> PolicySet {
    let mut verify = json!({
        "imageReferences": ["ghcr.io/acme/*"],
        "attestors": [{"key": {"publicKey": KEY}}]
    });
    for (k, v) in extra.as_object().unwrap() {
        verify[k] = v.clone();
    }
    set_of(json!({"rules": [{"name": "signed", "conditions": [{"verifyImages": verify}]}]}))
}

/// A set of one SecurityPolicy `shop/images` with this spec.
fn set_of(spec: Value) -> PolicySet {
    let mut set = PolicySet::default();
    set.upsert(NamedPolicy {
        kind: "SecurityPolicy",
        namespace: Some("shop".into()),
        name: "images".into(),
        spec: serde_json::from_value(spec).unwrap(),
    })
    .unwrap();
    set
}

/// The default image policy with one more spec field.
fn policy_spec_with(field: &str, value: &str) -> PolicySet {
    let mut spec = serde_json::to_value(policy_spec()).unwrap();
    spec[field] = value.into();
    set_of(spec)
}

fn pod(images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, img)| json!({"name": format!("c{i}"), "image": img}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
           "spec": {"containers": containers}})
}

fn request(object: &Value) -> Request<'_> {
    Request {
        group: "",
        version: "v1",
        kind: "Pod",
        resource: "pods",
        sub_resource: None,
        operation: Operation::Create,
        namespace: "shop",
        name: "p",
        username: "alice",
        object: Some(object.into()),
        old_object: None,
    }
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "kubernetes.io/metadata.name".to_string(),
        "shop".to_string(),
    )])
}

fn decide(set: &PolicySet, object: &Value, verdicts: &ImageVerdicts) -> Decision {
    validate_images(
        &request(object),
        &labels(),
        set,
        &PssConfig::default(),
        &ObjectStore::new(),
        Some(verdicts),
    )
    .unwrap()
}

fn digest() -> Digest {
    Digest::sha256_of(b"the app image")
}

fn verified() -> ImageVerdict {
    ImageVerdict::Verified(vec![Verified {
        digest: digest(),
        signer: Signer::Key,
    }])
}

/// The verdicts of every check of `object`, each given `verdict`.
fn all(set: &PolicySet, object: &Value, verdict: ImageVerdict) -> ImageVerdicts {
    let mut v = ImageVerdicts::new();
    for c in image_checks(&request(object), &labels(), set).unwrap() {
        v.insert(&c, verdict.clone());
    }
    v
}

#[test]
fn only_covered_images_are_checked_once_each() {
    let set = policy(json!({}));
    let object = pod(&[
        "ghcr.io/acme/app:v1",
        "nginx:1.27",
        "ghcr.io/acme/app:v1",
        "ghcr.io/other/x",
    ]);
    let checks = image_checks(&request(&object), &labels(), &set).unwrap();
    let images: Vec<&str> = checks.iter().map(|c| c.image.as_str()).collect();
    assert_eq!(images, ["ghcr.io/acme/app:v1"]);
    assert_eq!(
        checks[0].key,
        "SecurityPolicy shop/images rules[0].conditions[0]"
    );
    // Another namespace's pod is not this policy's.
    let mut other = object.clone();
    other["metadata"]["namespace"] = "web".into();
    let mut req = request(&other);
    req.namespace = "web";
    assert!(image_checks(&req, &labels(), &set).unwrap().is_empty());
}

#[test]
fn each_verdict_decides_with_its_reason() {
    let set = policy(json!({}));
    let object = pod(&["ghcr.io/acme/app:v1", "nginx:1.27"]);
    assert!(decide(&set, &object, &all(&set, &object, verified())).allowed);

    let d = decide(
        &set,
        &object,
        &all(
            &set,
            &object,
            ImageVerdict::Rejected(Rejection::NoSignature),
        ),
    );
    assert!(!d.allowed);
    let message = d.message.unwrap();
    assert!(
        message.contains("image ghcr.io/acme/app:v1: no signature found"),
        "{message}"
    );
    assert!(
        message.contains("SecurityPolicy shop/images rule \"signed\""),
        "{message}"
    );

    let wrong = ImageVerdict::Rejected(Rejection::WrongIdentity("signed by \"mallory\"".into()));
    let message = decide(&set, &object, &all(&set, &object, wrong))
        .message
        .unwrap();
    assert!(
        message.contains("wrong identity: signed by \"mallory\""),
        "{message}"
    );

    // A registry that cannot be reached: failurePolicy Fail (default) denies…
    let down = ImageVerdict::Unavailable("could not reach ghcr.io within 3 s".into());
    let d = decide(&set, &object, &all(&set, &object, down.clone()));
    assert!(!d.allowed);
    assert!(
        d.message
            .unwrap()
            .contains("could not be verified: could not reach ghcr.io within 3 s")
    );
    // … and no verdict at all (nothing verified) counts the same.
    assert!(!decide(&set, &object, &ImageVerdicts::new()).allowed);

    // Ignore admits with a warning.
    let set = policy_spec_with("failurePolicy", "Ignore");
    let d = decide(&set, &object, &all(&set, &object, down));
    assert!(d.allowed);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("failurePolicy Ignore")),
        "{:?}",
        d.warnings
    );
    // A rejection is never a failure to check: still denied under Ignore.
    assert!(
        !decide(
            &set,
            &object,
            &all(
                &set,
                &object,
                ImageVerdict::Rejected(Rejection::NoSignature)
            )
        )
        .allowed
    );
}

fn policy_spec() -> rampart_api::SecurityPolicySpec {
    serde_json::from_value(
        json!({"rules": [{"name": "signed", "conditions": [{"verifyImages": {
            "imageReferences": ["ghcr.io/acme/*"],
            "attestors": [{"key": {"publicKey": KEY}}]
        }}]}]}),
    )
    .unwrap()
}

#[test]
fn audit_only_and_warn_modes_admit() {
    let object = pod(&["ghcr.io/acme/app:v1"]);
    let set = policy(json!({"required": false}));
    let d = decide(
        &set,
        &object,
        &all(
            &set,
            &object,
            ImageVerdict::Rejected(Rejection::NoSignature),
        ),
    );
    assert!(d.allowed);
    assert!(d.audit_annotations["dryrun-violations"].contains("no signature found"));

    let set = policy_spec_with("enforcementMode", "warn");
    let d = decide(
        &set,
        &object,
        &all(
            &set,
            &object,
            ImageVerdict::Rejected(Rejection::NoSignature),
        ),
    );
    assert!(d.allowed);
    assert!(d.warnings.iter().any(|w| w.contains("no signature found")));
}

#[test]
fn verified_images_are_pinned_to_the_digest_checked() {
    let set = policy(json!({}));
    let object = pod(&["nginx:1.27", "ghcr.io/acme/app:v1"]);
    let verdicts = all(&set, &object, verified());
    let d = mutate_images(&request(&object), &labels(), &set, None, Some(&verdicts)).unwrap();
    let patch = serde_json::to_value(d.patch.unwrap()).unwrap();
    assert_eq!(
        patch,
        json!([{"op": "replace", "path": "/spec/containers/1/image",
                "value": format!("ghcr.io/acme/app@{}", digest())}])
    );
    // Already pinned to that digest: nothing to write. mutateDigest false: nothing either.
    let pinned = pod(&[&format!("ghcr.io/acme/app@{}", digest())]);
    let v = all(&set, &pinned, verified());
    assert!(
        mutate_images(&request(&pinned), &labels(), &set, None, Some(&v))
            .unwrap()
            .patch
            .is_none()
    );
    let set = policy(json!({"mutateDigest": false}));
    let v = all(&set, &object, verified());
    assert!(
        mutate_images(&request(&object), &labels(), &set, None, Some(&v))
            .unwrap()
            .patch
            .is_none()
    );
    // A rejected image is not pinned (validate denies it).
    let set = policy(json!({}));
    let v = all(
        &set,
        &object,
        ImageVerdict::Rejected(Rejection::NoSignature),
    );
    assert!(
        mutate_images(&request(&object), &labels(), &set, None, Some(&v))
            .unwrap()
            .patch
            .is_none()
    );
}

#[test]
fn bad_conditions_are_refused_with_the_field() {
    let bad = [
        (
            json!({"imageReferences": [], "attestors": [{"key": {"publicKey": KEY}}]}),
            "imageReferences",
        ),
        (
            json!({"imageReferences": ["ghcr.io/*"], "attestors": []}),
            "attestors",
        ),
        (
            json!({"imageReferences": ["ghcr.io/*"], "attestors": [{"key": {"publicKey": "not a key"}}]}),
            "attestors[0].key.publicKey",
        ),
        (
            json!({"imageReferences": ["ghcr.io/*"], "attestors": [{}]}),
            "attestors[0]",
        ),
        (
            json!({"imageReferences": ["ghcr.io/*"], "attestors": [{"keyless": {"subject": "a@b.c"}}]}),
            "attestors[0].keyless.issuer",
        ),
        (
            json!({"imageReferences": ["ghcr.io/*"], "attestors": [{"keyless": {"subjectRegExp": "(", "issuer": "https://x"}}]}),
            "attestors[0].keyless.subjectRegExp",
        ),
        (
            json!({"imageReferences": ["ghcr.io/*"], "attestors": [{"keyless": {"subject": "a", "subjectRegExp": "b", "issuer": "https://x"}}]}),
            "attestors[0].keyless.subject",
        ),
        (
            json!({"imageReferences": ["ghcr.io/*"], "attestors": [{"key": {}}]}),
            "attestors[0].key",
        ),
        (
            json!({"imageReferences": ["ghcr.io/*"], "attestors": [{"key": {"publicKey": KEY, "secretRef": {"name": "k"}}}]}),
            "attestors[0].key",
        ),
        (
            json!({"imageReferences": ["ghcr.io/*"], "attestors": [{"key": {"secretRef": {"name": " "}}}]}),
            "attestors[0].key.secretRef.name",
        ),
        // A SecurityPolicy reads its own namespace's Secret.
        (
            json!({"imageReferences": ["ghcr.io/*"], "attestors": [{"key": {"secretRef": {"name": "k", "namespace": "other"}}}]}),
            "attestors[0].key.secretRef.namespace",
        ),
    ];
    for (verify, field) in bad {
        let spec: rampart_api::SecurityPolicySpec = serde_json::from_value(
            json!({"rules": [{"name": "r", "conditions": [{"verifyImages": verify}]}]}),
        )
        .unwrap();
        let errors = spec.validate_namespaced();
        assert!(
            errors
                .iter()
                .any(|e| e.path == format!("rules[0].conditions[0].verifyImages.{field}")),
            "{field}: {errors:?}"
        );
    }
}

#[test]
fn key_secrets_are_watched_and_a_cluster_policy_names_their_namespace() {
    let spec = |secret: Value| -> rampart_api::SecurityPolicySpec {
        serde_json::from_value(
            json!({"rules": [{"name": "r", "conditions": [{"verifyImages": {
            "imageReferences": ["ghcr.io/*"], "attestors": [{"key": {"secretRef": secret}}]}}]}]}),
        )
        .unwrap()
    };
    let set = set_of(serde_json::to_value(spec(json!({"name": "signing"}))).unwrap());
    let wanted: Vec<String> = set.wanted().iter().map(ToString::to_string).collect();
    assert_eq!(wanted, ["v1/Secret in shop named signing"]);
    // A ClusterSecurityPolicy must say where the Secret is.
    let mut cluster = PolicySet::default();
    let errors = cluster
        .upsert(NamedPolicy {
            kind: "ClusterSecurityPolicy",
            namespace: None,
            name: "c".into(),
            spec: spec(json!({"name": "signing"})),
        })
        .unwrap_err();
    assert!(
        errors.iter().any(|e| e.path
            == "rules[0].conditions[0].verifyImages.attestors[0].key.secretRef.namespace"),
        "{errors:?}"
    );
    cluster
        .upsert(NamedPolicy {
            kind: "ClusterSecurityPolicy",
            namespace: None,
            name: "c".into(),
            spec: spec(json!({"name": "signing", "namespace": "keys", "key": "release.pub"})),
        })
        .unwrap();
    let wanted: Vec<String> = cluster.wanted().iter().map(ToString::to_string).collect();
    assert_eq!(wanted, ["v1/Secret in keys named signing"]);
}
