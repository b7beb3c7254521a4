//! Converging a landing zone, in dependency order: resource group and vault, storage,
//! networks, the source site, then replication (policy, container and network mappings).
//!
//! A pass is observe -> decide -> apply. [`super::observe::observe`] makes every GET;
//! [`decide`] is a pure function of the spec, what was found and the time, and walks the
//! steps until the first that is not converged; [`apply`] makes the one [`Write`] that step
//! asked for, if any. The next pass observes its effect. Adopted (`existingId`) resources are
//! only read.

use cutover_api::common::AzureResource;
use cutover_api::conditions::vault::*;
use cutover_api::vault::{
    ArmOperation, OperationFailure, RecoveryVault, RecoveryVaultSpec, SourceKind, SourceSite,
    VaultResources, VirtualNetworkProperties,
};
use serde_json::{Value, json};

use super::observe::{Found, SiteRecovery};
use crate::azure::client::Accepted;
use crate::azure::lro::OperationStatus;
use crate::azure::resources::{self as arm, MICROSOFT_AZURE, Resource, Scope};
use crate::azure::{ArmClient, ArmError, Provider};
use crate::conditions::Observed;

/// The condition types of the steps, in the order they converge.
const STEPS: [&str; 5] = [
    VAULT_READY,
    STORAGE_READY,
    NETWORK_READY,
    SOURCE_REGISTERED,
    REPLICATION_READY,
];

