//! The MigrationPlan controller: create the machines of its templates (owned, labelled with
//! the plan), adopt those its selector matches, orchestrate, and write status; on deletion,
//! delete the machines it created (each disables its replication as its deletionPolicy says).

use std::collections::BTreeMap;
use std::sync::Arc;

use cutover_api::conditions::{READY, reason};
use cutover_api::plan::{HookRun, HookStep, MigrationPlan, MigrationPlanStatus, PlanPhase};
use cutover_api::{DeletionPolicy, MachinePhase, RecoveryVault, ReplicatedMachine};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::api::{DeleteParams, Patch};
use kube::core::{Selector, SelectorExt};
use kube::runtime::controller::Action as Requeue;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::orchestrate::{MachineView, Orchestration, Step, newly_released, orchestrate};
use super::{hooks, preflight};
use crate::conditions::{self, Observed};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::finalize::{self, Cleanup};

pub const FINALIZER: &str = "cutover.dev/plan";
/// Label on the machines a plan created from its templates.
pub const PLAN_LABEL: &str = "cutover.dev/plan";
/// Approves one machine's cutover while its plan as a whole is not approved.
pub const APPROVED_ANNOTATION: &str = "cutover.dev/approved";

pub async fn reconcile(plan: Arc<MigrationPlan>, ctx: Arc<Context>) -> Result<Requeue> {
    let api =
        Api::<MigrationPlan>::namespaced(ctx.client.clone(), &plan.namespace().unwrap_or_default());
    let key = plan.uid().unwrap_or_default();
    let context = ctx.as_ref();
    let action = finalize::reconcile(
        &api,
        FINALIZER,
        plan,
        ctx.timing.poll,
        |plan| async move { apply(&plan, context).await },
        |plan| async move { cleanup(&plan, context).await },
    )
    .await?;
    ctx.reset_backoff(&key);
    Ok(action)
}

/// A plan's selector as kube's [`Selector`]; `None` without one, or when it does not parse
/// (`validate()` refuses that plan with kube's error).
pub fn selector_of(plan: &MigrationPlan) -> Option<Selector> {
    plan.spec
        .machines
        .selector
        .clone()
        .and_then(|selector| Selector::try_from(selector).ok())
}

/// Whether `plan`'s selector adopts a machine with these labels: `matchLabels` and
/// `matchExpressions` both, as the API server's `labelSelector` lists them.
pub fn adopts(plan: &MigrationPlan, labels: &BTreeMap<String, String>) -> bool {
    selector_of(plan).is_some_and(|selector| selector.matches(labels))
}

/// The machines of a plan, from the cache: those it created (its label), and those its
/// selector adopts; by name, without those being deleted.
pub fn machines_of(
    plan: &MigrationPlan,
    machines: &[Arc<ReplicatedMachine>],
) -> Vec<Arc<ReplicatedMachine>> {
    machines
        .iter()
        .filter(|m| m.namespace() == plan.namespace() && m.metadata.deletion_timestamp.is_none())
        .filter(|m| crate::relations::drives(plan, m))
        .cloned()
        .collect()
}

/// What a plan's pass reads: its vault, the machines and hook Jobs of its namespace (all from
/// the caches), and ARM's answers for the machines a step is about to release.
#[derive(Clone, Debug)]
pub struct PlanObserved {
    pub vault: Option<Arc<RecoveryVault>>,
    /// The namespace's machines.
    pub machines: Vec<Arc<ReplicatedMachine>>,
    /// The namespace's hook Jobs, by name.
    pub jobs: BTreeMap<String, hooks::JobSeen>,
    /// The preflight of each step that releases machines this pass.
    pub preflight: Vec<(Step, preflight::Facts)>,
    pub now: jiff::Timestamp,
}

/// The one write a pass makes. Each is idempotent, so a pass that reads a cache one write
/// behind and decides it again does no harm: a server-side apply of the same body, a Job whose
/// name is taken (adopted), an annotation already gone.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanWrite {
    /// A template's machine, created or brought back to its template (a server-side apply body).
    Machine {
        name: String,
        body: serde_json::Value,
    },
    /// A hook's Job.
    Job(Box<hooks::Start>),
    /// The `cutover.dev/retry` annotation of a machine whose retry was acted on.
    ClearRetry(String),
}

/// An Event a pass publishes, about the plan and, when `machine` names one, that machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanEvent {
    pub machine: Option<String>,
    pub warning: bool,
    pub reason: String,
    pub message: String,
    pub action: &'static str,
}

/// What a plan's pass decided: the one write to make (the next pass makes the next), what
/// `Ready` says, the phase or orchestration and hooks' runs for status, the Events, and when to
/// look again.
#[derive(Debug)]
pub struct PlanDecision {
    pub write: Option<PlanWrite>,
    pub ready: Observed,
    /// What orchestration decided, or the phase of a plan that cannot be orchestrated yet.
    pub outcome: std::result::Result<Orchestration, PlanPhase>,
    /// `status.hooks`.
    pub hooks: Vec<HookRun>,
    pub events: Vec<PlanEvent>,
    pub next: PlanNext,
}

