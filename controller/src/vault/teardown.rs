//! `deletionPolicy: Delete`: removes what cutover created, child first (network mappings,
//! container mappings, policy, fabrics, vault, storage, networks, resource group), one
//! deletion per pass, waiting for each. A 404 counts as gone.
//!
//! What to delete comes from the IDs status recorded when the landing zone converged, never
//! from the spec alone: a name edited in the spec after provisioning must not make cutover
//! delete a resource it did not create. A piece is deleted only if status recorded it and the
//! spec says cutover creates it (adopted pieces are left alone), and Azure shows the owner tag
//! cutover put on it.
//!
//! Nothing is deleted because of where it is. Migrated VMs, their NICs and disks live in the
//! landing zone's resource group and network after the migration, and ARM deletes everything in
//! a group with it: so a resource group goes only when, listed at that moment, it holds nothing
//! else, and a network goes only when no network interface uses it. What is left, and why, is
//! the teardown's outcome, for status and an Event.

use cutover_api::common::AzureResource;
use cutover_api::vault::RecoveryVault;

use crate::azure::resources::{self as arm, Scope};
use crate::azure::{ArmClient, ArmError};

/// Where a teardown is.
#[derive(Debug, PartialEq)]
pub enum Teardown {
    /// A deletion was started, or is awaited: what it is.
    Step(String),
    /// Nothing more to delete. What cutover created but left in Azure on purpose, and why.
    Done(Vec<String>),
}

