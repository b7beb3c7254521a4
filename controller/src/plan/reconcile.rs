//! The MigrationPlan controller: create the machines of its templates (owned, labelled with
//! the plan), adopt those its selector matches, orchestrate, and write status; on deletion,
//! delete the machines it created (each disables its replication as its deletionPolicy says).

use std::collections::BTreeMap;
use std::sync::Arc;

use cutover_api::conditions::{READY, reason};
use cutover_api::plan::{MigrationPlan, MigrationPlanStatus, PlanPhase};
use cutover_api::{DeletionPolicy, MachinePhase, RecoveryVault, ReplicatedMachine};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::core::{Selector, SelectorExt};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::orchestrate::{MachineView, Orchestration, orchestrate};
use crate::conditions::{self, Observed};
use crate::context::Context;
use crate::error::{Error, Result};

pub const FINALIZER: &str = "cutover.dev/plan";
/// Label on the machines a plan created from its templates.
pub const PLAN_LABEL: &str = "cutover.dev/plan";
const FIELD_MANAGER: &str = "cutover";

pub async fn reconcile(plan: Arc<MigrationPlan>, ctx: Arc<Context>) -> Result<Requeue> {
    let api =
        Api::<MigrationPlan>::namespaced(ctx.client.clone(), &plan.namespace().unwrap_or_default());
    let key = plan.uid().unwrap_or_default();
    let outcome = finalizer(&api, FINALIZER, plan, |event| async {
        match event {
            Event::Apply(plan) => apply(&plan, &ctx).await,
            Event::Cleanup(plan) => cleanup(&plan, &ctx).await,
        }
    })
    .await;
    let action = crate::error::settle_cleanup(outcome, ctx.timing.poll)?;
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

/// The machines of a plan: those it created, and those its selector adopts.
pub async fn machines_of(plan: &MigrationPlan, ctx: &Context) -> Result<Vec<ReplicatedMachine>> {
    let api = Api::<ReplicatedMachine>::namespaced(
        ctx.client.clone(),
        &plan.namespace().unwrap_or_default(),
    );
    let mut machines: BTreeMap<String, ReplicatedMachine> = BTreeMap::new();
    for machine in api
        .list(&ListParams::default().labels(&format!("{PLAN_LABEL}={}", plan.name_any())))
        .await?
    {
        machines.insert(machine.name_any(), machine);
    }
    if let Some(selector) = selector_of(plan) {
        for machine in api
            .list(&ListParams::default().labels_from(&selector))
            .await?
        {
            machines.entry(machine.name_any()).or_insert(machine);
        }
    }
    Ok(machines
        .into_values()
        .filter(|m| m.metadata.deletion_timestamp.is_none())
        .collect())
}

async fn apply(plan: &MigrationPlan, ctx: &Context) -> Result<Requeue> {
    let report = plan.validate();
    if !report.is_valid() {
        let observed = [Observed::not_ready(
            READY,
            reason::INVALID_SPEC,
            report.error_message(),
        )];
        write_status(plan, ctx, &observed, Err(PlanPhase::Failed)).await?;
        return Ok(Requeue::await_change());
    }
    let namespace = plan.namespace().unwrap_or_default();
    // A plan on a vault that is not there says so, rather than waiting on machines that
    // cannot start; the vault's creation is seen at the next resync.
    let vault = &plan.spec.vault_ref.name;
    if Api::<RecoveryVault>::namespaced(ctx.client.clone(), &namespace)
        .get_opt(vault)
        .await?
        .is_none()
    {
        let observed = [Observed::not_ready(
            READY,
            "VaultNotFound",
            format!("no RecoveryVault {vault} in namespace {namespace}"),
        )];
        // Pending, not Failed: with GitOps the plan may simply have arrived before its vault.
        write_status(plan, ctx, &observed, Err(PlanPhase::Pending)).await?;
        return Ok(Requeue::requeue(ctx.timing.poll.saturating_mul(6)));
    }
    let api = Api::<ReplicatedMachine>::namespaced(ctx.client.clone(), &namespace);
    let existing = machines_of(plan, ctx).await?;

    // The templates' machines, created or brought back to what the template says.
    let owner = plan
        .controller_owner_ref(&())
        .ok_or_else(|| Error::InvalidSpec("the plan has no name or UID yet".into()))?;
    for template in &plan.spec.machines.templates {
        let spec = template.machine_spec(&plan.spec);
        let current = existing.iter().find(|m| m.name_any() == template.name);
        if current.is_some_and(|m| m.spec == spec) {
            continue;
        }
        let mut labels = template.labels.clone();
        labels.insert(PLAN_LABEL.into(), plan.name_any());
        let machine = json!({
            "apiVersion": "cutover.dev/v1alpha1",
            "kind": "ReplicatedMachine",
            "metadata": { "name": template.name, "labels": labels, "ownerReferences": [owner] },
            "spec": spec,
        });
        api.patch(
            &template.name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(machine),
        )
        .await?;
    }

    let views: Vec<MachineView> = existing
        .iter()
        .map(|m| {
            let status = m.status.clone().unwrap_or_default();
            MachineView {
                name: m.name_any(),
                phase: status.phase.unwrap_or(MachinePhase::Pending),
                progress: status.replication.and_then(|r| r.progress_percent),
                message: status
                    .conditions
                    .iter()
                    .find(|c| c.type_ == READY)
                    .map(|c| c.message.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let orchestration = orchestrate(&plan.spec, &views, jiff::Timestamp::now());
    let ready = orchestration.phase == PlanPhase::Completed;
    let observed = [if ready {
        Observed::ready(READY, orchestration.reason, orchestration.message.clone())
    } else {
        Observed::not_ready(READY, orchestration.reason, orchestration.message.clone())
    }];
    write_status(plan, ctx, &observed, Ok(&orchestration)).await?;
    Ok(if ready {
        Requeue::requeue(ctx.timing.resync)
    } else {
        Requeue::requeue(ctx.timing.poll.saturating_mul(2))
    })
}

async fn cleanup(plan: &MigrationPlan, ctx: &Context) -> Result<Requeue> {
    if plan.spec.deletion_policy == DeletionPolicy::Retain {
        ctx.event(
            &plan.object_ref(&()),
            false,
            "Retained",
            "deletionPolicy is Retain: the plan's machines and their replication are left".into(),
            "Delete",
        )
        .await;
        return Ok(Requeue::await_change());
    }
    let api = Api::<ReplicatedMachine>::namespaced(
        ctx.client.clone(),
        &plan.namespace().unwrap_or_default(),
    );
    let created = api
        .list(&ListParams::default().labels(&format!("{PLAN_LABEL}={}", plan.name_any())))
        .await?;
    if created.items.is_empty() {
        return Ok(Requeue::await_change());
    }
    for machine in &created.items {
        if machine.metadata.deletion_timestamp.is_none() {
            api.delete(&machine.name_any(), &DeleteParams::default())
                .await?;
        }
    }
    Err(Error::TeardownInProgress(format!(
        "deleting {} machine(s) of the plan",
        created.items.len()
    )))
}

async fn write_status(
    plan: &MigrationPlan,
    ctx: &Context,
    observed: &[Observed],
    // What orchestration decided, or the phase of a plan that cannot be orchestrated yet.
    orchestration: std::result::Result<&Orchestration, PlanPhase>,
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
            if o.phase == PlanPhase::Completed && status.completed_at.is_none() {
                status.completed_at = Some(Time(jiff::Timestamp::now()));
            }
        }
        Err(phase) => status.phase = Some(phase),
    }
    if status != previous {
        let api = Api::<MigrationPlan>::namespaced(
            ctx.client.clone(),
            &plan.namespace().unwrap_or_default(),
        );
        let patch = Patch::Apply(
            json!({ "apiVersion": "cutover.dev/v1alpha1", "kind": "MigrationPlan", "status": status }),
        );
        api.patch_status(
            &plan.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &patch,
        )
        .await?;
        // What the plan's machines act on changed: its spec (approval, window, test rules) or
        // what it releases. They look now, not at their next requeue.
        if status.released != previous.released
            || previous.observed_generation != plan.metadata.generation
        {
            let machines = machines_of(plan, ctx).await?;
            ctx.wake_machines(machines.iter().map(ObjectRef::from_obj));
        }
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