impl PlanDecision {
    /// The API server refused the Job `start` (`code`, `why`): its run and an Event say so, and
    /// a later pass asks again.
    fn refused(&mut self, start: &hooks::Start, code: u16, why: &str) {
        let refused = hooks::refused(&mut self.hooks, start, code, why);
        self.events.push(PlanEvent {
            machine: None,
            warning: true,
            reason: "HookJobRefused".into(),
            message: format!("hook {} for {}: {refused}", start.hook, start.machine),
            action: "Hook",
        });
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanNext {
    /// Nothing changes until the spec does.
    OnChange,
    /// Machines are moving: look again soon.
    Soon,
    /// Waiting for something that may arrive (the vault): look again later.
    Later,
    /// Done: look again at the resync interval.
    Resync,
}

/// The orchestration of `plan`'s machines (`existing`), before preflight and hooks hold any.
fn orchestrated(
    plan: &MigrationPlan,
    existing: &[Arc<ReplicatedMachine>],
    now: jiff::Timestamp,
) -> Orchestration {
    let views: Vec<MachineView> = existing.iter().map(|m| view_of(m)).collect();
    orchestrate(&plan.spec, &views, now)
}

fn released_before(plan: &MigrationPlan) -> cutover_api::plan::Releases {
    plan.status
        .as_ref()
        .map(|s| s.released.clone())
        .unwrap_or_default()
}

/// The machines each step releases that it did not before: what the preflight reads ARM for.
/// Pure; [`decide`] judges the answers for the same machines.
pub fn to_preflight(
    plan: &MigrationPlan,
    machines: &[Arc<ReplicatedMachine>],
    now: jiff::Timestamp,
) -> Vec<(Step, Vec<String>)> {
    if !plan.validate().is_valid() {
        return Vec::new();
    }
    let orchestration = orchestrated(plan, &machines_of(plan, machines), now);
    let previous = released_before(plan);
    [Step::TestFailover, Step::Failover]
        .into_iter()
        .map(|step| (step, newly_released(&orchestration, &previous, step)))
        .filter(|(_, new)| !new.is_empty())
        .collect()
}

/// A plan's pass, decided from what `observe` read. Pure.
pub fn decide(
    plan: &MigrationPlan,
    owner: &OwnerReference,
    observed: &PlanObserved,
) -> PlanDecision {
    let previous_hooks = plan
        .status
        .as_ref()
        .map(|s| s.hooks.clone())
        .unwrap_or_default();
    let waiting = |reason: &str, message: String, phase, next| PlanDecision {
        write: None,
        ready: Observed::not_ready(READY, reason, message),
        outcome: Err(phase),
        hooks: previous_hooks.clone(),
        events: Vec::new(),
        next,
    };
    let report = plan.validate();
    let mut decision = if !report.is_valid() {
        waiting(
            reason::INVALID_SPEC,
            report.error_message(),
            PlanPhase::Failed,
            PlanNext::OnChange,
        )
    } else if let Some(vault) = &observed.vault {
        orchestrate_pass(plan, owner, vault, observed, previous_hooks.clone())
    } else {
        // A plan on a vault that is not there says so, rather than waiting on machines that
        // cannot start. Pending, not Failed: with GitOps the plan may simply have arrived
        // first.
        waiting(
            "VaultNotFound",
            format!(
                "no RecoveryVault {} in namespace {}",
                plan.spec.vault_ref.name,
                plan.namespace().unwrap_or_default()
            ),
            PlanPhase::Pending,
            PlanNext::Later,
        )
    };
    let before = plan.status.as_ref().and_then(|s| s.phase);
    let after = match &decision.outcome {
        Ok(orchestration) => orchestration.phase,
        Err(phase) => *phase,
    };
    if before != Some(after) {
        decision.events.push(PlanEvent {
            machine: None,
            warning: after == PlanPhase::Failed,
            reason: decision.ready.reason.clone(),
            message: decision.ready.message.clone(),
            action: "Orchestrate",
        });
    }
    decision
}

/// The pass of a valid plan whose vault exists: its templates' machines, the orchestration,
/// what the preflight and the hooks hold of it.
fn orchestrate_pass(
    plan: &MigrationPlan,
    owner: &OwnerReference,
    vault: &RecoveryVault,
    observed: &PlanObserved,
    previous_hooks: Vec<HookRun>,
) -> PlanDecision {
    let existing = machines_of(plan, &observed.machines);
    let mut writes: Vec<PlanWrite> = template_writes(plan, owner, &existing);
    let mut orchestration = orchestrated(plan, &existing, observed.now);
    let done = orchestration.phase == PlanPhase::Completed;
    let mut ready = if done {
        Observed::ready(READY, orchestration.reason, orchestration.message.clone())
    } else {
        Observed::not_ready(READY, orchestration.reason, orchestration.message.clone())
    };
    let previous = released_before(plan);
    for step in [Step::TestFailover, Step::Failover] {
        let new = newly_released(&orchestration, &previous, step);
        if new.is_empty() {
            continue;
        }
        let shortfalls = match observed.preflight.iter().find(|(s, _)| *s == step) {
            Some((_, facts)) => preflight::shortfalls(
                vault,
                &preflight::wave(&observed.machines, &new),
                step,
                facts,
            ),
            // Observe reads for what this orchestration releases; anything else waits for a
            // pass that has read for it.
            None => vec![crate::azure::capacity::Shortfall {
                machine: None,
                reason: "PreflightNotRead",
                message: format!("the preflight of {} has not been read yet", new.join(", ")),
            }],
        };
        super::orchestrate::hold_for_capacity(&mut orchestration, step, &new, &shortfalls);
        if !shortfalls.is_empty() {
            ready = Observed::failing(READY, orchestration.reason, orchestration.message.clone());
        }
    }
    let mut events = Vec::new();
    let runs = if plan.spec.hooks.is_empty() {
        previous_hooks
    } else {
        let pass = hooks_pass(
            plan,
            owner,
            &existing,
            observed,
            &previous_hooks,
            &orchestration,
        );
        let phases: Vec<(String, MachinePhase)> = existing
            .iter()
            .map(|m| (m.name_any(), phase_of(m)))
            .collect();
        let blocked = hooks::hold(&mut orchestration, &plan.spec, &pass.runs, &phases);
        if blocked {
            ready = Observed::failing(READY, orchestration.reason, orchestration.message.clone());
        } else if !matches!(
            orchestration.phase,
            PlanPhase::Completed | PlanPhase::AwaitingCapacity
        ) {
            ready = Observed::not_ready(READY, orchestration.reason, orchestration.message.clone());
        }
        for ended in &pass.ended {
            let machine = existing
                .iter()
                .any(|m| m.name_any() == ended.machine)
                .then(|| ended.machine.clone());
            for machine in std::iter::once(None).chain(machine.map(Some)) {
                events.push(PlanEvent {
                    machine,
                    warning: ended.warning,
                    reason: ended.reason.into(),
                    message: ended.message.clone(),
                    action: "Hook",
                });
            }
        }
        let mut start = pass.start;
        hooks::refused_last(&mut start, &pass.runs, observed.now);
        writes.extend(
            start
                .into_iter()
                .map(|start| PlanWrite::Job(Box::new(start))),
        );
        // Only once status shows the re-run (see `hooks::pass`), so a lost clear re-runs nothing.
        writes.extend(pass.clear_retry.into_iter().map(PlanWrite::ClearRetry));
        pass.runs
    };
    let done = orchestration.phase == PlanPhase::Completed;
    PlanDecision {
        write: writes.into_iter().next(),
        ready,
        outcome: Ok(orchestration),
        hooks: runs,
        events,
        next: if done {
            PlanNext::Resync
        } else {
            PlanNext::Soon
        },
    }
}

/// The templates' machines that do not exist or differ from their template, as server-side
/// apply bodies.
fn template_writes(
    plan: &MigrationPlan,
    owner: &OwnerReference,
    existing: &[Arc<ReplicatedMachine>],
) -> Vec<PlanWrite> {
    plan.spec
        .machines
        .templates
        .iter()
        .filter_map(|template| {
            let spec = template.machine_spec(&plan.spec);
            let current = existing.iter().find(|m| m.name_any() == template.name);
            if current.is_some_and(|m| m.spec == spec) {
                return None;
            }
            let mut labels = template.labels.clone();
            labels.insert(PLAN_LABEL.into(), plan.name_any());
            Some(PlanWrite::Machine {
                name: template.name.clone(),
                body: json!({
                    "apiVersion": "cutover.dev/v1alpha1",
                    "kind": "ReplicatedMachine",
                    "metadata": { "name": template.name, "labels": labels, "ownerReferences": [owner] },
                    "spec": spec,
                }),
            })
        })
        .collect()
}

/// A machine's phase as its status says, `Pending` before it has one.
pub(crate) fn phase_of(machine: &ReplicatedMachine) -> MachinePhase {
    machine
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .unwrap_or(MachinePhase::Pending)
}

/// The hooks of the machines that reached a step: which Jobs start, which runs ended or are
/// retried, from the runs status recorded and the Jobs the cache holds.
fn hooks_pass(
    plan: &MigrationPlan,
    owner: &OwnerReference,
    existing: &[Arc<ReplicatedMachine>],
    observed: &PlanObserved,
    previous: &[HookRun],
    orchestration: &Orchestration,
) -> hooks::HookPass {
    let due: Vec<hooks::Due> = existing
        .iter()
        .filter_map(|machine| {
            let name = machine.name_any();
            let step = match machine.status.as_ref().and_then(|s| s.phase)? {
                MachinePhase::ReadyForCutover if orchestration.releases.cutover.contains(&name) => {
                    HookStep::PreCutover
                }
                MachinePhase::FailedOver => HookStep::PostFailover,
                MachinePhase::Completed => HookStep::PostCommit,
                _ => return None,
            };
            Some(hooks::Due {
                wave: super::orchestrate::wave_of(&plan.spec, &name),
                step,
                facts: facts_of(machine),
                retry: machine
                    .annotations()
                    .get(crate::machine::reconcile::RETRY_ANNOTATION)
                    .is_some_and(|v| v == "true"),
                machine: name,
            })
        })
        .collect();
    hooks::pass(
        &plan.spec,
        &plan.name_any(),
        owner,
        previous,
        &observed.jobs,
        &due,
        observed.now,
    )
}

/// What orchestration needs of a machine.
fn view_of(machine: &ReplicatedMachine) -> MachineView {
    let status = machine.status.clone().unwrap_or_default();
    MachineView {
        name: machine.name_any(),
        phase: status.phase.unwrap_or(MachinePhase::Pending),
        progress: status.replication.and_then(|r| r.progress_percent),
        approved: machine
            .annotations()
            .get(APPROVED_ANNOTATION)
            .is_some_and(|v| v == "true"),
        message: status
            .conditions
            .iter()
            .find(|c| c.type_ == READY)
            .map(|c| c.message.clone())
            .unwrap_or_default(),
    }
}

/// Reads what a pass decides on: the caches, and ARM for the preflight of the machines a step
/// is about to release (only when one names a size or a static address).
async fn observe(plan: &MigrationPlan, ctx: &Context) -> Result<PlanObserved> {
    let namespace = plan.namespace().unwrap_or_default();
    let mut observed = PlanObserved {
        vault: ctx.caches.vault(&namespace, &plan.spec.vault_ref.name),
        machines: ctx.caches.machines_in(&namespace),
        jobs: if plan.spec.hooks.is_empty() {
            BTreeMap::new()
        } else {
            ctx.caches
                .jobs_in(&namespace)
                .iter()
                .map(|job| (job.name_any(), hooks::JobSeen::of(job)))
                .collect()
        },
        preflight: Vec::new(),
        now: jiff::Timestamp::now(),
    };
    let Some(vault) = observed.vault.clone() else {
        return Ok(observed);
    };
    let mut arm = None;
    for (step, new) in to_preflight(plan, &observed.machines, observed.now) {
        let wave = preflight::wave(&observed.machines, &new);
        if !preflight::asks_arm(&wave, step) {
            observed.preflight.push((step, preflight::Facts::default()));
            continue;
        }
        if arm.is_none() {
            arm = Some(
                ctx.arm(
                    &namespace,
                    &vault.spec.subscription_id,
                    vault.spec.credentials.as_ref(),
                    crate::context::SecretFreshness::Recent,
                )
                .await?,
            );
        }
        let facts = preflight::read(arm.as_ref().expect("set above"), &vault, &wave, step).await?;
        observed.preflight.push((step, facts));
    }
    Ok(observed)
}

async fn apply(plan: &MigrationPlan, ctx: &Context) -> Result<Requeue> {
    let owner = plan
        .controller_owner_ref(&())
        .ok_or_else(|| Error::InvalidSpec("the plan has no name or UID yet".into()))?;
    let observed = observe(plan, ctx).await?;
    let mut decision = decide(plan, &owner, &observed);
    if let Some(write) = &decision.write
        && let Some((start, code, why)) = write_one(plan, ctx, write).await?
    {
        decision.refused(&start, code, &why);
    }
    write_status(plan, ctx, &decision).await?;
    for event in &decision.events {
        let regarding = match &event.machine {
            None => plan.object_ref(&()),
            Some(name) => match observed.machines.iter().find(|m| &m.name_any() == name) {
                Some(machine) => machine.object_ref(&()),
                None => continue,
            },
        };
        ctx.event(
            &regarding,
            event.warning,
            &event.reason,
            event.message.clone(),
            event.action,
        )
        .await;
    }
    let poll = ctx.timing.poll;
    Ok(match decision.next {
        PlanNext::OnChange => Requeue::await_change(),
        PlanNext::Soon => Requeue::requeue(poll.saturating_mul(2)),
        PlanNext::Later => Requeue::requeue(poll.saturating_mul(6)),
        PlanNext::Resync => Requeue::requeue(ctx.timing.resync),
    })
}

/// Makes the pass's one write. Returns the Job the API server refused, with its code and
/// message, for status and an Event.
async fn write_one(
    plan: &MigrationPlan,
    ctx: &Context,
    write: &PlanWrite,
) -> Result<Option<(hooks::Start, u16, String)>> {
    let namespace = plan.namespace().unwrap_or_default();
    let machines = Api::<ReplicatedMachine>::namespaced(ctx.client.clone(), &namespace);
    match write {
        PlanWrite::Machine { name, body } => {
            machines
                .patch(
                    name,
                    &crate::status::plan_apply_params(),
                    &Patch::Apply(body),
                )
                .await?;
        }
        PlanWrite::ClearRetry(name) => {
            let patch = Patch::Merge(json!({ "metadata": { "annotations": {
                crate::machine::reconcile::RETRY_ANNOTATION: null } } }));
            machines
                .patch(name, &kube::api::PatchParams::default(), &patch)
                .await?;
        }
        PlanWrite::Job(start) => {
            let jobs =
                Api::<k8s_openapi::api::batch::v1::Job>::namespaced(ctx.client.clone(), &namespace);
            match jobs
                .create(&kube::api::PostParams::default(), &start.job)
                .await
            {
                Ok(_) => {}
                // Created by an earlier pass the cache has not caught up with: that one is
                // followed.
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                // The template, the namespace's quota or the controller's RBAC: what the API
                // server said goes to status and an Event, and a later pass asks again (a fixed
                // template or a freed quota then goes through). Throttling and server errors
                // are the error path's, with its backoff.
                Err(kube::Error::Api(status))
                    if (400..500).contains(&status.code) && status.code != 429 =>
                {
                    return Ok(Some((*start.clone(), status.code, status.message)));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    Ok(None)
}

/// What a hook's Job is told of its machine.
fn facts_of(machine: &ReplicatedMachine) -> Vec<(&'static str, String)> {
    let spec = &machine.spec;
    let status = machine.status.as_ref();
    [
        ("CUTOVER_SOURCE_NAME", Some(spec.source.name.clone())),
        (
            "CUTOVER_TARGET_RESOURCE_GROUP",
            spec.target.resource_group.clone(),
        ),
        (
            "CUTOVER_TARGET_VM_NAME",
            Some(
                spec.target
                    .vm_name
                    .clone()
                    .unwrap_or_else(|| spec.source.name.clone()),
            ),
        ),
        (
            "CUTOVER_TARGET_VM_ID",
            status.and_then(|s| s.target_vm_id.clone()),
        ),
        // The address the VM has once it runs, else the one the spec asks for.
        (
            "CUTOVER_PRIVATE_IP",
            status
                .and_then(|s| s.target_private_ip.clone())
                .or(spec.target.static_ip.clone()),
        ),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value?)))
    .collect()
}

/// What a deletion of `plan` does next with the machines it created (`machines`, the
/// namespace's): delete one that is not being deleted yet (the next pass the next), wait for
/// those being deleted, or, once none is left, let the finalizer go. Pure.
pub fn teardown(
    plan: &MigrationPlan,
    machines: &[Arc<ReplicatedMachine>],
) -> (Cleanup, Option<String>) {
    let created: Vec<_> = machines
        .iter()
        .filter(|m| m.labels().get(PLAN_LABEL) == Some(&plan.name_any()))
        .collect();
    if created.is_empty() {
        return (Cleanup::Done, None);
    }
    let next = created
        .iter()
        .find(|m| m.metadata.deletion_timestamp.is_none())
        .map(|m| m.name_any());
    (
        Cleanup::Pending(format!("deleting {} machine(s) of the plan", created.len())),
        next,
    )
}

async fn cleanup(plan: &MigrationPlan, ctx: &Context) -> Result<Cleanup> {
    if plan.spec.deletion_policy == DeletionPolicy::Retain {
        ctx.event(
            &plan.object_ref(&()),
            false,
            "Retained",
            "deletionPolicy is Retain: the plan's machines and their replication are left".into(),
            "Delete",
        )
        .await;
        return Ok(Cleanup::Done);
    }
    let namespace = plan.namespace().unwrap_or_default();
    let (outcome, delete) = teardown(plan, &ctx.caches.machines_in(&namespace));
    if let Some(name) = delete {
        let api = Api::<ReplicatedMachine>::namespaced(ctx.client.clone(), &namespace);
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            // Gone since the cache saw it.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(outcome)
}

/// `plan`'s status after the pass `decision`. Pure.
pub fn status_of(
    plan: &MigrationPlan,
    decision: &PlanDecision,
    now: jiff::Timestamp,
) -> MigrationPlanStatus {
    let previous = plan.status.clone().unwrap_or_default();
    let mut status = MigrationPlanStatus {
        observed_generation: plan.metadata.generation,
        conditions: conditions::merge(
            &previous.conditions,
            std::slice::from_ref(&decision.ready),
            plan.metadata.generation,
            now,
        ),
        bound_vault: previous
            .bound_vault
            .clone()
            .or_else(|| Some(plan.spec.vault_ref.name.clone())),
        started_at: previous.started_at.clone().or(Some(Time(now))),
        hooks: decision.hooks.clone(),
        ..previous.clone()
    };
    match &decision.outcome {
        Ok(o) => {
            status.phase = Some(o.phase);
            status.current_wave = o.current_wave.clone();
            status.machines = o.counts.clone();
            status.progress_percent = o.progress;
            status.waves = o.waves.clone();
            status.failed_machines = o.failed.clone();
            status.released = o.releases.clone();
            status.awaiting_approval = o.awaiting_approval.clone();
            if o.phase == PlanPhase::Completed && status.completed_at.is_none() {
                status.completed_at = Some(Time(now));
            }
        }
        Err(phase) => status.phase = Some(*phase),
    }
    let progress = crate::kstatus::of_plan(&status);
    crate::kstatus::settle(
        &mut status.conditions,
        progress,
        &previous.conditions,
        plan.metadata.generation,
        now,
    );
    status
}

/// The one place a plan's status is written: only when the pass changed it.
async fn write_status(plan: &MigrationPlan, ctx: &Context, decision: &PlanDecision) -> Result<()> {
    let status = status_of(plan, decision, jiff::Timestamp::now());
    if Some(&status) != plan.status.as_ref() {
        crate::status::write(ctx, plan, &status).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_with(selector: serde_json::Value) -> MigrationPlan {
        serde_json::from_value(json!({
            "apiVersion": "cutover.dev/v1alpha1", "kind": "MigrationPlan",
            "metadata": {"name": "p", "namespace": "n"},
            "spec": {"vaultRef": {"name": "v"}, "machines": {"templates": [], "selector": selector}}
        }))
        .expect("a plan")
    }

    fn two_template_plan(change: impl FnOnce(&mut serde_json::Value)) -> MigrationPlan {
        let mut plan = json!({
            "apiVersion": "cutover.dev/v1alpha1", "kind": "MigrationPlan",
            "metadata": {"name": "p", "namespace": "n", "uid": "u-1", "generation": 1},
            "spec": {"vaultRef": {"name": "v"},
                     "machines": {"templates": [
                         {"name": "web", "source": {"name": "web01"}, "osType": "Linux"},
                         {"name": "db", "source": {"name": "db01"}, "osType": "Linux"}]},
                     "defaults": {"vmSize": "Standard_D2s_v5", "subnet": "servers"}}
        });
        change(&mut plan["spec"]);
        serde_json::from_value(plan).expect("a plan")
    }

    fn vault() -> Arc<RecoveryVault> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "cutover.dev/v1alpha1", "kind": "RecoveryVault",
                "metadata": {"name": "v", "namespace": "n"},
                "spec": {"subscriptionId": "s1", "resourceGroup": "rg", "region": "westeurope",
                         "vault": {"create": {"name": "vault"}},
                         "storage": {"replication": {"create": {"name": "repl", "sku": "Standard_LRS"}}},
                         "network": {"target": {"create": {"name": "vnet", "addressSpace": ["10.20.0.0/16"],
                             "subnets": [{"name": "servers", "addressPrefix": "10.20.1.0/24"}]}}},
                         "source": {"hyperVSite": {"siteName": "site", "hosts": [{"name": "hv01", "osVersion": "WindowsServer2019"}]}},
                         "replicationPolicy": {"name": "p"}}
            }))
            .expect("a vault"),
        )
    }

    /// What observe reads, from the caches only: the vault when `vault`, and `machines`.
    fn seen(vault: bool, machines: &[Arc<ReplicatedMachine>]) -> PlanObserved {
        PlanObserved {
            vault: vault.then(super::tests::vault),
            machines: machines.to_vec(),
            jobs: BTreeMap::new(),
            preflight: Vec::new(),
            now: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    /// The machine a template write creates, as the cache then holds it, in `phase`.
    fn created(write: &PlanWrite, phase: MachinePhase) -> Arc<ReplicatedMachine> {
        let PlanWrite::Machine { body, .. } = write else {
            panic!("not a machine: {write:?}")
        };
        let mut machine = body.clone();
        machine["metadata"]["namespace"] = json!("n");
        machine["status"] = json!({ "phase": phase });
        Arc::new(serde_json::from_value(machine).expect("a machine"))
    }

    /// The machine `plan`'s template `name` makes, in `phase`.
    fn made(plan: &MigrationPlan, name: &str, phase: MachinePhase) -> Arc<ReplicatedMachine> {
        let owner = plan.controller_owner_ref(&()).unwrap();
        let write = template_writes(plan, &owner, &[])
            .into_iter()
            .find(|w| matches!(w, PlanWrite::Machine { name: n, .. } if n == name))
            .expect("the template's machine");
        created(&write, phase)
    }

    /// Passes of `plan` from `machines`, each write landing in the cache before the next pass:
    /// the name of each pass's write, until a pass writes nothing.
    fn passes(plan: &MigrationPlan, machines: &[Arc<ReplicatedMachine>]) -> Vec<String> {
        let owner = plan.controller_owner_ref(&()).unwrap();
        let mut machines = machines.to_vec();
        let mut writes = Vec::new();
        while let Some(write) = decide(plan, &owner, &seen(true, &machines)).write {
            let PlanWrite::Machine { name, .. } = &write else {
                panic!("not a machine: {write:?}")
            };
            assert!(writes.len() < 10, "the writes do not end: {writes:?}");
            writes.push(name.clone());
            machines.retain(|m| &m.name_any() != name);
            machines.push(created(&write, MachinePhase::Pending));
        }
        writes
    }

    #[test]
    fn a_pass_writes_one_machine_that_differs_from_its_template_and_the_next_pass_the_next() {
        let plan = two_template_plan(|_| {});
        let owner = plan.controller_owner_ref(&()).unwrap();
        let web = made(&plan, "web", MachinePhase::InitialReplication);
        let db = made(&plan, "db", MachinePhase::Completed);
        let changed =
            two_template_plan(|spec| spec["defaults"]["vmSize"] = json!("Standard_D4s_v5"));
        let stranger: Arc<ReplicatedMachine> = Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine",
                "metadata": {"name": "other", "namespace": "n", "labels": {PLAN_LABEL: "another-plan"}},
                "spec": {"vaultRef": {"name": "v"}, "source": {"name": "x"}, "osType": "Linux"}
            }))
            .unwrap(),
        );
        for (what, plan, machines, writes) in [
            ("none exists yet", &plan, vec![], vec!["web", "db"]),
            ("one exists", &plan, vec![web.clone()], vec!["db"]),
            (
                "both exist as their templates say",
                &plan,
                vec![web.clone(), db.clone(), stranger.clone()],
                vec![],
            ),
            (
                "the defaults changed",
                &changed,
                vec![web.clone(), db.clone()],
                vec!["web", "db"],
            ),
        ] {
            assert_eq!(passes(plan, &machines), writes, "{what}");
            assert_eq!(
                decide(plan, &owner, &seen(true, &machines)).next,
                PlanNext::Soon,
                "{what}"
            );
        }
        // A cache one write behind: the same write again, the same body (an idempotent apply).
        let first = decide(&plan, &owner, &seen(true, &[])).write;
        assert_eq!(decide(&plan, &owner, &seen(true, &[])).write, first);
        let Some(PlanWrite::Machine { body, .. }) = first else {
            panic!("a machine write")
        };
        assert_eq!(
            body["metadata"]["labels"][PLAN_LABEL], "p",
            "labelled with its plan"
        );
        assert_eq!(
            body["metadata"]["ownerReferences"][0]["uid"], "u-1",
            "owned by its plan"
        );
        assert_eq!(
            body["spec"]["target"]["vmSize"], "Standard_D2s_v5",
            "the plan's defaults"
        );
    }

    #[test]
    fn a_plan_that_cannot_be_orchestrated_says_why_and_writes_no_machine() {
        let valid = two_template_plan(|_| {});
        let owner = valid.controller_owner_ref(&()).unwrap();
        let invalid = two_template_plan(|spec| {
            spec["waves"] = json!([{"name": "w", "machines": ["nobody"]}]);
        });
        for (what, plan, vault_exists, phase, reason, next) in [
            (
                "an invalid spec",
                &invalid,
                true,
                PlanPhase::Failed,
                reason::INVALID_SPEC,
                PlanNext::OnChange,
            ),
            (
                "a vault not there yet",
                &valid,
                false,
                PlanPhase::Pending,
                "VaultNotFound",
                PlanNext::Later,
            ),
        ] {
            let decision = decide(plan, &owner, &seen(vault_exists, &[]));
            assert!(decision.write.is_none(), "{what}");
            assert_eq!(decision.outcome.as_ref().err(), Some(&phase), "{what}");
            assert_eq!(decision.ready.reason, reason, "{what}");
            assert!(!decision.ready.status, "{what}");
            assert_eq!(decision.next, next, "{what}");
            // The first pass has no phase in status: the phase it reaches is an Event.
            assert_eq!(decision.events.len(), 1, "{what}");
            assert_eq!(decision.events[0].reason, reason, "{what}");
            assert_eq!(
                decision.events[0].warning,
                phase == PlanPhase::Failed,
                "{what}"
            );
            assert!(to_preflight(plan, &[], jiff::Timestamp::UNIX_EPOCH).is_empty());
        }
    }

    #[test]
    fn a_plan_whose_machines_all_completed_is_ready_and_resyncs() {
        let mut plan = two_template_plan(|_| {});
        let owner = plan.controller_owner_ref(&()).unwrap();
        let machines = [
            made(&plan, "web", MachinePhase::Completed),
            made(&plan, "db", MachinePhase::Completed),
        ];
        let decision = decide(&plan, &owner, &seen(true, &machines));
        assert!(decision.write.is_none());
        assert_eq!(
            decision.outcome.as_ref().map(|o| o.phase).ok(),
            Some(PlanPhase::Completed)
        );
        assert!(decision.ready.status);
        assert_eq!(decision.next, PlanNext::Resync);
        // Its status, once written: the next pass publishes no Event again.
        let status = status_of(&plan, &decision, jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(status.phase, Some(PlanPhase::Completed));
        assert!(status.completed_at.is_some());
        plan.status = Some(status.clone());
        let again = decide(&plan, &owner, &seen(true, &machines));
        assert!(again.events.is_empty(), "{:?}", again.events);
        assert_eq!(
            status_of(&plan, &again, jiff::Timestamp::UNIX_EPOCH),
            status
        );
    }

    /// Two machines of `plan` ready for cutover, both named in an approved cutover.
    fn ready_to_fail_over(
        change: impl FnOnce(&mut serde_json::Value),
    ) -> (MigrationPlan, Vec<Arc<ReplicatedMachine>>) {
        let plan = two_template_plan(|spec| {
            spec["cutover"] = json!({"approved": true});
            change(spec);
        });
        let machines = vec![
            made(&plan, "web", MachinePhase::ReadyForCutover),
            made(&plan, "db", MachinePhase::ReadyForCutover),
        ];
        (plan, machines)
    }

    fn usages(family_used: i64) -> Vec<crate::azure::capacity::Usage> {
        // As `az vm list-usage` shows them.
        serde_json::from_value(json!([
            {"currentValue": 0, "limit": 40, "name": {"value": "cores", "localizedValue": "Total Regional vCPUs"}},
            {"currentValue": family_used, "limit": 20,
             "name": {"value": "standardDSv5Family", "localizedValue": "Standard DSv5 Family vCPUs"}},
        ]))
        .unwrap()
    }

    fn skus() -> Vec<crate::azure::capacity::Sku> {
        // As ListAvailableResourceSkus.json (compute 2021-07-01) lists them.
        serde_json::from_value(json!([
            {"resourceType": "virtualMachines", "name": "Standard_D2s_v5", "family": "standardDSv5Family",
             "locations": ["westeurope"], "capabilities": [{"name": "vCPUs", "value": "2"}]},
        ]))
        .unwrap()
    }

    #[test]
    fn a_step_is_released_only_once_its_preflight_was_read_and_found_room() {
        let (plan, machines) = ready_to_fail_over(|_| {});
        let owner = plan.controller_owner_ref(&()).unwrap();
        let now = jiff::Timestamp::UNIX_EPOCH;
        assert_eq!(
            to_preflight(&plan, &machines, now),
            [(Step::Failover, vec!["db".to_owned(), "web".to_owned()])],
            "what observe reads ARM for"
        );
        let with = |facts: Option<preflight::Facts>| {
            let mut observed = seen(true, &machines);
            observed.preflight = facts.map(|f| (Step::Failover, f)).into_iter().collect();
            decide(&plan, &owner, &observed)
        };
        let room = preflight::Facts {
            capacity: Some((usages(0), skus())),
            network: None,
        };
        let full = preflight::Facts {
            capacity: Some((usages(19), skus())),
            network: None,
        };
        for (what, facts, released, phase, reason) in [
            (
                "room for both",
                Some(room),
                vec!["db", "web"],
                PlanPhase::CuttingOver,
                None,
            ),
            (
                "one vCPU free",
                Some(full),
                vec![],
                PlanPhase::AwaitingCapacity,
                Some("InsufficientQuota"),
            ),
            (
                "not read",
                None,
                vec![],
                PlanPhase::AwaitingCapacity,
                Some("PreflightNotRead"),
            ),
        ] {
            let decision = with(facts);
            let orchestration = decision.outcome.as_ref().expect("orchestrated");
            assert_eq!(orchestration.releases.cutover, released, "{what}");
            assert_eq!(
                orchestration.phase, phase,
                "{what}: {}",
                orchestration.message
            );
            if let Some(reason) = reason {
                assert_eq!(decision.ready.reason, reason, "{what}");
                assert!(!decision.ready.status, "{what}");
            }
            assert!(decision.write.is_none(), "{what}");
        }
        // Released once: not checked again.
        let mut released = plan.clone();
        released.status = Some(MigrationPlanStatus {
            released: cutover_api::plan::Releases {
                cutover: vec!["web".into(), "db".into()],
                ..Default::default()
            },
            ..Default::default()
        });
        assert!(to_preflight(&released, &machines, now).is_empty());
    }

    #[test]
    fn a_hook_job_is_the_one_write_once_no_machine_is_due_and_a_refusal_is_said() {
        let (plan, mut machines) = ready_to_fail_over(|spec| {
            spec["hooks"] = json!([{"name": "stop-app", "step": "PreCutover",
                "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}]}}}}}]);
        });
        let owner = plan.controller_owner_ref(&()).unwrap();
        let mut observed = seen(true, &machines);
        observed.preflight = vec![(Step::Failover, preflight::Facts::default())];
        let decision = decide(&plan, &owner, &observed);
        let Some(PlanWrite::Job(start)) = &decision.write else {
            panic!("a Job: {:?} ({:?})", decision.write, decision.ready)
        };
        assert_eq!(start.job.metadata.name.as_deref(), Some("p-web-stop-app-1"));
        let orchestration = decision.outcome.as_ref().unwrap();
        assert!(
            orchestration.releases.cutover.is_empty(),
            "held until the hooks pass"
        );
        assert_eq!(
            decision.hooks.len(),
            2,
            "both runs recorded: {:?}",
            decision.hooks
        );
        // A machine to create comes first; the Job waits for the next pass.
        machines.pop();
        let mut observed = seen(true, &machines);
        observed.preflight = vec![(Step::Failover, preflight::Facts::default())];
        let first = decide(&plan, &owner, &observed);
        assert!(
            matches!(&first.write, Some(PlanWrite::Machine { name, .. }) if name == "db"),
            "{:?}",
            first.write
        );
        // The API server refused the Job: its run and an Event say why.
        let mut refused = decision;
        let events = refused.events.len();
        let start = start_of(&refused).clone();
        refused.refused(&start, 403, "forbidden");
        let run = refused.hooks.iter().find(|r| r.machine == "web").unwrap();
        assert!(run.message.contains("forbidden (403)"), "{}", run.message);
        assert_eq!(refused.events.len(), events + 1);
        assert_eq!(refused.events[events].reason, "HookJobRefused");
        assert!(refused.events[events].warning);
        // A Job refused does not hold back the others: the next pass asks for the other one,
        // and once both were refused, each is asked again in turn.
        let (mut plan, machines) = (plan, ready_to_fail_over(|_| {}).1);
        let mut status = status_of(&plan, &refused, jiff::Timestamp::UNIX_EPOCH);
        plan.status = Some(status.clone());
        let mut observed = seen(true, &machines);
        observed.preflight = vec![(Step::Failover, preflight::Facts::default())];
        let next = decide(&plan, &owner, &observed);
        let other = start_of(&next).clone();
        assert_eq!(other.machine, "db", "the one not refused yet");
        let mut both = next;
        both.refused(&other, 403, "forbidden");
        status.hooks = both.hooks.clone();
        plan.status = Some(status);
        let asked: std::collections::BTreeSet<String> = (0..2)
            .map(|second| {
                observed.now = jiff::Timestamp::from_second(second).unwrap();
                start_of(&decide(&plan, &owner, &observed)).machine.clone()
            })
            .collect();
        assert_eq!(asked.len(), 2, "each refused Job in turn: {asked:?}");
    }

    fn start_of(decision: &PlanDecision) -> &hooks::Start {
        match &decision.write {
            Some(PlanWrite::Job(start)) => start,
            other => panic!("a Job: {other:?}"),
        }
    }

    #[test]
    fn a_deleted_plan_deletes_one_of_its_machines_per_pass_and_ends_once_none_is_left() {
        let plan = two_template_plan(|_| {});
        let web = made(&plan, "web", MachinePhase::Protected);
        let db = made(&plan, "db", MachinePhase::Protected);
        let mut deleting = (*db).clone();
        deleting.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        let deleting = Arc::new(deleting);
        let mut adopted = (*web).clone();
        adopted.metadata.name = Some("adopted".into());
        adopted.metadata.labels = Some(BTreeMap::from([("app".into(), "web".into())]));
        let adopted = Arc::new(adopted);
        for (what, machines, outcome, delete) in [
            (
                "two to delete",
                vec![web.clone(), db.clone(), adopted.clone()],
                Cleanup::Pending("deleting 2 machine(s) of the plan".into()),
                Some("web"),
            ),
            (
                "one being deleted",
                vec![deleting.clone(), adopted.clone()],
                Cleanup::Pending("deleting 1 machine(s) of the plan".into()),
                None,
            ),
            (
                "none left (an adopted one stays)",
                vec![adopted.clone()],
                Cleanup::Done,
                None,
            ),
        ] {
            assert_eq!(
                teardown(&plan, &machines),
                (outcome, delete.map(str::to_owned)),
                "{what}"
            );
        }
    }

    #[test]
    fn a_selector_adopts_by_labels_and_by_expressions() {
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let web_prod = labels(&[("app", "web"), ("env", "prod")]);
        let db = labels(&[("app", "db")]);
        for (selector, machine, adopted) in [
            (json!({"matchLabels": {"app": "web"}}), &web_prod, true),
            (json!({"matchLabels": {"app": "web"}}), &db, false),
            (
                json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "db"]}]}),
                &db,
                true,
            ),
            (
                json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}),
                &web_prod,
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "env", "operator": "Exists"}]}),
                &web_prod,
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}),
                &db,
                true,
            ),
            // An invalid selector adopts nothing (validate() refuses the plan).
            (
                json!({"matchExpressions": [{"key": "app", "operator": "In"}]}),
                &db,
                false,
            ),
        ] {
            assert_eq!(
                adopts(&plan_with(selector.clone()), machine),
                adopted,
                "{selector} on {machine:?}"
            );
        }
    }
}