/// Starts the next deletion and says what it is, or says the teardown is done.
pub async fn next(client: &ArmClient, vault: &RecoveryVault) -> Result<Teardown, ArmError> {
    let step = |s: String| Ok(Teardown::Step(s));
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
            return step(format!(
                "waiting for {} protected item(s) to be removed first",
                items.len()
            ));
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
            return step(format!("deleting network mapping {}", mapping.name));
        }
        if let Some(mapping) = arm::list_container_mappings(client, vault_id)
            .await?
            .into_iter()
            .find(|m| owned(&m.id))
        {
            arm::remove_container_mapping(client, &mapping.id).await?;
            return step(format!("removing container mapping {}", mapping.name));
        }
        if let Some(policy) = &recorded.policy_id
            && arm::get(client, policy, arm::SITE_RECOVERY_API)
                .await?
                .is_some()
        {
            arm::delete_resource(client, policy, arm::SITE_RECOVERY_API).await?;
            return step(format!("deleting replication policy {}", name(policy)));
        }
        if matches!(spec.vault, AzureResource::Create(_)) && found.owned_by(&owner) {
            // The vault is cutover's: unregister what registered with it, then delete it.
            if let Some(fabric) = arm::list_fabrics(client, vault_id)
                .await?
                .into_iter()
                .next()
            {
                arm::remove_fabric(client, &fabric.id).await?;
                return step(format!(
                    "unregistering {}",
                    fabric.friendly_name().unwrap_or(&fabric.name)
                ));
            }
            arm::delete_resource(client, vault_id, arm::RECOVERY_SERVICES_API).await?;
            return step(format!("deleting vault {}", name(vault_id)));
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
        (
            recorded.cache_storage_account_id.as_ref(),
            matches!(spec.storage.cache, Some(AzureResource::Create(_))),
        ),
    ];
    for (id, ours) in storage {
        if let (Some(id), true) = (id, ours)
            && arm::get(client, id, arm::STORAGE_API)
                .await?
                .is_some_and(|r| r.owned_by(&owner))
        {
            arm::delete_resource(client, id, arm::STORAGE_API).await?;
            return step(format!("deleting storage account {}", name(id)));
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
    let mut left = Vec::new();
    for (id, ours) in networks {
        if let (Some(id), true) = (id, ours)
            && let Some(vnet) = arm::get(client, id, arm::NETWORK_API)
                .await?
                .filter(|r| r.owned_by(&owner))
        {
            let users = arm::subnet_users(&vnet);
            if users.is_empty() {
                arm::delete_resource(client, id, arm::NETWORK_API).await?;
                return step(format!("deleting network {}", name(id)));
            }
            left.push(format!(
                "virtual network {} (network interfaces use it: {})",
                name(id),
                summarize(&network_interfaces(&users))
            ));
        }
    }
    if recorded.resource_group_created
        && let Some(group_id) = &recorded.resource_group_id
        && arm::get(client, group_id, arm::RESOURCES_API)
            .await?
            .is_some_and(|r| r.owned_by(&owner))
    {
        let listed = arm::list_resources_in_group(client, group_id).await?;
        // Only what cutover created counts as its own: an adopted vault or network in the
        // group keeps the group.
        let ours: Vec<&str> = [
            (
                recorded.vault_id.as_ref(),
                matches!(spec.vault, AzureResource::Create(_)),
            ),
            storage[0],
            storage[1],
            storage[2],
            networks[0],
            networks[1],
        ]
        .into_iter()
        .filter_map(|(id, created)| id.filter(|_| created))
        .map(String::as_str)
        .collect();
        match group_verdict(&listed, &ours, !left.is_empty()) {
            GroupVerdict::Delete => {
                let scope = Scope {
                    subscription: spec.subscription_id.clone(),
                    resource_group: name(group_id),
                };
                arm::delete_resource_group(client, &scope).await?;
                return step(format!("deleting resource group {}", name(group_id)));
            }
            GroupVerdict::WaitFor(pending) => {
                return step(format!(
                    "waiting for {} to be gone before deleting resource group {}",
                    summarize(&pending),
                    name(group_id)
                ));
            }
            GroupVerdict::Keep(foreign) if foreign.is_empty() => left.push(format!(
                "resource group {} (it holds what is left above)",
                name(group_id)
            )),
            GroupVerdict::Keep(foreign) => left.push(format!(
                "resource group {} (it holds {} resource(s) cutover did not create: {})",
                name(group_id),
                foreign.len(),
                summarize(&foreign)
            )),
        }
    }
    Ok(Teardown::Done(left))
}

/// What to do with a resource group cutover created, from what it holds now.
#[derive(Debug, PartialEq)]
enum GroupVerdict {
    /// Nothing else is in it: delete it.
    Delete,
    /// Only cutover's own resources, still going: wait for them (names).
    WaitFor(Vec<String>),
    /// It holds what cutover did not create (names, as `name (type)`), or what cutover left on
    /// purpose (empty): it stays.
    Keep(Vec<String>),
}

/// `listed`: the group's resources now; `ours`: the IDs cutover created and recorded;
/// `kept_some`: whether cutover left one of its own resources in place on purpose.
fn group_verdict(listed: &[arm::Resource], ours: &[&str], kept_some: bool) -> GroupVerdict {
    let is_ours = |r: &&arm::Resource| ours.iter().any(|id| id.eq_ignore_ascii_case(&r.id));
    let foreign: Vec<String> = listed
        .iter()
        .filter(|r| !is_ours(r))
        .map(|r| format!("{} ({})", r.name, r.resource_type))
        .collect();
    if !foreign.is_empty() {
        return GroupVerdict::Keep(foreign);
    }
    if kept_some {
        return GroupVerdict::Keep(Vec::new());
    }
    let pending: Vec<String> = listed
        .iter()
        .filter(is_ours)
        .map(|r| r.name.clone())
        .collect();
    if pending.is_empty() {
        GroupVerdict::Delete
    } else {
        GroupVerdict::WaitFor(pending)
    }
}

/// The network interfaces of NIC IP configuration IDs (`.../networkInterfaces/{nic}/ipConfigurations/{c}`).
fn network_interfaces(ip_configurations: &[String]) -> Vec<String> {
    let mut nics: Vec<String> = ip_configurations
        .iter()
        .map(|id| {
            let mut segments = id.split('/');
            segments
                .by_ref()
                .find(|s| s.eq_ignore_ascii_case("networkInterfaces"));
            segments.next().unwrap_or(id).to_owned()
        })
        .collect();
    nics.dedup();
    nics
}

/// A list for a message: the first few names, and how many more.
fn summarize(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(name: &str, resource_type: &str) -> arm::Resource {
        arm::Resource {
            id: format!("/subscriptions/s/resourceGroups/rg/providers/{resource_type}/{name}"),
            name: name.into(),
            resource_type: resource_type.into(),
            ..Default::default()
        }
    }

    const VAULT: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/vault";
    const VNET: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet";

    #[test]
    fn a_resource_group_is_deleted_only_when_it_holds_nothing_else() {
        let vm = resource("web01", "Microsoft.Compute/virtualMachines");
        let vault = resource("vault", "Microsoft.RecoveryServices/vaults");
        let foreign_case = |id: &str| id.to_ascii_uppercase();
        // (case, listed in the group, cutover's own IDs, something kept on purpose, verdict)
        type Case = (
            &'static str,
            Vec<arm::Resource>,
            Vec<String>,
            bool,
            GroupVerdict,
        );
        let cases: Vec<Case> = vec![
            (
                "empty",
                vec![],
                vec![VAULT.into()],
                false,
                GroupVerdict::Delete,
            ),
            (
                "a migrated VM",
                vec![vm.clone()],
                vec![VAULT.into()],
                false,
                GroupVerdict::Keep(vec!["web01 (Microsoft.Compute/virtualMachines)".into()]),
            ),
            (
                "a migrated VM beside cutover's vault still going",
                vec![vault.clone(), vm.clone()],
                vec![VAULT.into()],
                false,
                GroupVerdict::Keep(vec!["web01 (Microsoft.Compute/virtualMachines)".into()]),
            ),
            (
                "only cutover's vault, still being deleted",
                vec![vault.clone()],
                vec![VAULT.into()],
                false,
                GroupVerdict::WaitFor(vec!["vault".into()]),
            ),
            (
                "IDs compare without case",
                vec![vault.clone()],
                vec![foreign_case(VAULT)],
                false,
                GroupVerdict::WaitFor(vec!["vault".into()]),
            ),
            (
                "cutover's network, left because it is in use",
                vec![resource("vnet", "Microsoft.Network/virtualNetworks")],
                vec![VAULT.into(), VNET.into()],
                true,
                GroupVerdict::Keep(vec![]),
            ),
        ];
        for (name, listed, ours, kept, expected) in cases {
            let ours: Vec<&str> = ours.iter().map(String::as_str).collect();
            assert_eq!(group_verdict(&listed, &ours, kept), expected, "{name}");
        }
    }

    #[test]
    fn network_users_are_named_by_their_network_interface() {
        let users = [
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/web01-nic/ipConfigurations/ipconfig1".to_owned(),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/web01-nic/ipConfigurations/ipconfig2".to_owned(),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/sql01-nic/ipConfigurations/ipconfig1".to_owned(),
        ];
        assert_eq!(network_interfaces(&users), vec!["web01-nic", "sql01-nic"]);
        let many: Vec<String> = (0..10).map(|i| format!("n{i}")).collect();
        assert_eq!(
            summarize(&many),
            "n0, n1, n2, n3, n4, n5, n6, n7 and 2 more"
        );
    }
}
