//! `cutover plan` with Azure: reads each vault's landing zone as the controller's pass does
//! ([`crate::vault::observe::observe`]), then lists the writes its passes would make, each
//! decided by the same [`crate::vault::converge::decide`] on what the writes before it leave
//! ([`crate::vault::converge::writes_from`]); then, per machine, the protection it would enable
//! and the steps that follow, with what each waits for. Every request goes through a client
//! that refuses anything but a read ([`ArmClient::read_only`]).

use std::collections::BTreeMap;

use cutover_api::common::AzureResource;
use cutover_api::machine::ReplicatedMachineSpec;
use cutover_api::plan::{CommitPolicy, HookStep, StartReplication};
use cutover_api::vault::{SourceKind, SourceSite};
use cutover_api::{MigrationPlan, RecoveryVault, ReplicatedMachine};
use kube::ResourceExt;
use serde::Serialize;

use super::{Finding, Severity};
use crate::azure::addresses;
use crate::azure::models::DiscoverySites;
use crate::azure::resources::{self as arm, Resource};
use crate::azure::{ArmClient, Provider};
use crate::conditions::{Observed, Severity as ConditionSeverity};
use crate::machine::observe;
use crate::vault::converge::{self, Decision};
use crate::vault::observe::Found;

/// One write the controller would make, by the object whose pass makes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Operation {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub method: String,
    /// The ARM resource written (or the action's URL path).
    pub resource: String,
    pub what: String,
    /// The MigrationPlan that drives the machine making it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// What the write waits for (initial replication, approval, the window, a person); `None`
    /// when the controller makes it as soon as the writes before it are done.
    pub after: Option<String>,
}

/// The manifests' objects, typed; those `validate()` refused are left out.
#[derive(Default)]
pub struct Objects {
    pub vaults: Vec<RecoveryVault>,
    pub plans: Vec<MigrationPlan>,
    pub machines: Vec<ReplicatedMachine>,
}

/// What one vault's preview ended with: where its writes stop, and what machines need.
struct VaultOutcome {
    /// The first condition that is not ready once every write is assumed done.
    stop: Option<Observed>,
    decision: Decision,
    /// What Azure has now (not assumed): machines' sources are looked for only there.
    found: Found,
}

/// A machine to enable: its name, spec, and the plan that drives it.
struct Machine<'a> {
    kind: &'static str,
    namespace: String,
    name: String,
    spec: ReplicatedMachineSpec,
    plan: Option<&'a MigrationPlan>,
}

