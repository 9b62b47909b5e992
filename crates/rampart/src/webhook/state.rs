//! The webhook's admission state: the Pod Security configuration, policies and namespace
//! labels from files, or kept current by watching the cluster (`StateSink`), and the Pod
//! Security version the API server decides as.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use rampart_files::{LoadOptions, load_raw};
use rampart_http::admission::AdmissionState;
use rampart_policy::pss::{Level, Version};
use rampart_policy::review::{PolicySet, PssConfig};
use rampart_policy::source::{namespace_from_value, policy_from_value};
use rampart_policy::store::{ObjectStore, Selection};
use serde::Deserialize;

use super::WebhookArgs;

/// Upstream's `PodSecurityConfiguration` (pod-security.admission.config.k8s.io/v1).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PodSecurityConfiguration {
    #[serde(rename = "apiVersion")]
    #[allow(dead_code)]
    api_version: Option<String>,
    #[allow(dead_code)]
    kind: Option<String>,
    #[serde(default)]
    defaults: BTreeMap<String, String>,
    #[serde(default)]
    exemptions: Exemptions,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Exemptions {
    #[serde(default)]
    usernames: Vec<String>,
    #[serde(default)]
    runtime_classes: Vec<String>,
    #[serde(default)]
    namespaces: Vec<String>,
}

/// Reads and validates the Pod Security configuration.
pub fn pss_config(path: Option<&PathBuf>) -> anyhow::Result<PssConfig> {
    let Some(path) = path else {
        return Ok(PssConfig::default());
    };
    let text = rampart_files::read_text_bounded(path, rampart_files::MAX_CONFIG_FILE_BYTES)
        .with_context(|| format!("reading {}", path.display()))?;
    let c: PodSecurityConfiguration =
        serde_saphyr::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut cfg = PssConfig::default();
    for (key, value) in &c.defaults {
        let (mode, is_version) = match key.strip_suffix("-version") {
            Some(m) => (m, true),
            None => (key.as_str(), false),
        };
        let slot = match mode {
            "enforce" => &mut cfg.enforce,
            "audit" => &mut cfg.audit,
            "warn" => &mut cfg.warn,
            _ => anyhow::bail!("{}: unknown defaults key {key:?}", path.display()),
        };
        if is_version {
            slot.version = Version::parse(value).with_context(|| {
                format!(
                    "{}: defaults.{key}: invalid version {value:?}",
                    path.display()
                )
            })?;
        } else {
            slot.level = Level::parse(value).with_context(|| {
                format!(
                    "{}: defaults.{key}: invalid level {value:?}",
                    path.display()
                )
            })?;
        }
    }
    cfg.exempt_usernames = c.exemptions.usernames;
    cfg.exempt_runtime_classes = c.exemptions.runtime_classes;
    cfg.exempt_namespaces = c.exemptions.namespaces;
    Ok(cfg)
}

/// Loads policies from files, and what they read of the other objects there (params
/// objects, inventories); any invalid policy is a start-up error.
pub fn load_policies(path: &PathBuf) -> anyhow::Result<(PolicySet, ObjectStore)> {
    let (docs, errors) = load_raw(std::slice::from_ref(path), &LoadOptions::default());
    if let Some(e) = errors.first() {
        anyhow::bail!("{e}");
    }
    let mut set = PolicySet::default();
    let mut others = Vec::new();
    for d in docs {
        if let Some(p) = policy_from_value(&d.value, "default") {
            let p = p.map_err(|e| anyhow::anyhow!("{}: {e}", d.source))?;
            set.upsert(p)
                .map_err(|e| anyhow::anyhow!("{}: invalid policy: {e:?}", d.source))?;
        } else {
            others.push(d.value);
        }
    }
    let objects = ObjectStore::from_objects(&others, &set.wanted());
    Ok((set, objects))
}

/// Loads namespace labels from files.
pub fn load_namespaces(
    path: &PathBuf,
) -> anyhow::Result<BTreeMap<String, BTreeMap<String, String>>> {
    let (docs, errors) = load_raw(std::slice::from_ref(path), &LoadOptions::default());
    if let Some(e) = errors.first() {
        anyhow::bail!("{e}");
    }
    Ok(docs
        .iter()
        .filter_map(|d| namespace_from_value(&d.value))
        .collect())
}

