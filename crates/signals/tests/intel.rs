//! Vulnerability intel on real and synthetic payloads: the KEV feed (whose `count` lies in the
//! excerpt) and its plain-list form, trivy-operator reports (lenient about fields the docs
//! omit), and footholds at the entry of chains — known exploited with a KEV entry, propose-only for a
//! critical remote CVE alone, nothing for a CVE that is neither.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use rampart_graph::{Options, analyze};
use rampart_model::{ParseLimits, Snapshot, parse_source};
use rampart_signals::epss::Epss;
use rampart_signals::foothold::{ExploitIntel, footholds};
use rampart_signals::kev::Kev;
use rampart_signals::vulns::{Severity, parse_file};

fn corpus(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpora/runtime-events")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_kev_feed_and_its_plain_list_agree() {
    let feed = Kev::parse(corpus("kev/kev-excerpt.json").as_bytes()).unwrap();
    assert_eq!(
        feed.entries.len(),
        19,
        "the array, not the stated count of 1404"
    );
    assert_eq!(feed.version, "2025.08.25");
    let log4shell = feed.get("CVE-2021-44228").unwrap();
    assert!(log4shell.name.contains("Log4j"), "{log4shell:?}");
    let list = Kev::parse(corpus("kev/kev-cve-ids-excerpt.txt").as_bytes()).unwrap();
    assert_eq!(
        list.entries.keys().collect::<Vec<_>>(),
        feed.entries.keys().collect::<Vec<_>>()
    );
}

#[test]
fn trivy_reports_read_leniently() {
    let (docs, errs) = parse_file(
        "docs.yaml",
        &corpus("trivy-operator/vulnerabilityreport-docs-example.yaml"),
    );
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(docs.len(), 1);
    let r = &docs[0];
    assert_eq!(
        (r.owner_kind.as_str(), r.owner_name.as_str()),
        ("ReplicaSet", "nginx-6d4cf56db6")
    );
    assert_eq!(
        r.image, "library/nginx:1.16",
        "docker hub's server is implied"
    );
    assert!(!r.vulns.is_empty());
    let (syn, errs) = parse_file(
        "syn.yaml",
        &corpus("trivy-operator/synthetic-log4shell-vulnerabilityreport.yaml"),
    );
    assert!(errs.is_empty());
    assert_eq!(syn[0].image, "ghcr.io/shop/web:1.4.2");
    assert_eq!(syn[0].vulns.len(), 2);
    assert!(
        syn[0].vulns[0].remote && !syn[0].vulns[1].remote,
        "{:?}",
        syn[0].vulns
    );
    assert_eq!(syn[0].vulns[0].severity, Severity::Critical);
}

