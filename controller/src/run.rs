//! `cutover run`: the controllers, until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cutover_api::{MigrationPlan, RecoveryVault, ReplicatedMachine};
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use kube::Api;
use kube::Resource;
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::runtime::utils::Predicate;
use kube::runtime::{Controller, WatchStreamExt, predicates, reflector, watcher};

use crate::azure::credentials;
use crate::context::{Caches, Context, Timing};
use crate::endpoints;
use crate::leader::{LeaderArgs, Leadership};
use crate::metrics::{Objects, Readiness};
use crate::relations;

#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub arm: crate::azure::ArmArgs,
    /// Watch one namespace instead of all.
    #[arg(long, env = "CUTOVER_NAMESPACE")]
    pub namespace: Option<String>,
    /// Seconds between looks while Azure work is in flight.
    #[arg(long, env = "CUTOVER_POLL_SECONDS", default_value_t = 10.0)]
    pub poll_seconds: f64,
    /// Seconds between drift checks of converged objects (varied by up to a tenth).
    #[arg(long, env = "CUTOVER_RESYNC_SECONDS", default_value_t = 300.0)]
    pub resync_seconds: f64,
    /// Passes of one kind that run at once; the others wait their turn (memory stays bounded
    /// however many machines there are).
    #[arg(long, env = "CUTOVER_RECONCILE_CONCURRENCY", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    pub reconcile_concurrency: u16,
    /// Log format.
    #[arg(long, env = "CUTOVER_LOG_FORMAT", value_parser = ["text", "json"], default_value = "text")]
    pub log_format: String,
    /// Address serving /metrics, /healthz and /readyz.
    #[arg(long, env = "CUTOVER_METRICS_ADDRESS", default_value = "0.0.0.0:8080")]
    pub metrics_address: SocketAddr,
    #[command(flatten)]
    pub leader: LeaderArgs,
    #[command(flatten)]
    pub webhook: crate::webhook::WebhookArgs,
}

pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,kube=warn,azure_core=warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logging(&args.log_format);
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let client = counted_client(metrics.clone()).await?;
    let settings = args.arm.settings()?;
    let credential = match credentials::from_environment(&settings) {
        Ok((credential, kind)) => {
            tracing::info!(credential = ?kind, arm = %args.arm.arm_endpoint, "Azure identity");
            Ok(credential)
        }
        Err(reason) => {
            tracing::warn!(%reason, "no default Azure identity; only vaults with spec.credentials can be reconciled");
            Err(reason)
        }
    };
    let timing = Timing {
        poll: Duration::from_secs_f64(args.poll_seconds.max(0.1)),
        resync: Duration::from_secs_f64(args.resync_seconds.max(1.0)),
        max_backoff: Duration::from_secs(300),
    };
    let vaults: Api<RecoveryVault> = scoped(&client, args.namespace.as_deref());
    let machines: Api<ReplicatedMachine> = scoped(&client, args.namespace.as_deref());
    let plans: Api<MigrationPlan> = scoped(&client, args.namespace.as_deref());

    // Each kind is watched once. Its reflector fills the store every pass reads from, then
    // hands the event on: to its own controller, and to the subscribers of the controllers it
    // wakes, so a pass woken by a change finds that change in the store.
    let (vault_store, vault_writer) = reflector::store_shared(SUBSCRIBER_BUFFER);
    let (machine_store, machine_writer) = reflector::store_shared(SUBSCRIBER_BUFFER);
    let (plan_store, plan_writer) = reflector::store_shared(SUBSCRIBER_BUFFER);
    let vault_events = subscriber(&vault_writer);
    let machine_events = subscriber(&machine_writer);
    let plan_events = subscriber(&plan_writer);
    let jobs: Api<Job> = scoped(&client, args.namespace.as_deref());
    let (job_store, job_writer) = reflector::store();
    let ctx = Arc::new(Context::new(
        client.clone(),
        settings,
        credential,
        timing,
        Caches {
            vaults: vault_store.clone(),
            machines: machine_store.clone(),
            plans: plan_store.clone(),
            jobs: job_store.clone(),
            synced: Default::default(),
        },
        metrics,
    ));

    // Nothing below is polled, so nothing is watched, until this replica may act.
    // Only changes a reconcile must react to start one: not the status it writes itself.
    let vault_triggers = reflector(vault_writer, watched(vaults))
        .applied_objects()
        .predicate_filter(changes::<RecoveryVault>(), Default::default());
    // kube's runner, at its concurrency limit, holds the requests that come due in a hash set
    // and takes them in the set's order, so under load it passes over the same objects again
    // and again: at N = 1000 some machines had their first pass 20 minutes after they were
    // created, while others had dozens. So the runner starts every due pass at once, and a
    // fair (first come, first served) semaphore per kind bounds how many do their work.
    let config = kube::runtime::controller::Config::default();
    let turns = || Turns {
        semaphore: Arc::new(tokio::sync::Semaphore::new(
            args.reconcile_concurrency.into(),
        )),
    };
    let (vault_turns, machine_turns, plan_turns) = (turns(), turns(), turns());
    let (vault_cache, machine_cache, plan_cache) = (
        vault_store.clone(),
        machine_store.clone(),
        plan_store.clone(),
    );
    let vault_controller = Controller::for_stream(vault_triggers, vault_store.clone())
        .with_config(config.clone())
        .graceful_shutdown_on(shutdown_signal())
        .run(
            move |vault, ctx| {
                measured(
                    "RecoveryVault",
                    (vault_turns.clone(), vault_cache.clone()),
                    crate::vault::reconcile,
                    vault,
                    ctx,
                )
            },
            crate::policy::error_policy,
            ctx.clone(),
        )
        .for_each(|result| async move { log_result("RecoveryVault", result) });
    let machine_triggers = reflector(machine_writer, watched(machines))
        .applied_objects()
        .predicate_filter(changes::<ReplicatedMachine>(), Default::default());
    // A vault that becomes Ready, and a plan that approves or releases, reconcile their
    // machines at once, not at the machines' next requeue.
    let machines_of_vault = machine_store.clone();
    let machines_of_plan = machine_store.clone();
    let machine_controller = Controller::for_stream(machine_triggers, machine_store.clone())
        .with_config(config.clone())
        .watches_stream(
            owned(vault_events).predicate_filter(what_machines_read_of_a_vault, Default::default()),
            move |vault| relations::machines_using_vault(&vault, &machines_of_vault.state()),
        )
        .watches_stream(
            owned(plan_events).predicate_filter(what_machines_read_of_a_plan, Default::default()),
            move |plan| relations::machines_of_plan(&plan, &machines_of_plan.state()),
        )
        .graceful_shutdown_on(shutdown_signal())
        .run(
            move |machine, ctx| {
                measured(
                    "ReplicatedMachine",
                    (machine_turns.clone(), machine_cache.clone()),
                    crate::machine::reconcile::reconcile,
                    machine,
                    ctx,
                )
            },
            crate::policy::error_policy,
            ctx.clone(),
        )
        .for_each(|result| async move { log_result("ReplicatedMachine", result) });
    let plan_triggers = reflector(plan_writer, watched(plans))
        .applied_objects()
        .predicate_filter(changes::<MigrationPlan>(), Default::default());
    // A machine's progress (its status) moves on the plan that created it or adopted it (an
    // adopted machine has no owner reference).
    let plans_of_machine = plan_store.clone();
    // Only the hook Jobs, and only what a pass reads of them (name, labels, creation, status):
    // a pod template is kilobytes no pass needs.
    let hook_jobs = watcher(
        jobs,
        watcher::Config::default()
            .any_semantic()
            .labels(crate::plan::hooks::PLAN_LABEL),
    )
    .default_backoff()
    .modify(|job| {
        job.metadata.managed_fields = None;
        job.spec = None;
    });
    let job_changes = reflector(job_writer, hook_jobs).applied_objects();
    let plan_controller = Controller::for_stream(plan_triggers, plan_store.clone())
        .with_config(config)
        .watches_stream(job_changes, |job: Job| {
            let namespace = job.metadata.namespace.clone()?;
            let plan = job
                .metadata
                .labels
                .as_ref()?
                .get(crate::plan::hooks::PLAN_LABEL)?;
            Some(kube::runtime::reflector::ObjectRef::new(plan).within(&namespace))
        })
        .watches_stream(
            owned(machine_events)
                .predicate_filter(what_plans_read_of_a_machine, Default::default()),
            move |machine| relations::plans_of_machine(&machine, &plans_of_machine.state()),
        )
        .graceful_shutdown_on(shutdown_signal())
        .run(
            move |plan, ctx| {
                measured(
                    "MigrationPlan",
                    (plan_turns.clone(), plan_cache.clone()),
                    crate::plan::reconcile::reconcile,
                    plan,
                    ctx,
                )
            },
            crate::policy::error_policy,
            ctx.clone(),
        )
        .for_each(|result| async move { log_result("MigrationPlan", result) });
    let controllers = async {
        futures::join!(vault_controller, machine_controller, plan_controller);
    };

    let readiness = Arc::new(Readiness::default());
    let webhook_ready = Arc::new(Readiness::default());
    webhook_ready.set(args.webhook.webhook_address.is_none());
    let registry = ctx.metrics.registry(
        ctx.stats.clone(),
        Objects {
            machines: machine_store.clone(),
            plans: plan_store.clone(),
        },
    );
    let server = endpoints::serve(
        args.metrics_address,
        registry,
        readiness.clone(),
        webhook_ready.clone(),
        shutdown_signal(),
    )
    .await?;
    // Every replica serves the webhook, before and whether or not it leads.
    let webhook = crate::webhook::serve(
        client.clone(),
        args.webhook.clone(),
        ctx.metrics.clone(),
        webhook_ready,
        shutdown_signal(),
    )
    .await?;
    tracing::info!(
        namespace = args.namespace.as_deref().unwrap_or("(all)"),
        leader_election = args.leader.leader_elect,
        "cutover controller starting"
    );

    if !args.leader.leader_elect {
        ctx.metrics.set_leader(true);
        tokio::spawn(ready_once_synced(Some(readiness), ctx.caches.clone()));
        controllers.await;
    } else {
        let mut leadership = Leadership::start(client.clone(), &args.leader).await?;
        // A standby is healthy and ready: it is what takes over.
        readiness.set(true);
        tokio::select! {
            acquired = leadership.acquired() => acquired?,
            () = shutdown_signal() => {
                leadership.release(Duration::from_secs(5)).await;
                tracing::info!("cutover controller stopped before it led");
                return Ok(());
            }
        }
        tracing::info!(identity = %leadership.identity, "acquired the leader lease; reconciling");
        ctx.metrics.set_leader(true);
        tokio::spawn(ready_once_synced(None, ctx.caches.clone()));
        tokio::select! {
            () = controllers => {}
            () = leadership.lost() => {
                ctx.metrics.set_leader(false);
                // Stop at once: the new leader may already be acting. The pod restarts as a standby.
                anyhow::bail!("lost the leader lease; stopping so that only the new leader acts");
            }
        }
        leadership.release(Duration::from_secs(5)).await;
    }
    let _ = server.await;
    if let Some(webhook) = webhook {
        let _ = webhook.await;
    }
    tracing::info!("cutover controller stopped");
    Ok(())
}