/// The state before serving: the Pod Security configuration and, with `--policies` and
/// `--namespaces`, policies and namespaces from files (then ready at once). Whether the state
/// came from files (otherwise the cluster is watched).
pub fn initial(args: &WebhookArgs) -> anyhow::Result<(AdmissionState, bool)> {
    let mut pss = pss_config(args.config.as_ref())?;
    if let Some(minor) = args.kube_version {
        pss.newest_minor = rampart_policy::pss::latest_minor_for(minor);
    }
    let guard = match (
        &args.guard_learner_url,
        &args.guard_learner_ca,
        &args.guard_image,
    ) {
        (Some(url), Some(ca), Some(image)) => {
            let pem = rampart_http::client::read_ca(ca)?;
            // Checked now: a gate would only fail later, in every pod.
            rampart_http::tls::root_store(&pem, &ca.display().to_string())?;
            Some(rampart_policy::inject::GuardInjection {
                image: image.clone(),
                learner_url: url.clone(),
                learner_ca_pem: String::from_utf8_lossy(&pem).into_owned(),
                audience: args.guard_audience.clone(),
            })
        }
        _ => None,
    };
    let state = AdmissionState {
        pss,
        guard,
        images: Some(Arc::new(image_service(&args.images)?)),
        ..AdmissionState::default()
    };
    let from_files = match (&args.policies, &args.namespaces) {
        (Some(policies), Some(namespaces)) => {
            let (policies, objects) = load_policies(policies)?;
            *state
                .policies
                .write()
                .map_err(|_| anyhow::anyhow!("lock"))? = policies;
            *state.objects.write().map_err(|_| anyhow::anyhow!("lock"))? = objects;
            *state
                .namespaces
                .write()
                .map_err(|_| anyhow::anyhow!("lock"))? = load_namespaces(namespaces)?;
            state.ready.store(true, Ordering::Relaxed);
            true
        }
        (None, None) => false,
        _ => anyhow::bail!(
            "--policies and --namespaces go together (both from files, or both watched)"
        ),
    };
    Ok((state, from_files))
}

/// Connects to the API server for a watched state: resolves Pod Security's `latest` from its
/// version (unless `--kube-version` says), and reads namespaces the watch has not delivered yet
/// live.
pub fn connect(
    runtime: &tokio::runtime::Runtime,
    args: &WebhookArgs,
    state: &mut AdmissionState,
) -> anyhow::Result<kube::Client> {
    let client = runtime
        .block_on(kube::Client::try_default())
        .context("connecting to the API server (or pass --policies and --namespaces)")?;
    if args.kube_version.is_none() {
        // `latest` means what it means to this cluster's API server.
        match runtime.block_on(client.apiserver_version()) {
            // An API server emulating an older version (`--emulated-version`) decides
            // Pod Security as that version does.
            Ok(info) => match server_minor(
                info.emulation_major.as_deref().unwrap_or(&info.major),
                info.emulation_minor.as_deref().unwrap_or(&info.minor),
            ) {
                Some(minor) => {
                    state.pss.newest_minor = rampart_policy::pss::latest_minor_for(minor);
                    tracing::info!(
                        kube_minor = minor,
                        latest = state.pss.newest_minor,
                        "Pod Security latest resolved from the API server's version"
                    );
                }
                None => tracing::warn!(
                    major = %info.major,
                    minor = %info.minor,
                    "unrecognised API server version; Pod Security latest is the newest rampart knows"
                ),
            },
            Err(e) => tracing::warn!(
                "reading the API server's version failed ({e}); Pod Security latest is the newest rampart knows"
            ),
        }
    }
    // Namespaces the watch has not delivered yet are read live (one GET, read-only).
    let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    state.namespace_lookup = Some(rampart_http::admission::NamespaceLookup(Arc::new(
        move |name: String| {
            let api = api.clone();
            Box::pin(async move {
                api.get_opt(&name)
                    .await
                    .map(|ns| {
                        ns.map(|ns| {
                            let mut labels = ns.metadata.labels.unwrap_or_default();
                            labels.insert("kubernetes.io/metadata.name".into(), name.clone());
                            labels
                        })
                    })
                    .map_err(|e| e.to_string())
            })
        },
    )));
    Ok(client)
}

/// Feeds watch events into the webhook's state.
pub struct StateSink {
    state: Arc<AdmissionState>,
    synced: std::sync::Mutex<std::collections::BTreeSet<&'static str>>,
    /// The selections of cluster objects the policies in force read (what is watched).
    wanted: tokio::sync::watch::Sender<BTreeSet<Selection>>,
}

impl StateSink {
    /// A sink into `state`, ready once every source has listed; the receiver follows what the
    /// policies read.
    pub fn new(
        state: Arc<AdmissionState>,
    ) -> (StateSink, tokio::sync::watch::Receiver<BTreeSet<Selection>>) {
        let (wanted, rx) = tokio::sync::watch::channel(BTreeSet::new());
        let sink = StateSink {
            state,
            synced: std::sync::Mutex::new(Default::default()),
            wanted,
        };
        (sink, rx)
    }

