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

use super::observe::Remains;
use crate::azure::resources::{self as arm, Scope};
use crate::azure::{ArmClient, ArmError};

/// Where a teardown is.
#[derive(Debug, PartialEq)]
pub enum Teardown {
    /// This deletion is next: it, and what it is.
    Delete(Deletion, String),
    /// A deletion is awaited: what.
    Wait(String),
    /// Nothing more to delete. What cutover created but left in Azure on purpose, and why.
    Done(Vec<String>),
}

/// One deletion, the only write of a teardown pass.
#[derive(Debug, PartialEq)]
pub enum Deletion {
    /// A DELETE of the resource at its API version.
    Resource {
        id: String,
        api_version: &'static str,
    },
    /// A container mapping's `remove` action.
    ContainerMapping(String),
    /// A fabric's `remove` action (its servers, containers and networks go with it).
    Fabric(String),
    ResourceGroup(Scope),
}

/// Makes the deletion a teardown pass decided on.
pub async fn apply(client: &ArmClient, deletion: &Deletion) -> Result<(), ArmError> {
    match deletion {
        Deletion::Resource { id, api_version } => {
            arm::delete_resource(client, id, api_version).await?
        }
        Deletion::ContainerMapping(id) => arm::remove_container_mapping(client, id).await?,
        Deletion::Fabric(id) => arm::remove_fabric(client, id).await?,
        Deletion::ResourceGroup(scope) => arm::delete_resource_group(client, scope).await?,
    };
    Ok(())
}