/// Reads Azure for `objects` and returns the operations and the findings (an error where a
/// write would be refused or the controller would be blocked, a wait where it would wait).
pub async fn read(
    arm: &ArmClient,
    objects: &Objects,
    now: jiff::Timestamp,
) -> (Vec<Operation>, Vec<Finding>) {
    let mut operations = Vec::new();
    let mut findings = Vec::new();
    let mut outcomes = BTreeMap::new();
    for vault in &objects.vaults {
        let namespace = vault.namespace().unwrap_or_default();
        let name = vault.name_any();
        let finding = |severity, field: &str, message: String| Finding {
            severity,
            file: String::new(),
            kind: "RecoveryVault".into(),
            namespace: namespace.clone(),
            name: name.clone(),
            field: field.into(),
            message,
        };
        if let Some(credentials) = &vault.spec.credentials {
            findings.push(finding(
                Severity::Warning,
                "spec.credentials",
                format!(
                    "the controller signs in with the Secret {}; this preview read with its own identity (the AZURE_* environment)",
                    credentials.secret_ref.name
                ),
            ));
        }
        let found = match crate::vault::observe::observe(arm, vault).await {
            Ok(found) => found,
            Err(error) => {
                findings.push(finding(
                    Severity::Error,
                    "",
                    format!("reading Azure: {error}"),
                ));
                continue;
            }
        };
        let (writes, decision) = converge::writes_from(vault, found.clone(), now);
        for (write, message) in &writes {
            operations.push(Operation {
                kind: "RecoveryVault".into(),
                namespace: namespace.clone(),
                name: name.clone(),
                method: "PUT".into(),
                resource: write.target(vault),
                what: message.clone(),
                plan: None,
                after: None,
            });
        }
        let stop = decision.conditions.iter().find(|c| !c.status).cloned();
        if let Some(stop) = &stop {
            let severity = match stop.severity {
                ConditionSeverity::Warning => Severity::Error,
                ConditionSeverity::Normal => Severity::Wait,
            };
            findings.push(finding(
                severity,
                &format!("status.conditions[{}]", stop.type_),
                format!("{}: {}", stop.reason, stop.message),
            ));
        }
        outcomes.insert(
            (namespace.clone(), name.clone()),
            VaultOutcome {
                stop,
                decision,
                found,
            },
        );
    }

    let all = machines(objects);
    let networks: BTreeMap<(String, String), TargetNetwork> = objects
        .vaults
        .iter()
        .filter_map(|vault| {
            let key = (vault.namespace().unwrap_or_default(), vault.name_any());
            let network = target_network(vault, &outcomes.get(&key)?.found)?;
            Some((key, network))
        })
        .collect();
    let mut address_problems: BTreeMap<(String, String), Vec<addresses::Problem>> = BTreeMap::new();
    for (key, network) in &networks {
        let wanted: Vec<addresses::Wanted<'_>> = all
            .iter()
            .filter(|m| m.namespace == key.0 && m.spec.vault_ref.name == key.1)
            .map(|m| addresses::Wanted {
                machine: &m.name,
                subnet: m.spec.target.subnet.as_deref(),
                static_ip: m.spec.target.static_ip.as_deref(),
            })
            .collect();
        for problem in addresses::check(&network.name, &network.subnets, &wanted) {
            address_problems
                .entry((key.0.clone(), problem.machine.clone()))
                .or_default()
                .push(problem);
        }
    }

    let mut protected: BTreeMap<String, Vec<crate::azure::models::ProtectedItem>> = BTreeMap::new();
    for machine in &all {
        let key = (
            machine.namespace.clone(),
            machine.spec.vault_ref.name.clone(),
        );
        let (Some(outcome), Some(vault)) = (
            outcomes.get(&key),
            objects
                .vaults
                .iter()
                .find(|v| v.namespace().unwrap_or_default() == key.0 && v.name_any() == key.1),
        ) else {
            // Its vault is not in these manifests (a warning says so): nothing to read it by.
            continue;
        };
        let finding = |severity, field: &str, message: String| Finding {
            severity,
            file: String::new(),
            kind: machine.kind.into(),
            namespace: machine.namespace.clone(),
            name: machine.name.clone(),
            field: field.into(),
            message,
        };
        let vault_id = converge::Ids::of(vault).vault;
        let vault_exists = outcome.found.site_recovery.is_some();
        if vault_exists && !protected.contains_key(&vault_id) {
            match arm::list_protected_items(arm, &vault_id).await {
                Ok(items) => {
                    protected.insert(vault_id.clone(), items);
                }
                Err(error) => findings.push(finding(
                    Severity::Error,
                    "",
                    format!("listing the vault's protected items: {error}"),
                )),
            }
        }
        if let Some(item) = protected
            .get(&vault_id)
            .and_then(|items| items.iter().find(|i| i.name == machine.name))
        {
            findings.push(finding(
                Severity::Wait,
                "",
                format!(
                    "already protected ({}): the controller adopts {} and makes no enable",
                    item.properties
                        .protection_state
                        .as_deref()
                        .unwrap_or("state unknown"),
                    item.id
                ),
            ));
            continue;
        }
        let problems = address_problems
            .get(&(machine.namespace.clone(), machine.name.clone()))
            .cloned()
            .unwrap_or_default();
        for problem in &problems {
            findings.push(finding(
                Severity::Error,
                problem.field,
                problem.message.clone(),
            ));
        }
        // Whether the address is free only the VNet knows, once it exists.
        if let (true, Some(network), Some(ip)) = (
            problems.is_empty(),
            networks.get(&key).filter(|n| n.exists),
            machine.spec.target.static_ip.as_deref(),
        ) {
            match arm::check_ip_address_availability(arm, &network.id, ip).await {
                Ok(Some(answer)) => {
                    if let Some(message) = addresses::unavailable(ip, &network.name, &answer) {
                        findings.push(finding(Severity::Error, "spec.target.staticIp", message));
                    }
                }
                Ok(None) => {}
                Err(error) => findings.push(finding(
                    Severity::Error,
                    "spec.target.staticIp",
                    format!("checking {ip} in the target network: {error}"),
                )),
            }
        }
        let container = match &outcome.stop {
            None => match find_source(arm, vault, outcome, &machine.spec).await {
                Ok(Some(container)) => Some(container),
                Ok(None) => {
                    findings.push(finding(
                        Severity::Error,
                        "spec.source.name",
                        format!(
                            "no source machine {} in the vault: the controller would wait with SourceNotFound",
                            machine.spec.source.name
                        ),
                    ));
                    None
                }
                Err(error) => {
                    findings.push(finding(
                        Severity::Error,
                        "",
                        format!("looking for the source machine: {error}"),
                    ));
                    None
                }
            },
            Some(_) => None,
        };
        let vault_gate = outcome.stop.as_ref().map(|stop| {
            format!(
                "RecoveryVault {}/{} is Ready (it stops at {}: {})",
                key.0, key.1, stop.type_, stop.reason
            )
        });
        operations.extend(machine_operations(
            machine,
            vault,
            container.as_deref(),
            vault_gate,
        ));
    }
    findings.extend(capacity_findings(arm, objects, &all).await);
    (operations, findings)
}