    /// After a policy change: watch what the policies now read, forget the rest.
    fn policies_changed(&self, policies: &PolicySet) {
        let now = policies.wanted();
        if let Ok(mut o) = self.state.objects.write() {
            o.retain(&now);
        }
        self.wanted.send_if_modified(|w| {
            let changed = *w != now;
            if changed {
                tracing::info!(
                    selections = now.len(),
                    "watching the cluster objects policies read"
                );
                *w = now;
            }
            changed
        });
    }
}

/// Objects of the referenced watches go to the object store — except Secrets, which only image
/// rules name (their public keys) and which only image verification keeps.
impl rampart_kube::referenced::ObjectSink for StateSink {
    fn replace_objects(&self, selection: &Selection, all: Vec<serde_json::Value>) {
        if selection.kind.is_secret() {
            if let (Some(images), Some(ns), Some(name)) =
                (&self.state.images, &selection.namespace, &selection.name)
            {
                match all.first() {
                    Some(secret) => images.set_key_secret(secret),
                    None => images.remove_key_secret(ns, name),
                }
            }
        } else if let Ok(mut o) = self.state.objects.write() {
            o.replace(selection, &all);
        }
        tracing::info!(%selection, objects = all.len(), "listed: current");
    }
    fn apply_object(&self, selection: &Selection, object: serde_json::Value) {
        if selection.kind.is_secret() {
            if let Some(images) = &self.state.images {
                images.set_key_secret(&object);
            }
        } else if let Ok(mut o) = self.state.objects.write() {
            o.apply(selection, &object);
        }
    }
    fn delete_object(&self, selection: &Selection, namespace: &str, name: &str) {
        if selection.kind.is_secret() {
            if let Some(images) = &self.state.images {
                images.remove_key_secret(namespace, name);
            }
        } else if let Ok(mut o) = self.state.objects.write() {
            o.delete(selection, namespace, name);
        }
    }
    fn objects_error(&self, selection: &Selection, error: String) {
        if let Ok(mut o) = self.state.objects.write() {
            o.stale(selection);
        }
        self.state
            .metrics
            .watch_errors
            .get_or_create(&rampart_http::metrics::SourceLabels {
                source: "referenced",
            })
            .inc();
        tracing::warn!(%selection, "watch failed, retrying: {error}");
    }
}

impl rampart_kube::AdmissionSink for StateSink {
    fn replace_namespaces(&self, all: BTreeMap<String, BTreeMap<String, String>>) {
        if let Ok(mut n) = self.state.namespaces.write() {
            *n = all;
        }
    }
    fn apply_namespace(&self, name: String, labels: BTreeMap<String, String>) {
        if let Ok(mut n) = self.state.namespaces.write() {
            n.insert(name, labels);
        }
    }
    fn delete_namespace(&self, name: &str) {
        if let Ok(mut n) = self.state.namespaces.write() {
            n.remove(name);
        }
    }
    fn replace_policies(&self, kind: &'static str, all: Vec<rampart_policy::review::NamedPolicy>) {
        if let Ok(mut p) = self.state.policies.write() {
            p.clear_kind(kind);
            for x in all {
                let _ = p.upsert(x);
            }
            self.policies_changed(&p);
        }
    }
    fn apply_policy(&self, policy: rampart_policy::review::NamedPolicy) {
        if let Ok(mut p) = self.state.policies.write() {
            let _ = p.upsert(policy);
            self.policies_changed(&p);
        }
    }
    fn delete_policy(&self, kind: &'static str, namespace: Option<&str>, name: &str) {
        if let Ok(mut p) = self.state.policies.write() {
            p.remove(kind, namespace, name);
            self.policies_changed(&p);
        }
    }
    fn invalid_policy(&self, error: rampart_policy::source::PolicyError) {
        self.state.metrics.invalid_policies.inc();
        tracing::warn!("ignoring invalid policy: {error}");
    }
    fn synced(&self, source: rampart_kube::Source) {
        if let Ok(mut s) = self.synced.lock() {
            if s.insert(source.as_str()) {
                tracing::info!(source = source.as_str(), "listed: current");
            }
            if s.len() == 3 {
                self.state.ready.store(true, Ordering::Relaxed);
            }
        }
    }
    fn watch_error(&self, source: rampart_kube::Source, error: String) {
        // Until the relist, a policy created meanwhile is unknown: not ready, so that the
        // readiness probe takes this replica out of the webhook Service's endpoints (after the
        // probe's failure threshold) rather than have reviews decided on a stale view.
        if let Ok(mut s) = self.synced.lock()
            && s.remove(source.as_str())
        {
            self.state.ready.store(false, Ordering::Relaxed);
            tracing::warn!(source = source.as_str(), "not ready until relisted");
        }
        self.state
            .metrics
            .watch_errors
            .get_or_create(&rampart_http::metrics::SourceLabels {
                source: source.as_str(),
            })
            .inc();
        tracing::warn!(source = source.as_str(), "watch failed, retrying: {error}");
    }
}

