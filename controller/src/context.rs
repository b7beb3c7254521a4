//! What every reconcile shares: the Kubernetes client, the caches of the three kinds, the
//! Event recorder, ARM clients (one per identity, so each keeps its token cache), budgets per
//! subscription, request counts, timing, and per-object backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use azure_core::credentials::TokenCredential;
use cutover_api::vault::Credentials;
use cutover_api::{MigrationPlan, RecoveryVault, ReplicatedMachine};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use kube::Api;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};

use crate::azure::budget::Budget;
use crate::azure::stats::RequestStats;
use crate::azure::{ArmClient, ArmSettings, credentials};
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// One value per key, for the version of its source it was made from; a new version replaces
/// the old value instead of sitting beside it. Each entry remembers when its version was last
/// confirmed, so a caller may trust it for a while without asking the source again.
pub struct Versioned<T> {
    entries: HashMap<String, (String, Instant, T)>,
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
    pub fn current(&mut self, key: &str, version: &str) -> Option<T> {
        self.entries
            .get_mut(key)
            .filter(|(made_from, _, _)| made_from == version)
            .map(|(_, confirmed, value)| {
                *confirmed = Instant::now();
                value.clone()
            })
    }

    /// The value for `key` whatever its version, if that version was confirmed within `max_age`.
    pub fn recent(&self, key: &str, max_age: Duration) -> Option<T> {
        self.entries
            .get(key)
            .filter(|(_, confirmed, _)| confirmed.elapsed() < max_age)
            .map(|(_, _, value)| value.clone())
    }