/// Whether each plan's target region can take its VMs, wave by wave: a wave's failovers need
/// its sizes offered there and vCPU quota for them, on top of the waves before it (their VMs
/// stay). The controller holds a wave that would fall short; the preview says which, now.
async fn capacity_findings(
    arm: &ArmClient,
    objects: &Objects,
    machines: &[Machine<'_>],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for plan in &objects.plans {
        let namespace = plan.namespace().unwrap_or_default();
        let Some(vault) = objects.vaults.iter().find(|v| {
            v.namespace().unwrap_or_default() == namespace
                && v.name_any() == plan.spec.vault_ref.name
        }) else {
            continue;
        };
        let finding = |message: String| Finding {
            severity: Severity::Error,
            file: String::new(),
            kind: "MigrationPlan".into(),
            namespace: namespace.clone(),
            name: plan.name_any(),
            field: "spec.waves".into(),
            message,
        };
        let (subscription, region) = (&vault.spec.subscription_id, &vault.spec.region);
        let read = async {
            Ok::<_, crate::azure::ArmError>((
                arm::list_usages(arm, subscription, region).await?,
                arm::list_skus(arm, subscription, region).await?,
            ))
        };
        let (usages, skus) = match read.await {
            Ok(read) => read,
            Err(error) => {
                findings.push(finding(format!(
                    "reading the vCPU quotas and VM sizes of {region}: {error}"
                )));
                continue;
            }
        };
        let ours: Vec<&Machine<'_>> = machines
            .iter()
            .filter(|m| m.plan.is_some_and(|p| std::ptr::eq(p, plan)))
            .collect();
        let waves = crate::plan::orchestrate::wave_order(&plan.spec);
        let mut needs: Vec<crate::azure::capacity::Need<'_>> = Vec::new();
        for wave in &waves {
            needs.extend(
                ours.iter()
                    .filter(|m| crate::plan::orchestrate::wave_of(&plan.spec, &m.name) == *wave)
                    .filter_map(|m| {
                        Some(crate::azure::capacity::Need {
                            machine: &m.name,
                            size: m.spec.target.vm_size.as_deref()?,
                            zone: m.spec.target.availability_zone.map(|z| z.as_str()),
                        })
                    }),
            );
            let shortfalls = crate::azure::capacity::check(region, &needs, &usages, &skus);
            if !shortfalls.is_empty() {
                for shortfall in shortfalls {
                    findings.push(finding(format!(
                        "wave {wave} would wait ({}): {}",
                        shortfall.reason, shortfall.message
                    )));
                }
                break;
            }
        }
    }
    findings
}