/// `shop/web` (Deployment → ReplicaSet web-7fc7749b56 → pod) behind a LoadBalancer, mounting a
/// Secret: the report of the synthetic fixture belongs to it.
const CLUSTER: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "ghcr.io/shop/web:1.4.2", ports: [{containerPort: 8080}], volumeMounts: [{name: s, mountPath: /s}]}]
      volumes: [{name: s, secret: {secretName: db}}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-7fc7749b56
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u1, controller: true}]
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "ghcr.io/shop/web:1.4.2", ports: [{containerPort: 8080}], volumeMounts: [{name: s, mountPath: /s}]}]
      volumes: [{name: s, secret: {secretName: db}}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
"#;

#[test]
fn a_kev_cve_at_the_entry_is_a_known_exploited_foothold_and_a_remote_critical_alone_is_not() {
    let snapshot =
        Snapshot::from_objects(parse_source("c.yaml", CLUSTER, &ParseLimits::default()).objects);
    let a = analyze(&snapshot, &Options::default());
    assert!(!a.proof.chains.is_empty());
    let (reports, _) = parse_file(
        "syn.yaml",
        &corpus("trivy-operator/synthetic-log4shell-vulnerabilityreport.yaml"),
    );
    let kev = Kev::parse(corpus("kev/kev-excerpt.json").as_bytes()).unwrap();
    let intel = ExploitIntel {
        kev: kev.clone(),
        ..ExploitIntel::default()
    };
    let f = footholds(&a, &snapshot, &reports, &intel);
    assert_eq!(
        f.len(),
        a.proof.chains.len(),
        "every chain enters through web"
    );
    let fh = f.values().next().unwrap();
    assert_eq!(fh.workload, "shop/web[Deployment]");
    assert!(fh.known_exploited);
    let ids: Vec<&str> = fh.exploits.iter().map(|e| e.cve.as_str()).collect();
    assert_eq!(
        ids,
        vec!["CVE-2021-44228", "CVE-2021-45046"],
        "both are in KEV"
    );
    assert!(fh.exploits[0].why.contains("Log4j"));

    // Without the KEV catalogue: log4shell is still critical and remote (propose only), the
    // DoS is neither a KEV entry nor remote code execution.
    let f = footholds(&a, &snapshot, &reports, &ExploitIntel::default());
    let fh = f.values().next().unwrap();
    assert!(!fh.known_exploited);
    assert_eq!(fh.exploits.len(), 1);
    assert!(fh.exploits[0].why.contains("not known exploited"));

    // A report of an image the workload no longer runs (an old ReplicaSet's) adds nothing.
    let mut stale = reports.clone();
    stale[0].image = "ghcr.io/shop/web:1.4.1".into();
    assert!(footholds(&a, &snapshot, &stale, &intel).is_empty());
    // A report for another workload adds nothing.
    let mut other = reports.clone();
    other[0].owner_name = "api-123".into();
    other[0].namespace = "shop".into();
    assert!(footholds(&a, &snapshot, &other, &intel).is_empty());
}

#[test]
fn an_epss_score_at_the_threshold_makes_a_foothold_and_below_it_is_only_shown() {
    let snapshot =
        Snapshot::from_objects(parse_source("c.yaml", CLUSTER, &ParseLimits::default()).objects);
    let a = analyze(&snapshot, &Options::default());
    let (reports, _) = parse_file(
        "syn.yaml",
        &corpus("trivy-operator/synthetic-log4shell-vulnerabilityreport.yaml"),
    );
    // The DoS (critical, not remote code execution, not in KEV) scored likely to be exploited.
    let epss = Epss::parse(
        b"#model_version:v2025.03.14,score_date:2026-12-05T00:00:00Z\ncve,epss,percentile\n\
          CVE-2021-44228,0.94358,0.99958\nCVE-2021-45046,0.72,0.98\n",
    )
    .unwrap();
    let mut intel = ExploitIntel {
        epss,
        epss_min: Some(0.5),
        ..ExploitIntel::default()
    };
    let f = footholds(&a, &snapshot, &reports, &intel);
    let fh = f.values().next().unwrap();
    let ids: Vec<&str> = fh.exploits.iter().map(|e| e.cve.as_str()).collect();
    assert_eq!(ids, ["CVE-2021-44228", "CVE-2021-45046"]);
    assert!(!fh.known_exploited, "EPSS is a prediction, not KEV");
    assert!(
        fh.exploits[1].why.contains("likely exploited (EPSS 0.72"),
        "{}",
        fh.exploits[1].why
    );
    assert_eq!(fh.exploits[0].epss.map(|s| s.epss), Some(0.94358));
    // Its negative twin: above the score, the DoS is shown nowhere; log4shell keeps its score.
    intel.epss_min = Some(0.8);
    let f = footholds(&a, &snapshot, &reports, &intel);
    let fh = f.values().next().unwrap();
    assert_eq!(fh.exploits.len(), 1);
    assert_eq!(fh.exploits[0].epss.map(|s| s.percentile), Some(0.99958));
    // Without a threshold the scores are shown, never decisive.
    intel.epss_min = None;
    let f = footholds(&a, &snapshot, &reports, &intel);
    assert_eq!(f.values().next().unwrap().exploits.len(), 1);
}
