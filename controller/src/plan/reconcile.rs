//! The MigrationPlan controller: create the machines of its templates (owned, labelled with
//! the plan), adopt those its selector matches, orchestrate, and write status; on deletion,
//! delete the machines it created (each disables its replication as its deletionPolicy says).

use std::collections::BTreeMap;
use std::sync::Arc;

use cutover_api::conditions::{READY, reason};
use cutover_api::plan::{MigrationPlan, MigrationPlanStatus, PlanPhase};
use cutover_api::{DeletionPolicy, MachinePhase, ReplicatedMachine};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::api::{DeleteParams, Patch};
use kube::core::{Selector, SelectorExt};
use kube::runtime::controller::Action as Requeue;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::orchestrate::{MachineView, Orchestration, orchestrate};
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

/// What a plan's pass decided: the machines to create from a template or bring back to it,
/// what `Ready` says, the phase or orchestration for status, and when to look again.
#[derive(Debug)]
pub struct PlanDecision {
    /// Server-side apply bodies of ReplicatedMachines, by name.
    pub machines: Vec<(String, serde_json::Value)>,
    pub ready: Observed,
    /// What orchestration decided, or the phase of a plan that cannot be orchestrated yet.
    pub outcome: std::result::Result<Orchestration, PlanPhase>,
    pub next: PlanNext,
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

/// A plan's pass, decided from the plan, whether its vault exists, and the machines in its
/// namespace (all from the caches). Pure.
pub fn decide(
    plan: &MigrationPlan,
    owner: &OwnerReference,
    vault_exists: bool,
    machines: &[Arc<ReplicatedMachine>],
    now: jiff::Timestamp,
) -> PlanDecision {
    let waiting = |reason: &str, message: String, phase, next| PlanDecision {
        machines: Vec::new(),
        ready: Observed::not_ready(READY, reason, message),
        outcome: Err(phase),
        next,
    };
    let report = plan.validate();
    if !report.is_valid() {
        return waiting(
            reason::INVALID_SPEC,
            report.error_message(),
            PlanPhase::Failed,
            PlanNext::OnChange,
        );
    }
    // A plan on a vault that is not there says so, rather than waiting on machines that
    // cannot start. Pending, not Failed: with GitOps the plan may simply have arrived first.
    if !vault_exists {
        return waiting(
            "VaultNotFound",
            format!(
                "no RecoveryVault {} in namespace {}",
                plan.spec.vault_ref.name,
                plan.namespace().unwrap_or_default()
            ),
            PlanPhase::Pending,
            PlanNext::Later,
        );
    }
    let existing = machines_of(plan, machines);
    // The templates' machines, created or brought back to what the template says.
    let writes = plan
        .spec
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
            Some((
                template.name.clone(),
                json!({
                    "apiVersion": "cutover.dev/v1alpha1",
                    "kind": "ReplicatedMachine",
                    "metadata": { "name": template.name, "labels": labels, "ownerReferences": [owner] },
                    "spec": spec,
                }),
            ))
        })
        .collect();
    let views: Vec<MachineView> = existing.iter().map(|m| view_of(m)).collect();
    let orchestration = orchestrate(&plan.spec, &views, now);
    let done = orchestration.phase == PlanPhase::Completed;
    let ready = if done {
        Observed::ready(READY, orchestration.reason, orchestration.message.clone())
    } else {
        Observed::not_ready(READY, orchestration.reason, orchestration.message.clone())
    };
    PlanDecision {
        machines: writes,
        ready,
        outcome: Ok(orchestration),
        next: if done {
            PlanNext::Resync
        } else {
            PlanNext::Soon
        },
    }
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

