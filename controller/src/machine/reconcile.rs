//! The ReplicatedMachine controller: observe the machine's world through lists shared by
//! every machine of its vault, let [`lifecycle::decide`] choose the phase and at most one
//! action, perform it, and write status. Without a MigrationPlan a machine replicates and
//! waits at ReadyForCutover: cutting over is a plan's decision.

use std::sync::Arc;

use cutover_api::MigrationPlan;
use cutover_api::conditions::{READY, reason};
use cutover_api::machine::{
    ActionRecord, JobReference, MachineBinding, ReplicatedMachine, ReplicatedMachineStatus,
};
use cutover_api::vault::{RecoveryVault, SourceKind, SourceSite};
use cutover_api::{DeletionPolicy, MachinePhase};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};

use super::lifecycle::{self, Action, Asked, Decision, Gate, Memory, Next, PlanView, Source};
use super::observe;
use crate::azure::models::ProtectedItem;
use crate::azure::resources::{self as arm, ItemAction, Resource as ArmResource};
use crate::azure::{ArmClient, ArmError, Provider};
use crate::conditions::{self, Observed};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::finalize::{self, Cleanup};

/// Keeps the machine until `deletionPolicy` has been carried out.
pub const FINALIZER: &str = "cutover.dev/replication";
/// Annotation asking a Failed machine to try again.
pub const RETRY_ANNOTATION: &str = "cutover.dev/retry";
/// Annotation saying the test VM was validated, so it may be cleaned up.
pub const TEST_VALIDATED_ANNOTATION: &str = "cutover.dev/test-validated";
/// A person commits a machine held failed over (`spec.cutover.commit: Manual`).
pub const COMMIT_ANNOTATION: &str = "cutover.dev/commit";
/// A person backs a machine out of its failover before commit, where ASR offers that.
pub const BACK_OUT_ANNOTATION: &str = "cutover.dev/back-out";

pub async fn reconcile(machine: Arc<ReplicatedMachine>, ctx: Arc<Context>) -> Result<Requeue> {
    let api = Api::<ReplicatedMachine>::namespaced(
        ctx.client.clone(),
        &machine.namespace().unwrap_or_default(),
    );
    let key = machine.uid().unwrap_or_default();
    let context = ctx.as_ref();
    let action = finalize::reconcile(
        &api,
        FINALIZER,
        machine,
        ctx.timing.poll,
        |machine| async move { apply(&machine, context).await },
        |machine| async move { cleanup(&machine, context).await },
    )
    .await?;
    ctx.reset_backoff(&key);
    Ok(action)
}

/// What a machine needs from its vault: the vault object and the ARM client for it.
struct VaultView {
    vault: Arc<RecoveryVault>,
    arm: ArmClient,
    vault_id: String,
}

/// What a pass needs of the vault: Ready, to replicate; only its recorded vault, to disable
/// replication on deletion (a vault being deleted is not Ready, and waits for its machines).
#[derive(Clone, Copy, PartialEq, Eq)]
enum VaultNeed {
    Ready,
    Recorded,
}

async fn vault_of(
    machine: &ReplicatedMachine,
    ctx: &Context,
    need: VaultNeed,
) -> Result<std::result::Result<VaultView, (&'static str, String)>> {
    let namespace = machine.namespace().unwrap_or_default();
    let name = &machine.spec.vault_ref.name;
    let Some(vault) = ctx.caches.vault(&namespace, name) else {
        return Ok(Err((
            "VaultNotFound",
            format!("no RecoveryVault {name} in namespace {namespace}"),
        )));
    };
    let ready = vault.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == READY && c.status == "True")
    });
    let vault_id = vault
        .status
        .as_ref()
        .and_then(|s| s.resources.vault_id.clone());
    let (true, Some(vault_id)) = (ready || need == VaultNeed::Recorded, vault_id) else {
        return Ok(Err((
            "WaitingForVault",
            format!("the RecoveryVault {name} is not Ready yet"),
        )));
    };
    let arm = ctx
        .arm(
            &namespace,
            &vault.spec.subscription_id,
            vault.spec.credentials.as_ref(),
            crate::context::SecretFreshness::Recent,
        )
        .await?;
    Ok(Ok(VaultView {
        vault,
        arm,
        vault_id,
    }))
}

