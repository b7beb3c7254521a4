//! What every reconcile shares: the Kubernetes client, the Event recorder, ARM clients (one
//! per identity, so each keeps its token cache), budgets per subscription, request counts,
//! timing, and per-object backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use cutover_api::vault::Credentials;
use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use kube::Api;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

use crate::azure::budget::Budget;
use crate::azure::stats::RequestStats;
use crate::azure::{ArmClient, ArmSettings, credentials};
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// One value per key, for the version of its source it was made from; a new version replaces
/// the old value instead of sitting beside it.
pub struct Versioned<T> {
    entries: HashMap<String, (String, T)>,
}

impl<T> Default for Versioned<T> {
    fn default() -> Self {
        Versioned {
            entries: HashMap::new(),
        }
    }
}

impl<T: Clone> Versioned<T> {
    /// The value for `key`, if it was made from `version`.
    pub fn current(&self, key: &str, version: &str) -> Option<T> {
        self.entries
            .get(key)
            .filter(|(made_from, _)| made_from == version)
            .map(|(_, value)| value.clone())
    }

    pub fn insert(&mut self, key: String, version: String, value: T) {
        self.entries.insert(key, (version, value));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// How often to look again.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// While something is in flight in Azure.
    pub poll: Duration,
    /// Once everything is converged (drift detection), before jitter.
    pub resync: Duration,
    /// The longest an erroring object waits.
    pub max_backoff: Duration,
}

pub struct Context {
    pub client: kube::Client,
    pub recorder: Recorder,
    pub arm_settings: ArmSettings,
    pub timing: Timing,
    pub stats: Arc<RequestStats>,
    pub metrics: Arc<Metrics>,
    default_credential: std::result::Result<Arc<dyn TokenCredential>, String>,
    budgets: Mutex<HashMap<String, Arc<Budget>>>,
    clients: Mutex<Versioned<ArmClient>>,
    failures: Mutex<HashMap<String, u32>>,
    lists: crate::lists::SharedLists,
    /// Machines to reconcile now because what they act on changed (a vault became Ready, a plan
    /// approved or released them): the machine controller's `reconcile_on` stream.
    machine_wakeups: futures::channel::mpsc::UnboundedSender<
        kube::runtime::reflector::ObjectRef<cutover_api::ReplicatedMachine>,
    >,
}

impl Context {
    pub fn new(
        client: kube::Client,
        arm_settings: ArmSettings,
        default_credential: std::result::Result<Arc<dyn TokenCredential>, String>,
        timing: Timing,
        machine_wakeups: futures::channel::mpsc::UnboundedSender<
            kube::runtime::reflector::ObjectRef<cutover_api::ReplicatedMachine>,
        >,
    ) -> Context {
        let reporter = Reporter {
            controller: "cutover".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            arm_settings,
            timing,
            stats: Arc::new(RequestStats::default()),
            metrics: Arc::new(Metrics::default()),
            default_credential,
            budgets: Mutex::default(),
            clients: Mutex::default(),
            failures: Mutex::default(),
            lists: crate::lists::SharedLists::default(),
            machine_wakeups,
        }
    }

    fn budget(&self, subscription: &str) -> Arc<Budget> {
        let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
        budgets
            .entry(subscription.to_ascii_lowercase())
            .or_default()
            .clone()
    }