async fn apply(plan: &MigrationPlan, ctx: &Context) -> Result<Requeue> {
    let namespace = plan.namespace().unwrap_or_default();
    let owner = plan
        .controller_owner_ref(&())
        .ok_or_else(|| Error::InvalidSpec("the plan has no name or UID yet".into()))?;
    let vault = ctx.caches.vault(&namespace, &plan.spec.vault_ref.name);
    let machines = ctx.caches.machines_in(&namespace);
    let mut decision = decide(
        plan,
        &owner,
        vault.is_some(),
        &machines,
        jiff::Timestamp::now(),
    );
    if let (Ok(orchestration), Some(vault)) = (&mut decision.outcome, &vault) {
        let previous = plan
            .status
            .as_ref()
            .map(|s| s.released.clone())
            .unwrap_or_default();
        use super::orchestrate::Step;
        for step in [Step::TestFailover, Step::Failover] {
            let new = super::orchestrate::newly_released(orchestration, &previous, step);
            if new.is_empty() {
                continue;
            }
            let shortfalls = wave_preflight(ctx, vault, &machines, &new, step).await?;
            super::orchestrate::hold_for_capacity(orchestration, step, &new, &shortfalls);
            if !shortfalls.is_empty() {
                decision.ready =
                    Observed::failing(READY, orchestration.reason, orchestration.message.clone());
            }
        }
    }
    let runs = if let Ok(orchestration) = &mut decision.outcome {
        let held = run_hooks(plan, ctx, &owner, &machines, orchestration).await?;
        if held.blocked {
            decision.ready =
                Observed::failing(READY, orchestration.reason, orchestration.message.clone());
        } else if !plan.spec.hooks.is_empty()
            && !matches!(
                orchestration.phase,
                PlanPhase::Completed | PlanPhase::AwaitingCapacity
            )
        {
            decision.ready =
                Observed::not_ready(READY, orchestration.reason, orchestration.message.clone());
        }
        held.runs
    } else {
        plan.status
            .as_ref()
            .map(|s| s.hooks.clone())
            .unwrap_or_default()
    };
    let api = Api::<ReplicatedMachine>::namespaced(ctx.client.clone(), &namespace);
    for (name, machine) in &decision.machines {
        api.patch(
            name,
            &crate::status::plan_apply_params(),
            &Patch::Apply(machine),
        )
        .await?;
    }
    write_status(
        plan,
        ctx,
        std::slice::from_ref(&decision.ready),
        decision.outcome.as_ref().map_err(|phase| *phase),
        runs,
    )
    .await?;
    let poll = ctx.timing.poll;
    Ok(match decision.next {
        PlanNext::OnChange => Requeue::await_change(),
        PlanNext::Soon => Requeue::requeue(poll.saturating_mul(2)),
        PlanNext::Later => Requeue::requeue(poll.saturating_mul(6)),
        PlanNext::Resync => Requeue::requeue(ctx.timing.resync),
    })
}

/// What the hooks' pass left: the runs for status, and whether one that must succeed failed.
struct HooksHeld {
    runs: Vec<cutover_api::plan::HookRun>,
    blocked: bool,
}

