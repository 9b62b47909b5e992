//! rampart's checks beside checkov's own Kubernetes check examples (`tests/corpora/checkov`,
//! see its SOURCE.md): for every checkov check whose meaning a rampart check shares, the
//! passed and failed counts over the example directory must equal the counts checkov's tests
//! assert. checkov counts one result per resource of its workload kinds (a `List`'s items and
//! every document of a file included); so does rampart's tally.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampart_audit::run::{Options, audit_with};
use rampart_audit::{Inventory, Object, catalog};
use rampart_model::{ParseLimits, raw_documents};

/// checkov check → the rampart check with the same meaning.
const SHARED: &[(&str, &str)] = &[
    ("CKV_K8S_16", "privileged-container"),
    ("CKV_K8S_17", "host-pid"),
    ("CKV_K8S_18", "host-ipc"),
    ("CKV_K8S_19", "host-network"),
    ("CKV_K8S_20", "privilege-escalation"),
    ("CKV_K8S_21", "default-namespace"),
    ("CKV_K8S_38", "automount-token"),
];

/// checkov checks rampart does not share, and why (the test reports them, it does not judge).
const NOT_SHARED: &[(&str, &str)] = &[
    (
        "CKV_K8S_23",
        "runAsNonRoot or a non-zero runAsUser; rampart's non-root (like kubescape's C-0013) also asks for a non-root group",
    ),
    (
        "CKV_K8S_31",
        "accepts the seccomp annotations, which Kubernetes has ignored since 1.27; rampart reads seccompProfile only",
    ),
    (
        "CKV_K8S_37",
        "dropping NET_RAW alone passes; Pod Security restricted (pss-capabilities-restricted) asks to drop ALL",
    ),
    (
        "CKV_K8S_39",
        "SYS_ADMIN alone; rampart's privileged-container counts privileged: true too",
    ),
    (
        "CKV_K8S_27",
        "docker socket only; rampart judges every hostPath (pss-host-path-volumes)",
    ),
    (
        "CKV_K8S_28",
        "NET_RAW dropped; CIS 5.2.8 is judged per namespace (namespace-pss-baseline)",
    ),
    (
        "CKV_K8S_29",
        "security context present; no rampart check asks for mere presence",
    ),
    (
        "CKV_K8S_30",
        "security context present; no rampart check asks for mere presence",
    ),
    ("CKV_K8S_41", "per ServiceAccount object named default"),
    ("CKV_K8S_42", "per binding of the default ServiceAccount"),
    (
        "CKV_K8S_49",
        "per Role; rampart judges RBAC per subject (rbac-wildcard)",
    ),
    (
        "CKV_K8S_155",
        "per ClusterRole; rampart judges RBAC per subject",
    ),
    (
        "CKV_K8S_156",
        "per ClusterRole; rampart judges RBAC per subject",
    ),
    ("CKV_K8S_157", "per Role; rampart judges RBAC per subject"),
    ("CKV_K8S_158", "per Role; rampart judges RBAC per subject"),
];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora/checkov")
}

fn objects(dir: &Path) -> Vec<Object> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("example dir")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).expect("readable");
        let name = f.display().to_string();
        let (docs, _) = raw_documents(&name, &text, &ParseLimits::default());
        for d in docs {
            if let Some(o) = Object::new(d.value, Some(Arc::from(name.as_str())), d.source.line) {
                out.push(o);
            }
        }
    }
    out
}

#[test]
fn checkov_examples_agree_on_the_checks_rampart_shares() {
    let text = fs::read_to_string(corpus().join("cases.tsv")).expect("cases.tsv");
    let mut rows: BTreeMap<&str, (String, u32, u32)> = BTreeMap::new();
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split('\t').collect();
        rows.insert(
            f[0],
            (
                f[4].to_string(),
                f[6].parse().expect("passed"),
                f[7].parse().expect("failed"),
            ),
        );
    }
    let mut disagreements = Vec::new();
    for (ckv, id) in SHARED {
        let (dir, passed, failed) = rows.get(ckv).unwrap_or_else(|| panic!("no {ckv}"));
        let check = catalog::find(id).unwrap_or_else(|| panic!("no {id}"));
        let inv = Inventory::new(objects(&corpus().join(dir)));
        let a = audit_with(&inv, &[check], &Options::default());
        let t = a.tally(id);
        let ours = (t.passed, t.failed + t.excepted);
        let line = format!(
            "{ckv} ~ {id}: rampart passed {} failed {}, checkov passed {passed} failed {failed}",
            ours.0, ours.1
        );
        eprintln!("{line}");
        if ours != (*passed, *failed) {
            disagreements.push(line);
        }
    }
    for (ckv, why) in NOT_SHARED {
        assert!(rows.contains_key(ckv), "{ckv}");
        eprintln!("{ckv}: not shared ({why})");
    }
    assert_eq!(
        SHARED.len() + NOT_SHARED.len(),
        rows.len(),
        "every checkov check is either shared or says why not"
    );
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}