    /// The ARM client for a subscription, with the credentials a vault names or the
    /// controller's own identity.
    pub async fn arm(
        &self,
        namespace: &str,
        subscription: &str,
        credentials: Option<&Credentials>,
    ) -> Result<ArmClient> {
        let (key, secret) = match credentials {
            Some(reference) => {
                let name = &reference.secret_ref.name;
                let secret = Api::<Secret>::namespaced(self.client.clone(), namespace)
                    .get_opt(name)
                    .await?
                    .ok_or_else(|| {
                        Error::Credentials(format!(
                            "the Secret {namespace}/{name} named in spec.credentials does not exist"
                        ))
                    })?;
                (
                    format!("{subscription}/secret/{namespace}/{name}"),
                    Some(secret),
                )
            }
            None => (format!("{subscription}/default"), None),
        };
        // A rotated Secret (a new resourceVersion) replaces its client, so the cache holds one
        // client per subscription and Secret, never one per version seen.
        let version = secret
            .as_ref()
            .and_then(|s| s.metadata.resource_version.clone())
            .unwrap_or_default();
        if let Some(client) = self
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .current(&key, &version)
        {
            return Ok(client);
        }
        let credential = match secret {
            Some(secret) => {
                let name = secret.metadata.name.clone().unwrap_or_default();
                let field = |key: &str| {
                    secret
                        .data
                        .as_ref()
                        .and_then(|d| d.get(key))
                        .map(|v| String::from_utf8_lossy(&v.0).trim().to_owned())
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| {
                            Error::Credentials(format!(
                                "the Secret {namespace}/{name} has no {key}"
                            ))
                        })
                };
                let tenant = field("tenantId")?;
                let client_id = field("clientId")?;
                // A secret, or else a certificate (PEM with its RSA key) under `clientCertificate`.
                match (field("clientSecret"), field("clientCertificate")) {
                    (Err(_), Ok(pem)) => credentials::client_certificate(
                        &self.arm_settings,
                        &tenant,
                        client_id,
                        pem.as_bytes(),
                    ),
                    (secret, _) => credentials::client_secret(
                        &self.arm_settings,
                        &tenant,
                        client_id,
                        secret.map_err(|_| {
                            Error::Credentials(format!(
                                "the Secret {namespace}/{name} has neither clientSecret nor clientCertificate"
                            ))
                        })?,
                    ),
                }
                .map_err(|e| Error::Credentials(format!("the Secret {namespace}/{name}: {e}")))?
            }
            None => self
                .default_credential
                .clone()
                .map_err(Error::Credentials)?,
        };
        let client = ArmClient::new(
            &self.arm_settings,
            credential,
            self.budget(subscription),
            self.stats.clone(),
        );
        self.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, version, client.clone());
        Ok(client)
    }

    /// Publishes an Event about `object`; a failure to publish is logged, never fatal.
    pub async fn event(
        &self,
        object: &ObjectReference,
        warning: bool,
        reason: &str,
        note: String,
        action: &str,
    ) {
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note.chars().take(1000).collect()),
            action: action.into(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, object).await {
            tracing::warn!(%error, reason, "publishing an Event");
        }
    }

    /// The next wait for an object that keeps failing: doubling from `base`, capped.
    pub fn backoff(&self, key: &str, base: Duration) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(key.to_owned()).or_default();
        *count = count.saturating_add(1);
        base.saturating_mul(1u32 << (*count - 1).min(10))
            .min(self.timing.max_backoff)
    }

    /// A list shared for `max_age` by all who ask for the same `key`; `fetch` runs at most once
    /// per key at a time (the lock is held across it), so concurrent reconciles share one call.
    pub async fn shared_list<F, Fut>(
        &self,
        key: &str,
        max_age: Duration,
        fresh_after: Option<std::time::Instant>,
        fetch: F,
    ) -> Result<Arc<Vec<crate::azure::resources::Resource>>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<
                Output = std::result::Result<
                    Vec<crate::azure::resources::Resource>,
                    crate::azure::ArmError,
                >,
            >,
    {
        Ok(self.lists.get(key, max_age, fresh_after, fetch).await?)
    }

    /// Reconciles these machines now, not at their next requeue.
    pub fn wake_machines(
        &self,
        machines: impl IntoIterator<
            Item = kube::runtime::reflector::ObjectRef<cutover_api::ReplicatedMachine>,
        >,
    ) {
        for machine in machines {
            // Closed only when the controller stops; nothing is left to wake then.
            let _ = self.machine_wakeups.unbounded_send(machine);
        }
    }

    /// Drops a cached list (after a write that changes it).
    pub async fn forget_list(&self, key: &str) {
        self.lists.forget(key).await;
    }

    /// Forgets an object's failures after a successful pass.
    pub fn reset_backoff(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_secret_replaces_its_client() {
        let mut clients = Versioned::default();
        let key = "sub/secret/ns/azure-sp".to_owned();
        clients.insert(key.clone(), "1".into(), "client made from version 1");
        assert_eq!(
            clients.current(&key, "1"),
            Some("client made from version 1")
        );
        assert_eq!(
            clients.current(&key, "2"),
            None,
            "a new version is a new client"
        );
        for version in 2..100 {
            clients.insert(key.clone(), version.to_string(), "a later client");
        }
        assert_eq!(clients.len(), 1, "one client per Secret, not per version");
    }
}
