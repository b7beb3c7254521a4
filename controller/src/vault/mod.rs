//! The RecoveryVault controller: validate, converge the landing zone, report status and
//! Events; on deletion, do what `deletionPolicy` says.

pub mod converge;
pub mod observe;
mod teardown;

use teardown::Teardown;

use std::sync::Arc;
use std::time::Duration;

use cutover_api::DeletionPolicy;
use cutover_api::conditions::vault::{self as vault_reason, WAITING_FOR_REGISTRATION};
use cutover_api::conditions::{READY, reason};
use cutover_api::vault::{ProvisionedIdentity, RecoveryVault, RecoveryVaultStatus, VaultPhase};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};

use crate::conditions::{self, Observed, Severity};
use crate::context::{Context, SecretFreshness, Timing};
use crate::error::{Error, Result};
use crate::finalize::{self, Cleanup};

/// Keeps the vault until `deletionPolicy` has been carried out.
pub const FINALIZER: &str = "cutover.dev/cleanup";

pub async fn reconcile(vault: Arc<RecoveryVault>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = vault.namespace().unwrap_or_default();
    let api = Api::<RecoveryVault>::namespaced(ctx.client.clone(), &namespace);
    let key = vault.uid().unwrap_or_default();
    let context = ctx.as_ref();
    let action = finalize::reconcile(
        &api,
        FINALIZER,
        vault,
        ctx.timing.poll,
        |vault| async move { apply(&vault, context).await },
        |vault| async move { cleanup(&vault, context).await },
    )
    .await?;
    ctx.reset_backoff(&key);
    Ok(action)
}

async fn apply(vault: &RecoveryVault, ctx: &Context) -> Result<Action> {
    let report = vault.validate();
    if !report.is_valid() {
        let message = report.error_message();
        let observed = [Observed::failing(
            READY,
            reason::INVALID_SPEC,
            message.clone(),
        )];
        write_status(vault, ctx, &observed, Some(VaultPhase::Failed), None, None).await?;
        tracing::info!(vault = %vault.name_any(), %message, "invalid spec; waiting for a change");
        return Ok(Action::await_change());
    }
    let generation_changed =
        vault.status.as_ref().and_then(|s| s.observed_generation) != vault.metadata.generation;
    if generation_changed && !report.warnings.is_empty() {
        ctx.event(
            &vault.object_ref(&()),
            true,
            "SpecWarning",
            report.warning_message(),
            "Validate",
        )
        .await;
    }

    let spec = &vault.spec;
    let arm = match ctx
        .arm(
            &vault.namespace().unwrap_or_default(),
            &spec.subscription_id,
            spec.credentials.as_ref(),
            SecretFreshness::Read,
        )
        .await
    {
        Ok(arm) => arm,
        Err(Error::Credentials(message)) => {
            let observed = [Observed::failing(
                READY,
                "CredentialsUnavailable",
                message.clone(),
            )];
            write_status(vault, ctx, &observed, None, None, None).await?;
            return Err(Error::Credentials(message).reported());
        }
        Err(other) => return Err(other),
    };
    let outcome = match converge_once(&arm, vault).await {
        Ok(outcome) => outcome,
        Err(error) => {
            // Say in status what Azure refused, so `kubectl get` does not show a stale step.
            let error = Error::from(error);
            let observed = [Observed::failing(READY, error.reason(), error.to_string())];
            write_status(vault, ctx, &observed, None, None, None).await?;
            return Err(error.reported());
        }
    };

    let all_ready = outcome.conditions.iter().all(|c| c.status);
    let first_problem = outcome.conditions.iter().find(|c| !c.status);
    let ready = match first_problem {
        None => Observed::ready(READY, "Ready", "the landing zone is ready for replication"),
        Some(problem) => Observed {
            severity: problem.severity,
            ..Observed::not_ready(
                READY,
                &problem.reason,
                format!("{}: {}", problem.type_, problem.message),
            )
        },
    };
    let phase = match first_problem {
        None => VaultPhase::Ready,
        Some(problem) if problem.reason == WAITING_FOR_REGISTRATION => VaultPhase::WaitingForSource,
        Some(_) if outcome.in_progress => VaultPhase::Provisioning,
        Some(_) => VaultPhase::Failed,
    };
    let mut observed = vec![ready];
    observed.extend(outcome.conditions);
    let identity = vault
        .status
        .as_ref()
        .and_then(|s| s.provisioned.clone())
        .or_else(|| {
            outcome
                .resources
                .vault_id
                .as_ref()
                .map(|_| ProvisionedIdentity {
                    subscription_id: spec.subscription_id.clone(),
                    resource_group: spec.resource_group.clone(),
                    region: spec.region.clone(),
                    source_kind: spec.source.kind(),
                })
        });
    write_status(
        vault,
        ctx,
        &observed,
        Some(phase),
        Some(outcome.resources),
        identity,
    )
    .await?;

    Ok(if all_ready {
        Action::requeue(jittered(
            ctx.timing.resync,
            &vault.uid().unwrap_or_default(),
        ))
    } else if outcome.in_progress {
        Action::requeue(in_flight_requeue(outcome.retry_after, &ctx.timing))
    } else {
        // Waiting on someone else (a registration, a fix in Azure): look again now and then.
        Action::requeue(ctx.timing.poll.saturating_mul(6).min(ctx.timing.resync))
    })
}

