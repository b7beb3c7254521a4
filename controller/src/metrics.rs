//! Prometheus metrics. Counters are kept as they happen (reconciles, ARM requests); what
//! describes objects (machines per phase, RPO, plans per phase) is read from the reflector
//! stores at scrape time, so a deleted object never leaves a stale series behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cutover_api::machine::MachinePhase;
use cutover_api::plan::PlanPhase;
use cutover_api::{MigrationPlan, ReplicatedMachine};
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::azure::stats::RequestStats;
use crate::error::Error;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: &'static str,
    pub reason: &'static str,
}

/// A request the controller made to the Kubernetes API server.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KubeRequestLabels {
    /// `get`, `list`, `watch`, `create`, `update`, `patch` or `delete`, as the API server's own
    /// `apiserver_request_total` names them.
    pub verb: &'static str,
    /// The resource (its plural), with `/status` for the status subresource.
    pub resource: String,
}

/// The verb and resource of a request to the API server, from its method and URL
/// (`/api/v1/...` or `/apis/{group}/{version}/...`, namespaced or not).
pub fn kube_request_labels(method: &str, path: &str, query: Option<&str>) -> KubeRequestLabels {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segments.first() {
        Some(&"api") => segments.get(2..),
        Some(&"apis") => segments.get(3..),
        _ => None,
    }
    .unwrap_or_default();
    let rest = match rest {
        ["namespaces", _, resource @ ..] if !resource.is_empty() => resource,
        other => other,
    };
    let resource = match rest {
        [resource, _, subresource, ..] => format!("{resource}/{subresource}"),
        [resource, ..] => (*resource).to_owned(),
        [] => String::new(),
    };
    let watch = query.is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let verb = match method {
        "GET" if watch => "watch",
        "GET" if rest.len() < 2 => "list",
        "GET" => "get",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => "other",
    };
    KubeRequestLabels { verb, resource }
}

type HistogramFamily = Family<KindLabels, Histogram, fn() -> Histogram>;

/// What the controllers count as they work.
#[derive(Debug)]
pub struct Metrics {
    reconciles: Family<KindLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: HistogramFamily,
    reconcile_arm_wait: HistogramFamily,
    leader: Gauge,
    kube_requests: Family<KubeRequestLabels, Counter>,
    admission_reviews: Family<AdmissionLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AdmissionLabels {
    kind: String,
    allowed: &'static str,
}

impl Default for Metrics {
    fn default() -> Metrics {
        fn buckets() -> Histogram {
            // 1 ms to ~16 s: a pass is a few ARM calls at most.
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        }
        Metrics {
            reconciles: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_duration: Family::new_with_constructor(buckets),
            reconcile_arm_wait: Family::new_with_constructor(buckets),
            leader: Gauge::default(),
            kube_requests: Family::default(),
            admission_reviews: Family::default(),
        }
    }
}

impl Metrics {
    /// Counts one reconcile of `kind` that started at `started` and, of that time, waited
    /// `arm_wait` for the client-side ARM budget.
    pub fn reconciled<T>(
        &self,
        kind: &'static str,
        started: Instant,
        arm_wait: Duration,
        result: &Result<T, Error>,
    ) {
        let labels = KindLabels { kind };
        self.reconciles.get_or_create(&labels).inc();
        self.reconcile_duration
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        self.reconcile_arm_wait
            .get_or_create(&labels)
            .observe(arm_wait.as_secs_f64());
        if let Err(error) = result {
            self.reconcile_errors
                .get_or_create(&ErrorLabels {
                    kind,
                    reason: error.reason(),
                })
                .inc();
        }
    }

    /// Counts a request to the API server (the kube client's layer calls this for each).
    pub fn kube_request(&self, method: &str, path: &str, query: Option<&str>) {
        self.kube_requests
            .get_or_create(&kube_request_labels(method, path, query))
            .inc();
    }