/// The network a vault's machines land in: its subnets as the spec creates them, or as Azure
/// has them when adopted.
struct TargetNetwork {
    id: String,
    name: String,
    subnets: Vec<(String, String)>,
    /// It exists in Azure now (so ARM can say which addresses are taken).
    exists: bool,
}

fn target_network(vault: &RecoveryVault, found: &Found) -> Option<TargetNetwork> {
    let id = converge::Ids::of(vault).networks[0].1.clone()?;
    let existing = found.resources.get(&id);
    let (name, subnets) = match &vault.spec.network.target {
        AzureResource::Create(vnet) => (
            vnet.name.clone(),
            vnet.subnets
                .iter()
                .map(|s| (s.name.clone(), s.address_prefix.clone()))
                .collect(),
        ),
        AzureResource::ExistingId(_) => (
            id.rsplit('/').next().unwrap_or_default().to_owned(),
            arm::vnet_layout(existing?).1,
        ),
    };
    Some(TargetNetwork {
        exists: existing.is_some(),
        id,
        name,
        subnets,
    })
}

/// Every machine of the manifests: the plans' templates, and the ReplicatedMachines (driven by
/// the plan whose selector adopts them, if any).
fn machines(objects: &Objects) -> Vec<Machine<'_>> {
    let mut out = Vec::new();
    for plan in &objects.plans {
        for template in &plan.spec.machines.templates {
            out.push(Machine {
                kind: "ReplicatedMachine",
                namespace: plan.namespace().unwrap_or_default(),
                name: template.name.clone(),
                spec: template.machine_spec(&plan.spec),
                plan: Some(plan),
            });
        }
    }
    for machine in &objects.machines {
        let namespace = machine.namespace().unwrap_or_default();
        let plan = objects.plans.iter().find(|p| {
            p.namespace().unwrap_or_default() == namespace
                && crate::plan::reconcile::adopts(p, machine.labels())
        });
        out.push(Machine {
            kind: "ReplicatedMachine",
            namespace,
            name: machine.name_any(),
            spec: machine.spec.clone(),
            plan,
        });
    }
    out
}

/// The protection container a machine's enable goes to, once its source is found among what
/// Azure has now; `None` when it is not found. Hyper-V's machines are protectable items of a
/// container; InMageRcm's are machines the appliance discovered into the fabric's site; A2A's
/// are Compute VMs (the same lookups as the machine's pass, `machine::reconcile`).
async fn find_source(
    arm: &ArmClient,
    vault: &RecoveryVault,
    outcome: &VaultOutcome,
    spec: &ReplicatedMachineSpec,
) -> Result<Option<String>, crate::azure::ArmError> {
    let resources = &outcome.decision.resources;
    let first = resources.protection_container_ids.first().cloned();
    let exists = |id: &str| {
        outcome.found.site_recovery.as_ref().is_some_and(|sr| {
            sr.containers
                .values()
                .flatten()
                .any(|c| c.id.eq_ignore_ascii_case(id))
        })
    };
    match Provider::of(vault.spec.source.kind()) {
        Provider::HyperVReplicaAzure => {
            for container in resources
                .protection_container_ids
                .iter()
                .filter(|c| exists(c))
            {
                let protectables = arm::list_protectable_items(arm, container).await?;
                if let Some(found) = protectables.iter().find(|p| observe::is_source(spec, p)) {
                    return Ok(Some(arm::parent_id(
                        &found.id,
                        "replicationProtectableItems",
                    )));
                }
            }
            Ok(None)
        }
        Provider::InMageRcm => {
            let fabric: Option<&Resource> = outcome.found.site_recovery.as_ref().and_then(|sr| {
                sr.fabrics.iter().find(|f| {
                    resources
                        .fabric_id
                        .as_deref()
                        .is_some_and(|id| f.id.eq_ignore_ascii_case(id))
                })
            });
            let vmware = vault.spec.source.kind() == SourceKind::Vmware;
            let Some(site) = fabric.and_then(|f| {
                DiscoverySites::of(&f.properties)
                    .site(vmware)
                    .map(str::to_owned)
            }) else {
                return Ok(None);
            };
            let discovered = arm::list_discovered_machines(arm, &site).await?;
            Ok(discovered
                .iter()
                .any(|m| observe::is_discovered(spec, m))
                .then_some(first)
                .flatten())
        }
        Provider::A2A => {
            let Some(vm_id) = &spec.source.azure_vm_id else {
                return Ok(None);
            };
            let region = match &vault.spec.source {
                SourceSite::AzureRegion(source) => source.region.as_str(),
                _ => "",
            };
            let vm = arm::get(arm, &vm_id.0, arm::COMPUTE_API).await?;
            Ok(vm
                .filter(|vm| {
                    vm.location
                        .as_deref()
                        .is_some_and(|l| l.eq_ignore_ascii_case(region))
                })
                .and(first))
        }
    }
}