/// Why a step is not converged. Only [`Stop::Write`] carries a write, and a pass stops at the
/// first step that is not converged: so a pass makes at most one write.
#[derive(Debug)]
enum Stop {
    /// The step needs this write; reason and message say what it does.
    Write(Box<Write>, &'static str, String),
    /// Something is in flight (Azure is provisioning, an operation runs): look again soon.
    InProgress(&'static str, String),
    /// Waiting on something outside cutover (a source to register): look again later.
    Waiting(&'static str, String),
    /// The spec cannot be met as written (a resource in the wrong region, an adopted resource
    /// that does not exist): wait for a change.
    Blocked(&'static str, String),
}

impl Stop {
    fn write(write: Write, reason: &'static str, message: String) -> Stop {
        Stop::Write(Box::new(write), reason, message)
    }
}

/// A converged step says what exists.
type Step = Result<String, Stop>;

/// The one write a pass makes: everything its request needs.
#[derive(Clone, Debug)]
pub enum Write {
    ResourceGroup,
    Vault {
        id: String,
        sku: String,
        redundancy: String,
    },
    StorageAccount {
        id: String,
        region: String,
        sku: String,
    },
    /// Created from the spec, or repaired by a read-modify-write of `existing`.
    VirtualNetwork {
        id: String,
        existing: Option<Box<Resource>>,
        space: Vec<String>,
        subnets: Vec<(String, String)>,
    },
    Fabric {
        name: String,
        custom_details: Value,
    },
    A2aContainer {
        fabric_id: String,
        name: String,
    },
    Policy {
        name: String,
        input: Value,
    },
    ContainerMapping {
        container: String,
        name: String,
        target: String,
        policy_id: String,
        provider: &'static str,
    },
    NetworkMapping {
        network_id: String,
        name: String,
        recovery_network_id: String,
        /// Azure to Azure: the target region's fabric and the source VNet; else VMM to Azure.
        azure_to_azure: Option<(String, String)>,
    },
}

impl Write {
    /// The resource whose operation the next passes follow (a resource group PUT is not
    /// followed: the group is read again).
    pub fn resource_id(&self, vault_id: &str) -> Option<String> {
        Some(match self {
            Write::ResourceGroup => return None,
            Write::Vault { id, .. }
            | Write::StorageAccount { id, .. }
            | Write::VirtualNetwork { id, .. } => id.clone(),
            Write::Fabric { name, .. } => arm::fabric_id(vault_id, name),
            Write::A2aContainer { fabric_id, name } => arm::container_id(fabric_id, name),
            Write::Policy { name, .. } => arm::policy_id(vault_id, name),
            Write::ContainerMapping {
                container, name, ..
            } => arm::container_mapping_id(container, name),
            Write::NetworkMapping {
                network_id, name, ..
            } => arm::network_mapping_id(network_id, name),
        })
    }
}

impl Write {
    /// The resource this write PUTs.
    pub fn target(&self, vault: &RecoveryVault) -> String {
        let ids = Ids::of(vault);
        self.resource_id(&ids.vault)
            .unwrap_or_else(|| ids.scope.group_id())
    }

    /// What the next observation would read once this write has succeeded (provisioned, a
    /// container mapping paired): `cutover plan` decides again on it to list the writes that
    /// follow without making them. Nothing outside cutover's writes is assumed: a VMM server,
    /// an appliance or Hyper-V hosts registering is where a preview stops, as the controller
    /// would wait there.
    pub fn assume_applied(&self, vault: &RecoveryVault, found: &mut Found) {
        let owner = owner_of(vault);
        let region = vault.spec.region.as_str();
        let made = |id: &str, mut body: Value| -> Resource {
            body["id"] = json!(id);
            body["name"] = json!(id.rsplit('/').next().unwrap_or_default());
            body["properties"]["provisioningState"] = json!("Succeeded");
            serde_json::from_value(body).unwrap_or_default()
        };
        found.operation = None;
        let id = self.target(vault);
        match self {
            Write::ResourceGroup => {
                found.resource_group = Some(made(&id, json!({ "location": region })));
            }
            Write::Vault {
                sku, redundancy, ..
            } => {
                let body = arm::vault_body(region, sku, redundancy, &owner);
                found.resources.insert(&id, Some(made(&id, body)));
                found.site_recovery.get_or_insert_default();
            }
            Write::StorageAccount { region, sku, .. } => {
                let body = arm::storage_account_body(region, sku, &owner);
                found.resources.insert(&id, Some(made(&id, body)));
            }
            Write::VirtualNetwork {
                existing,
                space,
                subnets,
                ..
            } => {
                let body =
                    arm::virtual_network_body(existing.as_deref(), region, space, subnets, &owner);
                found.resources.insert(&id, Some(made(&id, body)));
            }
            Write::Fabric {
                name,
                custom_details,
            } => {
                let body = json!({ "properties": { "friendlyName": name, "customDetails": custom_details } });
                let fabric = made(&id, body);
                found
                    .site_recovery
                    .get_or_insert_default()
                    .fabrics
                    .push(fabric);
            }
            Write::A2aContainer { fabric_id, name } => {
                let container = made(&id, json!({ "properties": { "friendlyName": name } }));
                found
                    .site_recovery
                    .get_or_insert_default()
                    .containers
                    .entry(fabric_id.to_ascii_lowercase())
                    .or_default()
                    .push(container);
            }
            Write::Policy { name, input } => {
                let provider = Provider::of(vault.spec.source.kind());
                let mut details = json!({ "instanceType": input["instanceType"] });
                for (field, reported_as) in policy_fields(provider) {
                    details[*reported_as] = input[*field].clone();
                }
                let body = json!({ "properties": { "friendlyName": name, "providerSpecificDetails": details } });
                found.site_recovery.get_or_insert_default().policy = Some(made(&id, body));
            }
            Write::ContainerMapping {
                target, policy_id, ..
            } => {
                let body = json!({ "properties": { "state": "Paired", "policyId": policy_id, "targetProtectionContainerId": target } });
                let mapping = made(&id, body);
                found
                    .site_recovery
                    .get_or_insert_default()
                    .container_mappings
                    .push(mapping);
            }
            Write::NetworkMapping {
                recovery_network_id,
                ..
            } => {
                let body = json!({ "properties": { "recoveryNetworkId": recovery_network_id } });
                let mapping = made(&id, body);
                found
                    .site_recovery
                    .get_or_insert_default()
                    .network_mappings
                    .push(mapping);
            }
        }
    }
}

/// The writes the controller would make from what `found` says Azure has, in order: each
/// decided on what the ones before it leave, assumed to succeed ([`Write::assume_applied`]);
/// with each, the message its condition says. The last decision is the pass with no write
/// left: converged, or waiting for something outside cutover, or blocked.
pub fn writes_from(
    vault: &RecoveryVault,
    mut found: Found,
    now: jiff::Timestamp,
) -> (Vec<(Write, String)>, Decision) {
    let mut writes: Vec<(Write, String)> = Vec::new();
    loop {
        let mut decision = decide(vault, &found, now);
        let Some(write) = decision.write.take() else {
            return (writes, decision);
        };
        // A write that its own effect does not satisfy would be listed forever: it is listed
        // once, and the preview stops there as the controller's passes would repeat it.
        if writes
            .iter()
            .any(|(w, _)| w.target(vault).eq_ignore_ascii_case(&write.target(vault)))
        {
            return (writes, decision);
        }
        let message = decision
            .conditions
            .iter()
            .find(|c| !c.status)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        write.assume_applied(vault, &mut found);
        writes.push((write, message));
    }
}

/// `namespace/name` of a vault: what its resources are tagged with.
fn owner_of(vault: &RecoveryVault) -> String {
    format!(
        "{}/{}",
        vault.metadata.namespace.as_deref().unwrap_or_default(),
        vault.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The fields of a policy's `providerSpecificInput` that the spec sets, and the fields of its
/// `providerSpecificDetails` ASR reports them back in (the SDK's `*PolicyInput` and
/// `*PolicyDetails` models).
fn policy_fields(provider: Provider) -> &'static [(&'static str, &'static str)] {
    match provider {
        Provider::HyperVReplicaAzure => &[
            (
                "recoveryPointHistoryDuration",
                "recoveryPointHistoryDurationInHours",
            ),
            (
                "applicationConsistentSnapshotFrequencyInHours",
                "applicationConsistentSnapshotFrequencyInHours",
            ),
            ("replicationInterval", "replicationInterval"),
        ],
        Provider::InMageRcm => &[
            (
                "recoveryPointHistoryInMinutes",
                "recoveryPointHistoryInMinutes",
            ),
            (
                "appConsistentFrequencyInMinutes",
                "appConsistentFrequencyInMinutes",
            ),
        ],
        Provider::A2A => &[
            ("recoveryPointHistory", "recoveryPointHistory"),
            (
                "appConsistentFrequencyInMinutes",
                "appConsistentFrequencyInMinutes",
            ),
        ],
    }
}

/// What one pass decided.
#[derive(Debug)]
pub struct Decision {
    pub conditions: Vec<Observed>,
    /// What status records: the IDs found, and the operation followed (cleared once it ended,
    /// its failure once it failed). [`apply`] records the operation its write starts.
    pub resources: VaultResources,
    /// Something is in flight: poll again soon rather than at the resync interval.
    pub in_progress: bool,
    /// How long the operation being followed asked to be left alone (its `Retry-After`).
    pub retry_after: Option<std::time::Duration>,
    pub write: Option<Write>,
}

/// The IDs of what the spec names.
pub struct Ids {
    pub scope: Scope,
    pub vault: String,
    /// The replication, log and cache storage accounts the spec names.
    pub storage: [(&'static str, Option<String>); 3],
    /// The target and test networks the spec names.
    pub networks: [(&'static str, Option<String>); 2],
}

impl Ids {
    pub fn of(vault: &RecoveryVault) -> Ids {
        let spec = &vault.spec;
        let scope = scope_of(vault);
        let storage_id =
            |wanted: &AzureResource<cutover_api::vault::StorageAccountProperties>| match wanted {
                AzureResource::Create(account) => {
                    scope.resource_id("Microsoft.Storage/storageAccounts", &account.name)
                }
                AzureResource::ExistingId(id) => id.0.clone(),
            };
        let network_id = |wanted: &AzureResource<VirtualNetworkProperties>| match wanted {
            AzureResource::Create(vnet) => {
                scope.resource_id("Microsoft.Network/virtualNetworks", &vnet.name)
            }
            AzureResource::ExistingId(id) => id.0.clone(),
        };
        Ids {
            vault: vault_id(vault, &scope),
            storage: [
                ("replication", Some(storage_id(&spec.storage.replication))),
                ("log", spec.storage.log.as_ref().map(storage_id)),
                ("cache", spec.storage.cache.as_ref().map(storage_id)),
            ],
            networks: [
                ("target", Some(network_id(&spec.network.target))),
                ("test", spec.network.test.as_ref().map(network_id)),
            ],
            scope,
        }
    }
}

impl Ids {
    /// Whether `id` is in the landing zone's resource group.
    pub fn in_group(&self, id: &str) -> bool {
        id.to_ascii_lowercase()
            .starts_with(&format!("{}/", self.scope.group_id().to_ascii_lowercase()))
    }
}

/// Whether the landing zone has been provisioned once (its identity is recorded).
pub fn provisioned(vault: &RecoveryVault) -> bool {
    vault
        .status
        .as_ref()
        .is_some_and(|s| s.provisioned.is_some())
}

/// The resource provider namespaces the spec needs registered, and what for.
pub fn needed_providers(spec: &RecoveryVaultSpec) -> Vec<(&'static str, &'static str)> {
    let creates_storage = matches!(spec.storage.replication, AzureResource::Create(_))
        || matches!(spec.storage.log, Some(AzureResource::Create(_)))
        || matches!(spec.storage.cache, Some(AzureResource::Create(_)));
    let creates_network = matches!(spec.network.target, AzureResource::Create(_))
        || matches!(spec.network.test, Some(AzureResource::Create(_)));
    [
        (
            "Microsoft.RecoveryServices",
            true,
            "the vault and Site Recovery",
        ),
        ("Microsoft.Storage", creates_storage, "the storage accounts"),
        ("Microsoft.Network", creates_network, "the virtual networks"),
        ("Microsoft.Compute", true, "the VMs that failover creates"),
    ]
    .into_iter()
    .filter(|(_, needed, _)| *needed)
    .map(|(namespace, _, why)| (namespace, why))
    .collect()
}

/// The fabrics of the source among a vault's: the one registered (or created) for it by its
/// friendly name and kind, or, Azure to Azure, the source and target regions' fabrics.
pub fn source_fabrics<'a>(
    source: &SourceSite,
    target_region: &str,
    fabrics: &'a [Resource],
) -> Vec<&'a Resource> {
    let find = |friendly: &str, kind: &str| {
        fabrics.iter().find(|f| {
            f.friendly_name()
                .is_some_and(|n| n.eq_ignore_ascii_case(friendly))
                && f.properties["customDetails"]["instanceType"] == kind
        })
    };
    match source {
        SourceSite::HyperVVmm(vmm) => find(&vmm.server, "VMM").into_iter().collect(),
        SourceSite::HyperVSite(site) => find(&site.site_name, "HyperVSite").into_iter().collect(),
        SourceSite::Vmware(source) => find(&source.appliance, "InMageRcm").into_iter().collect(),
        SourceSite::Physical(source) => find(&source.appliance, "InMageRcm").into_iter().collect(),
        SourceSite::Aws(source) => find(&source.appliance, "InMageRcm").into_iter().collect(),
        SourceSite::AzureRegion(source) => [source.region.as_str(), target_region]
            .into_iter()
            .filter_map(|region| {
                let name = a2a_fabric_name(region);
                fabrics.iter().find(|f| f.name.eq_ignore_ascii_case(&name))
            })
            .collect(),
    }
}

/// Decides a converging pass from what `found` says Azure has. `now` dates an operation's
/// failure and says when a failed write may be tried again.
pub fn decide(vault: &RecoveryVault, found: &Found, now: jiff::Timestamp) -> Decision {
    let previous = vault
        .status
        .as_ref()
        .map(|s| s.resources.clone())
        .unwrap_or_default();
    let owner = owner_of(vault);
    let mut pass = Pass {
        vault,
        found,
        owner,
        ids: Ids::of(vault),
        now,
        resources: VaultResources {
            resource_group_created: previous.resource_group_created,
            operation: previous.operation.filter(|o| !o.url.is_empty()),
            ..Default::default()
        },
        retry_after: None,
    };

    // Prerequisites that need Azure are checked before the first write.
    if let Some((type_, reason, message)) = pass.preflight() {
        let mut conditions = vec![Observed::failing(type_, reason, message)];
        for later in STEPS.into_iter().filter(|t| *t != type_) {
            conditions.push(Observed::not_ready(
                later,
                WAITING_FOR_PREREQUISITE,
                format!("waits for {type_}"),
            ));
        }
        return Decision {
            conditions,
            resources: pass.resources,
            in_progress: false,
            retry_after: None,
            write: None,
        };
    }
    let mut conditions = Vec::new();
    let mut blocked_by: Option<&'static str> = None;
    let mut in_progress = false;
    let mut write = None;
    for type_ in STEPS {
        if let Some(earlier) = blocked_by {
            conditions.push(Observed::not_ready(
                type_,
                WAITING_FOR_PREREQUISITE,
                format!("waits for {earlier}"),
            ));
            continue;
        }
        let step = match type_ {
            VAULT_READY => pass.vault_step(),
            STORAGE_READY => pass.storage_step(),
            NETWORK_READY => pass.network_step(),
            SOURCE_REGISTERED => pass.source_step(),
            _ => pass.replication_step(),
        };
        let observed = match step {
            Ok(message) => Observed::ready(type_, "Ready", message),
            Err(Stop::Write(needed, reason, message)) => {
                in_progress = true;
                write = Some(*needed);
                Observed::not_ready(type_, reason, message)
            }
            Err(Stop::InProgress(reason, message)) => {
                in_progress = true;
                Observed::not_ready(type_, reason, message)
            }
            Err(Stop::Waiting(reason, message)) => Observed::not_ready(type_, reason, message),
            Err(Stop::Blocked(reason, message)) => Observed::failing(type_, reason, message),
        };
        if !observed.status {
            blocked_by = Some(type_);
        }
        conditions.push(observed);
    }
    Decision {
        conditions,
        resources: pass.resources,
        in_progress,
        retry_after: pass.retry_after,
        write,
    }
}

/// Makes the write a pass decided on, and records in `resources` the operation it started.
pub async fn apply(
    arm: &ArmClient,
    vault: &RecoveryVault,
    write: &Write,
    resources: &mut VaultResources,
) -> Result<(), ArmError> {
    let ids = Ids::of(vault);
    let region = vault.spec.region.as_str();
    let owner = owner_of(vault);
    let accepted = match write {
        Write::ResourceGroup => {
            arm::put_resource_group(arm, &ids.scope, region, &owner).await?;
            return Ok(());
        }
        Write::Vault {
            id,
            sku,
            redundancy,
        } => arm::put_vault(arm, id, region, sku, redundancy, &owner).await?,
        Write::StorageAccount { id, region, sku } => {
            arm::put_storage_account(arm, id, region, sku, &owner).await?
        }
        Write::VirtualNetwork {
            id,
            existing,
            space,
            subnets,
        } => {
            arm::put_virtual_network(arm, id, existing.as_deref(), region, space, subnets, &owner)
                .await?
        }
        Write::Fabric {
            name,
            custom_details,
        } => arm::put_fabric(arm, &ids.vault, name, custom_details.clone()).await?,
        Write::A2aContainer { fabric_id, name } => {
            arm::put_a2a_container(arm, fabric_id, name).await?
        }
        Write::Policy { name, input } => {
            arm::put_policy(arm, &ids.vault, name, input.clone()).await?
        }
        Write::ContainerMapping {
            container,
            name,
            target,
            policy_id,
            provider,
        } => arm::put_container_mapping(arm, container, name, target, policy_id, provider).await?,
        Write::NetworkMapping {
            network_id,
            name,
            recovery_network_id,
            azure_to_azure,
        } => {
            let target = match azure_to_azure {
                Some((recovery_fabric, primary_network_id)) => {
                    arm::NetworkMappingTarget::AzureToAzure {
                        recovery_fabric,
                        primary_network_id,
                    }
                }
                None => arm::NetworkMappingTarget::VmmToAzure,
            };
            arm::put_network_mapping(arm, network_id, name, recovery_network_id, target).await?
        }
    };
    if let Some(id) = write.resource_id(&ids.vault) {
        resources.operation = operation_of(&id, &accepted);
    }
    Ok(())
}

/// The operation a write on `id` started, to follow on the next passes.
fn operation_of(id: &str, accepted: &Accepted) -> Option<ArmOperation> {
    let polling = &accepted.polling;
    match (&polling.async_operation, &polling.location) {
        (Some(url), _) => Some((url.to_string(), true)),
        (None, Some(url)) => Some((url.to_string(), false)),
        (None, None) => None,
    }
    .map(|(url, async_operation)| ArmOperation {
        resource_id: id.to_owned(),
        url,
        async_operation,
        failure: None,
    })
}

struct Pass<'a> {
    vault: &'a RecoveryVault,
    found: &'a Found,
    /// `namespace/name` of the vault, tagged on what it creates.
    owner: String,
    ids: Ids,
    now: jiff::Timestamp,
    resources: VaultResources,
    retry_after: Option<std::time::Duration>,
}

/// The subscription and resource group of a landing zone.
pub fn scope_of(vault: &RecoveryVault) -> Scope {
    Scope {
        subscription: vault.spec.subscription_id.clone(),
        resource_group: vault.spec.resource_group.clone(),
    }
}

/// The vault's ARM ID: the one cutover creates, or the adopted one.
pub fn vault_id(vault: &RecoveryVault, scope: &Scope) -> String {
    match &vault.spec.vault {
        AzureResource::Create(v) => scope.vault_id(&v.name),
        AzureResource::ExistingId(id) => id.0.clone(),
    }
}

/// The refusal to take over a same-named resource cutover did not create for this vault.
fn not_owned(what: &str, resource: &Resource) -> String {
    format!(
        "a {what} named {} already exists and was not created by cutover for this vault: adopt it with existingId, or choose another name",
        resource.name
    )
}

/// The refusal of a resource that is not in the vault's region (DESIGN.md's prerequisite).
fn wrong_region(what: &str, resource: &Resource, region: &str) -> String {
    format!(
        "the {what} {} is in {}; it must be in the vault's region {region}",
        resource.name,
        resource.location.as_deref().unwrap_or("no region")
    )
}

/// Whether a vault's SKU is the Standard tier cutover asks for. `Standard` and `RS0` are one
/// SKU: a PUT of `{"name": "Standard"}` is answered `{"name": "RS0", "tier": "Standard"}`
/// (PUTVault.json, 2025-02-01), so comparing names would PUT again on every pass.
fn is_standard_tier(reported: Option<&str>) -> bool {
    reported.is_some_and(|name| {
        name.eq_ignore_ascii_case("Standard") || name.eq_ignore_ascii_case("RS0")
    })
}

/// How long a write whose ARM operation failed is left alone before cutover writes it again
/// (at once when the spec changes): Azure's error is in status meanwhile, not retried blindly.
const FAILED_OPERATION_RETRY: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// A resource whose last create or update ended `Failed` or `Canceled` (ARM's terminal
/// `provisioningState`s other than `Succeeded`): its state.
fn provisioning_failed(resource: &Resource) -> Option<String> {
    resource
        .provisioning_state()
        .filter(|state| {
            crate::azure::lro::is_terminal(state) && !state.eq_ignore_ascii_case("Succeeded")
        })
        .map(str::to_owned)
}

fn region_matches(resource: &Resource, region: &str) -> bool {
    resource
        .location
        .as_deref()
        .is_some_and(|l| l.replace(' ', "").eq_ignore_ascii_case(region))
}

pub fn provisioning(resource: &Resource) -> Option<String> {
    match resource.provisioning_state() {
        Some(state) if !state.eq_ignore_ascii_case("Succeeded") => Some(state.to_owned()),
        _ => None,
    }
}

impl<'a> Pass<'a> {
    fn region(&self) -> &str {
        &self.vault.spec.region
    }

    /// What was read of Site Recovery: borrowed from the observation, not from the pass.
    fn site_recovery(&self) -> Result<&'a SiteRecovery, Stop> {
        let found: &'a Found = self.found;
        found.site_recovery.as_ref().ok_or_else(|| {
            Stop::InProgress(
                "WaitingForVault",
                "the vault's Site Recovery objects are not readable yet".into(),
            )
        })
    }

    /// Follows the operation cutover started on `id`, if any: waits while it runs; when it
    /// ended `Failed`, says so with Azure's code and message, and lets the step write again
    /// only after [`FAILED_OPERATION_RETRY`] or when the spec changes.
    fn follow(&mut self, id: &str, what: &str) -> Result<(), Stop> {
        let Some(operation) = self
            .resources
            .operation
            .clone()
            .filter(|o| o.resource_id.eq_ignore_ascii_case(id))
        else {
            return Ok(());
        };
        let generation = self.vault.metadata.generation.unwrap_or_default();
        let now = self.now;
        let blocked = |failure: &OperationFailure| {
            let failed_at: jiff::Timestamp = failure
                .failed_at
                .parse()
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            let retry_at = failed_at
                .checked_add(FAILED_OPERATION_RETRY)
                .unwrap_or(failed_at);
            (failure.generation == generation && now < retry_at).then(|| {
                Stop::Blocked(
                    "AzureOperationFailed",
                    format!(
                        "{what} failed in Azure: {}: {}; cutover writes it again after {retry_at}, or when the spec changes",
                        failure.code, failure.message
                    ),
                )
            })
        };
        if let Some(failure) = &operation.failure {
            return match blocked(failure) {
                Some(stop) => Err(stop),
                None => {
                    self.resources.operation = None;
                    Ok(())
                }
            };
        }
        match &self.found.operation {
            // Not read this pass: nothing is known of it yet.
            None => Ok(()),
            Some(OperationStatus::Running { retry_after }) => {
                self.retry_after = *retry_after;
                Err(Stop::InProgress(
                    "WaitingForAzure",
                    format!("{what}: Azure's operation is running"),
                ))
            }
            Some(OperationStatus::Succeeded | OperationStatus::Unknown) => {
                self.resources.operation = None;
                Ok(())
            }
            Some(OperationStatus::Failed { code, message }) => {
                let failure = OperationFailure {
                    code: code.clone(),
                    message: message.clone(),
                    failed_at: now.to_string(),
                    generation,
                };
                let stop = blocked(&failure);
                self.resources.operation = Some(ArmOperation {
                    failure: Some(failure),
                    ..operation
                });
                stop.map_or(Ok(()), Err)
            }
        }
    }

    /// The region an Azure-to-Azure source's VMs run in.
    fn source_region(&self) -> Option<String> {
        match &self.vault.spec.source {
            SourceSite::AzureRegion(source) => Some(source.region.clone()),
            _ => None,
        }
    }

    /// The resource providers the landing zone needs are registered in the subscription, before
    /// the first write (afterwards a write refused with `MissingSubscriptionRegistration` says so).
    fn provider_preflight(&self) -> Option<(&'static str, &'static str, String)> {
        let spec = &self.vault.spec;
        let (namespace, why, state) = needed_providers(spec)
            .into_iter()
            .filter_map(|(namespace, why)| {
                let state = self
                    .found
                    .providers
                    .iter()
                    .find(|(n, _)| *n == namespace)?
                    .1
                    .as_deref();
                (state != Some("Registered")).then_some((namespace, why, state))
            })
            .next()?;
        Some((
            VAULT_READY,
            "ProviderNotRegistered",
            format!(
                "subscription {} is not registered for {namespace} ({}), which {why} need: an administrator registers it (az provider register --namespace {namespace}, or Register-AzResourceProvider)",
                spec.subscription_id,
                state.unwrap_or("unknown"),
            ),
        ))
    }

    /// Adopted storage accounts and networks must exist and be in the vault's region.
    fn preflight(&self) -> Option<(&'static str, &'static str, String)> {
        if let Some(unregistered) = self.provider_preflight() {
            return Some(unregistered);
        }
        let spec = &self.vault.spec;
        let source_region = self.source_region();
        let storage = [
            (
                "replication storage account",
                Some(&spec.storage.replication),
                self.region(),
            ),
            (
                "log storage account",
                spec.storage.log.as_ref(),
                self.region(),
            ),
            (
                "cache storage account",
                spec.storage.cache.as_ref(),
                source_region.as_deref().unwrap_or(self.region()),
            ),
        ];
        for (what, wanted, region) in storage {
            if let Some(AzureResource::ExistingId(id)) = wanted {
                match self.found.resources.get(&id.0) {
                    None => {
                        return Some((
                            STORAGE_READY,
                            "StorageNotFound",
                            format!("the {what} {id} does not exist"),
                        ));
                    }
                    Some(account) if !region_matches(account, region) => {
                        return Some((
                            STORAGE_READY,
                            "StorageInWrongRegion",
                            wrong_region(what, account, region),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        let networks = [
            ("target network", Some(&spec.network.target)),
            ("test network", spec.network.test.as_ref()),
        ];
        for (what, wanted) in networks {
            if let Some(AzureResource::ExistingId(id)) = wanted {
                match self.found.resources.get(&id.0) {
                    None => {
                        return Some((
                            NETWORK_READY,
                            "NetworkNotFound",
                            format!("the {what} {id} does not exist"),
                        ));
                    }
                    Some(vnet) if !region_matches(vnet, self.region()) => {
                        return Some((
                            NETWORK_READY,
                            "NetworkInWrongRegion",
                            wrong_region(what, vnet, self.region()),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        None
    }

    fn vault_step(&mut self) -> Step {
        let spec = &self.vault.spec;
        match &self.found.resource_group {
            None => {
                self.resources.resource_group_created = true;
                return Err(Stop::write(
                    Write::ResourceGroup,
                    "CreatingResourceGroup",
                    format!("creating resource group {}", spec.resource_group),
                ));
            }
            Some(group) => self.resources.resource_group_id = Some(group.id.clone()),
        }
        let id = self.ids.vault.clone();
        self.follow(&id, "the Recovery Services vault")?;
        let put = |v: &cutover_api::vault::VaultProperties| Write::Vault {
            id: id.clone(),
            sku: format!("{:?}", v.sku),
            redundancy: format!("{:?}", v.storage_redundancy),
        };
        match (&spec.vault, self.found.resources.get(&id)) {
            (AzureResource::Create(v), None) => Err(Stop::write(
                put(v),
                "CreatingVault",
                format!("creating Recovery Services vault {}", v.name),
            )),
            (AzureResource::ExistingId(_), None) => Err(Stop::Blocked(
                "VaultNotFound",
                format!("the vault {id} named in spec.vault.existingId does not exist"),
            )),
            (AzureResource::Create(_), Some(vault)) if !vault.owned_by(&self.owner) => {
                Err(Stop::Blocked("NotOwned", not_owned("vault", vault)))
            }
            (_, Some(vault)) if !region_matches(vault, self.region()) => Err(Stop::Blocked(
                "VaultInWrongRegion",
                format!(
                    "the vault {id} is in {}, not in spec.region {}",
                    vault.location.as_deref().unwrap_or_default(),
                    self.region()
                ),
            )),
            (AzureResource::ExistingId(_), Some(vault)) if provisioning_failed(vault).is_some() => {
                Err(Stop::Blocked(
                    "ProvisioningFailed",
                    format!(
                        "the adopted vault {} is {} in Azure; cutover does not write a vault it did not create",
                        vault.name,
                        provisioning_failed(vault).unwrap_or_default()
                    ),
                ))
            }
            (AzureResource::Create(v), Some(vault))
                if !is_standard_tier(vault.sku_name()) || provisioning_failed(vault).is_some() =>
            {
                Err(Stop::write(
                    put(v),
                    "UpdatingVault",
                    match provisioning_failed(vault) {
                        Some(state) => {
                            format!("the vault {} is {state} in Azure; putting it again", v.name)
                        }
                        None => format!("setting the SKU of vault {} back to {:?}", v.name, v.sku),
                    },
                ))
            }
            (_, Some(vault)) => match provisioning(vault) {
                Some(state) => Err(Stop::InProgress(
                    "ProvisioningVault",
                    format!("vault {} is {state}", vault.name),
                )),
                None => {
                    self.resources.vault_id = Some(vault.id.clone());
                    Ok(format!("vault {} in {}", vault.name, self.region()))
                }
            },
        }
    }

    /// One storage account in `region`: created to spec, or adopted and checked. Its ID.
    fn storage_account(
        &mut self,
        which: &str,
        wanted: &AzureResource<cutover_api::vault::StorageAccountProperties>,
        id: &str,
        region: &str,
    ) -> Step {
        self.follow(id, &format!("the {which} storage account"))?;
        let put = |sku: &str| Write::StorageAccount {
            id: id.to_owned(),
            region: region.to_owned(),
            sku: sku.to_owned(),
        };
        match (wanted, self.found.resources.get(id)) {
            (AzureResource::Create(account), None) => Err(Stop::write(
                put(account.sku.as_str()),
                "CreatingStorage",
                format!("creating the {which} storage account {}", account.name),
            )),
            (AzureResource::ExistingId(_), None) => Err(Stop::Blocked(
                "StorageNotFound",
                format!("the {which} storage account {id} does not exist"),
            )),
            (AzureResource::Create(_), Some(account)) if !account.owned_by(&self.owner) => {
                Err(Stop::Blocked(
                    "NotOwned",
                    not_owned(&format!("{which} storage account"), account),
                ))
            }
            (_, Some(account)) if !region_matches(account, region) => Err(Stop::Blocked(
                "StorageInWrongRegion",
                wrong_region(&format!("{which} storage account"), account, region),
            )),
            (AzureResource::ExistingId(_), Some(account))
                if provisioning_failed(account).is_some() =>
            {
                Err(Stop::Blocked(
                    "ProvisioningFailed",
                    format!(
                        "the adopted {which} storage account {} is {} in Azure; cutover does not write an account it did not create",
                        account.name,
                        provisioning_failed(account).unwrap_or_default()
                    ),
                ))
            }
            (AzureResource::Create(spec), Some(account))
                if provisioning_failed(account).is_some()
                    || (provisioning(account).is_none()
                        && account.sku_name() != Some(spec.sku.as_str())) =>
            {
                Err(Stop::write(
                    put(spec.sku.as_str()),
                    "UpdatingStorage",
                    match provisioning_failed(account) {
                        Some(state) => format!(
                            "the {which} storage account {} is {state} in Azure; putting it again",
                            spec.name
                        ),
                        None => format!(
                            "setting the SKU of {} back to {}",
                            spec.name,
                            spec.sku.as_str()
                        ),
                    },
                ))
            }
            (_, Some(account)) => match provisioning(account) {
                Some(state) => Err(Stop::InProgress(
                    "ProvisioningStorage",
                    format!("storage account {} is {state}", account.name),
                )),
                None => Ok(account.id.clone()),
            },
        }
    }

    fn storage_step(&mut self) -> Step {
        let storage = self.vault.spec.storage.clone();
        let [(_, replication_id), (_, log_id), (_, cache_id)] = self.ids.storage.clone();
        let region = self.region().to_owned();
        let replication = self.storage_account(
            "replication",
            &storage.replication,
            &replication_id.unwrap_or_default(),
            &region,
        )?;
        self.resources.replication_storage_account_id = Some(replication.clone());
        if let AzureResource::ExistingId(_) = &storage.replication
            && storage.log.is_none()
            && let Some(account) = self.found.resources.get(&replication)
            && account.sku_name().is_some_and(|s| s.starts_with("Premium"))
        {
            return Err(Stop::Blocked(
                "PremiumNeedsLogStorage",
                format!(
                    "the adopted replication storage {} is Premium: set spec.storage.log to a Standard account",
                    account.name
                ),
            ));
        }
        if let (Some(log), Some(id)) = (&storage.log, log_id) {
            let id = self.storage_account("log", log, &id, &region)?;
            self.resources.log_storage_account_id = Some(id);
        }
        // A2A's cache account is in the source region, where the VMs' writes are staged.
        if let (Some(cache), Some(id), Some(source_region)) =
            (&storage.cache, cache_id, self.source_region())
        {
            let id = self.storage_account("cache", cache, &id, &source_region)?;
            self.resources.cache_storage_account_id = Some(id);
        }
        Ok(format!(
            "replication storage {}",
            replication.rsplit('/').next().unwrap_or_default()
        ))
    }

    fn virtual_network(
        &mut self,
        which: &str,
        wanted: &AzureResource<VirtualNetworkProperties>,
        id: &str,
    ) -> Step {
        self.follow(id, &format!("the {which} network"))?;
        let found = self.found.resources.get(id);
        match (wanted, found) {
            (AzureResource::ExistingId(_), None) => Err(Stop::Blocked(
                "NetworkNotFound",
                format!("the {which} network {id} does not exist"),
            )),
            (AzureResource::Create(spec), found) => {
                let subnets: Vec<(String, String)> = spec
                    .subnets
                    .iter()
                    .map(|s| (s.name.clone(), s.address_prefix.clone()))
                    .collect();
                // Missing, not as the spec says, or left `Failed`: a PUT repairs each.
                // Subnets others added are theirs: only the spec's are compared.
                let drifted = found.is_none_or(|vnet| {
                    let (space, have) = arm::vnet_layout(vnet);
                    space != spec.address_space
                        || subnets.iter().any(|(name, prefix)| {
                            !have
                                .iter()
                                .any(|(n, p)| n.eq_ignore_ascii_case(name) && p == prefix)
                        })
                        || provisioning_failed(vnet).is_some()
                });
                match found {
                    Some(vnet) if !vnet.owned_by(&self.owner) => Err(Stop::Blocked(
                        "NotOwned",
                        not_owned(&format!("{which} network"), vnet),
                    )),
                    Some(vnet) if !region_matches(vnet, self.region()) => Err(Stop::Blocked(
                        "NetworkInWrongRegion",
                        wrong_region(&format!("{which} network"), vnet, self.region()),
                    )),
                    Some(vnet) if !drifted => match provisioning(vnet) {
                        Some(state) => Err(Stop::InProgress(
                            "ProvisioningNetwork",
                            format!("network {} is {state}", vnet.name),
                        )),
                        None => Ok(vnet.id.clone()),
                    },
                    // Missing, or not as the spec says.
                    _ => Err(Stop::write(
                        Write::VirtualNetwork {
                            id: id.to_owned(),
                            existing: found.cloned().map(Box::new),
                            space: spec.address_space.clone(),
                            subnets,
                        },
                        "ConfiguringNetwork",
                        format!("creating or repairing the {which} network {}", spec.name),
                    )),
                }
            }
            (AzureResource::ExistingId(_), Some(vnet)) if !region_matches(vnet, self.region()) => {
                Err(Stop::Blocked(
                    "NetworkInWrongRegion",
                    wrong_region(&format!("{which} network"), vnet, self.region()),
                ))
            }
            (AzureResource::ExistingId(_), Some(vnet)) if provisioning_failed(vnet).is_some() => {
                Err(Stop::Blocked(
                    "ProvisioningFailed",
                    format!(
                        "the adopted {which} network {} is {} in Azure; cutover does not write a network it did not create",
                        vnet.name,
                        provisioning_failed(vnet).unwrap_or_default()
                    ),
                ))
            }
            (AzureResource::ExistingId(_), Some(vnet)) => Ok(vnet.id.clone()),
        }
    }

    fn network_step(&mut self) -> Step {
        let network = self.vault.spec.network.clone();
        let [(_, target_id), (_, test_id)] = self.ids.networks.clone();
        let id = self.virtual_network("target", &network.target, &target_id.unwrap_or_default())?;
        self.resources.target_network_id = Some(id);
        if let (Some(test), Some(id)) = (&network.test, test_id) {
            let id = self.virtual_network("test", test, &id)?;
            self.resources.test_network_id = Some(id);
        }
        Ok("target network ready".to_owned()
            + if network.test.is_some() {
                ", isolated test network ready"
            } else {
                ""
            })
    }

    fn source_step(&mut self) -> Step {
        let vault_name = self
            .ids
            .vault
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        if let SourceSite::HyperVSite(site) = &self.vault.spec.source {
            let id = arm::fabric_id(&self.ids.vault, &site.site_name);
            self.follow(
                &id,
                &format!("creating the Hyper-V site {}", site.site_name),
            )?;
        }
        let site_recovery = self.site_recovery()?;
        if let SourceSite::AzureRegion(source) = &self.vault.spec.source {
            return self.azure_fabrics(site_recovery, &source.region.clone());
        }
        let source = &self.vault.spec.source;
        let Some(fabric) = source_fabrics(source, self.region(), &site_recovery.fabrics)
            .first()
            .copied()
        else {
            return Err(match source {
                SourceSite::HyperVVmm(vmm) => Stop::Waiting(
                    WAITING_FOR_REGISTRATION,
                    format!(
                        "install the Azure Site Recovery Provider on the VMM server {} and register it with vault {vault_name} using the vault credentials file",
                        vmm.server
                    ),
                ),
                SourceSite::HyperVSite(site) => Stop::write(
                    Write::Fabric {
                        name: site.site_name.clone(),
                        custom_details: json!({ "instanceType": "HyperVSite" }),
                    },
                    "CreatingSite",
                    format!("creating the Hyper-V site {}", site.site_name),
                ),
                SourceSite::Vmware(source) => Stop::Waiting(
                    WAITING_FOR_REGISTRATION,
                    format!(
                        "deploy the ASR replication appliance {} next to vCenter and register it with vault {vault_name}",
                        source.appliance
                    ),
                ),
                SourceSite::Physical(source) => Stop::Waiting(
                    WAITING_FOR_REGISTRATION,
                    format!(
                        "deploy the ASR replication appliance {} and register it with vault {vault_name}",
                        source.appliance
                    ),
                ),
                SourceSite::Aws(source) => Stop::Waiting(
                    WAITING_FOR_REGISTRATION,
                    format!(
                        "deploy the ASR replication appliance {} in AWS region {} and register it with vault {vault_name}",
                        source.appliance, source.aws_region
                    ),
                ),
                SourceSite::AzureRegion(_) => unreachable!("handled above"),
            });
        };
        // The VMM version is not checked here: `VmmDetails` (the fabric's customDetails) has no
        // version; `spec.source.hyperVVmm.version` is validated instead.
        let wanted_containers = match source {
            SourceSite::HyperVVmm(vmm) => vmm.clouds.clone(),
            _ => Vec::new(),
        };
        self.resources.fabric_id = Some(fabric.id.clone());
        let containers = site_recovery.containers_of(&fabric.id);
        if containers.is_empty() {
            let message = match source {
                SourceSite::HyperVSite(site) => format!(
                    "install the Azure Site Recovery Provider on the Hyper-V hosts {} and register them into site {} of vault {vault_name}",
                    site.hosts
                        .iter()
                        .map(|h| h.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    site.site_name
                ),
                _ => format!(
                    "{} has registered but reports no protection container yet",
                    fabric.friendly_name().unwrap_or_default()
                ),
            };
            return Err(Stop::Waiting(WAITING_FOR_REGISTRATION, message));
        }
        let mut ids = Vec::new();
        if wanted_containers.is_empty() {
            ids = containers.iter().map(|c| c.id.clone()).collect();
        } else {
            for cloud in &wanted_containers {
                match containers.iter().find(|c| {
                    c.friendly_name()
                        .is_some_and(|n| n.eq_ignore_ascii_case(cloud))
                }) {
                    Some(container) => ids.push(container.id.clone()),
                    None => {
                        return Err(Stop::Waiting(
                            "WaitingForCloud",
                            format!(
                                "the VMM cloud {cloud} is not in the vault yet: check it exists and the provider has synchronised"
                            ),
                        ));
                    }
                }
            }
        }
        self.resources.protection_container_ids = ids;
        Ok(format!(
            "{} registered with {} protection container(s)",
            fabric.friendly_name().unwrap_or_default(),
            self.resources.protection_container_ids.len()
        ))
    }

    /// Azure to Azure: a fabric and container per region, both created through ARM.
    fn azure_fabrics(&mut self, site_recovery: &SiteRecovery, source_region: &str) -> Step {
        let mut containers = Vec::new();
        for region in [source_region.to_owned(), self.region().to_owned()] {
            let name = a2a_fabric_name(&region);
            let fabric_id = arm::fabric_id(&self.ids.vault, &name);
            self.follow(
                &fabric_id,
                &format!("creating the Azure fabric for {region}"),
            )?;
            let Some(fabric) = site_recovery
                .fabrics
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(&name))
            else {
                return Err(Stop::write(
                    Write::Fabric {
                        name,
                        custom_details: json!({ "instanceType": "Azure", "location": region }),
                    },
                    "CreatingFabric",
                    format!("creating the Azure fabric for {region}"),
                ));
            };
            let container_name = format!("{name}-container");
            let container_id = arm::container_id(&fabric.id, &container_name);
            self.follow(
                &container_id,
                &format!("creating the protection container for {region}"),
            )?;
            match site_recovery
                .containers_of(&fabric.id)
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&container_name))
            {
                Some(container) => containers.push(container.id.clone()),
                None => {
                    return Err(Stop::write(
                        Write::A2aContainer {
                            fabric_id: fabric.id.clone(),
                            name: container_name,
                        },
                        "CreatingContainer",
                        format!("creating the protection container for {region}"),
                    ));
                }
            }
            if region == source_region {
                self.resources.fabric_id = Some(fabric.id.clone());
            }
        }
        self.resources.protection_container_ids = containers;
        Ok(format!(
            "Azure fabrics for {source_region} and {}",
            self.region()
        ))
    }

    fn policy_input(&self) -> Value {
        let policy = &self.vault.spec.replication_policy;
        let retention = policy.recovery_point_retention_hours;
        let app = policy.app_consistent_snapshot_frequency_hours;
        match Provider::of(self.vault.spec.source.kind()) {
            Provider::HyperVReplicaAzure => json!({
                "instanceType": "HyperVReplicaAzure",
                "recoveryPointHistoryDuration": retention,
                "applicationConsistentSnapshotFrequencyInHours": app,
                "replicationInterval": policy.replication_interval_seconds.unwrap_or(300),
                "storageAccounts": self.resources.replication_storage_account_id.iter().collect::<Vec<_>>(),
            }),
            Provider::InMageRcm => json!({
                "instanceType": "InMageRcm",
                "recoveryPointHistoryInMinutes": retention * 60,
                "appConsistentFrequencyInMinutes": app * 60,
                "crashConsistentFrequencyInMinutes": 5,
                "enableMultiVmSync": "True",
            }),
            Provider::A2A => json!({
                "instanceType": "A2A",
                "recoveryPointHistory": retention * 60,
                "appConsistentFrequencyInMinutes": app * 60,
                "multiVmSyncStatus": "Enable",
            }),
        }
    }

    /// Whether the policy's details already say what the spec says.
    fn policy_matches(&self, existing: &Resource) -> bool {
        let have = &existing.properties["providerSpecificDetails"];
        let want = self.policy_input();
        let pairs = policy_fields(Provider::of(self.vault.spec.source.kind()));
        have["instanceType"] == want["instanceType"]
            && pairs
                .iter()
                .all(|(input, detail)| have[*detail] == want[*input])
    }

    fn replication_step(&mut self) -> Step {
        let spec = &self.vault.spec;
        let kind = spec.source.kind();
        let provider = Provider::of(kind).instance_type();
        let policy_name = spec.replication_policy.name.clone();
        let policy_id = arm::policy_id(&self.ids.vault, &policy_name);
        self.follow(
            &policy_id,
            &format!("configuring replication policy {policy_name}"),
        )?;
        let site_recovery = self.site_recovery()?;
        match &site_recovery.policy {
            Some(existing) if self.policy_matches(existing) => {
                self.resources.policy_id = Some(existing.id.clone())
            }
            existing => {
                let verb = if existing.is_some() {
                    "updating"
                } else {
                    "creating"
                };
                return Err(Stop::write(
                    Write::Policy {
                        name: policy_name.clone(),
                        input: self.policy_input(),
                    },
                    "ConfiguringPolicy",
                    format!("{verb} replication policy {policy_name}"),
                ));
            }
        }

        let containers = self.resources.protection_container_ids.clone();
        // A2A maps the source region's container to the target region's; others map to Azure.
        let sources: Vec<(String, String)> = if kind == SourceKind::AzureRegion {
            containers
                .first()
                .zip(containers.get(1))
                .map(|(s, t)| vec![(s.clone(), t.clone())])
                .unwrap_or_default()
        } else {
            containers
                .iter()
                .map(|c| (c.clone(), MICROSOFT_AZURE.to_owned()))
                .collect()
        };
        let mut mapping_ids = Vec::new();
        for (container, target) in sources {
            let container_name = container.rsplit('/').next().unwrap_or_default().to_owned();
            let mapping_name = format!("{container_name}-{policy_name}");
            let mapping_id = arm::container_mapping_id(&container, &mapping_name);
            let what = format!("pairing container {container_name} with policy {policy_name}");
            self.follow(&mapping_id, &what)?;
            let existing = site_recovery.container_mappings.iter().find(|m| {
                m.id.to_ascii_lowercase()
                    .starts_with(&format!("{}/", container.to_ascii_lowercase()))
                    && m.properties["policyId"]
                        .as_str()
                        .is_some_and(|p| p.eq_ignore_ascii_case(&policy_id))
            });
            match existing {
                Some(mapping) if mapping.properties["state"] == "Paired" => {
                    mapping_ids.push(mapping.id.clone())
                }
                Some(mapping) => {
                    return Err(Stop::InProgress(
                        "PairingContainer",
                        format!(
                            "container mapping {} is {}",
                            mapping.name,
                            mapping.properties["state"].as_str().unwrap_or("pairing")
                        ),
                    ));
                }
                None => {
                    return Err(Stop::write(
                        Write::ContainerMapping {
                            container,
                            name: mapping_name,
                            target,
                            policy_id: policy_id.clone(),
                            provider,
                        },
                        "PairingContainer",
                        what,
                    ));
                }
            }
        }
        self.resources.container_mapping_ids = mapping_ids;

        if !spec.network_mappings.is_empty() {
            let Some(target_vnet) = self.resources.target_network_id.clone() else {
                return Err(Stop::InProgress(
                    "WaitingForNetwork",
                    "the target network is not ready".into(),
                ));
            };
            let fabric = self.resources.fabric_id.clone().unwrap_or_default();
            let mut ids = Vec::new();
            for mapping in &spec.network_mappings {
                let network_id = if kind == SourceKind::HyperVVmm {
                    match site_recovery.vmm_networks.iter().find(|n| {
                        n.friendly_name()
                            .is_some_and(|f| f.eq_ignore_ascii_case(&mapping.source_network))
                    }) {
                        Some(network) => network.id.clone(),
                        None => {
                            return Err(Stop::Waiting(
                                "WaitingForSourceNetwork",
                                format!(
                                    "the VMM VM network {} is not in the vault yet",
                                    mapping.source_network
                                ),
                            ));
                        }
                    }
                } else {
                    format!(
                        "{fabric}/replicationNetworks/{}",
                        mapping
                            .source_network
                            .rsplit('/')
                            .next()
                            .unwrap_or("network")
                    )
                };
                let name = format!(
                    "{}-to-azure",
                    network_id.rsplit('/').next().unwrap_or("network")
                );
                let mapping_id = arm::network_mapping_id(&network_id, &name);
                let what = format!(
                    "mapping source network {} to the target network",
                    mapping.source_network
                );
                self.follow(&mapping_id, &what)?;
                match site_recovery.network_mappings.iter().find(|m| {
                    m.id.to_ascii_lowercase()
                        .starts_with(&format!("{}/", network_id.to_ascii_lowercase()))
                }) {
                    Some(found)
                        if found.properties["recoveryNetworkId"]
                            .as_str()
                            .is_some_and(|r| r.eq_ignore_ascii_case(&target_vnet)) =>
                    {
                        ids.push(found.id.clone())
                    }
                    _ => {
                        let azure_to_azure = (kind != SourceKind::HyperVVmm).then(|| {
                            (
                                a2a_fabric_name(self.region()),
                                mapping.source_network.clone(),
                            )
                        });
                        return Err(Stop::write(
                            Write::NetworkMapping {
                                network_id,
                                name,
                                recovery_network_id: target_vnet,
                                azure_to_azure,
                            },
                            "MappingNetwork",
                            what,
                        ));
                    }
                }
            }
            self.resources.network_mapping_ids = ids;
        }
        Ok(format!(
            "policy {policy_name}, {} container mapping(s), {} network mapping(s)",
            self.resources.container_mapping_ids.len(),
            self.resources.network_mapping_ids.len()
        ))
    }
}

/// The Azure fabric cutover creates for a region (Azure to Azure).
fn a2a_fabric_name(region: &str) -> String {
    format!("asr-a2a-{region}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(writes: &[(Write, String)]) -> Vec<String> {
        writes
            .iter()
            .map(|(w, _)| {
                format!("{w:?}")
                    .split([' ', '{', '('])
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn a_preview_lists_every_write_in_order_each_decided_on_the_ones_before() {
        let vault = spec();
        let empty = Found {
            providers: registered(),
            ..Default::default()
        };
        let now = jiff::Timestamp::now();
        let (writes, last) = writes_from(&vault, empty, now);
        assert_eq!(
            kinds(&writes),
            [
                "ResourceGroup",
                "Vault",
                "StorageAccount",
                "VirtualNetwork",
                "Fabric"
            ]
        );
        assert_eq!(writes[0].1, "creating resource group rg-branch");
        assert_eq!(writes[1].0.target(&vault), vault_id());
        assert_eq!(writes[4].0.target(&vault), site_id());
        // The hosts register themselves: there the controller (and so the preview) waits.
        let waiting = last.conditions.iter().find(|c| !c.status).unwrap();
        assert_eq!(
            (waiting.type_, waiting.reason.as_str()),
            (SOURCE_REGISTERED, WAITING_FOR_REGISTRATION)
        );
        assert!(last.write.is_none() && waiting.severity == crate::conditions::Severity::Normal);

        // Registered, with nothing of replication yet: the policy, then the mapping, then done.
        let mut registered_site = converged();
        let replication = registered_site.site_recovery.as_mut().unwrap();
        replication.policy = None;
        replication.container_mappings.clear();
        let (writes, last) = writes_from(&vault, registered_site, now);
        assert_eq!(kinds(&writes), ["Policy", "ContainerMapping"]);
        assert!(
            last.conditions.iter().all(|c| c.status),
            "{:?}",
            last.conditions
        );

        // Converged: nothing to write.
        let (writes, last) = writes_from(&vault, converged(), now);
        assert!(writes.is_empty() && last.conditions.iter().all(|c| c.status));
    }

    #[test]
    fn a_preview_of_azure_to_azure_goes_to_the_end_and_an_unregistered_provider_stops_it() {
        let text = include_str!("../../../deploy/examples/azure-to-azure.yaml");
        let vault: RecoveryVault = serde_yaml_ng::Deserializer::from_str(text)
            .map(|d| <serde_json::Value as serde::Deserialize>::deserialize(d).unwrap())
            .find(|d| d["kind"] == "RecoveryVault")
            .map(|d| serde_json::from_value(d).unwrap())
            .unwrap();
        let providers = needed_providers(&vault.spec)
            .into_iter()
            .map(|(namespace, _)| (namespace, Some("Registered".to_owned())))
            .collect::<Vec<_>>();
        let found = Found {
            providers: providers.clone(),
            ..Default::default()
        };
        let now = jiff::Timestamp::now();
        let (writes, last) = writes_from(&vault, found, now);
        let kinds = kinds(&writes);
        assert_eq!(kinds[..2], ["ResourceGroup", "Vault"]);
        // Both regions' fabrics and containers, created by cutover, then replication.
        assert_eq!(kinds.iter().filter(|k| *k == "Fabric").count(), 2);
        assert_eq!(kinds.iter().filter(|k| *k == "A2aContainer").count(), 2);
        let policy = kinds.iter().position(|k| k == "Policy").unwrap();
        assert_eq!(kinds[policy + 1], "ContainerMapping");
        assert_eq!(kinds.last().unwrap(), "NetworkMapping");
        assert!(
            last.conditions.iter().all(|c| c.status),
            "{:?}",
            last.conditions
        );

        let mut unregistered = providers;
        unregistered[0].1 = Some("NotRegistered".into());
        let (writes, last) = writes_from(
            &vault,
            Found {
                providers: unregistered,
                ..Default::default()
            },
            now,
        );
        assert!(writes.is_empty());
        assert_eq!(last.conditions[0].reason, "ProviderNotRegistered");
        assert_eq!(
            last.conditions[0].severity,
            crate::conditions::Severity::Warning
        );
    }

    #[test]
    fn standard_and_rs0_are_one_vault_sku() {
        // PUTVault.json (2025-02-01): `{"name": "Standard"}` is answered as RS0, tier Standard.
        for reported in ["Standard", "RS0", "rs0"] {
            assert!(is_standard_tier(Some(reported)), "{reported}");
        }
        assert!(!is_standard_tier(Some("Premium")));
        assert!(!is_standard_tier(None));
    }

    use super::super::observe::Resources;
    use std::time::Duration;

    const GROUP: &str = "/subscriptions/s1/resourceGroups/rg-branch";
    const OWNER: &str = "migration/branch";

    fn id(kind: &str, name: &str) -> String {
        format!("{GROUP}/providers/{kind}/{name}")
    }

    fn vault_id() -> String {
        id("Microsoft.RecoveryServices/vaults", "branch-vault")
    }

    /// A Hyper-V site landing zone that creates everything, as deploy/examples/hyperv-site.yaml.
    fn spec() -> RecoveryVault {
        serde_json::from_value(json!({
            "apiVersion": "cutover.dev/v1alpha1",
            "kind": "RecoveryVault",
            "metadata": { "name": "branch", "namespace": "migration", "generation": 3 },
            "spec": {
                "subscriptionId": "s1",
                "resourceGroup": "rg-branch",
                "region": "northeurope",
                "vault": { "create": { "name": "branch-vault" } },
                "storage": { "replication": { "create": { "name": "branchrepl", "sku": "Standard_LRS" } } },
                "network": { "target": { "create": {
                    "name": "vnet-branch",
                    "addressSpace": ["10.20.0.0/16"],
                    "subnets": [{ "name": "servers", "addressPrefix": "10.20.1.0/24" }],
                } } },
                "source": { "hyperVSite": { "siteName": "branch-office", "hosts": [{ "name": "hv01", "osVersion": "WindowsServer2019" }] } },
                "replicationPolicy": {
                    "name": "migration-12h",
                    "recoveryPointRetentionHours": 12,
                    "appConsistentSnapshotFrequencyHours": 2,
                    "replicationIntervalSeconds": 300,
                },
            },
        }))
        .unwrap()
    }

    /// An ARM resource as a GET answers it: cutover's owner tag, `Succeeded`, in the region.
    fn ours(id: &str, properties: Value) -> Resource {
        let mut properties = properties;
        properties["provisioningState"] = json!("Succeeded");
        Resource {
            id: id.to_owned(),
            name: id.rsplit('/').next().unwrap().to_owned(),
            location: Some("northeurope".into()),
            tags: [(arm::OWNER_TAG.to_owned(), OWNER.to_owned())].into(),
            properties,
            ..Default::default()
        }
    }

    fn registered() -> Vec<(&'static str, Option<String>)> {
        needed_providers(&spec().spec)
            .into_iter()
            .map(|(namespace, _)| (namespace, Some("Registered".to_owned())))
            .collect()
    }

    fn site_id() -> String {
        arm::fabric_id(&vault_id(), "branch-office")
    }

    fn container_id() -> String {
        arm::container_id(&site_id(), "cloud_1")
    }

    /// The policy as Azure reports it back (`HyperVReplicaAzurePolicyDetails`,
    /// azure-mgmt-recoveryservicessiterecovery 2.0.0: `recoveryPointHistoryDurationInHours`).
    fn policy(retention_hours: u32) -> Resource {
        ours(
            &arm::policy_id(&vault_id(), "migration-12h"),
            json!({ "providerSpecificDetails": {
                "instanceType": "HyperVReplicaAzure",
                "recoveryPointHistoryDurationInHours": retention_hours,
                "applicationConsistentSnapshotFrequencyInHours": 2,
                "replicationInterval": 300,
            } }),
        )
    }

    /// A container mapping in `state` (ReplicationProtectionContainerMappings_Get.json,
    /// 2025-08-01: `"state": "Paired"`).
    fn mapping(state: &str) -> Resource {
        ours(
            &arm::container_mapping_id(&container_id(), "cloud_1-migration-12h"),
            json!({ "state": state, "policyId": arm::policy_id(&vault_id(), "migration-12h") }),
        )
    }

    /// Everything converged.
    fn converged() -> Found {
        let vnet = id("Microsoft.Network/virtualNetworks", "vnet-branch");
        let account = id("Microsoft.Storage/storageAccounts", "branchrepl");
        let mut resources = Resources::default();
        let mut vault = ours(&vault_id(), json!({}));
        vault.sku = Some(json!({ "name": "RS0", "tier": "Standard" }));
        resources.insert(&vault_id(), Some(vault));
        let mut storage = ours(&account, json!({}));
        storage.sku = Some(json!({ "name": "Standard_LRS" }));
        resources.insert(&account, Some(storage));
        resources.insert(
            &vnet,
            Some(ours(
                &vnet,
                json!({
                    "addressSpace": { "addressPrefixes": ["10.20.0.0/16"] },
                    "subnets": [{ "name": "servers", "properties": { "addressPrefix": "10.20.1.0/24" } }],
                }),
            )),
        );
        // Fabrics.json-like: a Hyper-V site's customDetails name its kind
        // (`HyperVSiteDetails`, instanceType `HyperVSite`).
        let site = ours(
            &site_id(),
            json!({ "friendlyName": "branch-office", "customDetails": { "instanceType": "HyperVSite" } }),
        );
        let container = ours(&container_id(), json!({ "friendlyName": "cloud_1" }));
        Found {
            providers: registered(),
            resource_group: Some(ours(GROUP, json!({}))),
            resources,
            operation: None,
            site_recovery: Some(SiteRecovery {
                fabrics: vec![site],
                containers: [(site_id().to_ascii_lowercase(), vec![container])].into(),
                policy: Some(policy(12)),
                container_mappings: vec![mapping("Paired")],
                ..Default::default()
            }),
        }
    }

    fn following(operation: Option<OperationFailure>) -> RecoveryVault {
        let mut vault = spec();
        vault.status = Some(cutover_api::vault::RecoveryVaultStatus {
            resources: VaultResources {
                operation: Some(ArmOperation {
                    resource_id: vault_id(),
                    url: "https://management.azure.com/operations/1".into(),
                    async_operation: true,
                    failure: operation,
                }),
                ..Default::default()
            },
            ..Default::default()
        });
        vault
    }

    fn write_kind(write: &Option<Write>) -> &'static str {
        match write {
            None => "none",
            Some(Write::ResourceGroup) => "resource group",
            Some(Write::Vault { .. }) => "vault",
            Some(Write::StorageAccount { .. }) => "storage account",
            Some(Write::VirtualNetwork { .. }) => "virtual network",
            Some(Write::Fabric { .. }) => "fabric",
            Some(Write::A2aContainer { .. }) => "container",
            Some(Write::Policy { .. }) => "policy",
            Some(Write::ContainerMapping { .. }) => "container mapping",
            Some(Write::NetworkMapping { .. }) => "network mapping",
        }
    }

    #[test]
    fn each_pass_makes_the_first_missing_steps_one_write() {
        let now: jiff::Timestamp = "2026-12-02T12:00:00Z".parse().unwrap();
        let minutes_ago = |m: i64| (now - jiff::SignedDuration::from_mins(m)).to_string();
        let failure = |at: String, generation: i64| OperationFailure {
            code: "InternalError".into(),
            message: "the vault could not be created".into(),
            failed_at: at,
            generation,
        };
        let with = |change: &dyn Fn(&mut Found)| {
            let mut found = converged();
            change(&mut found);
            found
        };
        let no_sr = |f: &mut Found| f.site_recovery = None;
        // (case, vault, found, the first condition not true and its reason, the write)
        type Case = (
            &'static str,
            RecoveryVault,
            Found,
            Option<(&'static str, &'static str)>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                "a provider not registered: nothing is written",
                spec(),
                Found {
                    providers: vec![("Microsoft.RecoveryServices", Some("NotRegistered".into()))],
                    ..Default::default()
                },
                Some((VAULT_READY, "ProviderNotRegistered")),
                "none",
            ),
            (
                "nothing in Azure: the resource group",
                spec(),
                Found {
                    providers: registered(),
                    ..Default::default()
                },
                Some((VAULT_READY, "CreatingResourceGroup")),
                "resource group",
            ),
            (
                "a group only: the vault",
                spec(),
                Found {
                    providers: registered(),
                    resource_group: Some(ours(GROUP, json!({}))),
                    ..Default::default()
                },
                Some((VAULT_READY, "CreatingVault")),
                "vault",
            ),
            (
                "the vault's operation runs: wait",
                following(None),
                with(&|f| {
                    f.resources.insert(&vault_id(), None);
                    f.site_recovery = None;
                    f.operation = Some(OperationStatus::Running {
                        retry_after: Some(Duration::from_secs(30)),
                    });
                }),
                Some((VAULT_READY, "WaitingForAzure")),
                "none",
            ),
            (
                "the vault's operation failed: say so, do not write",
                following(None),
                with(&|f| {
                    f.resources.insert(&vault_id(), None);
                    f.site_recovery = None;
                    f.operation = Some(OperationStatus::Failed {
                        code: "InternalError".into(),
                        message: "the vault could not be created".into(),
                    });
                }),
                Some((VAULT_READY, "AzureOperationFailed")),
                "none",
            ),
            (
                "a failure five minutes old, same generation: still blocked",
                following(Some(failure(minutes_ago(5), 3))),
                with(&|f| {
                    f.resources.insert(&vault_id(), None);
                    f.site_recovery = None;
                }),
                Some((VAULT_READY, "AzureOperationFailed")),
                "none",
            ),
            (
                "a failure eleven minutes old: written again",
                following(Some(failure(minutes_ago(11), 3))),
                with(&|f| {
                    f.resources.insert(&vault_id(), None);
                    f.site_recovery = None;
                }),
                Some((VAULT_READY, "CreatingVault")),
                "vault",
            ),
            (
                "a failure of an older generation: written again at once",
                following(Some(failure(minutes_ago(1), 2))),
                with(&|f| {
                    f.resources.insert(&vault_id(), None);
                    f.site_recovery = None;
                }),
                Some((VAULT_READY, "CreatingVault")),
                "vault",
            ),
            (
                "a same-named vault cutover did not create: refused",
                spec(),
                with(&|f| {
                    let mut foreign = ours(&vault_id(), json!({}));
                    foreign.tags.clear();
                    f.resources.insert(&vault_id(), Some(foreign));
                    f.site_recovery = None;
                }),
                Some((VAULT_READY, "NotOwned")),
                "none",
            ),
            (
                "the vault still provisioning: wait",
                spec(),
                with(&|f| {
                    let mut vault = ours(&vault_id(), json!({}));
                    vault.properties["provisioningState"] = json!("Creating");
                    vault.sku = Some(json!({ "name": "RS0" }));
                    f.resources.insert(&vault_id(), Some(vault));
                    no_sr(f);
                }),
                Some((VAULT_READY, "ProvisioningVault")),
                "none",
            ),
            (
                "no storage account: created",
                spec(),
                with(&|f| {
                    f.resources
                        .insert(&id("Microsoft.Storage/storageAccounts", "branchrepl"), None)
                }),
                Some((STORAGE_READY, "CreatingStorage")),
                "storage account",
            ),
            (
                "a storage SKU changed in Azure: put back",
                spec(),
                with(&|f| {
                    let account = id("Microsoft.Storage/storageAccounts", "branchrepl");
                    let mut drifted = ours(&account, json!({}));
                    drifted.sku = Some(json!({ "name": "Standard_GRS" }));
                    f.resources.insert(&account, Some(drifted));
                }),
                Some((STORAGE_READY, "UpdatingStorage")),
                "storage account",
            ),
            (
                "a subnet's prefix changed in Azure: repaired",
                spec(),
                with(&|f| {
                    let vnet = id("Microsoft.Network/virtualNetworks", "vnet-branch");
                    f.resources.insert(
                        &vnet,
                        Some(ours(
                            &vnet,
                            json!({
                                "addressSpace": { "addressPrefixes": ["10.20.0.0/16"] },
                                "subnets": [{ "name": "servers", "properties": { "addressPrefix": "10.20.9.0/24" } }],
                            }),
                        )),
                    );
                }),
                Some((NETWORK_READY, "ConfiguringNetwork")),
                "virtual network",
            ),
            (
                "no Hyper-V site: created",
                spec(),
                with(&|f| {
                    let sr = f.site_recovery.as_mut().unwrap();
                    sr.fabrics.clear();
                    sr.containers.clear();
                }),
                Some((SOURCE_REGISTERED, "CreatingSite")),
                "fabric",
            ),
            (
                "a site no host registered into: wait for a person",
                spec(),
                with(&|f| f.site_recovery.as_mut().unwrap().containers.clear()),
                Some((SOURCE_REGISTERED, WAITING_FOR_REGISTRATION)),
                "none",
            ),
            (
                "no policy: created",
                spec(),
                with(&|f| f.site_recovery.as_mut().unwrap().policy = None),
                Some((REPLICATION_READY, "ConfiguringPolicy")),
                "policy",
            ),
            (
                "a policy changed in Azure: updated",
                spec(),
                with(&|f| f.site_recovery.as_mut().unwrap().policy = Some(policy(24))),
                Some((REPLICATION_READY, "ConfiguringPolicy")),
                "policy",
            ),
            (
                "no container mapping: paired",
                spec(),
                with(&|f| f.site_recovery.as_mut().unwrap().container_mappings.clear()),
                Some((REPLICATION_READY, "PairingContainer")),
                "container mapping",
            ),
            (
                "a mapping still pairing: wait",
                spec(),
                with(&|f| {
                    f.site_recovery.as_mut().unwrap().container_mappings = vec![mapping("Pairing")]
                }),
                Some((REPLICATION_READY, "PairingContainer")),
                "none",
            ),
            (
                "everything converged: no write",
                spec(),
                converged(),
                None,
                "none",
            ),
        ];
        for (case, vault, found, first_problem, write) in cases {
            let decision = decide(&vault, &found, now);
            let problem = decision
                .conditions
                .iter()
                .find(|c| !c.status)
                .map(|c| (c.type_, c.reason.as_str()));
            assert_eq!(problem, first_problem, "{case}: {:?}", decision.conditions);
            assert_eq!(write_kind(&decision.write), write, "{case}");
            assert_eq!(decision.conditions.len(), STEPS.len(), "{case}");
            // Every step after the first not converged waits for it.
            if let Some((type_, _)) = first_problem {
                let at = STEPS.iter().position(|t| *t == type_).unwrap();
                for later in &decision.conditions[at + 1..] {
                    assert_eq!(later.reason, WAITING_FOR_PREREQUISITE, "{case}");
                }
            }
        }
    }

    #[test]
    fn an_operation_is_followed_until_it_ends_and_its_failure_recorded() {
        let now: jiff::Timestamp = "2026-12-02T12:00:00Z".parse().unwrap();
        let mut found = converged();
        found.resources.insert(&vault_id(), None);
        found.site_recovery = None;

        found.operation = Some(OperationStatus::Running {
            retry_after: Some(Duration::from_secs(30)),
        });
        let running = decide(&following(None), &found, now);
        assert_eq!(running.retry_after, Some(Duration::from_secs(30)));
        assert!(running.in_progress);
        assert!(running.resources.operation.is_some(), "still followed");

        found.operation = Some(OperationStatus::Failed {
            code: "InternalError".into(),
            message: "no capacity".into(),
        });
        let failed = decide(&following(None), &found, now);
        let recorded = failed.resources.operation.unwrap().failure.unwrap();
        assert_eq!(recorded.code, "InternalError");
        assert_eq!(recorded.failed_at, now.to_string());
        assert_eq!(recorded.generation, 3);
        assert!(
            !failed.in_progress,
            "a failure waits for a change, not a poll"
        );
        assert!(failed.conditions[0].message.contains("no capacity"));

        found.operation = Some(OperationStatus::Succeeded);
        let done = decide(&following(None), &found, now);
        assert!(
            done.resources.operation.is_none(),
            "an ended operation is dropped"
        );
        assert!(matches!(done.write, Some(Write::Vault { .. })));
    }

    #[test]
    fn adopted_resources_are_checked_before_the_first_write() {
        let now = jiff::Timestamp::UNIX_EPOCH;
        let elsewhere = "/subscriptions/s1/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/hub";
        let mut vault = spec();
        vault.spec.network.target =
            AzureResource::ExistingId(cutover_api::common::ResourceId(elsewhere.to_owned()));
        let mut found = Found {
            providers: registered(),
            ..Default::default()
        };
        let mut hub = ours(elsewhere, json!({}));
        hub.location = Some("westeurope".into());
        found.resources.insert(elsewhere, Some(hub));
        let decision = decide(&vault, &found, now);
        assert_eq!(decision.conditions[0].reason, "NetworkInWrongRegion");
        assert!(decision.write.is_none(), "not even the resource group");

        found.resources.insert(elsewhere, None);
        let decision = decide(&vault, &found, now);
        assert_eq!(decision.conditions[0].reason, "NetworkNotFound");
        assert!(decision.write.is_none());
    }

    #[test]
    fn what_needs_a_person_is_a_warning_and_what_comes_by_itself_is_not() {
        use crate::conditions::Severity;
        let now = jiff::Timestamp::UNIX_EPOCH;
        let severity = |found: &Found| {
            let decision = decide(&spec(), found, now);
            let problem = decision.conditions.iter().find(|c| !c.status).unwrap();
            (problem.reason.clone(), problem.severity)
        };
        let mut foreign = converged();
        let mut theirs = ours(&vault_id(), json!({}));
        theirs.tags.clear();
        foreign.resources.insert(&vault_id(), Some(theirs));
        let mut unregistered = converged();
        unregistered.providers = vec![("Microsoft.RecoveryServices", None)];
        let mut no_host = converged();
        no_host.site_recovery.as_mut().unwrap().containers.clear();
        let mut no_policy = converged();
        no_policy.site_recovery.as_mut().unwrap().policy = None;
        for (found, expected) in [
            (foreign, ("NotOwned", Severity::Warning)),
            (unregistered, ("ProviderNotRegistered", Severity::Warning)),
            (no_host, (WAITING_FOR_REGISTRATION, Severity::Normal)),
            (no_policy, ("ConfiguringPolicy", Severity::Normal)),
        ] {
            assert_eq!(severity(&found), (expected.0.to_owned(), expected.1));
        }
    }

    #[test]
    fn a_converged_landing_zone_records_what_it_found() {
        let decision = decide(&spec(), &converged(), jiff::Timestamp::UNIX_EPOCH);
        assert!(decision.conditions.iter().all(|c| c.status));
        assert!(!decision.in_progress);
        let resources = decision.resources;
        assert_eq!(resources.vault_id.as_deref(), Some(vault_id().as_str()));
        assert_eq!(resources.fabric_id.as_deref(), Some(site_id().as_str()));
        assert_eq!(resources.protection_container_ids, vec![container_id()]);
        assert_eq!(resources.container_mapping_ids.len(), 1);
        assert!(resources.policy_id.is_some());
        assert!(resources.target_network_id.is_some());
        assert!(resources.replication_storage_account_id.is_some());
    }
}