/// The hooks of the machines that reached a step: Jobs created (one that exists is adopted),
/// followed and retried, an Event for each that ended, and the orchestration held where a hook
/// has not passed.
async fn run_hooks(
    plan: &MigrationPlan,
    ctx: &Context,
    owner: &OwnerReference,
    machines: &[Arc<ReplicatedMachine>],
    orchestration: &mut Orchestration,
) -> Result<HooksHeld> {
    use super::hooks;
    let previous = plan
        .status
        .as_ref()
        .map(|s| s.hooks.clone())
        .unwrap_or_default();
    if plan.spec.hooks.is_empty() {
        return Ok(HooksHeld {
            runs: previous,
            blocked: false,
        });
    }
    let namespace = plan.namespace().unwrap_or_default();
    let mine = machines_of(plan, machines);
    let due: Vec<hooks::Due> = mine
        .iter()
        .filter_map(|machine| {
            let name = machine.name_any();
            let status = machine.status.as_ref();
            let step = match status.and_then(|s| s.phase)? {
                MachinePhase::ReadyForCutover if orchestration.releases.cutover.contains(&name) => {
                    cutover_api::plan::HookStep::PreCutover
                }
                MachinePhase::FailedOver => cutover_api::plan::HookStep::PostFailover,
                MachinePhase::Completed => cutover_api::plan::HookStep::PostCommit,
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
    let jobs: BTreeMap<String, hooks::JobSeen> = ctx
        .caches
        .jobs_in(&namespace)
        .iter()
        .map(|job| (job.name_any(), hooks::JobSeen::of(job)))
        .collect();
    let mut pass = hooks::pass(
        &plan.spec,
        &plan.name_any(),
        owner,
        &previous,
        &jobs,
        &due,
        jiff::Timestamp::now(),
    );
    let api = Api::<k8s_openapi::api::batch::v1::Job>::namespaced(ctx.client.clone(), &namespace);
    for start in &pass.start {
        let refused = match api
            .create(&kube::api::PostParams::default(), &start.job)
            .await
        {
            Ok(_) => continue,
            // Created by an earlier pass the cache has not caught up with: that one is followed.
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            // The template, the namespace's quota or the controller's RBAC: what the API
            // server said goes to status and an Event, and a later pass asks again (a fixed
            // template or a freed quota then goes through). Throttling and server errors are
            // the error path's, with its backoff.
            Err(kube::Error::Api(status))
                if (400..500).contains(&status.code) && status.code != 429 =>
            {
                hooks::refused(&mut pass.runs, start, status.code, &status.message)
            }
            Err(error) => return Err(error.into()),
        };
        ctx.event(
            &plan.object_ref(&()),
            true,
            "HookJobRefused",
            format!("hook {} for {}: {refused}", start.hook, start.machine),
            "Hook",
        )
        .await;
    }
    // Only once status shows the re-run (see `hooks::pass`), so a lost clear re-runs nothing.
    let machines_api = Api::<ReplicatedMachine>::namespaced(ctx.client.clone(), &namespace);
    for machine in &pass.clear_retry {
        let patch = Patch::Merge(json!({ "metadata": { "annotations": {
            crate::machine::reconcile::RETRY_ANNOTATION: null } } }));
        machines_api
            .patch(machine, &kube::api::PatchParams::default(), &patch)
            .await?;
    }
    for ended in &pass.ended {
        let machine = mine.iter().find(|m| m.name_any() == ended.machine);
        let regarding =
            std::iter::once(plan.object_ref(&())).chain(machine.map(|m| m.object_ref(&())));
        for object in regarding {
            let message = ended.message.clone();
            ctx.event(&object, ended.warning, ended.reason, message, "Hook")
                .await;
        }
    }
    let phases: Vec<(String, MachinePhase)> = mine
        .iter()
        .map(|m| {
            (
                m.name_any(),
                m.status
                    .as_ref()
                    .and_then(|s| s.phase)
                    .unwrap_or(MachinePhase::Pending),
            )
        })
        .collect();
    let blocked = hooks::hold(orchestration, &plan.spec, &pass.runs, &phases);
    Ok(HooksHeld {
        runs: pass.runs,
        blocked,
    })
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

/// Whether the target region can take the VMs the failovers of `released` create: their sizes
/// offered there and within the vCPU quotas (read from Compute before anything is written).
async fn wave_preflight(
    ctx: &Context,
    vault: &cutover_api::RecoveryVault,
    machines: &[Arc<ReplicatedMachine>],
    released: &[String],
    step: super::orchestrate::Step,
) -> Result<Vec<crate::azure::capacity::Shortfall>> {
    let namespace = vault.namespace().unwrap_or_default();
    let wave: Vec<&ReplicatedMachine> = machines
        .iter()
        .filter(|m| m.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|m| released.contains(&m.name_any()))
        .map(|m| m.as_ref())
        .collect();
    // A test VM lands in the test network, where the spec asks for no address.
    let addressed = step == super::orchestrate::Step::Failover
        && wave.iter().any(|m| m.spec.target.static_ip.is_some());
    let sized = wave.iter().any(|m| m.spec.target.vm_size.is_some());
    if !addressed && !sized {
        return Ok(Vec::new());
    }
    let arm = ctx
        .arm(
            &namespace,
            &vault.spec.subscription_id,
            vault.spec.credentials.as_ref(),
            crate::context::SecretFreshness::Recent,
        )
        .await?;
    let mut shortfalls = capacity_preflight(&arm, vault, &wave).await?;
    if addressed {
        shortfalls.extend(address_preflight(&arm, vault, &wave).await?);
    }
    Ok(shortfalls)
}

/// The static addresses of a wave's machines, before any fails over: inside their subnet, not
/// kept by Azure, not asked twice (`addresses::check`), and free in the target network (ARM's
/// `checkIPAddressAvailability`). Only machines about to fail over are asked about: one that
/// did holds its own address.
async fn address_preflight(
    arm: &crate::azure::ArmClient,
    vault: &cutover_api::RecoveryVault,
    wave: &[&ReplicatedMachine],
) -> Result<Vec<crate::azure::capacity::Shortfall>> {
    use crate::azure::{addresses, resources};
    let Some(network_id) = crate::vault::converge::Ids::of(vault).networks[0].1.clone() else {
        return Ok(Vec::new());
    };
    if !wave.iter().any(|m| m.spec.target.static_ip.is_some()) {
        return Ok(Vec::new());
    }
    // The vault created or adopted it; absent, the vault is not Ready and nothing fails over.
    let Some(vnet) = resources::get(arm, &network_id, resources::NETWORK_API).await? else {
        return Ok(Vec::new());
    };
    let network = network_id.rsplit('/').next().unwrap_or_default();
    let (_, subnets) = resources::vnet_layout(&vnet);
    let names: Vec<String> = wave.iter().map(|m| m.name_any()).collect();
    let wanted: Vec<addresses::Wanted<'_>> = wave
        .iter()
        .zip(&names)
        .map(|(m, name)| addresses::Wanted {
            machine: name,
            subnet: m.spec.target.subnet.as_deref(),
            static_ip: m.spec.target.static_ip.as_deref(),
        })
        .collect();
    let problems = addresses::check(network, &subnets, &wanted);
    let mut shortfalls: Vec<crate::azure::capacity::Shortfall> = problems
        .iter()
        .map(|p| crate::azure::capacity::Shortfall {
            machine: Some(p.machine.clone()),
            reason: "AddressNotUsable",
            message: format!("{}: {} ({})", p.machine, p.message, p.field),
        })
        .collect();
    for want in &wanted {
        let Some(ip) = want.static_ip else { continue };
        if problems.iter().any(|p| p.machine == want.machine) {
            continue;
        }
        let answer = resources::check_ip_address_availability(arm, &network_id, ip).await?;
        if let Some(message) = answer
            .as_ref()
            .and_then(|a| addresses::unavailable(ip, network, a))
        {
            shortfalls.push(crate::azure::capacity::Shortfall {
                machine: Some(want.machine.to_owned()),
                reason: "AddressNotFree",
                message: format!("{}: {message}", want.machine),
            });
        }
    }
    Ok(shortfalls)
}

async fn capacity_preflight(
    arm: &crate::azure::ArmClient,
    vault: &cutover_api::RecoveryVault,
    wave: &[&ReplicatedMachine],
) -> Result<Vec<crate::azure::capacity::Shortfall>> {
    let needs: Vec<crate::azure::capacity::Need<'_>> = wave
        .iter()
        .filter_map(|m| {
            Some(crate::azure::capacity::Need {
                machine: m.metadata.name.as_deref()?,
                size: m.spec.target.vm_size.as_deref()?,
                zone: m.spec.target.availability_zone.as_ref().map(|z| z.as_str()),
            })
        })
        .collect();
    if needs.is_empty() {
        return Ok(Vec::new());
    }
    let subscription = &vault.spec.subscription_id;
    let region = &vault.spec.region;
    let usages = crate::azure::resources::list_usages(arm, subscription, region).await?;
    let skus = crate::azure::resources::list_skus(arm, subscription, region).await?;
    Ok(crate::azure::capacity::check(
        region, &needs, &usages, &skus,
    ))
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
    let api = Api::<ReplicatedMachine>::namespaced(ctx.client.clone(), &namespace);
    let created: Vec<_> = ctx
        .caches
        .machines_in(&namespace)
        .into_iter()
        .filter(|m| m.labels().get(PLAN_LABEL) == Some(&plan.name_any()))
        .collect();
    if created.is_empty() {
        return Ok(Cleanup::Done);
    }
    for machine in &created {
        if machine.metadata.deletion_timestamp.is_none() {
            api.delete(&machine.name_any(), &DeleteParams::default())
                .await?;
        }
    }
    Ok(Cleanup::Pending(format!(
        "deleting {} machine(s) of the plan",
        created.len()
    )))
}

async fn write_status(
    plan: &MigrationPlan,
    ctx: &Context,
    observed: &[Observed],
    // What orchestration decided, or the phase of a plan that cannot be orchestrated yet.
    orchestration: std::result::Result<&Orchestration, PlanPhase>,
    hooks: Vec<cutover_api::plan::HookRun>,
) -> Result<()> {
    let previous = plan.status.clone().unwrap_or_default();
    let mut status = MigrationPlanStatus {
        observed_generation: plan.metadata.generation,
        conditions: conditions::merge(
            &previous.conditions,
            observed,
            plan.metadata.generation,
            jiff::Timestamp::now(),
        ),
        bound_vault: previous
            .bound_vault
            .clone()
            .or_else(|| Some(plan.spec.vault_ref.name.clone())),
        started_at: previous
            .started_at
            .clone()
            .or_else(|| Some(Time(jiff::Timestamp::now()))),
        hooks,
        ..previous.clone()
    };
    match orchestration {
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
                status.completed_at = Some(Time(jiff::Timestamp::now()));
            }
        }
        Err(phase) => status.phase = Some(phase),
    }
    let progress = crate::kstatus::of_plan(&status);
    crate::kstatus::settle(
        &mut status.conditions,
        progress,
        &previous.conditions,
        plan.metadata.generation,
        jiff::Timestamp::now(),
    );
    if status != previous {
        crate::status::write(ctx, plan, &status).await?;
    }
    if previous.phase != status.phase {
        let warning = matches!(status.phase, Some(PlanPhase::Failed));
        let message = observed
            .first()
            .map(|o| o.message.clone())
            .unwrap_or_default();
        let reason = observed
            .first()
            .map_or("PhaseChanged", |o| o.reason.as_str())
            .to_owned();
        ctx.event(
            &plan.object_ref(&()),
            warning,
            &reason,
            message,
            "Orchestrate",
        )
        .await;
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

    /// The machine `plan`'s template `name` makes, in `phase`.
    fn made(plan: &MigrationPlan, name: &str, phase: MachinePhase) -> Arc<ReplicatedMachine> {
        let owner = plan.controller_owner_ref(&()).unwrap();
        let decision = decide(plan, &owner, true, &[], jiff::Timestamp::UNIX_EPOCH);
        let (_, body) = decision
            .machines
            .into_iter()
            .find(|(n, _)| n == name)
            .expect("the template's machine");
        let mut machine: serde_json::Value = body;
        machine["metadata"]["namespace"] = json!("n");
        machine["status"] = json!({ "phase": phase });
        Arc::new(serde_json::from_value(machine).expect("a machine"))
    }

    #[test]
    fn a_pass_writes_only_the_machines_that_differ_from_their_template() {
        let plan = two_template_plan(|_| {});
        let owner = plan.controller_owner_ref(&()).unwrap();
        let now = jiff::Timestamp::UNIX_EPOCH;
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
        let names = |d: &PlanDecision| {
            d.machines
                .iter()
                .map(|(n, _)| n.clone())
                .collect::<Vec<_>>()
        };
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
            let decision = decide(plan, &owner, true, &machines, now);
            assert_eq!(names(&decision), writes, "{what}");
            assert_eq!(decision.next, PlanNext::Soon, "{what}");
        }
        let body = &decide(&plan, &owner, true, &[], now).machines[0].1;
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
        let now = jiff::Timestamp::UNIX_EPOCH;
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
            let decision = decide(plan, &owner, vault_exists, &[], now);
            assert!(decision.machines.is_empty(), "{what}");
            assert_eq!(decision.outcome.as_ref().err(), Some(&phase), "{what}");
            assert_eq!(decision.ready.reason, reason, "{what}");
            assert!(!decision.ready.status, "{what}");
            assert_eq!(decision.next, next, "{what}");
        }
    }

    #[test]
    fn a_plan_whose_machines_all_completed_is_ready_and_resyncs() {
        let plan = two_template_plan(|_| {});
        let owner = plan.controller_owner_ref(&()).unwrap();
        let machines = [
            made(&plan, "web", MachinePhase::Completed),
            made(&plan, "db", MachinePhase::Completed),
        ];
        let decision = decide(&plan, &owner, true, &machines, jiff::Timestamp::UNIX_EPOCH);
        assert!(decision.machines.is_empty());
        assert_eq!(
            decision.outcome.as_ref().map(|o| o.phase).ok(),
            Some(PlanPhase::Completed)
        );
        assert!(decision.ready.status);
        assert_eq!(decision.next, PlanNext::Resync);
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
