//! `deletionPolicy: Delete`: removes what cutover created, child first (network mappings,
//! container mappings, policy, fabrics, vault, storage, networks, resource group), one
//! deletion per pass, waiting for each. A 404 counts as gone.
//!
//! What to delete comes from the IDs status recorded when the landing zone converged, never
//! from the spec alone: a name edited in the spec after provisioning must not make cutover
//! delete a resource it did not create. A piece is deleted only if status recorded it and the
//! spec says cutover creates it (adopted pieces are left alone), and Azure shows the owner tag
//! cutover put on it.

use cutover_api::common::AzureResource;
use cutover_api::vault::RecoveryVault;

use crate::azure::resources::{self as arm, Scope};
use crate::azure::{ArmClient, ArmError};

/// Starts the next deletion and says what it is; `None` once everything is gone.
pub async fn next(client: &ArmClient, vault: &RecoveryVault) -> Result<Option<String>, ArmError> {
    let spec = &vault.spec;
    let recorded = vault
        .status
        .as_ref()
        .map(|s| s.resources.clone())
        .unwrap_or_default();
    let name = |id: &str| id.rsplit('/').next().unwrap_or_default().to_owned();
    let owner = format!(
        "{}/{}",
        vault.metadata.namespace.as_deref().unwrap_or_default(),
        vault.metadata.name.as_deref().unwrap_or_default()
    );

    if let Some(vault_id) = &recorded.vault_id
        && let Some(found) = arm::get(client, vault_id, arm::RECOVERY_SERVICES_API).await?
    {
        let items = arm::list_protected_items(client, vault_id).await?;
        if !items.is_empty() {
            return Ok(Some(format!(
                "waiting for {} protected item(s) to be removed first",
                items.len()
            )));
        }
        let owned = |id: &str| {
            recorded
                .network_mapping_ids
                .iter()
                .chain(&recorded.container_mapping_ids)
                .any(|r| r.eq_ignore_ascii_case(id))
        };
        if let Some(mapping) = arm::list_network_mappings(client, vault_id)
            .await?
            .into_iter()
            .find(|m| owned(&m.id))
        {
            arm::delete_resource(client, &mapping.id, arm::SITE_RECOVERY_API).await?;
            return Ok(Some(format!("deleting network mapping {}", mapping.name)));
        }
        if let Some(mapping) = arm::list_container_mappings(client, vault_id)
            .await?
            .into_iter()
            .find(|m| owned(&m.id))
        {
            arm::remove_container_mapping(client, &mapping.id).await?;
            return Ok(Some(format!("removing container mapping {}", mapping.name)));
        }
        if let Some(policy) = &recorded.policy_id
            && arm::get(client, policy, arm::SITE_RECOVERY_API)
                .await?
                .is_some()
        {
            arm::delete_resource(client, policy, arm::SITE_RECOVERY_API).await?;
            return Ok(Some(format!(
                "deleting replication policy {}",
                name(policy)
            )));
        }
        if matches!(spec.vault, AzureResource::Create(_)) && found.owned_by(&owner) {
            // The vault is cutover's: unregister what registered with it, then delete it.
            if let Some(fabric) = arm::list_fabrics(client, vault_id)
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
            arm::delete_resource(client, vault_id, arm::RECOVERY_SERVICES_API).await?;
            return Ok(Some(format!("deleting vault {}", name(vault_id))));
        }
    }

    let created =
        |wanted: Option<&AzureResource<_>>| matches!(wanted, Some(AzureResource::Create(_)));
    let storage = [
        (
            recorded.replication_storage_account_id.as_ref(),
            matches!(spec.storage.replication, AzureResource::Create(_)),
        ),
        (
            recorded.log_storage_account_id.as_ref(),
            matches!(spec.storage.log, Some(AzureResource::Create(_))),
        ),
    ];
    for (id, ours) in storage {
        if let (Some(id), true) = (id, ours)
            && arm::get(client, id, arm::STORAGE_API)
                .await?
                .is_some_and(|r| r.owned_by(&owner))
        {
            arm::delete_resource(client, id, arm::STORAGE_API).await?;
            return Ok(Some(format!("deleting storage account {}", name(id))));
        }
    }
    let networks = [
        (
            recorded.target_network_id.as_ref(),
            created(Some(&spec.network.target)),
        ),
        (
            recorded.test_network_id.as_ref(),
            created(spec.network.test.as_ref()),
        ),
    ];
    for (id, ours) in networks {
        if let (Some(id), true) = (id, ours)
            && arm::get(client, id, arm::NETWORK_API)
                .await?
                .is_some_and(|r| r.owned_by(&owner))
        {
            arm::delete_resource(client, id, arm::NETWORK_API).await?;
            return Ok(Some(format!("deleting network {}", name(id))));
        }
    }
    if recorded.resource_group_created
        && let Some(group_id) = &recorded.resource_group_id
        && arm::get(client, group_id, arm::RESOURCES_API)
            .await?
            .is_some_and(|r| r.owned_by(&owner))
    {
        let scope = Scope {
            subscription: spec.subscription_id.clone(),
            resource_group: name(group_id),
        };
        arm::delete_resource_group(client, &scope).await?;
        return Ok(Some(format!("deleting resource group {}", name(group_id))));
    }
    Ok(None)
}
