//! Reading a landing zone from ARM: every GET a vault's pass needs, made before anything is
//! decided, so [`super::converge::decide`] and [`super::teardown::decide`] are pure functions
//! of what was read.

use std::collections::BTreeMap;

use cutover_api::common::AzureResource;
use cutover_api::vault::{RecoveryVault, SourceSite};

use super::converge::{self, Ids};
use crate::azure::lro::OperationStatus;
use crate::azure::resources::{self as arm, Resource};
use crate::azure::{ArmClient, ArmError};

/// What a converging pass found in Azure.
#[derive(Clone, Debug, Default)]
pub struct Found {
    /// The registration state of each resource provider namespace the spec needs. Read only
    /// until the landing zone is first provisioned; while one is not `Registered`, nothing else
    /// is read (a write would be refused with `MissingSubscriptionRegistration`).
    pub providers: Vec<(&'static str, Option<String>)>,
    /// `None` when absent; then nothing in it is read.
    pub resource_group: Option<Resource>,
    /// The vault, storage accounts and networks the spec names, by ID (absent: `None`).
    pub resources: Resources,
    /// The answer of the operation status recorded, when one is followed and has not failed.
    pub operation: Option<OperationStatus>,
    /// Site Recovery's side, read once the vault exists and has finished provisioning.
    pub site_recovery: Option<SiteRecovery>,
}

/// ARM resources read by ID: `None` is a 404. IDs compare without case, as ARM's do.
#[derive(Clone, Debug, Default)]
pub struct Resources(BTreeMap<String, Option<Resource>>);

impl Resources {
    pub fn insert(&mut self, id: &str, found: Option<Resource>) {
        self.0.insert(id.to_ascii_lowercase(), found);
    }

    /// What was read for `id`: `None` if it was not read or is absent.
    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.0
            .get(&id.to_ascii_lowercase())
            .and_then(Option::as_ref)
    }
}

/// The vault's Site Recovery objects.
#[derive(Clone, Debug, Default)]
pub struct SiteRecovery {
    pub fabrics: Vec<Resource>,
    /// The protection containers of the source's fabrics, by lower-case fabric ID.
    pub containers: BTreeMap<String, Vec<Resource>>,
    pub policy: Option<Resource>,
    pub container_mappings: Vec<Resource>,
    pub network_mappings: Vec<Resource>,
    /// A VMM fabric's VM networks, read when the spec maps networks.
    pub vmm_networks: Vec<Resource>,
}