    /// Counts one admission review the webhook answered.
    pub fn admission_reviewed(&self, kind: &str, allowed: bool) {
        let kind = match kind {
            "RecoveryVault" | "MigrationPlan" | "ReplicatedMachine" => kind,
            _ => "other",
        };
        self.admission_reviews
            .get_or_create(&AdmissionLabels {
                kind: kind.to_owned(),
                allowed: if allowed { "true" } else { "false" },
            })
            .inc();
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// The registry `/metrics` encodes: these counters, ARM's, and the watched objects.
    pub fn registry(self: &Arc<Self>, stats: Arc<RequestStats>, objects: Objects) -> Registry {
        let mut registry = Registry::with_prefix("cutover");
        registry.register(
            "reconciles",
            "Reconcile passes, by kind",
            self.reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconcile passes that failed, by kind and reason",
            self.reconcile_errors.clone(),
        );
        registry.register_with_unit(
            "reconcile_duration",
            "How long a reconcile pass took, by kind",
            Unit::Seconds,
            self.reconcile_duration.clone(),
        );
        registry.register_with_unit(
            "reconcile_arm_wait",
            "Of a reconcile pass, how long it waited for the controller's ARM request budget, by kind",
            Unit::Seconds,
            self.reconcile_arm_wait.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader lease (or runs without leader election)",
            self.leader.clone(),
        );
        registry.register(
            "kube_requests",
            "Requests to the Kubernetes API server, by verb and resource",
            self.kube_requests.clone(),
        );
        registry.register(
            "admission_reviews",
            "Admission reviews the validating webhook answered, by kind and whether it allowed",
            self.admission_reviews.clone(),
        );
        registry.register_collector(Box::new(ArmCollector(stats)));
        registry.register_collector(Box::new(objects));
        registry
    }
}

/// ARM requests as `RequestStats` counted them.
#[derive(Debug)]
struct ArmCollector(Arc<RequestStats>);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ArmLabels {
    resource_type: String,
    method: String,
    /// The HTTP status, or 0 when no response came back.
    code: u16,
}

impl Collector for ArmCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let requests = Family::<ArmLabels, Counter>::default();
        for ((resource_type, method, code), count) in self.0.snapshot() {
            requests
                .get_or_create(&ArmLabels {
                    resource_type,
                    method,
                    code,
                })
                .inc_by(count);
        }
        encode(
            &mut encoder,
            "arm_requests",
            "ARM requests sent (every try), by resource type, method and status",
            None,
            &requests,
        )?;
        let throttled = Counter::<u64>::default();
        throttled.inc_by(self.0.throttled());
        encode(
            &mut encoder,
            "arm_throttled",
            "429 answers received from ARM",
            None,
            &throttled,
        )?;
        let waited = Counter::<f64>::default();
        waited.inc_by(self.0.retry_after().as_secs_f64());
        encode(
            &mut encoder,
            "arm_retry_after",
            "Time ARM asked cutover to wait (Retry-After of its 429 answers)",
            Some(&Unit::Seconds),
            &waited,
        )
    }
}

