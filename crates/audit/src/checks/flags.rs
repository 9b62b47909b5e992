//! The control plane's flags (CIS §1.2–§1.4, etcd §2), read from the static Pods of
//! kube-apiserver, kube-controller-manager, kube-scheduler and etcd when the objects hold them
//! (a `kubectl` dump of `kube-system` on a kubeadm, minikube or RKE2 cluster does).
//!
//! A component is recognised by its command, not its name: a Pod with one container whose
//! `command[0]` ends with the binary's name (in `kube-system`; etcd anywhere, and its command may
//! carry its flags in the same string). Flags are `command` then `args`, each element split on
//! whitespace; `--flag=value` and `--flag value` are both read, and the last occurrence wins, as
//! the components' own flag parser decides.

use serde_json::{Value, json};

use crate::check::{Fix, Hit, Outcome};
use crate::fix::{patch, replace, set};
use crate::object::Object;
use crate::settings::Settings;

/// A control-plane component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// kube-apiserver.
    ApiServer,
    /// kube-controller-manager.
    ControllerManager,
    /// kube-scheduler.
    Scheduler,
    /// etcd.
    Etcd,
}

impl Component {
    /// The binary's name.
    pub fn binary(self) -> &'static str {
        match self {
            Component::ApiServer => "kube-apiserver",
            Component::ControllerManager => "kube-controller-manager",
            Component::Scheduler => "kube-scheduler",
            Component::Etcd => "etcd",
        }
    }
}

/// What a flag must be.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// Set (any value).
    Set,
    /// Every one of these set.
    AllSet(&'static [&'static str]),
    /// Not set.
    Unset,
    /// Not this value (unset passes).
    Not(&'static str),
    /// Not this value, and set: unset means the component's default, which is this value.
    NotNorDefault(&'static str),
    /// Exactly this value.
    Is(&'static str),
    /// A comma list holding this item (unset fails).
    Contains(&'static str),
    /// A comma list, when set, holding this item.
    ContainsIfSet(&'static str),
    /// A comma list without this item (unset passes).
    Lacks(&'static str),
    /// A number at least this (unset fails; a value that is not a number is not judged).
    AtLeast(f64),
    /// Set, and its value reviewed by a person (CIS "or as appropriate"): always reported.
    Review,
    /// Reviewed by a person when set.
    ReviewIfSet,
    /// Set, and a comma list holding none of these items.
    NoneOf(&'static [&'static str]),
}

/// One flag rule.
#[derive(Debug, Clone, Copy)]
pub struct FlagRule {
    /// The component whose flag it is.
    pub component: Component,
    /// The flag (`--anonymous-auth`).
    pub flag: &'static str,
    /// What it must be.
    pub want: Want,
    /// The value a fix sets (`false`, `<path/to/ca.crt>`).
    pub fix: &'static str,
}

/// TLS cipher suites CIS 1.2.29 rules out (kubescape's list).
pub const WEAK_CIPHERS: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_RC4_128_SHA",
];

/// The ciphers a fix for CIS 1.2.29 sets.
const STRONG_CIPHERS: &str = "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256";

/// One flag as written: its value (none for a bare boolean flag) and where it is.
#[derive(Debug, Clone)]
struct Written {
    value: Option<String>,
    /// Dotted path of the element (`spec.containers[0].command[3]`).
    path: String,
    /// JSON pointer of the element.
    pointer: String,
    /// The whole element.
    element: String,
}

/// The component's container, when `o` is its static Pod.
fn container(o: &Object, c: Component) -> Option<&serde_json::Map<String, Value>> {
    if o.kind() != "Pod" || (c != Component::Etcd && o.namespace() != "kube-system") {
        return None;
    }
    let containers = o.value.pointer("/spec/containers")?.as_array()?;
    let [only] = containers.as_slice() else {
        return None;
    };
    let first = only.pointer("/command/0")?.as_str()?;
    let binary = first.split_whitespace().next().unwrap_or("");
    // `etcd` may carry its flags in the same string; the others name the binary alone.
    let name_ok = match c {
        Component::Etcd => binary.ends_with("etcd"),
        _ => first == binary && binary.ends_with(c.binary()),
    };
    name_ok.then(|| only.as_object()).flatten()
}

/// Whether `o` is the component's static Pod.
pub fn is_component(o: &Object, c: Component) -> bool {
    container(o, c).is_some()
}

/// The component whose static Pod `o` is, if any.
pub fn component_of(o: &Object) -> Option<Component> {
    [
        Component::ApiServer,
        Component::ControllerManager,
        Component::Scheduler,
        Component::Etcd,
    ]
    .into_iter()
    .find(|c| is_component(o, *c))
}

/// Every occurrence of `flag`, in order.
fn occurrences(c: &serde_json::Map<String, Value>, flag: &str) -> Vec<Written> {
    let mut out = Vec::new();
    for list in ["command", "args"] {
        for (i, e) in c
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(element) = e.as_str() else { continue };
            let tokens: Vec<&str> = element.split_whitespace().collect();
            for (t, token) in tokens.iter().enumerate() {
                let value =
                    if let Some(v) = token.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                        Some(v.to_string())
                    } else if *token == flag {
                        tokens
                            .get(t + 1)
                            .filter(|n| !n.starts_with('-'))
                            .map(|n| n.to_string())
                            .or_else(|| next_element_value(c, list, i, tokens.len() == 1))
                    } else {
                        continue;
                    };
                out.push(Written {
                    value,
                    path: format!("spec.containers[0].{list}[{i}]"),
                    pointer: format!("/spec/containers/0/{list}/{i}"),
                    element: element.to_string(),
                });
            }
        }
    }
    out
}

/// `["--flag", "value"]`: the value is the next element.
fn next_element_value(
    c: &serde_json::Map<String, Value>,
    list: &str,
    i: usize,
    alone: bool,
) -> Option<String> {
    if !alone {
        return None;
    }
    let next = c.get(list)?.as_array()?.get(i + 1)?.as_str()?;
    (!next.starts_with('-')).then(|| next.to_string())
}

fn items(v: &str) -> Vec<&str> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The patch that adds `--flag=value` at the end of the flags (`args` when the Pod uses them).
fn add_flag(
    o: &Object,
    c: &serde_json::Map<String, Value>,
    flag: &str,
    value: &str,
) -> Option<Fix> {
    let list = if c
        .get("args")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        "args"
    } else {
        "command"
    };
    let len = c.get(list).and_then(Value::as_array).map_or(0, Vec::len);
    patch([set(
        &o.value,
        &format!("/spec/containers/0/{list}/{len}"),
        json!(format!("{flag}={value}")),
    )])
}