/// One converging pass in Azure: observe, decide, and make the write decided on, if any.
async fn converge_once(
    arm: &crate::azure::ArmClient,
    vault: &RecoveryVault,
) -> std::result::Result<converge::Decision, crate::azure::ArmError> {
    let found = observe::observe(arm, vault).await?;
    let mut decision = converge::decide(vault, &found, jiff::Timestamp::now());
    if let Some(write) = &decision.write {
        converge::apply(arm, vault, write, &mut decision.resources).await?;
    }
    Ok(decision)
}

/// When to look again while an operation is in flight: when Azure asked (the operation's
/// `Retry-After`, which the ARM RPC's async-api-reference.md tells clients to honour), else at
/// the poll interval; never later than the resync interval.
fn in_flight_requeue(retry_after: Option<Duration>, timing: &Timing) -> Duration {
    retry_after
        .map_or(timing.poll, |asked| asked.max(Duration::from_secs(1)))
        .min(timing.resync)
}

async fn cleanup(vault: &RecoveryVault, ctx: &Context) -> Result<Cleanup> {
    let reference = vault.object_ref(&());
    if vault.spec.deletion_policy == DeletionPolicy::Retain {
        ctx.event(
            &reference,
            false,
            "Retained",
            "deletionPolicy is Retain: the Azure landing zone is left as it is".into(),
            "Delete",
        )
        .await;
        return Ok(Cleanup::Done);
    }
    let namespace = vault.namespace().unwrap_or_default();
    let name = vault.name_any();
    let users: Vec<String> = ctx
        .caches
        .machines_in(&namespace)
        .iter()
        .filter(|m| m.spec.vault_ref.name == name && m.metadata.deletion_timestamp.is_none())
        .map(|m| m.name_any())
        .collect();
    if !users.is_empty() {
        let message = format!(
            "the vault is not deleted while ReplicatedMachines use it: {}",
            users.join(", ")
        );
        write_deletion_status(
            vault,
            ctx,
            Observed::failing(READY, "DeletionBlocked", &message),
        )
        .await?;
        return Ok(Cleanup::Blocked(message));
    }
    let arm = ctx
        .arm(
            &namespace,
            &vault.spec.subscription_id,
            vault.spec.credentials.as_ref(),
            SecretFreshness::Read,
        )
        .await?;
    let remains = observe::remains(&arm, vault).await?;
    match teardown::decide(vault, &remains) {
        Teardown::Delete(deletion, step) => {
            teardown::apply(&arm, &deletion).await?;
            write_deletion_status(vault, ctx, Observed::not_ready(READY, "Deleting", &step))
                .await?;
            Ok(Cleanup::Pending(step))
        }
        Teardown::Wait(step) => {
            write_deletion_status(vault, ctx, Observed::not_ready(READY, "Deleting", &step))
                .await?;
            Ok(Cleanup::Pending(step))
        }
        Teardown::Done(left) if left.is_empty() => {
            ctx.event(
                &reference,
                false,
                "Deleted",
                "deletionPolicy is Delete: the landing zone cutover created is gone".into(),
                "Delete",
            )
            .await;
            Ok(Cleanup::Done)
        }
        Teardown::Done(left) => {
            // Deleting these would take migrated servers (or someone else's resources) with
            // them: say what stays, in status while the object lasts and in an Event after.
            let message = format!(
                "deletionPolicy is Delete: cutover deleted what it created and left in Azure {}",
                left.join("; ")
            );
            let left = Observed::not_ready(READY, vault_reason::PARTLY_RETAINED, &message);
            write_deletion_status(vault, ctx, left).await?;
            Ok(Cleanup::Done)
        }
    }
}