/// The Kubernetes client from the environment (in-cluster, or kubeconfig), counting each
/// request it makes in `cutover_kube_requests_total`.
async fn counted_client(metrics: Arc<crate::metrics::Metrics>) -> anyhow::Result<kube::Client> {
    let config = kube::Config::infer().await?;
    let count = tower::util::MapRequestLayer::new(
        move |request: axum::http::Request<kube::client::Body>| {
            let uri = request.uri();
            metrics.kube_request(request.method().as_str(), uri.path(), uri.query());
            request
        },
    );
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&count)
        .build())
}

/// Object references a reflector may hold for its subscribers before it waits for them.
const SUBSCRIBER_BUFFER: usize = 1024;

/// A watch of `api` for the stores: restarted with backoff, without `managedFields` (a few
/// kilobytes per object that no pass reads).
fn watched<K>(api: Api<K>) -> impl futures::Stream<Item = watcher::Result<watcher::Event<K>>>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(|object| object.meta_mut().managed_fields = None)
}

fn subscriber<K>(writer: &reflector::store::Writer<K>) -> reflector::ReflectHandle<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    writer
        .subscribe()
        .expect("a store made by store_shared can be subscribed to")
}

/// A subscriber's objects as a watch stream's, for `predicate_filter`.
fn owned<K: Clone>(
    events: impl futures::Stream<Item = Arc<K>>,
) -> impl futures::Stream<Item = watcher::Result<K>> {
    events.map(|object| Ok(K::clone(&object)))
}

