//! Observations: a behaviour, who showed it, where the evidence came from — attributed to
//! workloads and kept for a while in an expiring store.

use std::collections::{BTreeSet, HashMap};

use rampart_model::WorkloadId;

use crate::audit::{SecretRead, Verb};
use crate::behaviour::{Behaviour, Mapping, SecretSource};
use crate::falco::{Alert, Priority};

/// Who showed a behaviour.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Subject {
    /// A pod (Falco's `k8s.ns.name` / `k8s.pod.name`).
    Pod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
    },
    /// A container known only by its runtime id (Falco's `container.id` without Kubernetes
    /// fields): resolved through the pods' container statuses.
    Container {
        /// The id (Falco prints the first 12 hex digits).
        id: String,
    },
    /// A ServiceAccount (an audit event's user), and the pod whose bound token it was when the
    /// apiserver says.
    ServiceAccount {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The pod, from `user.extra`.
        pod: Option<String>,
    },
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Pod { namespace, name } => write!(f, "pod {namespace}/{name}"),
            Subject::Container { id } => write!(f, "container {id}"),
            Subject::ServiceAccount {
                namespace,
                name,
                pod: Some(p),
            } => write!(f, "serviceaccount {namespace}/{name} (pod {p})"),
            Subject::ServiceAccount {
                namespace, name, ..
            } => write!(f, "serviceaccount {namespace}/{name}"),
        }
    }
}

/// Where the evidence came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum Origin {
    /// A Falco alert.
    Falco {
        /// Rule.
        rule: String,
        /// Priority.
        priority: Priority,
        /// Tags.
        tags: Vec<String>,
    },
    /// The request guard, through `rampart learner`.
    Guard {
        /// `request-anomaly` or `compromise`.
        kind: crate::guard::EventKind,
        /// The service the gate guards.
        service: String,
        /// How severe, on Falco's scale (a compromise is critical), for the response mapping.
        priority: Priority,
        /// Reason classes of the alerts.
        reasons: Vec<String>,
    },
    /// An audit event.
    Audit {
        /// `get`, `list` or `watch`.
        verb: Verb,
        /// `namespace/name`, `namespace/*` or `*`.
        secrets: String,
        /// `auditID`.
        audit_id: String,
    },
}

/// One observation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Observation {
    /// What was seen.
    pub behaviour: Behaviour,
    /// Who.
    pub subject: Subject,
    /// From where.
    pub origin: Origin,
    /// A one-line description (never a secret value: alerts and audit events carry none, and
    /// audit bodies are never read).
    pub summary: String,
}

/// Why an alert is not an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unused {
    /// No behaviour maps to it.
    Irrelevant,
    /// No pod named in it.
    Unattributed,
}

/// The observation an alert makes.
pub fn from_alert(a: &Alert, mapping: &Mapping) -> Result<Observation, Unused> {
    let behaviour = mapping.classify(a).ok_or(Unused::Irrelevant)?;
    let subject = match (&a.fields.namespace, &a.fields.pod, &a.fields.container_id) {
        (Some(namespace), Some(name), _) => Subject::Pod {
            namespace: namespace.clone(),
            name: name.clone(),
        },
        // `host` is Falco's id for events outside any container.
        (_, _, Some(id)) if !id.is_empty() && id != "host" => Subject::Container {
            id: short_id(id).to_string(),
        },
        _ => return Err(Unused::Unattributed),
    };
    // Never a command line's arguments (they carry passwords and tokens often enough): the
    // program, or the file or connection.
    let mut summary = a.rule.clone();
    let program = a
        .fields
        .cmdline
        .as_deref()
        .and_then(|c| c.split_whitespace().next());
    if let Some(c) = program.or(a.fields.fd_name.as_deref()) {
        summary.push_str(" (");
        summary.push_str(c);
        summary.push(')');
    }
    Ok(Observation {
        behaviour,
        subject,
        origin: Origin::Falco {
            rule: a.rule.clone(),
            priority: a.priority,
            tags: a.tags.clone(),
        },
        summary,
    })
}

/// The observation a Secret read makes.
pub fn from_read(r: &SecretRead) -> Observation {
    let secrets = match (&r.namespace, &r.name) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (Some(ns), None) => format!("{ns}/*"),
        _ => "*".to_string(),
    };
    let verb = match r.verb {
        Verb::Get => "get",
        Verb::List => "list",
        Verb::Watch => "watch",
    };
    Observation {
        behaviour: Behaviour::SecretRead(SecretSource::Api),
        subject: Subject::ServiceAccount {
            namespace: r.sa_namespace.clone(),
            name: r.sa_name.clone(),
            pod: r.pod.clone(),
        },
        summary: format!(
            "serviceaccount {}/{} {verb} secrets {secrets}",
            r.sa_namespace, r.sa_name
        ),
        origin: Origin::Audit {
            verb: r.verb,
            secrets,
            audit_id: r.audit_id.clone(),
        },
    }
}

/// The first 12 characters of a container id, without its `<runtime>://` prefix: the form
/// Falco prints.
pub fn short_id(id: &str) -> &str {
    let id = id.rsplit("://").next().unwrap_or(id);
    id.get(..12).unwrap_or(id)
}