/// Says in `Ready` what deletion does, waits for or left behind (phase `Deleting`).
async fn write_deletion_status(
    vault: &RecoveryVault,
    ctx: &Context,
    ready: Observed,
) -> Result<()> {
    let observed = [ready];
    write_status(
        vault,
        ctx,
        &observed,
        Some(VaultPhase::Deleting),
        None,
        None,
    )
    .await
}

/// Writes status with server-side apply, and an Event for each condition that changed.
async fn write_status(
    vault: &RecoveryVault,
    ctx: &Context,
    observed: &[Observed],
    phase: Option<VaultPhase>,
    resources: Option<cutover_api::vault::VaultResources>,
    provisioned: Option<ProvisionedIdentity>,
) -> Result<()> {
    let previous = vault.status.clone().unwrap_or_default();
    let mut conditions = conditions::merge(
        &previous.conditions,
        observed,
        vault.metadata.generation,
        jiff::Timestamp::now(),
    );
    // Conditions this pass did not look at keep their last value.
    for old in &previous.conditions {
        if !conditions.iter().any(|c| c.type_ == old.type_) {
            conditions.push(old.clone());
        }
    }
    let mut status = RecoveryVaultStatus {
        observed_generation: vault.metadata.generation,
        phase: phase.or(previous.phase),
        source_kind: Some(vault.spec.source.kind()),
        conditions,
        resources: resources.unwrap_or_else(|| previous.resources.clone()),
        provisioned: provisioned.or_else(|| previous.provisioned.clone()),
    };
    let progress = crate::kstatus::of_vault(&status);
    crate::kstatus::settle(
        &mut status.conditions,
        progress,
        &previous.conditions,
        vault.metadata.generation,
        jiff::Timestamp::now(),
    );
    if status != previous {
        crate::status::write(ctx, vault, &status).await?;
    }
    let reference = vault.object_ref(&());
    for change in conditions::changed(&previous.conditions, observed) {
        ctx.event(
            &reference,
            change.severity == Severity::Warning,
            &change.reason,
            format!("{}: {}", change.type_, change.message),
            change.type_,
        )
        .await;
    }
    Ok(())
}

/// `base` varied by up to a tenth, differently per object, so resyncs do not arrive in step.
fn jittered(base: Duration, key: &str) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(key.as_bytes());
    let spread = (hasher.finish() % 200) as f64 / 1000.0 - 0.1;
    base.mul_f64(1.0 + spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_in_flight_is_looked_at_when_azure_asked() {
        let timing = Timing {
            poll: Duration::from_secs(5),
            resync: Duration::from_secs(300),
            max_backoff: Duration::from_secs(600),
        };
        let secs = |s| Duration::from_secs(s);
        for (retry_after, expected) in [
            (None, secs(5)),
            (Some(secs(30)), secs(30)),
            (Some(secs(2)), secs(2)),
            (Some(secs(0)), secs(1)),
            (Some(secs(3600)), secs(300)),
        ] {
            assert_eq!(
                in_flight_requeue(retry_after, &timing),
                expected,
                "{retry_after:?}"
            );
        }
    }
}