    pub fn insert(&mut self, key: String, version: String, value: T) {
        self.entries.insert(key, (version, Instant::now(), value));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Whether a pass must read the Secret its ARM client is made from, or may use a client made
/// from it a little while ago.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretFreshness {
    Read,
    Recent,
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

/// The reflector stores the controllers keep: a pass reads the objects it relates to (its
/// vault, its plan, a plan's machines) from memory, never from the API server. Each store is
/// written before the event that reached a reconcile is passed on, so what woke a pass is in
/// the store when the pass reads it.
#[derive(Clone)]
pub struct Caches {
    pub vaults: Store<RecoveryVault>,
    pub machines: Store<ReplicatedMachine>,
    pub plans: Store<MigrationPlan>,
    /// The plans' hook Jobs (those labelled `cutover.dev/plan`), without their pod templates.
    pub jobs: Store<Job>,
    pub synced: Arc<std::sync::atomic::AtomicBool>,
}

impl Caches {
    /// Whether every store has had its first full list. Before that, a missing object may only
    /// not be listed yet: a pass that read it would take a vault for absent or a plan's machine
    /// for one to create.
    pub fn synced(&self) -> bool {
        self.synced.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Marks the caches synced (`run` does, once each store has its first list).
    pub fn mark_synced(&self) {
        self.synced
            .store(true, std::sync::atomic::Ordering::Release);
    }

    pub fn vault(&self, namespace: &str, name: &str) -> Option<Arc<RecoveryVault>> {
        self.vaults.get(&ObjectRef::new(name).within(namespace))
    }

    pub fn plan(&self, namespace: &str, name: &str) -> Option<Arc<MigrationPlan>> {
        self.plans.get(&ObjectRef::new(name).within(namespace))
    }

    pub fn plans_in(&self, namespace: &str) -> Vec<Arc<MigrationPlan>> {
        in_namespace(&self.plans, namespace)
    }

    pub fn machines_in(&self, namespace: &str) -> Vec<Arc<ReplicatedMachine>> {
        in_namespace(&self.machines, namespace)
    }

    pub fn jobs_in(&self, namespace: &str) -> Vec<Arc<Job>> {
        in_namespace(&self.jobs, namespace)
    }
}

fn in_namespace<K>(store: &Store<K>, namespace: &str) -> Vec<Arc<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    let mut objects: Vec<Arc<K>> = store
        .state()
        .into_iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(namespace))
        .collect();
    // The store is a hash map: sorted, a pass sees the same order every time.
    objects.sort_by(|a, b| a.meta().name.cmp(&b.meta().name));
    objects
}

/// How long a Secret's ARM client is used without reading the Secret again: a rotated secret
/// is picked up within this, and a machine's pass does not read its vault's Secret each time.
const SECRET_RECHECK: Duration = Duration::from_secs(60);

pub struct Context {
    pub client: kube::Client,
    pub caches: Caches,
    /// Who publishes cutover's Events. Each Event goes through a fresh [`Recorder`]: kube's
    /// Recorder keeps every Event it published for six minutes to count repeats into a
    /// series, and cutover publishes only when something changed, so the cache held nothing
    /// useful and was the largest allocation at N = 1000 (17.7 of 42 MiB of heap at its peak,
    /// heaptrack on the release build).
    reporter: Reporter,
    pub arm_settings: ArmSettings,
    pub timing: Timing,
    pub stats: Arc<RequestStats>,
    pub metrics: Arc<Metrics>,
    default_credential: std::result::Result<Arc<dyn TokenCredential>, String>,
    budgets: Mutex<HashMap<String, Arc<Budget>>>,
    clients: Mutex<Versioned<ArmClient>>,
    failures: Mutex<HashMap<String, u32>>,
    lists: crate::lists::SharedLists<crate::azure::resources::Resource>,
    /// Each vault's protected items, typed: the list every machine of the vault reads.
    items: crate::lists::SharedLists<crate::azure::models::ProtectedItem>,
    /// Each region's VM sizes (`Microsoft.Compute/skus`): what eligibility and the capacity
    /// preflight read, once for every machine that asks at a moment.
    skus: crate::lists::SharedLists<crate::azure::capacity::Sku>,
    /// The last action each machine (by UID) was started on, until its status shows it.
    started: Mutex<HashMap<String, crate::machine::lifecycle::Started>>,
}

impl Context {
    pub fn new(
        client: kube::Client,
        arm_settings: ArmSettings,
        default_credential: std::result::Result<Arc<dyn TokenCredential>, String>,
        timing: Timing,
        caches: Caches,
        metrics: Arc<Metrics>,
    ) -> Context {
        let reporter = Reporter {
            controller: "cutover".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            reporter,
            client,
            caches,
            arm_settings,
            timing,
            stats: Arc::new(RequestStats::default()),
            metrics,
            default_credential,
            budgets: Mutex::default(),
            clients: Mutex::default(),
            failures: Mutex::default(),
            lists: crate::lists::SharedLists::default(),
            items: crate::lists::SharedLists::default(),
            skus: crate::lists::SharedLists::default(),
            started: Mutex::default(),
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
    /// controller's own identity. The vault's pass reads its Secret every time (so it says at
    /// once when the Secret is gone); a machine's pass reuses a client whose Secret was read
    /// within [`SECRET_RECHECK`].
    pub async fn arm(
        &self,
        namespace: &str,
        subscription: &str,
        credentials: Option<&Credentials>,
        freshness: SecretFreshness,
    ) -> Result<ArmClient> {
        let (key, secret) = match credentials {
            Some(reference) => {
                let name = &reference.secret_ref.name;
                let key = format!("{subscription}/secret/{namespace}/{name}");
                if freshness == SecretFreshness::Recent
                    && let Some(client) = self
                        .clients
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .recent(&key, SECRET_RECHECK)
                {
                    return Ok(client);
                }
                let secret = Api::<Secret>::namespaced(self.client.clone(), namespace)
                    .get_opt(name)
                    .await?
                    .ok_or_else(|| {
                        Error::Credentials(format!(
                            "the Secret {namespace}/{name} named in spec.credentials does not exist"
                        ))
                    })?;
                (key, Some(secret))
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
        let recorder = Recorder::new(self.client.clone(), self.reporter.clone());
        if let Err(error) = recorder.publish(&event, object).await {
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

    /// The protected items of a vault, shared as [`Context::shared_list`] shares lists.
    pub async fn shared_items<F, Fut>(
        &self,
        vault_id: &str,
        max_age: Duration,
        fresh_after: Option<std::time::Instant>,
        fetch: F,
    ) -> Result<Arc<Vec<crate::azure::models::ProtectedItem>>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<
                Output = std::result::Result<
                    Vec<crate::azure::models::ProtectedItem>,
                    crate::azure::ArmError,
                >,
            >,
    {
        Ok(self
            .items
            .get(vault_id, max_age, fresh_after, fetch)
            .await?)
    }

    /// A subscription's VM sizes in a region, shared as [`Context::shared_list`] shares lists.
    pub async fn shared_skus(
        &self,
        arm: &crate::azure::ArmClient,
        subscription: &str,
        region: &str,
    ) -> Result<Arc<Vec<crate::azure::capacity::Sku>>> {
        // Sizes and their restrictions change rarely; a resync's age is fresh enough.
        let max_age = self.timing.resync;
        Ok(self
            .skus
            .get(&format!("{subscription}/{region}"), max_age, None, || {
                crate::azure::resources::list_skus(arm, subscription, region)
            })
            .await?)
    }

    /// Drops a vault's cached protected items (after a write that changes them).
    pub async fn forget_items(&self, vault_id: &str) {
        self.items.forget(vault_id).await;
    }

    /// Remembers that an action started job `job_id` on the machine `uid`; its status is not
    /// written yet.
    pub fn action_started(&self, uid: &str, job_id: &str) {
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        started.insert(
            uid.to_owned(),
            crate::machine::lifecycle::Started {
                job_id: job_id.to_owned(),
                at: Instant::now(),
                written: false,
            },
        );
    }

    /// The status recording the machine's last action was written.
    pub fn action_written(&self, uid: &str) {
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(started) = started.get_mut(uid) {
            started.written = true;
        }
    }

    /// Whether the machine's `status`, as this pass reads it, records the last action started
    /// on it; forgotten once it does, or is taken for lost.
    pub fn action_recording(
        &self,
        uid: &str,
        status: &cutover_api::machine::ReplicatedMachineStatus,
    ) -> crate::machine::lifecycle::Recording {
        use crate::machine::lifecycle::{Recording, recording};
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        // A written status reaches the cache within a watch event; a resync is long enough.
        let outcome = recording(status, started.get(uid), Instant::now(), self.timing.resync);
        if outcome != Recording::InFlight {
            started.remove(uid);
        }
        outcome
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

    #[test]
    fn the_caches_are_synced_only_once_marked() {
        let caches = Caches {
            vaults: kube::runtime::reflector::store().0,
            machines: kube::runtime::reflector::store().0,
            plans: kube::runtime::reflector::store().0,
            jobs: kube::runtime::reflector::store().0,
            synced: Default::default(),
        };
        assert!(!caches.synced());
        caches.clone().mark_synced();
        assert!(caches.synced(), "every clone sees it");
    }

    #[test]
    fn a_client_is_reused_without_its_secret_only_while_recently_confirmed() {
        let mut clients = Versioned::default();
        let key = "sub/secret/ns/azure-sp".to_owned();
        assert_eq!(clients.recent(&key, Duration::from_secs(60)), None::<&str>);
        clients.insert(key.clone(), "1".into(), "client");
        assert_eq!(
            clients.recent(&key, Duration::from_secs(60)),
            Some("client")
        );
        assert_eq!(
            clients.recent(&key, Duration::ZERO),
            None,
            "older than asked: the Secret is read again"
        );
    }
}
