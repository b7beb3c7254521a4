//! Reading a machine's world from ARM's answers: the protected item and job as the lifecycle
//! sees them, the protectable item that is the source machine, and the replication figures
//! status reports.

use cutover_api::machine::{ReplicatedMachineSpec, ReplicationStatus};
use serde_json::Value;

use super::lifecycle::{Item, Job, JobState};
use crate::azure::models::ProtectedItem;
use crate::azure::resources::Resource;

/// The protected item as the lifecycle sees it.
pub fn item(item: &ProtectedItem) -> Item {
    let p = &item.properties;
    Item {
        id: item.id.clone(),
        protection_state: p.protection_state.clone().unwrap_or_default(),
        allowed_operations: p.allowed_operations.clone().unwrap_or_default(),
        current_job: p
            .current_scenario
            .as_ref()
            .and_then(|scenario| scenario.running_job().map(str::to_owned)),
        active_location: p
            .active_location
            .clone()
            .unwrap_or_else(|| "Primary".to_owned()),
        replication_progress: p.provider_specific_details.progress_percent(),
        tested: p
            .last_successful_test_failover_time
            .as_deref()
            .is_some_and(|t| !t.is_empty()),
        nic: p
            .provider_specific_details
            .primary_nic()
            .map(|(_, target)| target),
    }
}

/// Replication progress, health and RPO for status.
pub fn replication(item: &ProtectedItem) -> ReplicationStatus {
    let p = &item.properties;
    let figures = &p.provider_specific_details.figures;
    ReplicationStatus {
        progress_percent: p.provider_specific_details.progress_percent(),
        health: p.replication_health.clone(),
        rpo_seconds: figures.rpo_seconds(),
        protection_state: p.protection_state.clone(),
        last_recovery_point: figures
            .last_recovery_point()
            .map(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time),
    }
}

/// The job as the lifecycle sees it, with ASR's error in one message.
pub fn job(resource: &Resource) -> Job {
    let p = &resource.properties;
    let error = p["errors"]
        .as_array()
        .and_then(|errors| errors.first())
        .map(|e| {
            let d = &e["serviceErrorDetails"];
            let mut message = format!(
                "{}: {}",
                d["code"].as_str().unwrap_or("error"),
                d["message"].as_str().unwrap_or_default()
            );
            if let Some(action) = d["recommendedAction"].as_str().filter(|a| !a.is_empty()) {
                message.push_str(&format!(" Recommended action: {action}"));
            }
            message
        });
    Job {
        id: resource.id.clone(),
        scenario: p["scenarioName"].as_str().unwrap_or_default().to_owned(),
        state: JobState::parse(p["state"].as_str().unwrap_or_default()),
        error,
    }
}

/// Whether a protectable item is this machine: the name matches, and the identity field the
/// spec gives (Hyper-V VM ID, discovery or instance ID, Azure VM ID) matches too.
pub fn is_source(spec: &ReplicatedMachineSpec, protectable: &Resource) -> bool {
    if !protectable
        .friendly_name()
        .is_some_and(|n| n.eq_ignore_ascii_case(&spec.source.name))
    {
        return false;
    }
    let custom = &protectable.properties["customDetails"];
    let reported = [&custom["sourceItemId"], &custom["agentGeneratedId"]]
        .into_iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>();
    let wanted = [
        spec.source.hyper_v_vm_id.as_deref(),
        spec.source.discovery_id.as_deref(),
        spec.source.aws_instance_id.as_deref(),
        spec.source.azure_vm_id.as_ref().map(|id| id.0.as_str()),
    ];
    wanted
        .into_iter()
        .flatten()
        .all(|id| reported.iter().any(|r| r.eq_ignore_ascii_case(id)))
}

/// Whether a machine an appliance discovered (`{site}/machines`) is this machine: its display
/// name matches, it is not marked deleted, and the discovery ID the spec gives matches the
/// VMware instance UUID or the server's BIOS GUID. Azure Migrate reports no EC2 instance ID, so
/// `awsInstanceId` cannot be compared.
pub fn is_discovered(spec: &ReplicatedMachineSpec, discovered: &Resource) -> bool {
    let details: crate::azure::models::DiscoveredMachine =
        serde_json::from_value(discovered.properties.clone()).unwrap_or_default();
    if details.is_deleted
        || !details
            .display_name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(&spec.source.name))
    {
        return false;
    }
    spec.source.discovery_id.as_deref().is_none_or(|wanted| {
        [
            details.instance_uuid.as_deref(),
            details.bios_guid.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|id| id.eq_ignore_ascii_case(wanted))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(name: &str, discovery_id: Option<&str>) -> ReplicatedMachineSpec {
        serde_json::from_value(json!({
            "vaultRef": {"name": "v"},
            "source": {"name": name, "discoveryId": discovery_id},
            "osType": "Linux",
        }))
        .unwrap()
    }

    fn discovered(properties: Value) -> Resource {
        serde_json::from_value(
            json!({"id": "/s/machines/m", "name": "m", "properties": properties}),
        )
        .unwrap()
    }

    #[test]
    fn a_discovered_machine_is_the_source_by_name_and_instance_uuid_or_bios_guid() {
        let vmware = discovered(
            json!({"displayName": "erp-db", "instanceUuid": "502C8F1E-0000-4000-8000-00000000E001"}),
        );
        assert!(is_discovered(&spec("ERP-DB", None), &vmware));
        assert!(is_discovered(
            &spec("erp-db", Some("502c8f1e-0000-4000-8000-00000000e001")),
            &vmware
        ));
        assert!(
            !is_discovered(
                &spec("erp-db", Some("502c8f1e-0000-4000-8000-00000000e002")),
                &vmware
            ),
            "another VM of that name"
        );
        assert!(!is_discovered(&spec("erp-app1", None), &vmware));
        let server = discovered(
            json!({"displayName": "ldap01", "biosGuid": "7e11a0c4-0000-4000-8000-00000000f001"}),
        );
        assert!(is_discovered(
            &spec("ldap01", Some("7e11a0c4-0000-4000-8000-00000000f001")),
            &server
        ));
        let deleted = discovered(json!({"displayName": "ldap01", "isDeleted": true}));
        assert!(
            !is_discovered(&spec("ldap01", None), &deleted),
            "a machine the site marks deleted"
        );
    }
}