async fn apply(machine: &ReplicatedMachine, ctx: &Context) -> Result<Requeue> {
    let report = machine.validate();
    if !report.is_valid() {
        let decision = Decision::waiting(
            MachinePhase::Pending,
            reason::INVALID_SPEC,
            report.error_message(),
        );
        write_status(machine, ctx, &decision, StatusUpdate::default()).await?;
        return Ok(Requeue::await_change());
    }
    let view = match vault_of(machine, ctx, VaultNeed::Ready).await? {
        Ok(view) => view,
        Err((reason, message)) => {
            write_status(
                machine,
                ctx,
                &Decision::waiting(MachinePhase::Pending, reason, message),
                StatusUpdate::default(),
            )
            .await?;
            // The vault's watch wakes its machines when it appears or becomes Ready
            // (`relations::machines_using_vault`): waiting passes before that would only queue
            // ahead of the passes it wakes.
            return Ok(Requeue::requeue(ctx.timing.resync));
        }
    };
    let status = machine.status.clone().unwrap_or_default();
    let poll = ctx.timing.poll;
    let uid = machine.uid().unwrap_or_default();
    // Never act on a status older than the last action: it would not show that action.
    let action_lost_at = match ctx.action_recording(&uid, &status) {
        lifecycle::Recording::InFlight => return Ok(Requeue::requeue(poll)),
        lifecycle::Recording::Lost(at) => Some(at),
        lifecycle::Recording::Recorded => None,
    };

    // The job first: once it has ended, the protected item must be seen as it is after it.
    let job_asked_at = std::time::Instant::now();
    let job = match &status.current_job {
        Some(job) => arm::get_job(&view.arm, &job.id)
            .await?
            .map(|j| observe::job(&j)),
        None => None,
    };
    let job_ended = status.current_job.is_some() && job.as_ref().is_none_or(|j| !j.state.running());
    let fresh_after = job_ended.then_some(job_asked_at).or(action_lost_at);
    // One list of protected items per vault and poll serves every machine of the vault; a
    // machine whose job just ended asks for a list started after it saw the end (one refetch
    // serves every machine whose job ended in the meantime).
    let max_age = if lifecycle::settled(&Memory::of(&status)) {
        poll.saturating_mul(6).min(ctx.timing.resync)
    } else {
        poll
    };
    let items = ctx
        .shared_items(&view.vault_id, max_age, fresh_after, || {
            arm::list_protected_items(&view.arm, &view.vault_id)
        })
        .await?;
    let item = items.iter().find(|i| match &status.protected_item_id {
        Some(id) => i.id.eq_ignore_ascii_case(id),
        None => i
            .properties
            .friendly_name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(&machine.spec.source.name)),
    });

    let (source, protectable) = if item.is_some() {
        (Source::Found, None)
    } else {
        find_source(machine, &view, ctx).await?
    };
    let annotation = |name: &str| machine.annotations().get(name).is_some_and(|v| v == "true");
    let plan = plan_of(machine, ctx);
    // The VMs failovers create, checked only when one should exist (no steady-state cost).
    let (test_vm_id, target_vm_id) = item.map(vm_ids).unwrap_or_default();
    let observed_item = item.map(observe::item);
    let awaiting_cleanup = observed_item.as_ref().is_some_and(|i| {
        i.allowed_operations
            .iter()
            .any(|o| o == "TestFailoverCleanup")
    });
    let test_vm_up = match (&test_vm_id, awaiting_cleanup) {
        (Some(id), true) => arm::running_vm(&view.arm, id).await?.is_some(),
        _ => false,
    };
    let failed_over = observed_item
        .as_ref()
        .is_some_and(|i| i.active_location.eq_ignore_ascii_case("Recovery"));
    let target_vm = match (&target_vm_id, failed_over && status.target_vm_id.is_none()) {
        (Some(id), true) => arm::running_vm(&view.arm, id).await?,
        _ => None,
    };
    // Read once the VM runs, until known: what hooks are told (`CUTOVER_PRIVATE_IP`) of a
    // dynamic address.
    let running = target_vm.as_ref().or(status.target_vm_id.as_ref());
    let target_private_ip = match (running, failed_over && status.target_private_ip.is_none()) {
        (Some(id), true) => arm::private_address(&view.arm, id).await?,
        _ => None,
    };
    let name = machine.name_any();
    let released = plan
        .as_ref()
        .and_then(|p| p.status.as_ref())
        .map(|s| s.released.clone())
        .unwrap_or_default();
    let mut gate = Gate::of(
        plan.as_ref().map(|p| PlanView {
            spec: &p.spec,
            released: &released,
            hooks: p.status.as_ref().map_or(&[], |s| s.hooks.as_slice()),
        }),
        &name,
        Asked {
            test_validated: annotation(TEST_VALIDATED_ANNOTATION),
            retry: annotation(RETRY_ANNOTATION),
            commit: annotation(COMMIT_ANNOTATION),
            back_out: annotation(BACK_OUT_ANNOTATION),
        },
        test_vm_up,
    );
    gate.static_ip = machine.spec.target.static_ip.clone();
    let memory = Memory::of(&status);
    let source = match (&source, &protectable) {
        (Source::Found, Some(protectable))
            if item.is_none() && gate.replicate && !memory.protected_once =>
        {
            eligibility_of(machine, &view, protectable, ctx)
                .await?
                .map_or(source, |ineligible| Source::Ineligible {
                    reason: ineligible.reason,
                    message: ineligible.message,
                })
        }
        _ => source,
    };
    let decision = lifecycle::decide(
        &memory,
        &source,
        observed_item.as_ref(),
        job.as_ref(),
        &gate,
    );
    let decision = if plan.is_none() {
        lifecycle::alone(decision)
    } else {
        decision
    };
    let records = lifecycle::records(&status, item.is_some(), &gate, &decision);

    let mut update = StatusUpdate {
        protected_item_id: item.map(|i| i.id.clone()),
        protectable_item_id: protectable.as_ref().map(|p| p.id.clone()),
        replication: item.map(observe::replication),
        job: job.as_ref().map(|j| JobReference {
            id: j.id.clone(),
            name: j.scenario.clone(),
            state: format!("{:?}", j.state),
            started_at: None,
        }),
        test_vm: if test_vm_up {
            test_vm_id.clone().map(Some)
        } else if !awaiting_cleanup {
            Some(None)
        } else {
            None
        },
        target_vm,
        target_private_ip,
        plan: plan.as_ref().map(|p| {
            (
                p.name_any(),
                Some(crate::plan::orchestrate::wave_of(&p.spec, &name)),
            )
        }),
        ..Default::default()
    };
    if records.bind {
        update.bound = Some(MachineBinding {
            vault: machine.spec.vault_ref.name.clone(),
            source_name: machine.spec.source.name.clone(),
        });
    }
    if let Some(follow) = &decision.follow {
        update.job = Some(JobReference {
            id: follow.clone(),
            name: "Adopted".into(),
            state: "InProgress".into(),
            started_at: None,
        });
    } else if decision.forget_job {
        update.clear_job = true;
    }
    if let Some(action) = decision.action {
        let started = perform(action, machine, &view, item, protectable.as_ref(), ctx).await;
        match started {
            Ok((job_id, item_id)) => {
                ctx.action_started(&uid, &job_id);
                update.clear_job = false;
                update.job = Some(JobReference {
                    id: job_id.clone(),
                    name: action.operation().into(),
                    state: "InProgress".into(),
                    started_at: Some(Time(jiff::Timestamp::now())),
                });
                update.action = Some(ActionRecord {
                    action: action.operation().into(),
                    job_id: Some(job_id),
                    issued_at: Time(jiff::Timestamp::now()),
                });
                if action == Action::EnableProtection {
                    update.protected_item_id = Some(item_id);
                    update.bound = Some(MachineBinding {
                        vault: machine.spec.vault_ref.name.clone(),
                        source_name: machine.spec.source.name.clone(),
                    });
                }
            }
            Err(error) => {
                write_status(
                    machine,
                    ctx,
                    &Decision::waiting(decision.phase, error.reason(), error.to_string()),
                    update,
                )
                .await?;
                return Err(error);
            }
        }
    }
    update.completed = records.stamp_completed;
    write_status(machine, ctx, &decision, update).await?;
    if decision.action.is_some() {
        ctx.action_written(&uid);
    }
    if records.clear_retry {
        let api = Api::<ReplicatedMachine>::namespaced(
            ctx.client.clone(),
            &machine.namespace().unwrap_or_default(),
        );
        let patch =
            Patch::Merge(json!({ "metadata": { "annotations": { RETRY_ANNOTATION: null } } }));
        api.patch(&machine.name_any(), &PatchParams::default(), &patch)
            .await?;
        ctx.event(
            &machine.object_ref(&()),
            false,
            "Retrying",
            format!("retrying after the failure: {}", decision.message),
            "Retry",
        )
        .await;
    }
    Ok(match decision.next {
        _ if decision.action.is_some() => Requeue::requeue(poll),
        Next::Soon => Requeue::requeue(poll),
        Next::Later => Requeue::requeue(poll.saturating_mul(6).min(ctx.timing.resync)),
        Next::OnChange => Requeue::requeue(ctx.timing.resync),
    })
}

/// The IDs of the test VM and the migrated VM a protected item will have, from where ASR
/// says it recovers to (ASR names the test VM after the VM, with `-test`).
fn vm_ids(item: &ProtectedItem) -> (Option<String>, Option<String>) {
    match item.properties.provider_specific_details.recovery_vm() {
        Some((name, group)) => {
            let id = format!("{group}/providers/Microsoft.Compute/virtualMachines/{name}");
            (Some(format!("{id}-test")), Some(id))
        }
        None => (None, None),
    }
}

/// The MigrationPlan that drives a machine: the one that created it (its label), or one whose
/// selector matches its labels.
fn plan_of(machine: &ReplicatedMachine, ctx: &Context) -> Option<Arc<MigrationPlan>> {
    let namespace = machine.namespace().unwrap_or_default();
    if let Some(name) = machine.labels().get(crate::plan::reconcile::PLAN_LABEL) {
        return ctx.caches.plan(&namespace, name);
    }
    let labels = machine.labels();
    ctx.caches
        .plans_in(&namespace)
        .into_iter()
        .find(|plan| crate::plan::reconcile::adopts(plan, labels))
}