/// The minor of a `version.Info` (`"1"`, `"36+"` on some providers).
fn server_minor(major: &str, minor: &str) -> Option<u32> {
    if major.trim_end_matches('+') != "1" {
        return None;
    }
    let digits = minor.trim_end_matches('+');
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The pull secrets the watch delivers, kept (parsed) by the image verification service.
pub struct PullSecretStore(pub Arc<rampart_http::images::ImageService>);

impl rampart_kube::pull_secrets::PullSecretSink for PullSecretStore {
    fn replace_pull_secrets(&self, all: Vec<(String, String, Vec<u8>)>) {
        for e in self.0.replace_pull_secrets(all) {
            tracing::warn!("{e}");
        }
    }
    fn apply_pull_secret(&self, namespace: &str, name: &str, config: &[u8]) {
        if let Err(e) = self.0.set_pull_secret(namespace, name, config) {
            tracing::warn!("{e}");
        }
    }
    fn delete_pull_secret(&self, namespace: &str, name: &str) {
        self.0.remove_pull_secret(namespace, name);
    }
    fn pull_secrets_error(&self, error: String) {
        tracing::warn!("watching pull secrets: {error}");
    }
}

/// The image verification service from the command line: the registry client (credentials, CA,
/// insecure registries, timeout) and the trusted roots by name. Every file is read and checked
/// now: a bad root would otherwise only show in denials.
pub fn image_service(
    args: &super::ImageArgs,
) -> anyhow::Result<rampart_http::images::ImageService> {
    use rampart_signatures::TrustRoot;
    let credentials = match &args.registry_credentials {
        Some(path) => {
            let bytes = rampart_files::read_bounded(path, rampart_registry::MAX_CONFIG_LEN as u64)
                .with_context(|| format!("reading {}", path.display()))?;
            rampart_registry::Credentials::from_docker_config(&bytes)
                .with_context(|| path.display().to_string())?
        }
        None => rampart_registry::Credentials::none(),
    };
    let extra_ca = match &args.registry_ca {
        Some(path) => Some(rampart_http::client::read_ca(path)?),
        None => None,
    };
    let registry = rampart_registry::Registry::new(rampart_registry::RegistryConfig {
        timeout: args.registry_timeout,
        insecure: args.insecure_registries.clone(),
        extra_ca,
        credentials,
    })?;
    let mut roots = std::collections::BTreeMap::new();
    for spec in &args.trusted_roots {
        let (name, path) = spec
            .split_once('=')
            .filter(|(n, p)| !n.is_empty() && !p.is_empty())
            .ok_or_else(|| anyhow::anyhow!("--trusted-root {spec:?}: write NAME=FILE"))?;
        let bytes = rampart_files::read_bounded(
            std::path::Path::new(path),
            rampart_signatures::MAX_TRUSTED_ROOT_LEN as u64,
        )
        .with_context(|| format!("--trusted-root {name}: reading {path}"))?;
        let root = TrustRoot::from_json(&String::from_utf8_lossy(&bytes))
            .with_context(|| format!("--trusted-root {name}={path}"))?;
        roots.insert(name.to_string(), Arc::new(root));
    }
    let mut service = rampart_http::images::ImageService::new(registry, roots)?;
    service.deadline = args.image_verification_timeout;
    Ok(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_versions() {
        assert_eq!(server_minor("1", "36"), Some(36));
        assert_eq!(server_minor("1", "35+"), Some(35));
        assert_eq!(server_minor("2", "0"), None);
        assert_eq!(server_minor("1", ""), None);
        assert_eq!(server_minor("1", "x"), None);
    }

    #[test]
    fn levels() {
        let lv = rampart_policy::pss::LevelVersion::parse("baseline:v1.30").unwrap_or(
            rampart_policy::pss::LevelVersion {
                level: Level::Privileged,
                version: Version::Latest,
            },
        );
        assert_eq!(lv.level, Level::Baseline);
    }
}