/// One stored observation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// The latest observation of this behaviour by this subject.
    pub observation: Observation,
    /// First seen (Unix seconds).
    pub first_seen: u64,
    /// Last seen (Unix seconds).
    pub last_seen: u64,
    /// How often.
    pub count: u64,
}

/// What storing an observation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Not seen (or expired) before: the engine should re-prove.
    Fresh,
    /// Seen and still live: only its time moved.
    Refreshed,
    /// The store is full of live observations; dropped.
    Full,
}

/// Observations by behaviour and subject, each living `ttl` seconds after it was last seen.
#[derive(Debug, Clone)]
pub struct Store {
    ttl: u64,
    capacity: usize,
    entries: HashMap<(Behaviour, Subject), Entry>,
    /// When a full store last expired entries (a full store expires at most once a second).
    last_full_expiry: Option<u64>,
}

impl Store {
    /// A store keeping observations `ttl` seconds, at most `capacity` of them.
    pub fn new(ttl: u64, capacity: usize) -> Store {
        Store {
            ttl,
            capacity,
            entries: HashMap::new(),
            last_full_expiry: None,
        }
    }

    /// Stores an observation seen at `now`.
    pub fn insert(&mut self, o: Observation, now: u64) -> Stored {
        let key = (o.behaviour, o.subject.clone());
        if let Some(e) = self.entries.get_mut(&key) {
            let fresh = now >= e.last_seen.saturating_add(self.ttl);
            if fresh {
                e.first_seen = now;
                e.count = 0;
            }
            e.last_seen = e.last_seen.max(now);
            e.count += 1;
            e.observation = o;
            return if fresh {
                Stored::Fresh
            } else {
                Stored::Refreshed
            };
        }
        if self.entries.len() >= self.capacity {
            if self.last_full_expiry != Some(now) {
                self.last_full_expiry = Some(now);
                self.expire(now);
            }
            if self.entries.len() >= self.capacity {
                return Stored::Full;
            }
        }
        self.entries.insert(
            key,
            Entry {
                observation: o,
                first_seen: now,
                last_seen: now,
                count: 1,
            },
        );
        Stored::Fresh
    }

    /// Drops what expired by `now`; returns how many.
    pub fn expire(&mut self, now: u64) -> usize {
        let before = self.entries.len();
        let ttl = self.ttl;
        self.entries
            .retain(|_, e| now < e.last_seen.saturating_add(ttl));
        before - self.entries.len()
    }

    /// Live observations at `now`, in a stable order.
    pub fn active(&self, now: u64) -> Vec<&Entry> {
        let mut v: Vec<&Entry> = self
            .entries
            .values()
            .filter(|e| now < e.last_seen.saturating_add(self.ttl))
            .collect();
        v.sort_by(|a, b| {
            (a.observation.behaviour, &a.observation.subject)
                .cmp(&(b.observation.behaviour, &b.observation.subject))
        });
        v
    }

    /// Number stored (live or not yet expired by [`Store::expire`]).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Annotation on a quarantined pod naming the controller it was taken out of (`Kind/name`):
/// what it does is still evidence on that workload's chains.
pub const QUARANTINED_FROM: &str = "rampart.dev/quarantined-from";

/// Label that marks a quarantined pod; its value is the Mitigation's name.
pub const QUARANTINE_LABEL: &str = "rampart.dev/quarantine";

/// Which workloads a subject may be: built once per model, then each lookup is a hash probe.
#[derive(Debug, Default)]
pub struct Attributor {
    pods: HashMap<(String, String), WorkloadId>,
    accounts: HashMap<(String, String), Vec<WorkloadId>>,
    containers: HashMap<String, (String, String)>,
}

/// The workloads a subject may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// Candidates (one when exact; every workload running as the ServiceAccount otherwise).
    pub workloads: BTreeSet<WorkloadId>,
    /// Whether the subject names exactly one pod.
    pub exact: bool,
}

impl Attributor {
    /// Indexes the model's pods and ServiceAccounts.
    pub fn new(workloads: &[rampart_model::Workload]) -> Attributor {
        let mut a = Attributor::default();
        for w in workloads {
            for p in &w.pod_names {
                a.pods.insert((w.namespace.clone(), p.clone()), w.id);
            }
            if w.pod_names.is_empty() && w.kind == rampart_model::WorkloadKind::Pod {
                a.pods.insert((w.namespace.clone(), w.name.clone()), w.id);
            }
            a.accounts
                .entry((
                    w.namespace.clone(),
                    w.template.spec.service_account().to_string(),
                ))
                .or_default()
                .push(w.id);
        }
        a
    }