/// Finds the source machine among the protectable items of the vault's containers, or, for
/// InMageRcm, among the machines its appliance discovered.
async fn find_source(
    machine: &ReplicatedMachine,
    view: &VaultView,
    ctx: &Context,
) -> Result<(Source, Option<ArmResource>)> {
    match provider_of(&view.vault) {
        Provider::InMageRcm => return find_discovered(machine, view, ctx).await,
        Provider::A2A => return find_azure_vm(machine, view).await,
        Provider::HyperVReplicaAzure => {}
    }
    let containers = recorded(&view.vault).protection_container_ids;
    let mut listed_any = false;
    for (index, container) in containers.iter().enumerate() {
        if let Some(wanted) = &machine.spec.source.container
            && !is_container(&view.vault, index, container, wanted)
        {
            continue;
        }
        let max_age = ctx.timing.poll.saturating_mul(6);
        let protectables = ctx
            .shared_list(&format!("protectable:{container}"), max_age, None, || {
                arm::list_protectable_items(&view.arm, container)
            })
            .await?;
        listed_any |= !protectables.is_empty();
        if let Some(found) = protectables
            .iter()
            .find(|p| observe::is_source(&machine.spec, p))
        {
            return Ok((Source::Found, Some(found.clone())));
        }
    }
    Ok((
        if listed_any {
            Source::Missing
        } else {
            Source::NotListedYet
        },
        None,
    ))
}

/// What the vault recorded of the Azure side it converged (its fabric, containers, policy...).
fn recorded(vault: &RecoveryVault) -> cutover_api::vault::VaultResources {
    vault
        .status
        .as_ref()
        .map(|s| s.resources.clone())
        .unwrap_or_default()
}

/// Whether the machine can be replicated as its spec asks, read just before it would be
/// enabled. Hyper-V's protectable item reports the facts (`eligibility::SourceFacts::of_hyper_v`);
/// the target size's capabilities come from Compute's SKU list of the region, read only when the
/// spec names a size and shared by every machine of the region (`Context::shared_skus`). The
/// other providers' facts are not read yet.
async fn eligibility_of(
    machine: &ReplicatedMachine,
    view: &VaultView,
    protectable: &ArmResource,
    ctx: &Context,
) -> Result<Option<super::eligibility::Ineligible>> {
    use super::eligibility::{Limits, SourceFacts};
    let provider = provider_of(&view.vault);
    let include = &machine.spec.include_disks;
    // What the source is: Hyper-V's protectable item, the appliance's discovered machine, the
    // source region's VM.
    let facts = match provider {
        Provider::HyperVReplicaAzure => {
            SourceFacts::of_hyper_v(&protectable.properties["customDetails"], include)
        }
        Provider::InMageRcm => SourceFacts::of_discovered(&protectable.properties, include),
        Provider::A2A => SourceFacts::of_azure_vm(&protectable.properties),
    };
    let skus = match &machine.spec.target.vm_size {
        Some(_) => {
            ctx.shared_skus(
                &view.arm,
                &view.vault.spec.subscription_id,
                &view.vault.spec.region,
            )
            .await?
        }
        None => Default::default(),
    };
    let size = machine.spec.target.vm_size.as_deref().map(|size| {
        (
            size,
            skus.iter().find(|s| {
                s.resource_type == "virtualMachines" && s.name.eq_ignore_ascii_case(size)
            }),
        )
    });
    Ok(super::eligibility::check(
        &facts,
        &Limits::of(provider),
        size,
    ))
}

fn provider_of(vault: &RecoveryVault) -> Provider {
    Provider::of(vault.spec.source.kind())
}

fn is_inmage_rcm(vault: &RecoveryVault) -> bool {
    provider_of(vault) == Provider::InMageRcm
}

/// Whether the provider's enable names a protectable item (`protectableItemId`): Hyper-V's
/// does. InMageRcm names the discovered machine and A2A the Compute VM instead (Az PowerShell
/// sets no protectable item for either).
fn names_protectable_item(vault: &RecoveryVault) -> bool {
    provider_of(vault) == Provider::HyperVReplicaAzure
}

/// Finds an Azure-to-Azure source: the VM `spec.source.azureVmId` names, read from Compute
/// (A2A has no protectable items; `fabricObjectId` is the VM's resource ID), in the vault's
/// source region.
async fn find_azure_vm(
    machine: &ReplicatedMachine,
    view: &VaultView,
) -> Result<(Source, Option<ArmResource>)> {
    let Some(vm_id) = &machine.spec.source.azure_vm_id else {
        return Err(Error::InvalidSpec(
            "spec.source.azureVmId: required for an azureRegion source; Site Recovery names the VM by its resource ID".into(),
        ));
    };
    let Some(vm) = arm::get(&view.arm, &vm_id.0, arm::COMPUTE_API).await? else {
        return Ok((Source::Missing, None));
    };
    let region = match &view.vault.spec.source {
        SourceSite::AzureRegion(source) => source.region.as_str(),
        _ => "",
    };
    if !vm
        .location
        .as_deref()
        .is_some_and(|l| l.eq_ignore_ascii_case(region))
    {
        return Err(Error::InvalidSpec(format!(
            "spec.source.azureVmId: the VM {} is in {}, not in the vault's source region {region}",
            vm.name,
            vm.location.as_deref().unwrap_or("no region")
        )));
    }
    Ok((Source::Found, Some(vm)))
}

/// A2A's disks to replicate (`A2AVmManagedDiskInputDetails`: `diskId`,
/// `primaryStagingAzureStorageAccountId`, `recoveryResourceGroupId` required): the VM's
/// managed disks (`storageProfile.osDisk`, `dataDisks[]`, as Az PowerShell reads them when
/// given no disk list), or those `spec.includeDisks` names, each staged in the cache account
/// and landing in the target resource group as the disk type asked for, else the source's.
fn a2a_managed_disks(
    include: &[String],
    vm: &Value,
    cache: &Value,
    group: &str,
    disk_type: Option<&Value>,
) -> std::result::Result<Vec<Value>, String> {
    let profile = &vm["storageProfile"];
    let disks: Vec<&Value> = std::iter::once(&profile["osDisk"])
        .chain(profile["dataDisks"].as_array().into_iter().flatten())
        .filter(|d| d["managedDisk"]["id"].is_string())
        .collect();
    let name_of = |d: &Value| {
        d["name"].as_str().map(str::to_owned).unwrap_or_else(|| {
            d["managedDisk"]["id"]
                .as_str()
                .and_then(|id| id.rsplit('/').next())
                .unwrap_or_default()
                .to_owned()
        })
    };
    let chosen: Vec<&Value> = if include.is_empty() {
        disks.clone()
    } else {
        include
            .iter()
            .map(|wanted| {
                disks
                    .iter()
                    .copied()
                    .find(|d| name_of(d).eq_ignore_ascii_case(wanted))
                    .ok_or_else(|| {
                        format!(
                            "spec.includeDisks: {wanted} is not a managed disk of the source VM (it has {})",
                            disks.iter().map(|d| name_of(d)).collect::<Vec<_>>().join(", ")
                        )
                    })
            })
            .collect::<std::result::Result<_, _>>()?
    };
    if chosen.is_empty() {
        return Err(
            "the source VM has no managed disks: Site Recovery replicates managed disks".into(),
        );
    }
    Ok(chosen
        .into_iter()
        .map(|d| {
            let managed = &d["managedDisk"];
            let kind = disk_type.unwrap_or(&managed["storageAccountType"]);
            json!({
                "diskId": managed["id"],
                "primaryStagingAzureStorageAccountId": cache,
                "recoveryResourceGroupId": group,
                "recoveryReplicaDiskAccountType": kind,
                "recoveryTargetDiskAccountType": kind,
            })
        })
        .collect())
}

