//! Conformance with upstream Pod Security Admission: every fixture of
//! `tests/corpora/pod-security-admission` (kubernetes/pod-security-admission `test/testdata`),
//! every level, every version, plus `latest` on the newest folder. `pass/` must be allowed,
//! `fail/` denied — by the check the file is named for, with upstream's wording in the reason.
//! Every disagreement is listed, not just the first.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use rampart_policy::pss::{self, Level, LevelVersion, Version};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora/pod-security-admission")
}

/// A fixture as Pod Security sees it: upstream runs these pods through an API server
/// (`test/integration/auth/podsecurity_test.go`), whose defaulting gives a volume without a
/// source an emptyDir (`restrictedvolumes0` has one) before admission.
fn load(path: &Path) -> Pod {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let mut value: serde_json::Value = serde_saphyr::from_str(&text).expect("fixture is YAML");
    rampart_policy::defaults::apply("Pod", &mut value);
    serde_json::from_value(value).expect("fixture is a Pod")
}

/// Upstream's expected substring of the denial for a check (SOURCE.md).
fn expected_text(check: &str) -> &'static str {
    match check.trim_end_matches(char::is_numeric) {
        "apparmorprofile" => "forbidden AppArmor profile",
        "capabilities_baseline" => "capabilities",
        "capabilities_restricted" => "unrestricted capabilities",
        "hostnamespaces" => "host namespaces",
        "hostpathvolumes" => "hostPath",
        "hostports" => "hostPort",
        "hostprobesandhostlifecycle" => "probe or lifecycle host",
        "procmount" | "procmount_restricted" => "procMount",
        "restrictedvolumes" => "restricted volume types",
        "seccompprofile_baseline" | "seccompprofile_restricted" => "seccompProfile",
        "selinuxoptions" => "seLinuxOptions",
        "sysctls" => "forbidden sysctl",
        "windowshostprocess" => "hostProcess",
        "privileged" => "privileged",
        "runasnonroot" => "runAsNonRoot",
        "runasuser" => "runAsUser",
        "allowprivilegeescalation" => "allowPrivilegeEscalation",
        _ => "",
    }
}

#[test]
fn every_fixture_agrees_with_upstream() {
    let mut checked = 0usize;
    let mut per_level = [(0usize, 0usize); 2];
    let mut disagreements = Vec::new();
    for (li, level) in ["baseline", "restricted"].into_iter().enumerate() {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root().join(level))
            .expect("level folder")
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let minor = name.strip_prefix("v1.")?.parse().ok()?;
                Some((minor, e.path()))
            })
            .collect();
        versions.sort();
        let newest = versions.last().map(|v| v.0).expect("versions");
        assert_eq!(
            newest,
            pss::NEWEST_MINOR,
            "latest must be the newest fixture folder"
        );
        for (minor, dir) in &versions {
            let mut runs = vec![Version::Minor(*minor)];
            if *minor == newest {
                runs.push(Version::Latest);
            }
            for outcome in ["pass", "fail"] {
                let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(outcome))
                    .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                    .unwrap_or_default();
                files.sort();
                for file in files {
                    let pod = load(&file);
                    let meta = pod.metadata.clone();
                    let spec = pod.spec.clone().unwrap_or_default();
                    for version in &runs {
                        let lv = LevelVersion {
                            level: Level::parse(level).expect("level"),
                            version: *version,
                        };
                        let violations = pss::evaluate(lv, &meta, &spec);
                        checked += 1;
                        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                        let rel = file.strip_prefix(root()).unwrap_or(&file).display();
                        let got: Vec<String> = violations
                            .iter()
                            .map(|v| format!("{}: {v}", v.check))
                            .collect();
                        if outcome == "pass" {
                            per_level[li].0 += 1;
                            if !violations.is_empty() {
                                disagreements.push(format!(
                                    "{rel} @{lv}: expected allow, denied by {got:?}"
                                ));
                            }
                        } else {
                            per_level[li].1 += 1;
                            let want = expected_text(name);
                            if violations.is_empty() {
                                disagreements.push(format!("{rel} @{lv}: expected deny, allowed"));
                            } else if !violations
                                .iter()
                                .any(|v| v.to_string().contains(want) || v.check.contains(want))
                            {
                                disagreements.push(format!(
                                    "{rel} @{lv}: denied, but not with {want:?}: {got:?}"
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    println!(
        "PSA fixtures: {checked} evaluations (baseline {} pass / {} fail, restricted {} pass / {} fail), {} disagreements",
        per_level[0].0,
        per_level[0].1,
        per_level[1].0,
        per_level[1].1,
        disagreements.len()
    );
    assert!(checked > 4500, "fixtures missing: {checked}");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
