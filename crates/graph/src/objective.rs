//! What an attacker wants, in MITRE ATT&CK's words: each chain's target names its technique
//! (the containers matrix), and the objectives beyond the four classic targets — Impact,
//! Exfiltration, Collection, Persistence — are targets of their own that can be turned off.
//!
//! Pure classification: which technique a target stands for, which workloads hold data. The
//! edges into objectives are built in [`crate::build`] (static pods beside the other host
//! paths, in its escape rules).

use rampart_model::Workload;

/// An ATT&CK technique a chain ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Technique {
    /// T1485 Data Destruction: delete the volumes (or namespaces) that hold data.
    DataDestruction,
    /// T1489 Service Stop: delete or scale down the controllers that run services.
    ServiceStop,
    /// T1041 Exfiltration Over C2 Channel: a foothold that may send to the internet.
    ExfiltrationOverC2,
    /// T1213 Data from Information Repositories: a database.
    InformationRepositories,
    /// T1530 Data from Cloud Storage: a workload backed by persistent volumes.
    CloudStorage,
    /// T1053.007 Scheduled Task/Job: Container Orchestration Job (CronJobs).
    OrchestrationJob,
    /// T1543.005 Create or Modify System Process: Container Service (DaemonSets, static pods
    /// on a node).
    SystemProcess,
    /// T1546 Event Triggered Execution (mutating admission webhooks run on every admission).
    EventTriggeredExecution,
    /// T1552.007 Unsecured Credentials: Container API (Secrets).
    ContainerApiCredentials,
    /// T1611 Escape to Host (nodes).
    EscapeToHost,
    /// T1078 Valid Accounts (cluster-admin credentials).
    ValidAccounts,
}

/// The objectives beyond the classic targets, each selectable (`--objectives`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Objective {
    /// Destroy data or stop services.
    Impact,
    /// Send data out.
    Exfiltration,
    /// Reach where data is kept.
    Collection,
    /// Stay: plant what runs again.
    Persistence,
}

impl Objective {
    /// Every objective, in order.
    pub const ALL: [Objective; 4] = [
        Objective::Impact,
        Objective::Exfiltration,
        Objective::Collection,
        Objective::Persistence,
    ];

    /// The name `--objectives` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Objective::Impact => "impact",
            Objective::Exfiltration => "exfiltration",
            Objective::Collection => "collection",
            Objective::Persistence => "persistence",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Which objectives are targets: all by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Objectives(u8);

impl Default for Objectives {
    fn default() -> Self {
        Objectives::all()
    }
}

/// An `--objectives` list that names something else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown objective {0:?} (expected all, none, or a list of impact, exfiltration, collection, persistence)"
)]
pub struct UnknownObjective(pub String);

impl Objectives {
    /// Every objective.
    pub fn all() -> Objectives {
        Objectives(Objective::ALL.iter().fold(0, |m, o| m | o.bit()))
    }

    /// None: the classic targets only.
    pub fn none() -> Objectives {
        Objectives(0)
    }

    /// These objectives.
    pub fn of(list: &[Objective]) -> Objectives {
        Objectives(list.iter().fold(0, |m, o| m | o.bit()))
    }

    /// Whether `o` is a target.
    pub fn includes(self, o: Objective) -> bool {
        self.0 & o.bit() != 0
    }

    /// Reads `all`, `none`, or a comma-separated list of objective names (any case; `all`
    /// in a list means all; nothing at all is the default, all; an empty item is refused).
    pub fn parse(s: &str) -> Result<Objectives, UnknownObjective> {
        match s.trim() {
            "" => return Ok(Objectives::all()),
            t if t.eq_ignore_ascii_case("none") => return Ok(Objectives::none()),
            _ => {}
        }
        let mut out = Objectives::none();
        for part in s.split(',').map(str::trim) {
            if part.eq_ignore_ascii_case("all") {
                out = Objectives::all();
                continue;
            }
            let o = Objective::ALL
                .into_iter()
                .find(|o| o.as_str().eq_ignore_ascii_case(part))
                .ok_or_else(|| UnknownObjective(part.chars().take(64).collect()))?;
            out.0 |= o.bit();
        }
        Ok(out)
    }

    /// The names of the objectives included, in order.
    pub fn names(self) -> Vec<&'static str> {
        Objective::ALL
            .into_iter()
            .filter(|o| self.includes(*o))
            .map(Objective::as_str)
            .collect()
    }
}