/// The vault's InMageRcm fabric as ARM reports it now, shared by the vault's machines.
async fn inmage_fabric(view: &VaultView, ctx: &Context) -> Result<Option<ArmResource>> {
    let fabric_id = recorded(&view.vault).fabric_id.unwrap_or_default();
    let max_age = ctx.timing.poll.saturating_mul(6);
    let fabric = ctx
        .shared_list(&format!("fabric:{fabric_id}"), max_age, None, || async {
            Ok(arm::get(&view.arm, &fabric_id, arm::SITE_RECOVERY_API)
                .await?
                .into_iter()
                .collect())
        })
        .await?;
    Ok(fabric.first().cloned())
}

/// Finds an InMageRcm source machine among the machines its appliance discovered into the
/// fabric's Azure Migrate site. InMageRcm has no protectable items: Az PowerShell and
/// terraform-provider-azurerm read `customDetails.vmwareSiteId` (or `physicalSiteId`) from the
/// fabric and list `{site}/machines`, and the enable names the machine by its ARM ID.
async fn find_discovered(
    machine: &ReplicatedMachine,
    view: &VaultView,
    ctx: &Context,
) -> Result<(Source, Option<ArmResource>)> {
    let vmware = view.vault.spec.source.kind() == SourceKind::Vmware;
    let Some(site) = inmage_fabric(view, ctx).await?.and_then(|f| {
        crate::azure::models::DiscoverySites::of(&f.properties)
            .site(vmware)
            .map(str::to_owned)
    }) else {
        return Ok((Source::NotListedYet, None));
    };
    let max_age = ctx.timing.poll.saturating_mul(6);
    let discovered = ctx
        .shared_list(&format!("discovered:{site}"), max_age, None, || {
            arm::list_discovered_machines(&view.arm, &site)
        })
        .await?;
    if let Some(found) = discovered
        .iter()
        .find(|m| observe::is_discovered(&machine.spec, m))
    {
        return Ok((Source::Found, Some(found.clone())));
    }
    Ok((
        if discovered.is_empty() {
            Source::NotListedYet
        } else {
            Source::Missing
        },
        None,
    ))
}