/// What a machine's pass reads of its vault: its spec and whether it is Ready.
fn what_machines_read_of_a_vault(vault: &RecoveryVault) -> Option<u64> {
    let ready = vault.status.as_ref().and_then(|s| {
        s.conditions
            .iter()
            .find(|c| c.type_ == cutover_api::conditions::READY)
            .map(|c| c.status.clone())
    });
    Some(hashed(&(vault.metadata.generation, ready)))
}

/// What a machine's pass reads of its plan: its spec (approval, window, test rules), what it
/// releases, and its hooks' runs (commit waits for them).
fn what_machines_read_of_a_plan(plan: &MigrationPlan) -> Option<u64> {
    let released = plan
        .status
        .as_ref()
        .map(|s| serde_json::to_string(&(&s.released, &s.hooks)).unwrap_or_default());
    Some(hashed(&(plan.metadata.generation, released)))
}

/// What a plan's pass reads of a machine: whether it is its machine (labels, deletion), its
/// spec (the template it was made from), and its progress (phase, initial replication, what
/// `Ready` says), its own approval and a person's ask to re-run its failed hook; not the RPO
/// and health that change at every look.
fn what_plans_read_of_a_machine(machine: &ReplicatedMachine) -> Option<u64> {
    let status = machine.status.as_ref();
    let annotation = |name: &str| {
        machine
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(name).cloned())
    };
    let ready = status.and_then(|s| {
        s.conditions
            .iter()
            .find(|c| c.type_ == cutover_api::conditions::READY)
            .map(|c| (c.reason.clone(), c.message.clone()))
    });
    Some(hashed(&(
        &machine.metadata.labels,
        annotation(crate::plan::reconcile::APPROVED_ANNOTATION),
        annotation(crate::machine::reconcile::RETRY_ANNOTATION),
        machine.metadata.deletion_timestamp.is_some(),
        machine.metadata.generation,
        status.and_then(|s| s.phase),
        status.and_then(|s| s.replication.as_ref().and_then(|r| r.progress_percent)),
        ready,
    )))
}

fn hashed(value: &impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(value)
}