/// The watched objects, read from the controllers' caches at scrape time.
#[derive(Clone)]
pub struct Objects {
    pub machines: Store<ReplicatedMachine>,
    pub plans: Store<MigrationPlan>,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects").finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ObjectLabels {
    namespace: String,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlanLabels {
    namespace: String,
    name: String,
    phase: &'static str,
    wave: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabels {
    namespace: String,
    name: String,
    health: String,
}

impl Collector for Objects {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let machines = Family::<PhaseLabels, Gauge>::default();
        let rpo = Family::<ObjectLabels, Gauge>::default();
        let health = Family::<HealthLabels, Gauge>::default();
        let progress = Family::<ObjectLabels, Gauge>::default();
        for phase in MachinePhase::ALL {
            let _ = machines.get_or_create(&PhaseLabels {
                phase: phase.as_str(),
            });
        }
        for machine in self.machines.state() {
            let status = machine.status.clone().unwrap_or_default();
            let phase = status.phase.unwrap_or(MachinePhase::Pending);
            machines
                .get_or_create(&PhaseLabels {
                    phase: phase.as_str(),
                })
                .inc();
            let labels = ObjectLabels {
                namespace: machine.namespace().unwrap_or_default(),
                name: machine.name_any(),
            };
            let Some(replication) = status.replication else {
                continue;
            };
            if let Some(seconds) = replication.rpo_seconds {
                rpo.get_or_create(&labels).set(seconds);
            }
            if let Some(percent) = replication.progress_percent {
                progress.get_or_create(&labels).set(i64::from(percent));
            }
            if let Some(state) = replication.health {
                health
                    .get_or_create(&HealthLabels {
                        namespace: labels.namespace,
                        name: labels.name,
                        health: state,
                    })
                    .set(1);
            }
        }
        let plans = Family::<PhaseLabels, Gauge>::default();
        for phase in PlanPhase::ALL {
            let _ = plans.get_or_create(&PhaseLabels {
                phase: phase.as_str(),
            });
        }
        let plan_progress = Family::<PlanLabels, Gauge>::default();
        for plan in self.plans.state() {
            let status = plan.status.clone().unwrap_or_default();
            let phase = status.phase.unwrap_or(PlanPhase::Pending);
            plans
                .get_or_create(&PhaseLabels {
                    phase: phase.as_str(),
                })
                .inc();
            plan_progress
                .get_or_create(&PlanLabels {
                    namespace: plan.namespace().unwrap_or_default(),
                    name: plan.name_any(),
                    phase: phase.as_str(),
                    wave: status.current_wave.unwrap_or_default(),
                })
                .set(i64::from(status.progress_percent));
        }
        encode(
            &mut encoder,
            "machines",
            "ReplicatedMachines by phase",
            None,
            &machines,
        )?;
        encode(
            &mut encoder,
            "machine_rpo",
            "A machine's current recovery point objective",
            Some(&Unit::Seconds),
            &rpo,
        )?;
        encode(
            &mut encoder,
            "machine_replication_health",
            "1 for a machine's ASR replication health (Normal, Warning, Critical)",
            None,
            &health,
        )?;
        encode(
            &mut encoder,
            "machine_initial_replication_percent",
            "A machine's initial replication progress",
            None,
            &progress,
        )?;
        encode(
            &mut encoder,
            "plans",
            "MigrationPlans by phase",
            None,
            &plans,
        )?;
        encode(
            &mut encoder,
            "plan_progress_percent",
            "A plan's progress, with its phase and the wave it is at",
            None,
            &plan_progress,
        )
    }
}

fn encode(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    metric: &impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    metric.encode(encoder.encode_descriptor(name, help, unit, metric.metric_type())?)
}

/// What `/readyz` answers.
#[derive(Debug, Default)]
pub struct Readiness(AtomicBool);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_to_the_api_server_is_counted_by_verb_and_resource() {
        let cases = [
            (
                "GET",
                "/apis/cutover.dev/v1alpha1/namespaces/n/recoveryvaults/v",
                None,
                "get",
                "recoveryvaults",
            ),
            (
                "GET",
                "/apis/cutover.dev/v1alpha1/namespaces/n/replicatedmachines",
                Some("labelSelector=a%3Db"),
                "list",
                "replicatedmachines",
            ),
            (
                "GET",
                "/apis/cutover.dev/v1alpha1/replicatedmachines",
                Some("watch=true&resourceVersion=1"),
                "watch",
                "replicatedmachines",
            ),
            (
                "GET",
                "/apis/cutover.dev/v1alpha1/replicatedmachines",
                None,
                "list",
                "replicatedmachines",
            ),
            (
                "PATCH",
                "/apis/cutover.dev/v1alpha1/namespaces/n/replicatedmachines/m/status",
                Some("fieldManager=cutover"),
                "patch",
                "replicatedmachines/status",
            ),
            (
                "GET",
                "/api/v1/namespaces/n/secrets/azure-sp",
                None,
                "get",
                "secrets",
            ),
            ("GET", "/api/v1/namespaces/n", None, "get", "namespaces"),
            (
                "POST",
                "/apis/events.k8s.io/v1/namespaces/n/events",
                None,
                "create",
                "events",
            ),
            (
                "PUT",
                "/apis/coordination.k8s.io/v1/namespaces/n/leases/cutover",
                None,
                "update",
                "leases",
            ),
            (
                "DELETE",
                "/apis/cutover.dev/v1alpha1/namespaces/n/replicatedmachines/m",
                None,
                "delete",
                "replicatedmachines",
            ),
        ];
        for (method, path, query, verb, resource) in cases {
            assert_eq!(
                kube_request_labels(method, path, query),
                KubeRequestLabels {
                    verb,
                    resource: resource.into()
                },
                "{method} {path}"
            );
        }
    }
}