impl std::fmt::Display for Objectives {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = self.names();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

impl std::str::FromStr for Objectives {
    type Err = UnknownObjective;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Objectives::parse(s)
    }
}

impl Technique {
    /// The ATT&CK id.
    pub fn id(self) -> &'static str {
        match self {
            Technique::DataDestruction => "T1485",
            Technique::ServiceStop => "T1489",
            Technique::ExfiltrationOverC2 => "T1041",
            Technique::InformationRepositories => "T1213",
            Technique::CloudStorage => "T1530",
            Technique::OrchestrationJob => "T1053.007",
            Technique::SystemProcess => "T1543.005",
            Technique::EventTriggeredExecution => "T1546",
            Technique::ContainerApiCredentials => "T1552.007",
            Technique::EscapeToHost => "T1611",
            Technique::ValidAccounts => "T1078",
        }
    }

    /// The ATT&CK name.
    pub fn name(self) -> &'static str {
        match self {
            Technique::DataDestruction => "Data Destruction",
            Technique::ServiceStop => "Service Stop",
            Technique::ExfiltrationOverC2 => "Exfiltration Over C2 Channel",
            Technique::InformationRepositories => "Data from Information Repositories",
            Technique::CloudStorage => "Data from Cloud Storage",
            Technique::OrchestrationJob => "Scheduled Task/Job: Container Orchestration Job",
            Technique::SystemProcess => "Create or Modify System Process: Container Service",
            Technique::EventTriggeredExecution => "Event Triggered Execution",
            Technique::ContainerApiCredentials => "Unsecured Credentials: Container API",
            Technique::EscapeToHost => "Escape to Host",
            Technique::ValidAccounts => "Valid Accounts",
        }
    }

    /// The ATT&CK tactic it serves here.
    pub fn tactic(self) -> &'static str {
        match self {
            Technique::DataDestruction | Technique::ServiceStop => "Impact",
            Technique::ExfiltrationOverC2 => "Exfiltration",
            Technique::InformationRepositories | Technique::CloudStorage => "Collection",
            Technique::OrchestrationJob
            | Technique::SystemProcess
            | Technique::EventTriggeredExecution => "Persistence",
            Technique::ContainerApiCredentials => "Credential Access",
            Technique::EscapeToHost | Technique::ValidAccounts => "Privilege Escalation",
        }
    }

    /// The objective it belongs to, for the ones that can be turned off.
    pub fn objective(self) -> Option<Objective> {
        match self {
            Technique::DataDestruction | Technique::ServiceStop => Some(Objective::Impact),
            Technique::ExfiltrationOverC2 => Some(Objective::Exfiltration),
            Technique::InformationRepositories | Technique::CloudStorage => {
                Some(Objective::Collection)
            }
            Technique::OrchestrationJob
            | Technique::SystemProcess
            | Technique::EventTriggeredExecution => Some(Objective::Persistence),
            Technique::ContainerApiCredentials
            | Technique::EscapeToHost
            | Technique::ValidAccounts => None,
        }
    }

    /// The short name an objective vertex carries (part of chain ids: never change one).
    pub fn slug(self) -> &'static str {
        match self {
            Technique::DataDestruction => "data-destruction",
            Technique::ServiceStop => "service-stop",
            Technique::ExfiltrationOverC2 => "egress-to-internet",
            Technique::InformationRepositories => "database",
            Technique::CloudStorage => "persistent-volume",
            Technique::OrchestrationJob => "cronjob",
            Technique::SystemProcess => "daemonset-or-static-pod",
            Technique::EventTriggeredExecution => "mutating-webhook",
            Technique::ContainerApiCredentials => "secret",
            Technique::EscapeToHost => "node",
            Technique::ValidAccounts => "cluster-admin",
        }
    }
}

/// An objective vertex: a technique, cluster-wide or within one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectiveVertex {
    /// The technique.
    pub technique: Technique,
    /// The namespace it is reached in; `None`: cluster-wide.
    pub namespace: Option<String>,
}

/// Images of data stores, by the last part of the repository (registry, path, tag and digest
/// stripped). A workload running one holds data worth collecting.
const DATABASE_IMAGES: &[&str] = &[
    "postgres",
    "postgresql",
    "postgresql-repmgr",
    "timescaledb",
    "postgis",
    "mysql",
    "mysql-server",
    "mariadb",
    "percona-server",
    "mongo",
    "mongodb",
    "mongodb-community-server",
    "redis",
    "redis-stack-server",
    "valkey",
    "keydb",
    "elasticsearch",
    "opensearch",
    "cassandra",
    "scylla",
    "couchdb",
    "couchbase",
    "clickhouse-server",
    "cockroach",
    "neo4j",
    "influxdb",
    "etcd",
    "minio",
    "mssql-server",
    "oracle-database",
    "arangodb",
    "rethinkdb",
    "dgraph",
    "vault",
];

