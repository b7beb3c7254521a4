//! `deletionPolicy: Delete`: removes what cutover created, child first (network mappings,
//! container mappings, policy, fabrics, vault, storage, networks, resource group), one
//! deletion per pass, waiting for each. A 404 counts as gone; adopted resources are left alone.

use cutover_api::common::AzureResource;
use cutover_api::vault::RecoveryVault;

use crate::azure::resources as arm;
use crate::azure::{ArmClient, ArmError};

/// Starts the next deletion and says what it is; `None` once everything is gone.
pub async fn next(client: &ArmClient, vault: &RecoveryVault) -> Result<Option<String>, ArmError> {
    let spec = &vault.spec;
    let scope = super::converge::scope_of(vault);
    let vault_id = super::converge::vault_id(vault, &scope);
    if arm::get(client, &vault_id, arm::RECOVERY_SERVICES_API)
        .await?
        .is_some()
    {
        let items = arm::list_protected_items(client, &vault_id).await?;
        if !items.is_empty() {
            return Ok(Some(format!(
                "waiting for {} protected item(s) to be removed first",
                items.len()
            )));
        }
        if let Some(mapping) = arm::list_network_mappings(client, &vault_id)
            .await?
            .into_iter()
            .next()
        {
            arm::delete_resource(client, &mapping.id, arm::SITE_RECOVERY_API).await?;
            return Ok(Some(format!("deleting network mapping {}", mapping.name)));
        }
        if let Some(mapping) = arm::list_container_mappings(client, &vault_id)
            .await?
            .into_iter()
            .next()
        {
            arm::remove_container_mapping(client, &mapping.id).await?;
            return Ok(Some(format!("removing container mapping {}", mapping.name)));
        }
        let policy = arm::policy_id(&vault_id, &spec.replication_policy.name);
        if arm::get(client, &policy, arm::SITE_RECOVERY_API)
            .await?
            .is_some()
        {
            arm::delete_resource(client, &policy, arm::SITE_RECOVERY_API).await?;
            return Ok(Some(format!(
                "deleting replication policy {}",
                spec.replication_policy.name
            )));
        }
        if let AzureResource::Create(created) = &spec.vault {
            if let Some(fabric) = arm::list_fabrics(client, &vault_id)
                .await?
                .into_iter()
                .next()
            {
                arm::remove_fabric(client, &fabric.id).await?;
                return Ok(Some(format!(
                    "unregistering {}",
                    fabric.friendly_name().unwrap_or(&fabric.name)
                )));
            }
            arm::delete_resource(client, &vault_id, arm::RECOVERY_SERVICES_API).await?;
            return Ok(Some(format!("deleting vault {}", created.name)));
        }
    }
    let storage = [Some(&spec.storage.replication), spec.storage.log.as_ref()];
    for account in storage
        .into_iter()
        .flatten()
        .filter_map(AzureResource::created)
    {
        let id = scope.resource_id("Microsoft.Storage/storageAccounts", &account.name);
        if arm::get(client, &id, arm::STORAGE_API).await?.is_some() {
            arm::delete_resource(client, &id, arm::STORAGE_API).await?;
            return Ok(Some(format!("deleting storage account {}", account.name)));
        }
    }
    let networks = [Some(&spec.network.target), spec.network.test.as_ref()];
    for vnet in networks
        .into_iter()
        .flatten()
        .filter_map(AzureResource::created)
    {
        let id = scope.resource_id("Microsoft.Network/virtualNetworks", &vnet.name);
        if arm::get(client, &id, arm::NETWORK_API).await?.is_some() {
            arm::delete_resource(client, &id, arm::NETWORK_API).await?;
            return Ok(Some(format!("deleting network {}", vnet.name)));
        }
    }
    let created_group = vault
        .status
        .as_ref()
        .is_some_and(|s| s.resources.resource_group_created);
    if created_group
        && arm::get(client, &scope.group_id(), arm::RESOURCES_API)
            .await?
            .is_some()
    {
        arm::delete_resource_group(client, &scope).await?;
        return Ok(Some(format!(
            "deleting resource group {}",
            spec.resource_group
        )));
    }
    Ok(None)
}