    /// Also resolves container ids, from the pods' container statuses in `snapshot`; and
    /// keeps a quarantined pod with the workload it was taken out of ([`QUARANTINED_FROM`]):
    /// evidence belongs to the workload and its chains, not to the pod's current labels.
    pub fn with_containers(mut self, snapshot: &rampart_model::Snapshot) -> Attributor {
        // The workload of each controller (`ns`, `Kind/name`), read off its other pods.
        let mut by_controller: HashMap<(String, String), WorkloadId> = HashMap::new();
        for o in snapshot.of_kind(rampart_model::Kind::Pod) {
            let m = o.object.meta();
            for r in m
                .owner_references
                .iter()
                .filter(|r| r.controller == Some(true))
            {
                if let Some(w) = self.pods.get(&(m.namespace.clone(), m.name.clone())) {
                    by_controller
                        .insert((m.namespace.clone(), format!("{}/{}", r.kind, r.name)), *w);
                }
            }
        }
        for o in snapshot.of_kind(rampart_model::Kind::Pod) {
            let m = o.object.meta();
            // Only a pod rampart quarantined (its label, owned by a Mitigation): an annotation
            // anyone can write must not move evidence onto another workload.
            let quarantined = m.labels.contains_key(QUARANTINE_LABEL)
                && m.owner_references.iter().any(|r| r.kind == "Mitigation");
            if quarantined
                && let Some(from) = m.annotations.get(QUARANTINED_FROM)
                && let Some(w) = by_controller.get(&(m.namespace.clone(), from.clone()))
            {
                self.pods.insert((m.namespace.clone(), m.name.clone()), *w);
            }
        }
        for o in snapshot.of_kind(rampart_model::Kind::Pod) {
            if let rampart_model::Object::Pod(p) = &o.object {
                for c in &p.status.container_statuses {
                    if !c.container_id.is_empty() {
                        self.containers.insert(
                            short_id(&c.container_id).to_string(),
                            (p.metadata.namespace.clone(), p.metadata.name.clone()),
                        );
                    }
                }
            }
        }
        self
    }

    /// The pod a subject names: itself for a pod, the container's pod when known.
    pub fn pod_of(&self, s: &Subject) -> Option<(String, String)> {
        match s {
            Subject::Pod { namespace, name } => Some((namespace.clone(), name.clone())),
            Subject::Container { id } => self.containers.get(short_id(id)).cloned(),
            Subject::ServiceAccount { .. } => None,
        }
    }

    /// The workloads `s` may be. A pod is exact; a ServiceAccount is every workload running as
    /// it (the ambiguity is kept, never resolved by guessing) unless the apiserver named the
    /// pod and the model knows it.
    pub fn attribute(&self, s: &Subject) -> Attribution {
        let pod = |ns: &str, p: &str| self.pods.get(&(ns.to_string(), p.to_string())).copied();
        match s {
            Subject::Pod { .. } | Subject::Container { .. } => Attribution {
                workloads: self
                    .pod_of(s)
                    .and_then(|(ns, p)| pod(&ns, &p))
                    .into_iter()
                    .collect(),
                exact: true,
            },
            Subject::ServiceAccount {
                namespace,
                name,
                pod: p,
            } => {
                if let Some(w) = p.as_deref().and_then(|p| pod(namespace, p)) {
                    return Attribution {
                        workloads: [w].into(),
                        exact: true,
                    };
                }
                Attribution {
                    workloads: self
                        .accounts
                        .get(&(namespace.clone(), name.clone()))
                        .map(|v| v.iter().copied().collect())
                        .unwrap_or_default(),
                    exact: false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(b: Behaviour, pod: &str) -> Observation {
        Observation {
            behaviour: b,
            subject: Subject::Pod {
                namespace: "ns".into(),
                name: pod.into(),
            },
            origin: Origin::Falco {
                rule: "r".into(),
                priority: Priority::Warning,
                tags: Vec::new(),
            },
            summary: "r".into(),
        }
    }

    #[test]
    fn observations_are_fresh_once_then_refresh_then_expire() {
        let mut s = Store::new(300, 10);
        assert_eq!(s.insert(obs(Behaviour::Drift, "a"), 100), Stored::Fresh);
        assert_eq!(s.insert(obs(Behaviour::Drift, "a"), 200), Stored::Refreshed);
        assert_eq!(
            s.insert(obs(Behaviour::ShellInContainer, "a"), 200),
            Stored::Fresh
        );
        assert_eq!(s.active(499).len(), 2, "refreshed at 200: lives until 500");
        assert_eq!(s.active(500).len(), 0);
        assert_eq!(s.expire(500), 2);
        assert!(s.is_empty());
        // Seen again after expiry: fresh again.
        assert_eq!(s.insert(obs(Behaviour::Drift, "a"), 900), Stored::Fresh);
    }

    #[test]
    fn a_full_store_drops_new_subjects_but_makes_room_from_expired_ones() {
        let mut s = Store::new(10, 2);
        s.insert(obs(Behaviour::Drift, "a"), 0);
        s.insert(obs(Behaviour::Drift, "b"), 5);
        assert_eq!(s.insert(obs(Behaviour::Drift, "c"), 6), Stored::Full);
        assert_eq!(
            s.insert(obs(Behaviour::Drift, "c"), 11),
            Stored::Fresh,
            "a expired"
        );
        assert_eq!(s.len(), 2);
    }
}