/// Well-known ports of data stores (a container declaring one is taken for a database).
const DATABASE_PORTS: &[i64] = &[
    5432,  // PostgreSQL
    3306,  // MySQL, MariaDB
    27017, // MongoDB
    6379,  // Redis
    9200,  // Elasticsearch, OpenSearch
    9042,  // Cassandra, Scylla
    5984,  // CouchDB
    1433,  // SQL Server
    1521,  // Oracle
    26257, // CockroachDB
    7687,  // Neo4j Bolt
    8086,  // InfluxDB
    2379,  // etcd
    8529,  // ArangoDB
    28015, // RethinkDB
];

/// The repository's last path component of an image reference, lower-cased: `bitnami/postgresql`
/// at `docker.io/bitnami/postgresql:16@sha256:…` is `postgresql`.
fn image_name(image: &str) -> String {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split(':').next().unwrap_or(last).to_ascii_lowercase()
}

/// What a workload holds for Collection: a database (by image or well-known port) or data on
/// persistent volumes; `None` for a workload that keeps nothing beyond its pods' lives.
pub fn collection(w: &Workload) -> Option<Technique> {
    let spec = &w.template.spec;
    let database = spec.containers.iter().any(|c| {
        DATABASE_IMAGES.contains(&image_name(&c.image).as_str())
            || c.ports
                .iter()
                .any(|p| DATABASE_PORTS.contains(&p.container_port))
    });
    if database {
        return Some(Technique::InformationRepositories);
    }
    spec.volumes
        .iter()
        .any(|v| v.persistent_volume_claim.is_some())
        .then_some(Technique::CloudStorage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_parse_names_lists_all_and_none() {
        assert_eq!(Objectives::parse("all"), Ok(Objectives::all()));
        assert_eq!(Objectives::parse("ALL"), Ok(Objectives::all()));
        assert_eq!(Objectives::parse("all,impact"), Ok(Objectives::all()));
        assert_eq!(Objectives::parse("None"), Ok(Objectives::none()));
        assert!(Objectives::parse(" , ").is_err() && Objectives::parse("impact,").is_err());
        assert_eq!(Objectives::parse(""), Ok(Objectives::all()));
        let two = Objectives::parse("impact, Exfiltration").unwrap();
        assert!(two.includes(Objective::Impact) && two.includes(Objective::Exfiltration));
        assert!(!two.includes(Objective::Collection) && !two.includes(Objective::Persistence));
        assert_eq!(two.to_string(), "impact,exfiltration");
        let err = Objectives::parse("impact,lateral").unwrap_err();
        assert_eq!(err.0, "lateral");
        assert!(err.to_string().contains("persistence"));
    }

    #[test]
    fn image_names_drop_registry_path_tag_and_digest() {
        assert_eq!(image_name("postgres"), "postgres");
        assert_eq!(
            image_name("docker.io/bitnami/postgresql:16.2@sha256:abc"),
            "postgresql"
        );
        assert_eq!(image_name("localhost:5000/Redis:7"), "redis");
        assert_eq!(image_name("nginx:1.27"), "nginx");
    }

    #[test]
    fn every_technique_has_an_attack_id_and_tactic() {
        let all = [
            Technique::DataDestruction,
            Technique::ServiceStop,
            Technique::ExfiltrationOverC2,
            Technique::InformationRepositories,
            Technique::CloudStorage,
            Technique::OrchestrationJob,
            Technique::SystemProcess,
            Technique::EventTriggeredExecution,
            Technique::ContainerApiCredentials,
            Technique::EscapeToHost,
            Technique::ValidAccounts,
        ];
        let mut slugs: Vec<&str> = all.iter().map(|t| t.slug()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), all.len(), "slugs are distinct");
        for t in all {
            assert!(t.id().starts_with('T') && t.id().len() >= 5, "{t:?}");
            let selectable = t.objective().is_some();
            let classic = matches!(t.tactic(), "Credential Access" | "Privilege Escalation");
            assert_ne!(selectable, classic, "{t:?}");
        }
    }
}