/// The next deletion, or what the teardown waits for, or that it is done, from what
/// [`super::observe::remains`] read.
pub fn decide(vault: &RecoveryVault, remains: &Remains) -> Teardown {
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
    let delete = |id: &str, api_version, what: String| {
        Teardown::Delete(
            Deletion::Resource {
                id: id.to_owned(),
                api_version,
            },
            what,
        )
    };

    if let Some(vault_id) = &recorded.vault_id
        && let Some(found) = &remains.vault
    {
        if remains.protected_items > 0 {
            return Teardown::Wait(format!(
                "waiting for {} protected item(s) to be removed first",
                remains.protected_items
            ));
        }
        let owned = |id: &str| {
            recorded
                .network_mapping_ids
                .iter()
                .chain(&recorded.container_mapping_ids)
                .any(|r| r.eq_ignore_ascii_case(id))
        };
        if let Some(mapping) = remains.network_mappings.iter().find(|m| owned(&m.id)) {
            return delete(
                &mapping.id,
                arm::SITE_RECOVERY_API,
                format!("deleting network mapping {}", mapping.name),
            );
        }
        if let Some(mapping) = remains.container_mappings.iter().find(|m| owned(&m.id)) {
            return Teardown::Delete(
                Deletion::ContainerMapping(mapping.id.clone()),
                format!("removing container mapping {}", mapping.name),
            );
        }
        if let Some(policy) = &recorded.policy_id
            && remains.policy.is_some()
        {
            return delete(
                policy,
                arm::SITE_RECOVERY_API,
                format!("deleting replication policy {}", name(policy)),
            );
        }
        if matches!(spec.vault, AzureResource::Create(_)) && found.owned_by(&owner) {
            // The vault is cutover's: unregister what registered with it, then delete it.
            if let Some(fabric) = remains.fabrics.first() {
                return Teardown::Delete(
                    Deletion::Fabric(fabric.id.clone()),
                    format!(
                        "unregistering {}",
                        fabric.friendly_name().unwrap_or(&fabric.name)
                    ),
                );
            }
            return delete(
                vault_id,
                arm::RECOVERY_SERVICES_API,
                format!("deleting vault {}", name(vault_id)),
            );
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
            && remains
                .resources
                .get(id)
                .is_some_and(|r| r.owned_by(&owner))
        {
            return delete(
                id,
                arm::STORAGE_API,
                format!("deleting storage account {}", name(id)),
            );
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
            && let Some(vnet) = remains.resources.get(id).filter(|r| r.owned_by(&owner))
        {
            let users = arm::subnet_users(vnet);
            if users.is_empty() {
                return delete(
                    id,
                    arm::NETWORK_API,
                    format!("deleting network {}", name(id)),
                );
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
        && remains
            .resource_group
            .as_ref()
            .is_some_and(|r| r.owned_by(&owner))
    {
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
        match group_verdict(&remains.group_contents, &ours, !left.is_empty()) {
            GroupVerdict::Delete => {
                let scope = Scope {
                    subscription: spec.subscription_id.clone(),
                    resource_group: name(group_id),
                };
                return Teardown::Delete(
                    Deletion::ResourceGroup(scope),
                    format!("deleting resource group {}", name(group_id)),
                );
            }
            GroupVerdict::WaitFor(pending) => {
                return Teardown::Wait(format!(
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
    Teardown::Done(left)
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

    fn owned(id: &str, properties: serde_json::Value) -> arm::Resource {
        arm::Resource {
            id: id.into(),
            name: id.rsplit('/').next().unwrap().into(),
            tags: [(arm::OWNER_TAG.to_owned(), "migration/branch".to_owned())].into(),
            properties,
            ..Default::default()
        }
    }

    const GROUP: &str = "/subscriptions/s/resourceGroups/rg";
    const ACCOUNT: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/repl";

    fn mapping_id() -> String {
        format!(
            "{VAULT}/replicationFabrics/site/replicationProtectionContainers/c/replicationProtectionContainerMappings/m"
        )
    }

    fn network_mapping_id() -> String {
        format!(
            "{VAULT}/replicationFabrics/site/replicationNetworks/n/replicationNetworkMappings/nm"
        )
    }

    fn policy_id() -> String {
        format!("{VAULT}/replicationPolicies/p")
    }

    /// A vault that created everything, with the IDs a converged landing zone recorded.
    fn recorded(vault_created: bool) -> RecoveryVault {
        let vault = if vault_created {
            serde_json::json!({ "create": { "name": "vault" } })
        } else {
            serde_json::json!({ "existingId": VAULT })
        };
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "branch", "namespace": "migration" },
            "spec": {
                "subscriptionId": "s",
                "resourceGroup": "rg",
                "region": "northeurope",
                "deletionPolicy": "Delete",
                "vault": vault,
                "storage": { "replication": { "create": { "name": "repl", "sku": "Standard_LRS" } } },
                "network": { "target": { "create": {
                    "name": "vnet", "addressSpace": ["10.0.0.0/16"],
                    "subnets": [{ "name": "s", "addressPrefix": "10.0.1.0/24" }],
                } } },
                "source": { "physical": { "appliance": "appliance01" } },
                "replicationPolicy": { "name": "p" },
            },
            "status": { "resources": {
                "resourceGroupCreated": true,
                "resourceGroupId": GROUP,
                "vaultId": VAULT,
                "replicationStorageAccountId": ACCOUNT,
                "targetNetworkId": VNET,
                "policyId": policy_id(),
                "containerMappingIds": [mapping_id()],
                "networkMappingIds": [network_mapping_id()],
            } },
        }))
        .unwrap()
    }

    /// Everything still there, as the landing zone left it.
    fn standing() -> Remains {
        let mut resources = super::super::observe::Resources::default();
        resources.insert(ACCOUNT, Some(owned(ACCOUNT, serde_json::json!({}))));
        resources.insert(
            VNET,
            Some(owned(VNET, serde_json::json!({ "subnets": [] }))),
        );
        Remains {
            vault: Some(owned(VAULT, serde_json::json!({}))),
            protected_items: 0,
            network_mappings: vec![owned(&network_mapping_id(), serde_json::json!({}))],
            container_mappings: vec![owned(&mapping_id(), serde_json::json!({}))],
            policy: Some(owned(&policy_id(), serde_json::json!({}))),
            fabrics: vec![owned(
                &format!("{VAULT}/replicationFabrics/site"),
                serde_json::json!({ "friendlyName": "appliance01" }),
            )],
            resources,
            resource_group: Some(owned(GROUP, serde_json::json!({}))),
            group_contents: vec![],
        }
    }

    fn gone(remains: &mut Remains, upto: usize) {
        let steps: [&dyn Fn(&mut Remains); 7] = [
            &|r| r.network_mappings.clear(),
            &|r| r.container_mappings.clear(),
            &|r| r.policy = None,
            &|r| r.fabrics.clear(),
            &|r| r.vault = None,
            &|r| r.resources.insert(ACCOUNT, None),
            &|r| r.resources.insert(VNET, None),
        ];
        for step in &steps[..upto] {
            step(remains);
        }
    }

    #[test]
    fn a_teardown_deletes_what_cutover_created_child_first() {
        let deleting = |id: &str, api_version| Deletion::Resource {
            id: id.to_owned(),
            api_version,
        };
        let expected = [
            deleting(&network_mapping_id(), arm::SITE_RECOVERY_API),
            Deletion::ContainerMapping(mapping_id()),
            deleting(&policy_id(), arm::SITE_RECOVERY_API),
            Deletion::Fabric(format!("{VAULT}/replicationFabrics/site")),
            deleting(VAULT, arm::RECOVERY_SERVICES_API),
            deleting(ACCOUNT, arm::STORAGE_API),
            deleting(VNET, arm::NETWORK_API),
            Deletion::ResourceGroup(Scope {
                subscription: "s".into(),
                resource_group: "rg".into(),
            }),
        ];
        let vault = recorded(true);
        for (done, next) in expected.into_iter().enumerate() {
            let mut remains = standing();
            gone(&mut remains, done);
            match decide(&vault, &remains) {
                Teardown::Delete(deletion, _) => assert_eq!(deletion, next, "after {done}"),
                other => panic!("after {done} deletions: {other:?}"),
            }
        }
        let mut remains = standing();
        gone(&mut remains, 7);
        remains.resource_group = None;
        assert_eq!(decide(&vault, &remains), Teardown::Done(vec![]));
    }

    #[test]
    fn a_teardown_leaves_what_it_did_not_create_and_what_is_in_use() {
        let vault = recorded(true);
        let mut remains = standing();
        remains.protected_items = 2;
        assert_eq!(
            decide(&vault, &remains),
            Teardown::Wait("waiting for 2 protected item(s) to be removed first".into())
        );

        // A mapping someone else made is not cutover's to delete.
        let mut remains = standing();
        remains.network_mappings = vec![owned(
            &format!(
                "{VAULT}/replicationFabrics/site/replicationNetworks/n/replicationNetworkMappings/theirs"
            ),
            serde_json::json!({}),
        )];
        assert!(matches!(
            decide(&vault, &remains),
            Teardown::Delete(Deletion::ContainerMapping(_), _)
        ));

        // An adopted vault is not unregistered or deleted: storage is next.
        let mut remains = standing();
        gone(&mut remains, 3);
        assert_eq!(
            decide(&recorded(false), &remains),
            Teardown::Delete(
                Deletion::Resource {
                    id: ACCOUNT.into(),
                    api_version: arm::STORAGE_API
                },
                "deleting storage account repl".into()
            )
        );

        // A storage account without cutover's tag stays.
        let mut remains = standing();
        gone(&mut remains, 5);
        remains.resources.insert(
            ACCOUNT,
            Some(resource("repl", "Microsoft.Storage/storageAccounts")),
        );
        assert!(matches!(
            decide(&vault, &remains),
            Teardown::Delete(Deletion::Resource { ref id, .. }, _) if id == VNET
        ));

        // A network a migrated VM's NIC uses stays, and so does its group.
        let mut remains = standing();
        gone(&mut remains, 6);
        remains.resources.insert(
            VNET,
            Some(owned(
                VNET,
                serde_json::json!({ "subnets": [{ "name": "s", "properties": { "ipConfigurations": [
                    { "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/web01-nic/ipConfigurations/ipconfig1" }
                ] } }] }),
            )),
        );
        remains.group_contents = vec![
            resource("vnet", "Microsoft.Network/virtualNetworks"),
            resource("web01-nic", "Microsoft.Network/networkInterfaces"),
        ];
        assert_eq!(
            decide(&vault, &remains),
            Teardown::Done(vec![
                "virtual network vnet (network interfaces use it: web01-nic)".into(),
                "resource group rg (it holds 1 resource(s) cutover did not create: web01-nic (Microsoft.Network/networkInterfaces))".into(),
            ])
        );
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