/// The run-as account an InMageRcm enable pushes the Mobility agent with
/// (`runAsAccountId`): the one `spec.source.runAsAccount` names among the site's, else the one
/// the site discovered a server with, else none (the agent is installed already).
async fn run_as_account_id(
    machine: &ReplicatedMachine,
    view: &VaultView,
    discovered: &ArmResource,
) -> Result<Option<String>> {
    let details: crate::azure::models::DiscoveredMachine =
        serde_json::from_value(discovered.properties.clone()).unwrap_or_default();
    let Some(wanted) = &machine.spec.source.run_as_account else {
        return Ok(details.run_as_account_id.filter(|id| !id.is_empty()));
    };
    let site = arm::parent_id(&discovered.id, "machines");
    let accounts: Vec<(String, crate::azure::models::RunAsAccount)> =
        arm::list_run_as_accounts(&view.arm, &site)
            .await?
            .into_iter()
            .map(|a| {
                let account = serde_json::from_value(a.properties.clone()).unwrap_or_default();
                (a.id, account)
            })
            .collect();
    let appliance = appliance_of(&view.vault);
    crate::azure::models::run_as_account_of(&accounts, wanted, appliance)
        .map(|id| Some(id.to_owned()))
        .ok_or_else(|| {
            Error::InvalidSpec(format!(
                "spec.source.runAsAccount: the appliance {appliance} has no run-as account named {wanted} (it has: {})",
                accounts
                    .iter()
                    .filter_map(|(_, a)| a.display_name.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

fn appliance_of(vault: &RecoveryVault) -> &str {
    match &vault.spec.source {
        SourceSite::Vmware(source) => source.appliance.as_str(),
        SourceSite::Physical(source) => source.appliance.as_str(),
        SourceSite::Aws(source) => source.appliance.as_str(),
        _ => "",
    }
}

/// InMageRcm disks to replicate (`InMageRcmDiskInput`: `diskId`, `logStorageAccountId`,
/// `diskType`, all required), by the names in `spec.includeDisks`; `None` (all disks, with
/// `disksDefault`) when it is empty.
fn inmage_disks(
    include: &[String],
    discovered: &Value,
    log_storage: &Value,
    disk_type: &Value,
) -> std::result::Result<Option<Vec<Value>>, String> {
    if include.is_empty() {
        return Ok(None);
    }
    let details: crate::azure::models::DiscoveredMachine =
        serde_json::from_value(discovered.clone()).unwrap_or_default();
    include
        .iter()
        .map(|name| {
            details
                .disks
                .iter()
                .find(|d| d.is_named(name))
                .and_then(|d| d.id())
                .map(|id| json!({ "diskId": id, "logStorageAccountId": log_storage, "diskType": disk_type }))
                .ok_or_else(|| {
                    format!(
                        "spec.includeDisks: {name} is not a disk of the source machine (it has {})",
                        details
                            .disks
                            .iter()
                            .filter_map(|d| d.label.as_deref().or(d.id()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(Some)
}

/// Hyper-V disks to replicate, as managed disks (cutover always asks for `useManagedDisks`):
/// `HyperVReplicaAzureDiskInputDetails` whose `diskId` is the VHD ID the protectable item reports
/// (`HyperVVirtualMachineDetails.diskDetails[].vhdId`), found by that ID or by its `vhdName`, as
/// terraform-provider-azurerm's `azurerm_site_recovery_hyperv_replicated_vm` does. `None` (every
/// disk) when the spec names none.
fn hyper_v_managed_disks(
    wanted: &[String],
    protectable_details: &Value,
    disk_type: &Value,
) -> std::result::Result<Option<Vec<Value>>, String> {
    if wanted.is_empty() {
        return Ok(None);
    }
    let disks = protectable_details["diskDetails"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let field = |d: &Value, key: &str| d[key].as_str().unwrap_or_default().to_owned();
    wanted
        .iter()
        .map(|name| {
            disks
                .iter()
                .find(|d| {
                    field(d, "vhdId").eq_ignore_ascii_case(name)
                        || field(d, "vhdName").eq_ignore_ascii_case(name)
                })
                .map(|d| json!({ "diskId": field(d, "vhdId"), "diskType": disk_type }))
                .ok_or_else(|| {
                    format!(
                        "spec.includeDisks: {name} is not a disk of the source machine (it has {})",
                        disks
                            .iter()
                            .map(|d| field(d, "vhdName"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(Some)
}

/// The process server InMageRcm replicates through (`processServerId` is required): the one on
/// the vault's replication appliance, among those its fabric reports. The fabric is the one
/// the vault's machines share ([`inmage_fabric`]), not a GET per enable.
async fn process_server_id(view: &VaultView, ctx: &Context) -> Result<String> {
    let appliance = appliance_of(&view.vault);
    let servers = inmage_fabric(view, ctx)
        .await?
        .map(|f| crate::azure::models::process_servers(&f.properties))
        .unwrap_or_default();
    crate::azure::models::process_server_of(&servers, appliance)
        .map(|server| server.id.clone())
        .ok_or_else(|| {
            ArmError::Decode {
                resource: "replicationFabrics".into(),
                message: format!(
                    "the fabric of appliance {appliance} reports no process server of that name ({} in all); replication waits for the appliance's process server",
                    servers.len()
                ),
            }
            .into()
        })
}

/// Tags as InMageRcm takes them: a list of `UserCreatedResourceTag` (`tagName`, `tagValue`), not
/// a map (`InMageRcmEnableProtectionInput.targetVmTags`); left out when there are none.
fn user_created_tags(tags: &std::collections::BTreeMap<String, String>) -> Option<Vec<Value>> {
    (!tags.is_empty()).then(|| {
        tags.iter()
            .map(|(name, value)| json!({ "tagName": name, "tagValue": value }))
            .collect()
    })
}

/// The subnet of the isolated test VNet a test VM joins: the one named like the target subnet,
/// else the test VNet's first. InMageRcm's `testSubnetName` names a subnet of `testNetworkId`,
/// which need not have the target's subnets. An adopted test VNet's subnets are not in the spec:
/// the target subnet's name is all there is to go on.
fn test_subnet(vault: &RecoveryVault, target_subnet: &str) -> String {
    let Some(test) = vault.spec.network.test.as_ref().and_then(|t| t.created()) else {
        return target_subnet.to_owned();
    };
    test.subnets
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(target_subnet))
        .or_else(|| test.subnets.first())
        .map_or_else(|| target_subnet.to_owned(), |s| s.name.clone())
}

/// Whether the vault's `index`-th protection container is the one a machine's
/// `spec.source.container` names. A VMM cloud's container is named `cloud_<guid>` by ASR, with
/// the cloud's name only in `friendlyName` (ReplicationProtectedItems_*.json, 2025-08-01); the
/// vault records the containers of `spec.source.hyperVVmm.clouds` in that order, so a cloud is
/// found by its place there, without listing containers again. Other sources' containers are
/// named by their ARM name.
fn is_container(vault: &RecoveryVault, index: usize, container_id: &str, wanted: &str) -> bool {
    match &vault.spec.source {
        SourceSite::HyperVVmm(vmm) => vmm
            .clouds
            .get(index)
            .is_some_and(|cloud| cloud.eq_ignore_ascii_case(wanted)),
        _ => container_id
            .rsplit('/')
            .next()
            .is_some_and(|name| name.eq_ignore_ascii_case(wanted)),
    }
}

/// Issues `action`; returns the job it started and the protected item's ID.
async fn perform(
    action: Action,
    machine: &ReplicatedMachine,
    view: &VaultView,
    item: Option<&ProtectedItem>,
    protectable: Option<&ArmResource>,
    ctx: &Context,
) -> Result<(String, String)> {
    let accepted = match (action, item) {
        (Action::EnableProtection, _) => {
            let Some(protectable) = protectable else {
                return Err(ArmError::Decode {
                    resource: "replicationProtectableItems".into(),
                    message: "enable protection without a source machine".into(),
                }
                .into());
            };
            let inmage = is_inmage_rcm(&view.vault);
            // An InMageRcm machine is a discovered machine and an A2A one a Compute VM, not a
            // protectable item of a container: each is protected in its source fabric's
            // container (the first the vault records).
            let container = if !names_protectable_item(&view.vault) {
                view.vault
                    .status
                    .as_ref()
                    .and_then(|s| s.resources.protection_container_ids.first().cloned())
                    .unwrap_or_default()
            } else {
                arm::parent_id(&protectable.id, "replicationProtectableItems")
            };
            let policy = view
                .vault
                .status
                .as_ref()
                .and_then(|s| s.resources.policy_id.clone())
                .unwrap_or_default();
            let name = machine.name_any();
            let mut input = enable_input(machine, &view.vault, protectable)?;
            if inmage {
                input["processServerId"] = json!(process_server_id(view, ctx).await?);
                if let Some(account) = run_as_account_id(machine, view, protectable).await? {
                    input["runAsAccountId"] = json!(account);
                }
            }
            // Az PowerShell sends no protectableItemId for InMageRcm or A2A.
            let protectable_item_id =
                names_protectable_item(&view.vault).then_some(protectable.id.as_str());
            let accepted = arm::enable_protection(
                &view.arm,
                &container,
                &name,
                &policy,
                protectable_item_id,
                input,
            )
            .await?;
            let item_id = format!("{container}/replicationProtectedItems/{name}");
            return Ok((job_of(&view.vault_id, &accepted), item_id));
        }
        (Action::UpdateTarget, Some(item)) => {
            let Some(static_ip) = machine.spec.target.static_ip.as_deref() else {
                return Err(Error::InvalidSpec(
                    "a target update without spec.target.staticIp".into(),
                ));
            };
            // The update re-sends the item's settings as ASR has them now, not as a list of a
            // moment ago had them.
            let Some(current) = arm::get_protected_item_settings(&view.arm, &item.id).await? else {
                return Err(ArmError::Decode {
                    resource: "replicationProtectedItems".into(),
                    message: format!("{} is gone", item.id),
                }
                .into());
            };
            let subnet = target_subnet(machine, &view.vault);
            let body = crate::azure::target::static_ip_update(
                provider_of(&view.vault),
                &current,
                static_ip,
                Some(&subnet),
            )
            .map_err(|e| Error::InvalidSpec(format!("spec.target.staticIp cannot be set: {e}")))?;
            arm::update_protected_item(&view.arm, &item.id, &body).await?
        }
        (_, None) => {
            return Err(ArmError::Decode {
                resource: "replicationProtectedItems".into(),
                message: format!("{action:?} without a protected item"),
            }
            .into());
        }
        (action, Some(item)) => {
            let Some((kind, body)) = action_body(action, provider_of(&view.vault), &view.vault)
            else {
                return Err(ArmError::Decode {
                    resource: "replicationProtectedItems".into(),
                    message: format!("{action:?} is not a POST of the item"),
                }
                .into());
            };
            arm::protected_item_action(&view.arm, &item.id, kind, body.as_ref()).await?
        }
    };
    Ok((
        job_of(&view.vault_id, &accepted),
        item.map(|i| i.id.clone()).unwrap_or_default(),
    ))
}

fn job_of(vault_id: &str, accepted: &crate::azure::client::Accepted) -> String {
    accepted
        .polling
        .asr_job_name()
        .map(|name| arm::job_id(vault_id, &name))
        .unwrap_or_default()
}

/// The discriminator of `DisableProtectionProviderSpecificInput` for every provider but InMage
/// (classic): the model's own name, as ReplicationProtectedItems_Delete.json (2025-08-01) sends it;
/// its one subtype is `InMage`, and a provider name is not a value it knows.
const DISABLE_PROTECTION_INPUT: &str = "DisableProtectionProviderSpecificInput";

/// The request of an action on the item, by provider.
fn action_body(
    action: Action,
    provider: Provider,
    vault: &RecoveryVault,
) -> Option<(ItemAction, Option<Value>)> {
    let resources = vault
        .status
        .as_ref()
        .map(|s| s.resources.clone())
        .unwrap_or_default();
    let test_network = resources
        .test_network_id
        .clone()
        .or(resources.target_network_id.clone())
        .unwrap_or_default();
    let mut details = json!({ "instanceType": provider.instance_type() });
    Some(match action {
        Action::TestFailover => {
            if provider == Provider::InMageRcm {
                details["networkId"] = json!(test_network);
            }
            let body = json!({ "properties": { "failoverDirection": "PrimaryToRecovery", "networkType": "VmNetworkAsInput", "networkId": test_network, "providerSpecificDetails": details } });
            (ItemAction::TestFailover, Some(body))
        }
        Action::TestFailoverCleanup => (
            ItemAction::TestFailoverCleanup,
            Some(json!({ "properties": { "comments": "validated by cutover" } })),
        ),
        Action::PlannedFailover => (
            ItemAction::PlannedFailover,
            Some(
                json!({ "properties": { "failoverDirection": "PrimaryToRecovery", "providerSpecificDetails": details } }),
            ),
        ),
        Action::UnplannedFailover { shutdown_source } => {
            // InMageRcmUnplannedFailoverInput.performShutdown is a required string.
            if provider == Provider::InMageRcm {
                details["performShutdown"] = json!(shutdown_source.to_string());
            }
            let body = json!({ "properties": { "failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired", "providerSpecificDetails": details } });
            (ItemAction::UnplannedFailover, Some(body))
        }
        Action::Commit => (ItemAction::FailoverCommit, None),
        // ReplicationProtectedItems_FailoverCancel takes no body.
        Action::CancelFailover => (ItemAction::FailoverCancel, None),
        // Neither is a POST of the item (`perform` PUTs and PATCHes them): never `remove`.
        Action::EnableProtection | Action::UpdateTarget => return None,
        Action::CompleteMigration => (
            ItemAction::Remove,
            Some(
                json!({ "properties": { "disableProtectionReason": "MigrationComplete", "replicationProviderInput": { "instanceType": DISABLE_PROTECTION_INPUT } } }),
            ),
        ),
    })
}

/// The subnet of the landing network the VM goes in: the spec's, else the first the vault
/// creates.
fn target_subnet(machine: &ReplicatedMachine, vault: &RecoveryVault) -> String {
    machine
        .spec
        .target
        .subnet
        .clone()
        .or_else(|| {
            vault
                .spec
                .network
                .target
                .created()
                .and_then(|v| v.subnets.first())
                .map(|s| s.name.clone())
        })
        .unwrap_or_else(|| "default".into())
}

/// The provider input of enable protection: where the VM lands and what it becomes.
fn enable_input(
    machine: &ReplicatedMachine,
    vault: &RecoveryVault,
    protectable: &ArmResource,
) -> Result<Value> {
    let spec = &machine.spec;
    let target = &spec.target;
    let resources = vault
        .status
        .as_ref()
        .map(|s| s.resources.clone())
        .unwrap_or_default();
    let group = format!(
        "/subscriptions/{}/resourceGroups/{}",
        vault.spec.subscription_id,
        target
            .resource_group
            .as_deref()
            .unwrap_or(&vault.spec.resource_group)
    );
    let vm_name = target
        .vm_name
        .clone()
        .unwrap_or_else(|| spec.source.name.clone());
    let subnet = target_subnet(machine, vault);
    let custom = &protectable.properties["customDetails"];
    let license = target.license_type.map(|l| format!("{l:?}"));
    let zone = target
        .availability_zone
        .map(|z| serde_json::to_value(z).unwrap_or(Value::Null));
    let disk_type = target
        .disk_type
        .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
        .unwrap_or(json!("StandardSSD_LRS"));
    let managed_disks = hyper_v_managed_disks(&spec.include_disks, custom, &disk_type);
    // The log (cache) account InMageRcm stages writes in: spec.storage.log, else the
    // replication account.
    let log_storage = json!(
        resources
            .log_storage_account_id
            .clone()
            .or(resources.replication_storage_account_id.clone())
    );
    if vault.spec.source.kind() == SourceKind::AzureRegion
        && resources.cache_storage_account_id.is_none()
    {
        return Err(Error::InvalidSpec(format!(
            "the vault {} has no cache storage account in the source region (spec.storage.cache): Azure-to-Azure replication stages writes there",
            vault.name_any()
        )));
    }
    let inmage_disks = if is_inmage_rcm(vault) {
        inmage_disks(
            &spec.include_disks,
            &protectable.properties,
            &log_storage,
            &disk_type,
        )
        .map_err(Error::InvalidSpec)?
    } else {
        None
    };
    Ok(match provider_of(vault) {
        Provider::HyperVReplicaAzure => json!({
            "instanceType": "HyperVReplicaAzure",
            "hvHostVmId": custom["sourceItemId"],
            "vmName": spec.source.name,
            "osType": format!("{:?}", spec.os_type),
            "targetStorageAccountId": resources.replication_storage_account_id,
            "logStorageAccountId": resources.log_storage_account_id,
            "targetAzureNetworkId": resources.target_network_id,
            "targetAzureSubnetId": subnet,
            "targetAzureVmName": vm_name,
            "targetAzureV2ResourceGroupId": group,
            "useManagedDisks": "true",
            "diskType": disk_type,
            "targetVmSize": target.vm_size,
            "licenseType": license,
            "targetAvailabilityZone": zone,
            "disksToIncludeForManagedDisks": managed_disks.map_err(Error::InvalidSpec)?,
            "targetVmTags": target.tags,
        }),
        Provider::InMageRcm => json!({
            "instanceType": "InMageRcm",
            "fabricDiscoveryMachineId": protectable.id,
            "targetResourceGroupId": group,
            "targetNetworkId": resources.target_network_id,
            "testNetworkId": resources.test_network_id,
            "testSubnetName": test_subnet(vault, &subnet),
            "targetSubnetName": subnet,
            "targetVmName": vm_name,
            "targetVmSize": target.vm_size,
            "licenseType": license,
            "targetAvailabilityZone": zone,
            "disksDefault": if inmage_disks.is_none() { json!({ "logStorageAccountId": log_storage, "diskType": disk_type }) } else { Value::Null },
            "disksToInclude": inmage_disks,
            "targetVmTags": user_created_tags(&target.tags),
        }),
        Provider::A2A => json!({
            "instanceType": "A2A",
            "fabricObjectId": protectable.id,
            "vmManagedDisks": a2a_managed_disks(
                &spec.include_disks,
                &protectable.properties,
                &json!(resources.cache_storage_account_id),
                &group,
                target.disk_type.is_some().then_some(&disk_type),
            )
            .map_err(Error::InvalidSpec)?,
            "recoveryContainerId": resources.protection_container_ids.get(1),
            "recoveryResourceGroupId": group,
            "recoveryAzureNetworkId": resources.target_network_id,
            "recoverySubnetName": subnet,
            "recoveryAvailabilityZone": zone,
        }),
    })
}

async fn cleanup(machine: &ReplicatedMachine, ctx: &Context) -> Result<Cleanup> {
    let reference = machine.object_ref(&());
    let item_id = machine
        .status
        .as_ref()
        .and_then(|s| s.protected_item_id.clone());
    if machine.spec.deletion_policy == DeletionPolicy::Retain || item_id.is_none() {
        ctx.event(
            &reference,
            false,
            "Retained",
            "deletionPolicy is Retain: replication in Azure is left as it is".into(),
            "Delete",
        )
        .await;
        return Ok(Cleanup::Done);
    }
    let Ok(view) = vault_of(machine, ctx, VaultNeed::Recorded).await? else {
        let message = format!(
            "the RecoveryVault {} is gone or never provisioned: replication of {} cannot be disabled through it; set deletionPolicy: Retain to let the machine go",
            machine.spec.vault_ref.name, machine.spec.source.name
        );
        write_deletion_status(machine, ctx, "DeletionBlocked", &message).await?;
        return Ok(Cleanup::Blocked(message));
    };
    let Some(item) =
        arm::get_protected_item(&view.arm, item_id.as_deref().unwrap_or_default()).await?
    else {
        ctx.event(
            &reference,
            false,
            "Deleted",
            "replication disabled".into(),
            "Delete",
        )
        .await;
        return Ok(Cleanup::Done);
    };
    // Child first: a running job finishes, a test failover is cleaned up (its VM goes), then
    // replication is disabled. Nothing else is forced.
    let observed = observe::item(&item);
    let allows = |operation: &str| observed.allowed_operations.iter().any(|o| o == operation);
    let source = &machine.spec.source.name;
    let step = if let Some(job) = &observed.current_job {
        format!("waiting for ASR job {job} on {source} before disabling its replication")
    } else if allows("TestFailoverCleanup") {
        let body = json!({ "properties": { "comments": "the machine is being deleted" } });
        arm::protected_item_action(
            &view.arm,
            &item.id,
            ItemAction::TestFailoverCleanup,
            Some(&body),
        )
        .await?;
        format!("cleaning up the test failover of {source}")
    } else if allows("DisableProtection") {
        let body = json!({ "properties": { "disableProtectionReason": "NotSpecified", "replicationProviderInput": { "instanceType": DISABLE_PROTECTION_INPUT } } });
        arm::protected_item_action(&view.arm, &item.id, ItemAction::Remove, Some(&body)).await?;
        format!("disabling replication of {source}")
    } else {
        let message = format!(
            "replication of {source} cannot be disabled in its state {} (ASR allows {:?}); finish or cancel the failover first",
            observed.protection_state, observed.allowed_operations
        );
        write_deletion_status(machine, ctx, "DeletionBlocked", &message).await?;
        return Ok(Cleanup::Blocked(message));
    };
    write_deletion_status(machine, ctx, "Deleting", &step).await?;
    ctx.forget_items(&view.vault_id).await;
    Ok(Cleanup::Pending(step))
}

/// Says in `Ready` what deletion is doing or waiting for, so `kubectl describe` shows why a
/// machine has not gone yet. The rest of status stays as the last pass left it.
async fn write_deletion_status(
    machine: &ReplicatedMachine,
    ctx: &Context,
    reason: &str,
    message: &str,
) -> Result<()> {
    let previous = machine.status.clone().unwrap_or_default();
    let observed = [Observed::not_ready(READY, reason, message)];
    let mut status = ReplicatedMachineStatus {
        conditions: conditions::merge(
            &previous.conditions,
            &observed,
            machine.metadata.generation,
            jiff::Timestamp::now(),
        ),
        ..previous.clone()
    };
    settle(machine, &mut status, &previous);
    if status != previous {
        apply_status(machine, ctx, &status).await?;
    }
    Ok(())
}

/// Sets the kstatus conditions from the status about to be written.
fn settle(
    machine: &ReplicatedMachine,
    status: &mut ReplicatedMachineStatus,
    previous: &ReplicatedMachineStatus,
) {
    let progress = crate::kstatus::of_machine(status);
    crate::kstatus::settle(
        &mut status.conditions,
        progress,
        &previous.conditions,
        machine.metadata.generation,
        jiff::Timestamp::now(),
    );
}

/// Writes the whole status with server-side apply (cutover owns every status field).
async fn apply_status(
    machine: &ReplicatedMachine,
    ctx: &Context,
    status: &ReplicatedMachineStatus,
) -> Result<()> {
    crate::status::write(ctx, machine, status).await
}

/// What a pass learned, for status.
#[derive(Default)]
struct StatusUpdate {
    protected_item_id: Option<String>,
    protectable_item_id: Option<String>,
    replication: Option<cutover_api::machine::ReplicationStatus>,
    job: Option<JobReference>,
    clear_job: bool,
    action: Option<ActionRecord>,
    bound: Option<MachineBinding>,
    completed: bool,
    /// The plan driving the machine, and its wave.
    plan: Option<(String, Option<String>)>,
    /// The running test VM (`Some(None)` once it is gone).
    test_vm: Option<Option<String>>,
    target_vm: Option<String>,
    target_private_ip: Option<String>,
}

impl Decision {
    fn waiting(phase: MachinePhase, reason: &'static str, message: String) -> Decision {
        Decision {
            phase,
            action: None,
            follow: None,
            forget_job: false,
            reason,
            message,
            next: Next::Later,
        }
    }
}

async fn write_status(
    machine: &ReplicatedMachine,
    ctx: &Context,
    decision: &Decision,
    update: StatusUpdate,
) -> Result<()> {
    let previous = machine.status.clone().unwrap_or_default();
    let ready = matches!(
        decision.phase,
        MachinePhase::ReadyForCutover | MachinePhase::Completed
    );
    let observed = [if ready {
        Observed::ready(READY, decision.reason, decision.message.clone())
    } else {
        Observed::not_ready(READY, decision.reason, decision.message.clone())
    }];
    let mut actions = previous.actions.clone();
    actions.extend(update.action);
    let mut status = ReplicatedMachineStatus {
        observed_generation: machine.metadata.generation,
        phase: Some(decision.phase),
        conditions: conditions::merge(
            &previous.conditions,
            &observed,
            machine.metadata.generation,
            jiff::Timestamp::now(),
        ),
        bound: update.bound.or(previous.bound.clone()),
        plan: update
            .plan
            .as_ref()
            .map(|(p, _)| p.clone())
            .or(previous.plan.clone()),
        wave: update
            .plan
            .as_ref()
            .and_then(|(_, w)| w.clone())
            .or(previous.wave.clone()),
        protectable_item_id: update
            .protectable_item_id
            .or(previous.protectable_item_id.clone()),
        protected_item_id: update
            .protected_item_id
            .or(previous.protected_item_id.clone()),
        replication: update.replication.or(previous.replication.clone()),
        current_job: if update.clear_job {
            None
        } else {
            update.job.or(previous.current_job.clone())
        },
        actions,
        test_vm_id: match update.test_vm {
            Some(vm) => vm,
            None => previous.test_vm_id.clone(),
        },
        target_vm_id: update.target_vm.or(previous.target_vm_id.clone()),
        target_private_ip: update
            .target_private_ip
            .or(previous.target_private_ip.clone()),
        completed_at: if update.completed {
            Some(Time(jiff::Timestamp::now()))
        } else {
            previous.completed_at.clone()
        },
    };
    settle(machine, &mut status, &previous);
    if status != previous {
        apply_status(machine, ctx, &status).await?;
    }
    if previous.phase != Some(decision.phase)
        || conditions::changed(&previous.conditions, &observed).len() == 1
    {
        let warning = matches!(decision.phase, MachinePhase::Failed)
            || super::eligibility::REASONS.contains(&decision.reason)
            || decision.reason == "SourceMachineNotFound";
        if previous.phase != Some(decision.phase) || warning {
            ctx.event(
                &machine.object_ref(&()),
                warning,
                decision.reason,
                decision.message.clone(),
                decision.phase.as_str(),
            )
            .await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vault of a scenario in deploy/examples.
    fn example_vault(file: &str) -> RecoveryVault {
        let path = format!("{}/../deploy/examples/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        serde_yaml_ng::Deserializer::from_str(&text)
            .map(|doc| <Value as serde::Deserialize>::deserialize(doc).unwrap())
            .find(|doc| doc["kind"] == "RecoveryVault")
            .map(|doc| serde_json::from_value(doc).unwrap())
            .unwrap()
    }

    #[test]
    fn an_unplanned_inmage_rcm_failover_shuts_the_source_down_only_when_the_plan_says_so() {
        let vault = example_vault("physical.yaml");
        for shutdown_source in [true, false] {
            let (kind, body) = action_body(
                Action::UnplannedFailover { shutdown_source },
                Provider::InMageRcm,
                &vault,
            )
            .unwrap();
            assert_eq!(kind, ItemAction::UnplannedFailover);
            let details = &body.unwrap()["properties"]["providerSpecificDetails"];
            assert_eq!(details["instanceType"], "InMageRcm");
            assert_eq!(details["performShutdown"], shutdown_source.to_string());
        }
    }

    #[test]
    fn hyper_v_disks_are_chosen_by_vhd_id_or_name_as_managed_disks() {
        // HyperVVirtualMachineDetails.diskDetails as ASR reports them.
        let details = serde_json::json!({"diskDetails": [
            {"vhdId": "a1b2-os", "vhdName": "SQL01_os.vhdx", "vhdType": "OperatingSystem"},
            {"vhdId": "a1b2-data", "vhdName": "SQL01_data.vhdx", "vhdType": "DataDisk"},
        ]});
        let ssd = serde_json::json!("StandardSSD_LRS");
        assert_eq!(
            hyper_v_managed_disks(&[], &details, &ssd),
            Ok(None),
            "every disk"
        );
        assert_eq!(
            hyper_v_managed_disks(
                &["sql01_OS.vhdx".into(), "a1b2-data".into()],
                &details,
                &ssd
            ),
            Ok(Some(vec![
                serde_json::json!({"diskId": "a1b2-os", "diskType": "StandardSSD_LRS"}),
                serde_json::json!({"diskId": "a1b2-data", "diskType": "StandardSSD_LRS"}),
            ]))
        );
        assert_eq!(
            hyper_v_managed_disks(&["logs.vhdx".into()], &details, &ssd),
            Err("spec.includeDisks: logs.vhdx is not a disk of the source machine (it has SQL01_os.vhdx, SQL01_data.vhdx)".into())
        );
    }

    #[test]
    fn inmage_rcm_disks_are_chosen_by_label_name_or_uuid_with_their_log_account() {
        // VMwareMachine.disks as VMwareMachines_ListBySite.json (Microsoft.OffAzure 2020-01-01).
        let machine = serde_json::json!({"displayName": "erp-db", "disks": [
            {"uuid": "6000C299-os", "label": "Hard disk 1", "name": "scsi0:0"},
            {"uuid": "6000C299-data", "label": "Hard disk 2", "name": "scsi0:1"},
        ]});
        let log = serde_json::json!(
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/cache"
        );
        let ssd = serde_json::json!("StandardSSD_LRS");
        assert_eq!(
            inmage_disks(&[], &machine, &log, &ssd),
            Ok(None),
            "every disk: disksDefault"
        );
        assert_eq!(
            inmage_disks(
                &["hard disk 2".into(), "6000C299-os".into()],
                &machine,
                &log,
                &ssd
            ),
            Ok(Some(vec![
                serde_json::json!({"diskId": "6000C299-data", "logStorageAccountId": log, "diskType": "StandardSSD_LRS"}),
                serde_json::json!({"diskId": "6000C299-os", "logStorageAccountId": log, "diskType": "StandardSSD_LRS"}),
            ]))
        );
        // A server's disks (ServerDisk: diskId, generatedId) are named by their diskId.
        let server = serde_json::json!({"disks": [{"diskId": "ldap01-sda", "generatedId": "ldap01-sda", "name": "ldap01-sda"}]});
        assert_eq!(
            inmage_disks(&["ldap01-sda".into()], &server, &log, &ssd)
                .unwrap()
                .unwrap()[0]["diskId"],
            "ldap01-sda"
        );
        assert_eq!(
            inmage_disks(&["Hard disk 3".into()], &machine, &log, &ssd),
            Err("spec.includeDisks: Hard disk 3 is not a disk of the source machine (it has Hard disk 1, Hard disk 2)".into())
        );
    }

    #[test]
    fn a2a_replicates_the_vms_managed_disks_through_the_cache_account() {
        // VirtualMachine.storageProfile as Compute reports it (azure-mgmt-compute OSDisk,
        // DataDisk, ManagedDiskParameters).
        let vm = serde_json::json!({"storageProfile": {
            "osDisk": {"name": "app-os", "managedDisk": {"id": "/s/disks/app-os", "storageAccountType": "Premium_LRS"}},
            "dataDisks": [{"lun": 0, "name": "app-data", "managedDisk": {"id": "/s/disks/app-data", "storageAccountType": "StandardSSD_LRS"}}],
        }});
        let cache = serde_json::json!("/s/storageAccounts/neucache");
        let disks = a2a_managed_disks(&[], &vm, &cache, "/s/resourceGroups/rg-weu", None).unwrap();
        assert_eq!(disks.len(), 2);
        assert_eq!(
            disks[0],
            serde_json::json!({"diskId": "/s/disks/app-os", "primaryStagingAzureStorageAccountId": "/s/storageAccounts/neucache",
                "recoveryResourceGroupId": "/s/resourceGroups/rg-weu", "recoveryReplicaDiskAccountType": "Premium_LRS", "recoveryTargetDiskAccountType": "Premium_LRS"})
        );
        assert_eq!(
            disks[1]["recoveryTargetDiskAccountType"], "StandardSSD_LRS",
            "each disk keeps its own type"
        );
        let hdd = serde_json::json!("Standard_LRS");
        let only_data =
            a2a_managed_disks(&["APP-DATA".into()], &vm, &cache, "/g", Some(&hdd)).unwrap();
        assert_eq!(only_data.len(), 1);
        assert_eq!(only_data[0]["diskId"], "/s/disks/app-data");
        assert_eq!(
            only_data[0]["recoveryTargetDiskAccountType"], "Standard_LRS",
            "the type the spec asks for"
        );
        assert_eq!(
            a2a_managed_disks(&["logs".into()], &vm, &cache, "/g", None),
            Err("spec.includeDisks: logs is not a managed disk of the source VM (it has app-os, app-data)".into())
        );
        assert!(
            a2a_managed_disks(&[], &serde_json::json!({}), &cache, "/g", None).is_err(),
            "no managed disks"
        );
    }

    #[test]
    fn a_test_vm_joins_a_subnet_the_test_network_has() {
        let mut vault = example_vault("physical.yaml");
        assert_eq!(
            test_subnet(&vault, "servers"),
            "servers",
            "same name in both"
        );
        let test = vault.spec.network.test.as_mut().unwrap();
        if let cutover_api::common::AzureResource::Create(network) = test {
            network.subnets[0].name = "isolated".into();
        }
        assert_eq!(
            test_subnet(&vault, "servers"),
            "isolated",
            "the test VNet's own subnet"
        );
        vault.spec.network.test = None;
        assert_eq!(test_subnet(&vault, "servers"), "servers");
    }

    #[test]
    fn neither_enable_nor_an_update_is_ever_sent_as_a_post_of_the_item() {
        let vault = example_vault("hyperv-vmm.yaml");
        for action in [Action::EnableProtection, Action::UpdateTarget] {
            assert_eq!(
                action_body(action, Provider::HyperVReplicaAzure, &vault),
                None,
                "{action:?}"
            );
        }
    }

    #[test]
    fn disabling_protection_sends_the_spec_discriminator_not_the_provider() {
        for (file, provider) in [
            ("hyperv-vmm.yaml", Provider::HyperVReplicaAzure),
            ("physical.yaml", Provider::InMageRcm),
            ("azure-to-azure.yaml", Provider::A2A),
        ] {
            let vault = example_vault(file);
            let (kind, body) = action_body(Action::CompleteMigration, provider, &vault).unwrap();
            assert_eq!(kind, ItemAction::Remove);
            let properties = &body.unwrap()["properties"];
            assert_eq!(properties["disableProtectionReason"], "MigrationComplete");
            assert_eq!(
                properties["replicationProviderInput"],
                serde_json::json!({ "instanceType": "DisableProtectionProviderSpecificInput" }),
                "{provider:?}"
            );
        }
    }
}