fn scoped<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// One reconcile pass of `kind`, counted and timed.
async fn measured<K, F, Fut>(
    kind: &'static str,
    (turns, store): (Turns, Store<K>),
    reconcile: F,
    object: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, crate::error::Error>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
    F: FnOnce(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Action, crate::error::Error>>,
{
    // A pass reads its relations from the caches: none runs before every cache is listed
    // (after a restart, a machine's vault or a plan's machines would look absent).
    if !ctx.caches.synced() {
        return Ok(Action::requeue(Duration::from_millis(250)));
    }
    // Waiting for a turn is not part of the pass: `started` is taken once it has one, and the
    // pass reads the object as the cache has it then, not as it was when it began to wait.
    let _turn = turns.semaphore.acquire().await;
    let object = match store.get(&kube::runtime::reflector::ObjectRef::from_obj(&*object)) {
        Some(latest) => latest,
        None => return Ok(Action::await_change()),
    };
    let started = Instant::now();
    // Boxed: a pass's state (about 10 KB) is allocated once it has a turn, not held by each of
    // the thousand passes that may wait for one.
    let pass = Box::pin(reconcile(object, ctx.clone()));
    let (result, arm_wait) = crate::azure::budget::metered(pass).await;
    ctx.metrics.reconciled(kind, started, arm_wait, &result);
    result
}

/// Turns of one kind's passes: kube's runner starts every pass that is due, and a pass does
/// its work once it has a turn. Tokio's semaphore hands out permits first come, first served.
#[derive(Clone)]
struct Turns {
    semaphore: Arc<tokio::sync::Semaphore>,
}

/// Once every cache has its first full list: passes may run, and the replica is ready (a
/// standby is ready already).
async fn ready_once_synced(readiness: Option<Arc<Readiness>>, caches: Caches) {
    match futures::try_join!(
        synced(&caches.vaults),
        synced(&caches.machines),
        synced(&caches.plans),
        synced(&caches.jobs)
    ) {
        Ok(_) => {
            tracing::info!("caches synced; ready");
            caches.mark_synced();
            if let Some(readiness) = readiness {
                readiness.set(true);
            }
        }
        Err(error) => tracing::error!(%error, "a cache stopped before it synced"),
    }
}

/// `Store::wait_until_ready` wakes only the last of several waiters, and the controller waits on
/// the same store: asking again every second means this wait is never the one forgotten.
async fn synced<K>(store: &Store<K>) -> Result<(), reflector::store::WriterDropped>
where
    K: kube::runtime::reflector::Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    loop {
        if let Ok(result) =
            tokio::time::timeout(Duration::from_secs(1), store.wait_until_ready()).await
        {
            return result;
        }
    }
}

/// The changes that start a reconcile: spec (generation), finalizers, annotations, deletion.
fn changes<K: Resource>() -> impl kube::runtime::utils::Predicate<K> {
    let deletion = |object: &K| object.meta().deletion_timestamp.as_ref().map(|_| 1);
    predicates::generation
        .combine(predicates::finalizers)
        .combine(predicates::annotations)
        .combine(deletion)
}

fn log_result<E: std::fmt::Display, T: std::fmt::Debug>(kind: &str, result: Result<T, E>) {
    match result {
        Ok(object) => tracing::debug!(kind, ?object, "reconciled"),
        Err(error) => tracing::debug!(kind, %error, "reconcile error"),
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_woken_by_what_it_reads_of_a_machine_and_not_by_its_rpo() {
        let machine: ReplicatedMachine = serde_json::from_value(serde_json::json!({
            "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine",
            "metadata": {"name": "web", "namespace": "n", "generation": 1},
            "spec": {"vaultRef": {"name": "v"}, "source": {"name": "web01"}, "osType": "Linux"},
            "status": {"phase": "Protected", "replication": {"progressPercent": 100, "rpoSeconds": 30}}
        }))
        .unwrap();
        let before = what_plans_read_of_a_machine(&machine);
        let changed = |change: &dyn Fn(&mut ReplicatedMachine)| {
            let mut machine = machine.clone();
            change(&mut machine);
            what_plans_read_of_a_machine(&machine) != before
        };
        fn annotate(machine: &mut ReplicatedMachine, name: &str) {
            machine
                .metadata
                .annotations
                .get_or_insert_default()
                .insert(name.into(), "true".into());
        }
        assert!(changed(&|m| annotate(
            m,
            crate::plan::reconcile::APPROVED_ANNOTATION
        )));
        assert!(
            changed(&|m| annotate(m, crate::machine::reconcile::RETRY_ANNOTATION)),
            "a retry of its failed hook"
        );
        assert!(changed(&|m| {
            m.status.as_mut().unwrap().phase = Some(cutover_api::MachinePhase::ReadyForCutover)
        }));
        assert!(!changed(&|m| {
            m.status
                .as_mut()
                .unwrap()
                .replication
                .as_mut()
                .unwrap()
                .rpo_seconds = Some(31)
        }));
        assert!(!changed(&|m| annotate(m, "someone/else")));
    }
}
