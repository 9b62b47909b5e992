//! The cluster's pull secrets (`kubernetes.io/dockerconfigjson` Secrets), watched for image
//! signature verification: a pod's `imagePullSecrets` are what its registry credentials are,
//! and the webhook must read the registry as the node will. Only Secrets of that type are
//! listed (a field selector); their `.dockerconfigjson` goes to the sink, which keeps parsed
//! credentials and never the Secret itself. Opt-in (`rampart webhook --watch-pull-secrets`):
//! it needs `list`/`watch` on Secrets.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use kube::runtime::watcher;
use tokio_util::sync::CancellationToken;

use crate::{Seen, each};

/// The key of a `kubernetes.io/dockerconfigjson` Secret that holds the docker config.
pub const DOCKER_CONFIG_KEY: &str = ".dockerconfigjson";

/// Where pull secrets go (the webhook's image verification, a test recorder).
pub trait PullSecretSink: Send + Sync + 'static {
    /// A (re)list finished: these are all of them, as (namespace, name, docker config).
    fn replace_pull_secrets(&self, all: Vec<(String, String, Vec<u8>)>);
    /// One was added or changed.
    fn apply_pull_secret(&self, namespace: &str, name: &str, config: &[u8]);
    /// One was deleted.
    fn delete_pull_secret(&self, namespace: &str, name: &str);
    /// The watch failed; it starts over.
    fn pull_secrets_error(&self, error: String);
}

fn parts(s: &Secret) -> (String, String, Vec<u8>) {
    (
        s.metadata.namespace.clone().unwrap_or_default(),
        s.metadata.name.clone().unwrap_or_default(),
        s.data
            .as_ref()
            .and_then(|d| d.get(DOCKER_CONFIG_KEY))
            .map(|b| b.0.clone())
            .unwrap_or_default(),
    )
}

/// Watches every namespace's pull secrets until `cancel`.
pub async fn watch_pull_secrets(
    client: Client,
    sink: Arc<dyn PullSecretSink>,
    cancel: CancellationToken,
) {
    let api: Api<Secret> = Api::all(client);
    let config = watcher::Config::default().fields("type=kubernetes.io/dockerconfigjson");
    let make = || Box::pin(watcher::watcher(api.clone(), config.clone()));
    each(make, cancel, |seen| match seen {
        Seen::Failed(e) => sink.pull_secrets_error(e),
        Seen::Relisted(all) => sink.replace_pull_secrets(all.iter().map(parts).collect()),
        Seen::Applied(s) => {
            let (ns, name, config) = parts(&s);
            sink.apply_pull_secret(&ns, &name, &config);
        }
        Seen::Deleted(s) => {
            let (ns, name, _) = parts(&s);
            sink.delete_pull_secret(&ns, &name);
        }
    })
    .await;
}
