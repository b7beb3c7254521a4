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

/// A list fetched from ARM: when, and how long it took.
struct SharedList {
    fetched_at: std::time::Instant,
    took: Duration,
    list: Arc<Vec<crate::azure::resources::Resource>>,
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
    clients: Mutex<HashMap<String, ArmClient>>,
    failures: Mutex<HashMap<String, u32>>,
    /// Lists shared by every machine of a vault for one poll interval (protected items,
    /// protectable items): the steady-state cost grows with vaults, not machines.
    lists: tokio::sync::Mutex<HashMap<String, SharedList>>,
}

impl Context {
    pub fn new(
        client: kube::Client,
        arm_settings: ArmSettings,
        default_credential: std::result::Result<Arc<dyn TokenCredential>, String>,
        timing: Timing,
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
            lists: tokio::sync::Mutex::default(),
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
                let version = secret.metadata.resource_version.clone().unwrap_or_default();
                (
                    format!("{subscription}/secret/{namespace}/{name}/{version}"),
                    Some(secret),
                )
            }
            None => (format!("{subscription}/default"), None),
        };
        if let Some(client) = self
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(client.clone());
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
            .insert(key, client.clone());
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
        let mut lists = self.lists.lock().await;
        if let Some(cached) = lists.get(key)
            && cached.fetched_at.elapsed() < max_age.max(cached.took * 4)
            && fresh_after.is_none_or(|after| cached.fetched_at >= after)
        {
            return Ok(cached.list.clone());
        }
        // A list is as fresh as the moment its first page was asked for.
        let fetched_at = std::time::Instant::now();
        let list = Arc::new(fetch().await?);
        lists.insert(
            key.to_owned(),
            SharedList {
                fetched_at,
                // A long (many-paged) list is fetched at most a quarter of the time, so lists
                // never crowd out the rest of the ARM budget however many machines there are.
                took: fetched_at.elapsed(),
                list: list.clone(),
            },
        );
        Ok(list)
    }

    /// Drops a cached list (after a write that changes it).
    pub async fn forget_list(&self, key: &str) {
        self.lists.lock().await.remove(key);
    }

    /// Forgets an object's failures after a successful pass.
    pub fn reset_backoff(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}