/// A machine's writes, from enabling protection to completing the migration, with what each
/// waits for. `container` is where its enable goes when its source was found; `vault_gate`
/// says what its vault still waits for.
fn machine_operations(
    machine: &Machine<'_>,
    vault: &RecoveryVault,
    container: Option<&str>,
    vault_gate: Option<String>,
) -> Vec<Operation> {
    let container = container.map_or_else(
        || "{the source's protection container}".to_owned(),
        str::to_owned,
    );
    let item = format!("{container}/replicationProtectedItems/{}", machine.name);
    let operation =
        |method: &str, resource: String, what: String, after: Option<String>| Operation {
            kind: machine.kind.into(),
            namespace: machine.namespace.clone(),
            name: machine.name.clone(),
            method: method.into(),
            resource,
            what,
            plan: machine.plan.map(|p| p.name_any()),
            after,
        };
    let provider = Provider::of(vault.spec.source.kind()).instance_type();
    let plan = machine.plan.map(|p| &p.spec);
    let wave = plan.map(|spec| crate::plan::orchestrate::wave_of(spec, &machine.name));
    let earlier_waves: Vec<&str> = plan
        .zip(wave.as_deref())
        .map(|(spec, wave)| {
            spec.waves
                .iter()
                .take_while(|w| w.name != wave)
                .map(|w| w.name.as_str())
                .collect()
        })
        .unwrap_or_default();
    let replicates_later = plan.zip(wave.as_deref()).is_some_and(|(spec, wave)| {
        spec.waves.iter().any(|w| {
            w.name == wave && matches!(w.start_replication, StartReplication::AfterPreviousWave)
        }) && !earlier_waves.is_empty()
    });
    let enable_after = match (vault_gate, replicates_later) {
        (Some(gate), _) => Some(gate),
        (None, true) => Some(format!(
            "wave {} has cut over (startReplication: AfterPreviousWave)",
            earlier_waves.last().copied().unwrap_or_default()
        )),
        (None, false) => None,
    };
    let mut out = vec![operation(
        "PUT",
        item.clone(),
        format!(
            "enabling protection of {} ({provider})",
            machine.spec.source.name
        ),
        enable_after,
    )];
    let Some(spec) = plan else {
        out.push(operation(
            "POST",
            format!("{item}/unplannedFailover"),
            "failing over".into(),
            Some(
                "a MigrationPlan adopts the machine: alone it replicates and waits at ReadyForCutover"
                    .into(),
            ),
        ));
        return out;
    };
    if spec.test_failover.required {
        out.push(operation(
            "POST",
            format!("{item}/testFailover"),
            "starting the test failover into the isolated network".into(),
            Some("initial replication has finished".into()),
        ));
        out.push(operation(
            "POST",
            format!("{item}/testFailoverCleanup"),
            "cleaning the test failover up".into(),
            Some(if spec.test_failover.auto_cleanup {
                "the test VM is seen running".into()
            } else {
                format!(
                    "a person validates the test VM (kubectl cutover validate-test {})",
                    machine.name
                )
            }),
        ));
    }
    let mut gates = Vec::new();
    if !spec.cutover.approved && !spec.cutover.approved_machines.contains(&machine.name) {
        gates.push(format!(
            "approval (spec.cutover.approved, approvedMachines, or kubectl cutover approve {} {})",
            machine.plan.map(|p| p.name_any()).unwrap_or_default(),
            machine.name
        ));
    }
    if let Some(window) = &spec.cutover.window {
        gates.push(format!("the window {} to {}", window.start.0, window.end.0));
    }
    match earlier_waves.as_slice() {
        [] => {}
        [wave] => gates.push(format!("wave {wave} is done")),
        waves => gates.push(format!("waves {} are done", waves.join(", "))),
    }
    if gates.is_empty() {
        gates.push("the test failover and a free cutover slot".into());
    }
    // The plan's hook Jobs for this machine: each runs once its step is reached, and what the
    // machine does next waits for it (to succeed, where it must).
    let plan_name = machine.plan.map(|p| p.name_any()).unwrap_or_default();
    let wave = wave.unwrap_or_default();
    let hooks = |step: HookStep| -> Vec<&cutover_api::plan::Hook> {
        spec.hooks
            .iter()
            .filter(|h| h.step == step && h.applies_to(&machine.name, &wave))
            .collect()
    };
    let hook_operations = |step: HookStep, after: String| -> Vec<Operation> {
        hooks(step)
            .into_iter()
            .map(|hook| Operation {
                kind: "MigrationPlan".into(),
                namespace: machine.namespace.clone(),
                name: plan_name.clone(),
                method: "CREATE".into(),
                resource: format!(
                    "batch/v1 Job {}",
                    crate::plan::hooks::job_name(&plan_name, &machine.name, &hook.name, 1)
                ),
                what: format!(
                    "running the {} hook {} for {}{}",
                    step.as_str(),
                    hook.name,
                    machine.name,
                    if hook.must_succeed {
                        " (must succeed)"
                    } else {
                        ""
                    }
                ),
                plan: Some(plan_name.clone()),
                after: Some(after.clone()),
            })
            .collect()
    };
    let waits_for = |step: HookStep| -> Option<String> {
        let names: Vec<String> = hooks(step)
            .into_iter()
            .map(|h| {
                format!(
                    "{} hook {}{}",
                    step.as_str(),
                    h.name,
                    if h.must_succeed {
                        " has succeeded"
                    } else {
                        " has run"
                    }
                )
            })
            .collect();
        (!names.is_empty()).then(|| names.join(", "))
    };
    let released = gates.join(", ");
    out.extend(hook_operations(HookStep::PreCutover, released.clone()));
    gates.extend(waits_for(HookStep::PreCutover));
    // The machine's pass fails over planned where the plan shuts sources down and the item
    // allows it (`lifecycle::decide`), else from the latest recovery point.
    let (action, what) = if spec.cutover.shutdown_source {
        (
            "plannedFailover",
            "shutting the source down and failing over (unplannedFailover where the item does not allow plannedFailover)",
        )
    } else {
        (
            "unplannedFailover",
            "failing over from the latest recovery point",
        )
    };
    out.push(operation(
        "POST",
        format!("{item}/{action}"),
        what.into(),
        Some(gates.join(", ")),
    ));
    out.extend(hook_operations(
        HookStep::PostFailover,
        format!("{}'s failover has finished", machine.name),
    ));
    let commit_after = match spec.cutover.commit {
        CommitPolicy::Automatic => "the failover has finished".to_owned(),
        CommitPolicy::Manual => format!(
            "a person commits (commit: Manual; kubectl cutover commit {})",
            machine.name
        ),
    };
    out.push(operation(
        "POST",
        format!("{item}/failoverCommit"),
        "committing the failover".into(),
        Some(match waits_for(HookStep::PostFailover) {
            Some(hooks) => format!("{commit_after}, {hooks}"),
            None => commit_after,
        }),
    ));

    if spec.completion.stop_replication {
        out.push(operation(
            "POST",
            format!("{item}/remove"),
            "stopping replication, keeping the VM (MigrationComplete)".into(),
            Some("the commit has finished".into()),
        ));
    }
    out.extend(hook_operations(
        HookStep::PostCommit,
        format!("{} has completed", machine.name),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn example(file: &str, kind: &str) -> serde_json::Value {
        let path = format!("{}/../deploy/examples/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        serde_yaml_ng::Deserializer::from_str(&text)
            .map(|doc| <serde_json::Value as serde::Deserialize>::deserialize(doc).unwrap())
            .find(|doc| doc["kind"] == kind)
            .unwrap()
    }

    /// A plan's hook Jobs are listed with the machine's steps they sit between, and the steps
    /// after them wait for them.
    #[test]
    fn a_plans_hooks_are_listed_between_the_steps_they_gate() {
        let vault: RecoveryVault =
            serde_json::from_value(example("hyperv-vmm.yaml", "RecoveryVault")).unwrap();
        let mut plan = example("hyperv-vmm.yaml", "MigrationPlan");
        let job = json!({"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "t", "image": "i"}]}}}});
        plan["spec"]["testFailover"] = json!({"required": false});
        plan["spec"]["cutover"] = json!({"approved": true});
        plan["spec"]["waves"] = json!([]);
        plan["spec"]["hooks"] = json!([
            {"name": "stop-app", "step": "PreCutover", "mustSucceed": true, "jobTemplate": job},
            {"name": "smoke", "step": "PostFailover", "mustSucceed": true, "jobTemplate": job,
             "machines": ["vmm-web01"]},
            {"name": "notify", "step": "PostCommit", "jobTemplate": job}]);
        let plan: MigrationPlan = serde_json::from_value(plan).unwrap();
        let steps = |name: &str| -> Vec<String> {
            let machine = Machine {
                kind: "ReplicatedMachine",
                namespace: "ns".into(),
                name: name.into(),
                spec: serde_json::from_value(json!({"vaultRef": {"name": "dc1"},
                    "source": {"name": name}, "osType": "Windows"}))
                .unwrap(),
                plan: Some(&plan),
            };
            machine_operations(&machine, &vault, Some("/c"), None)
                .into_iter()
                .map(|o| {
                    format!(
                        "{} {} {}: {}",
                        o.kind,
                        o.method,
                        if o.kind == "MigrationPlan" {
                            o.resource.as_str()
                        } else {
                            o.resource.rsplit('/').next().unwrap_or_default()
                        },
                        o.after.unwrap_or_default()
                    )
                })
                .collect()
        };
        let plan_name = plan.name_any();
        assert_eq!(
            steps("vmm-web01"),
            [
                "ReplicatedMachine PUT vmm-web01: ".to_owned(),
                format!(
                    "MigrationPlan CREATE batch/v1 Job {plan_name}-vmm-web01-stop-app-1: \
                     the test failover and a free cutover slot"
                ),
                "ReplicatedMachine POST plannedFailover: the test failover and a free cutover \
                 slot, PreCutover hook stop-app has succeeded"
                    .to_owned(),
                format!(
                    "MigrationPlan CREATE batch/v1 Job {plan_name}-vmm-web01-smoke-1: \
                     vmm-web01's failover has finished"
                ),
                "ReplicatedMachine POST failoverCommit: the failover has finished, PostFailover \
                 hook smoke has succeeded"
                    .to_owned(),
                "ReplicatedMachine POST remove: the commit has finished".to_owned(),
                format!(
                    "MigrationPlan CREATE batch/v1 Job {plan_name}-vmm-web01-notify-1: \
                     vmm-web01 has completed"
                ),
            ]
        );
        let sql01 = steps("vmm-sql01");
        assert!(
            !sql01.iter().any(|s| s.contains("smoke")),
            "the smoke test is WEB01's only: {sql01:#?}"
        );
        assert_eq!(sql01.len(), 6, "{sql01:#?}");
    }
}