/// The patch that rewrites one written flag to `--flag=value` in its element.
fn rewrite(w: &Written, flag: &str, value: &str) -> Option<Fix> {
    let new: Vec<String> = w
        .element
        .split_whitespace()
        .map(|t| {
            if t == flag || t.starts_with(&format!("{flag}=")) {
                format!("{flag}={value}")
            } else {
                t.to_string()
            }
        })
        .collect();
    patch([replace(&w.pointer, json!(new.join(" ")))])
}

/// Judges one rule on an object (no hits when it is not the component's Pod).
pub fn judge(rule: &FlagRule, o: &Object, _: &Settings) -> Outcome {
    let Some(c) = container(o, rule.component) else {
        return Ok(Vec::new());
    };
    let flag = rule.flag;
    let all = occurrences(c, flag);
    let last = all.last();
    let missing = || {
        Hit::new(
            "spec.containers[0].command",
            format!("{} runs without {flag}", rule.component.binary()),
        )
        .fix(add_flag(o, c, flag, rule.fix))
    };
    let bad =
        |w: &Written, why: String| Hit::new(w.path.clone(), why).fix(rewrite(w, flag, rule.fix));
    let value = |w: &Written| w.value.clone().unwrap_or_else(|| "true".into());
    let hits = match rule.want {
        Want::Set => match last {
            None => vec![missing()],
            Some(_) => Vec::new(),
        },
        Want::AllSet(flags) => {
            let mut hits = Vec::new();
            for f in flags {
                if occurrences(c, f).is_empty() {
                    hits.push(
                        Hit::new(
                            "spec.containers[0].command",
                            format!("{} runs without {f}", rule.component.binary()),
                        )
                        .fix(add_flag(o, c, f, rule.fix)),
                    );
                }
            }
            // One failure per component, however many of its flags are missing.
            hits.truncate(1);
            hits
        }
        Want::Unset => last
            .map(|w| {
                Hit::new(w.path.clone(), format!("{flag} is set"))
                    .instruct(format!("remove {flag}"))
            })
            .into_iter()
            .collect(),
        Want::Not(v) => all
            .iter()
            .filter(|w| value(w) == v)
            .map(|w| bad(w, format!("{flag} is {v}")))
            .collect(),
        Want::NotNorDefault(v) => match last {
            None => vec![missing()],
            Some(w) if value(w) == v => vec![bad(w, format!("{flag} is {v}"))],
            Some(_) => Vec::new(),
        },
        Want::Is(v) => match last {
            None => vec![missing()],
            Some(w) if value(w) != v => vec![bad(w, format!("{flag} is not {v}"))],
            Some(_) => Vec::new(),
        },
        Want::Contains(item) | Want::ContainsIfSet(item) => match last {
            None if matches!(rule.want, Want::Contains(_)) => vec![missing()],
            None => Vec::new(),
            Some(w) => {
                let v = value(w);
                let list = items(&v);
                if list.contains(&item) {
                    Vec::new()
                } else {
                    let mut with = list.clone();
                    with.push(item);
                    vec![
                        Hit::new(w.path.clone(), format!("{flag} does not include {item}"))
                            .fix(rewrite(w, flag, &with.join(","))),
                    ]
                }
            }
        },
        Want::Lacks(item) => match last {
            Some(w) if items(&value(w)).contains(&item) => {
                let v = value(w);
                let rest: Vec<&str> = items(&v).into_iter().filter(|i| *i != item).collect();
                let hit = Hit::new(w.path.clone(), format!("{flag} includes {item}"));
                vec![if rest.is_empty() {
                    hit.instruct(format!("remove {flag}"))
                } else {
                    hit.fix(rewrite(w, flag, &rest.join(",")))
                }]
            }
            _ => Vec::new(),
        },
        Want::AtLeast(n) => match last {
            None => vec![missing()],
            Some(w) => match value(w).parse::<f64>() {
                Ok(v) if v < n => vec![bad(w, format!("{flag} is {v}, below {n}"))],
                _ => Vec::new(),
            },
        },
        Want::Review => match last {
            None => vec![missing()],
            Some(w) => vec![
                Hit::new(
                    w.path.clone(),
                    format!("review {flag}: is its value appropriate for this cluster?"),
                )
                .instruct(format!("confirm {flag}, or except it with a reason")),
            ],
        },
        Want::ReviewIfSet => last
            .map(|w| {
                Hit::new(
                    w.path.clone(),
                    format!("review {flag}: is its value appropriate for this cluster?"),
                )
                .instruct(format!("confirm {flag}, or except it with a reason"))
            })
            .into_iter()
            .collect(),
        Want::NoneOf(list) => match last {
            None => vec![
                Hit::new(
                    "spec.containers[0].command",
                    format!("{} runs without {flag}", rule.component.binary()),
                )
                .fix(add_flag(o, c, flag, STRONG_CIPHERS)),
            ],
            Some(w) => {
                let v = value(w);
                let weak: Vec<&str> = items(&v).into_iter().filter(|i| list.contains(i)).collect();
                if weak.is_empty() {
                    Vec::new()
                } else {
                    let kept: Vec<&str> = items(&v)
                        .into_iter()
                        .filter(|i| !list.contains(i))
                        .collect();
                    let to = if kept.is_empty() {
                        STRONG_CIPHERS.to_string()
                    } else {
                        kept.join(",")
                    };
                    vec![
                        Hit::new(w.path.clone(), format!("{flag} allows {}", weak.join(", ")))
                            .fix(rewrite(w, flag, &to)),
                    ]
                }
            }
        },
    };
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(command: Value, args: Value) -> Object {
        Object::new(
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "kube-apiserver-x", "namespace": "kube-system"},
                   "spec": {"containers": [{"name": "a", "command": command, "args": args}]}}),
            None,
            0,
        )
        .expect("object")
    }

    const ANON: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--anonymous-auth",
        want: Want::NotNorDefault("true"),
        fix: "false",
    };

    #[test]
    fn both_flag_forms_are_read_and_the_last_occurrence_wins() {
        let s = Settings::default();
        let cases = [
            (
                json!(["kube-apiserver", "--anonymous-auth=false"]),
                json!([]),
                0,
            ),
            (
                json!(["kube-apiserver", "--anonymous-auth", "false"]),
                json!([]),
                0,
            ),
            (
                json!(["kube-apiserver"]),
                json!(["--anonymous-auth false"]),
                0,
            ),
            (
                json!(["kube-apiserver", "--anonymous-auth=true"]),
                json!([]),
                1,
            ),
            (json!(["kube-apiserver"]), json!([]), 1),
            (
                json!([
                    "kube-apiserver",
                    "--anonymous-auth=true",
                    "--anonymous-auth=false"
                ]),
                json!([]),
                0,
            ),
        ];
        for (command, args, n) in cases {
            let hits = judge(&ANON, &pod(command.clone(), args.clone()), &s).expect("judged");
            assert_eq!(hits.len(), n, "{command} {args}");
        }
    }

    #[test]
    fn a_fix_applies_and_then_the_rule_passes() {
        let s = Settings::default();
        for (command, args) in [
            (
                json!(["kube-apiserver", "--anonymous-auth=true"]),
                json!([]),
            ),
            (json!(["kube-apiserver"]), json!(["--x=1"])),
            (
                json!(["kube-apiserver", "--a=1 --anonymous-auth=true"]),
                json!([]),
            ),
        ] {
            let mut o = pod(command, args);
            let hits = judge(&ANON, &o, &s).expect("judged");
            let Some(Fix::Patch(p)) = &hits[0].fix else {
                panic!("no patch")
            };
            json_patch::patch(&mut o.value, p).expect("applies");
            assert!(
                judge(&ANON, &o, &s).expect("judged").is_empty(),
                "{}",
                o.value
            );
        }
    }

    #[test]
    fn another_binary_or_namespace_is_not_the_component() {
        let s = Settings::default();
        let mut o = pod(json!(["kube-scheduler"]), json!([]));
        assert!(judge(&ANON, &o, &s).expect("judged").is_empty());
        o = pod(json!(["kube-apiserver"]), json!([]));
        o.at.namespace = "default".into();
        assert!(judge(&ANON, &o, &s).expect("judged").is_empty());
    }
}