impl SiteRecovery {
    pub fn containers_of(&self, fabric_id: &str) -> &[Resource] {
        self.containers
            .get(&fabric_id.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

pub async fn observe(arm: &ArmClient, vault: &RecoveryVault) -> Result<Found, ArmError> {
    let spec = &vault.spec;
    let ids = Ids::of(vault);
    let mut found = Found::default();
    if !converge::provisioned(vault) {
        for (namespace, _) in converge::needed_providers(spec) {
            let state = arm::provider_registration(arm, &spec.subscription_id, namespace).await?;
            let registered = state.as_deref() == Some("Registered");
            found.providers.push((namespace, state));
            if !registered {
                return Ok(found);
            }
        }
    }
    found.resource_group = arm::get(arm, &ids.scope.group_id(), arm::RESOURCES_API).await?;
    // Adopted accounts and networks elsewhere are read even before the group exists: the
    // preflight checks them before the first write.
    let group_exists = found.resource_group.is_some();
    let readable = |id: &String| group_exists || !ids.in_group(id);
    for id in ids.storage.iter().filter_map(|(_, id)| id.as_ref()) {
        if readable(id) {
            let account = arm::get(arm, id, arm::STORAGE_API).await?;
            found.resources.insert(id, account);
        }
    }
    for id in ids.networks.iter().filter_map(|(_, id)| id.as_ref()) {
        if readable(id) {
            let vnet = arm::get(arm, id, arm::NETWORK_API).await?;
            found.resources.insert(id, vnet);
        }
    }
    if !group_exists {
        return Ok(found);
    }
    let vault_found = arm::get(arm, &ids.vault, arm::RECOVERY_SERVICES_API).await?;
    let vault_usable = vault_found
        .as_ref()
        .is_some_and(|v| converge::provisioning(v).is_none());
    found.resources.insert(&ids.vault, vault_found);
    if let Some(operation) = vault
        .status
        .as_ref()
        .and_then(|s| s.resources.operation.as_ref())
        .filter(|o| !o.url.is_empty() && o.failure.is_none())
    {
        found.operation = Some(
            arm.operation_status(&operation.url, operation.async_operation)
                .await?,
        );
    }
    if vault_usable {
        found.site_recovery = Some(site_recovery(arm, vault, &ids).await?);
    }
    Ok(found)
}

async fn site_recovery(
    arm: &ArmClient,
    vault: &RecoveryVault,
    ids: &Ids,
) -> Result<SiteRecovery, ArmError> {
    let spec = &vault.spec;
    let mut seen = SiteRecovery {
        fabrics: arm::list_fabrics(arm, &ids.vault).await?,
        ..Default::default()
    };
    let sources: Vec<String> = converge::source_fabrics(&spec.source, &spec.region, &seen.fabrics)
        .into_iter()
        .map(|f| f.id.clone())
        .collect();
    for fabric in &sources {
        let containers = arm::list_containers(arm, fabric).await?;
        seen.containers
            .insert(fabric.to_ascii_lowercase(), containers);
    }
    seen.policy = arm::get(
        arm,
        &arm::policy_id(&ids.vault, &spec.replication_policy.name),
        arm::SITE_RECOVERY_API,
    )
    .await?;
    seen.container_mappings = arm::list_container_mappings(arm, &ids.vault).await?;
    if !spec.network_mappings.is_empty() {
        seen.network_mappings = arm::list_network_mappings(arm, &ids.vault).await?;
        if let (SourceSite::HyperVVmm(_), Some(fabric)) = (&spec.source, sources.first()) {
            seen.vmm_networks = arm::list_networks(arm, fabric).await?;
        }
    }
    Ok(seen)
}

/// What a teardown pass found in Azure, by the IDs status recorded.
#[derive(Clone, Debug, Default)]
pub struct Remains {
    /// The recorded vault, if it still exists.
    pub vault: Option<Resource>,
    /// Read while the vault exists.
    pub protected_items: usize,
    pub network_mappings: Vec<Resource>,
    pub container_mappings: Vec<Resource>,
    pub policy: Option<Resource>,
    pub fabrics: Vec<Resource>,
    /// The recorded storage accounts and networks cutover created (absent: `None`).
    pub resources: Resources,
    /// The resource group cutover created, if it still exists, and what it holds now.
    pub resource_group: Option<Resource>,
    pub group_contents: Vec<Resource>,
}

pub async fn remains(arm: &ArmClient, vault: &RecoveryVault) -> Result<Remains, ArmError> {
    let recorded = vault
        .status
        .as_ref()
        .map(|s| s.resources.clone())
        .unwrap_or_default();
    let spec = &vault.spec;
    let mut remains = Remains::default();
    if let Some(vault_id) = &recorded.vault_id {
        remains.vault = arm::get(arm, vault_id, arm::RECOVERY_SERVICES_API).await?;
        if remains.vault.is_some() {
            remains.protected_items = arm::list_protected_items(arm, vault_id).await?.len();
            remains.network_mappings = arm::list_network_mappings(arm, vault_id).await?;
            remains.container_mappings = arm::list_container_mappings(arm, vault_id).await?;
            if let Some(policy) = &recorded.policy_id {
                remains.policy = arm::get(arm, policy, arm::SITE_RECOVERY_API).await?;
            }
            if matches!(spec.vault, AzureResource::Create(_)) {
                remains.fabrics = arm::list_fabrics(arm, vault_id).await?;
            }
        }
    }
    let storage = [
        &recorded.replication_storage_account_id,
        &recorded.log_storage_account_id,
        &recorded.cache_storage_account_id,
    ];
    for id in storage.into_iter().flatten() {
        let account = arm::get(arm, id, arm::STORAGE_API).await?;
        remains.resources.insert(id, account);
    }
    for id in [&recorded.target_network_id, &recorded.test_network_id]
        .into_iter()
        .flatten()
    {
        let vnet = arm::get(arm, id, arm::NETWORK_API).await?;
        remains.resources.insert(id, vnet);
    }
    if recorded.resource_group_created
        && let Some(group_id) = &recorded.resource_group_id
    {
        remains.resource_group = arm::get(arm, group_id, arm::RESOURCES_API).await?;
        if remains.resource_group.is_some() {
            remains.group_contents = arm::list_resources_in_group(arm, group_id).await?;
        }
    }
    Ok(remains)
}
