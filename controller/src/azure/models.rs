//! Typed reads of what Azure returns, by the wire names of the official SDKs' models
//! (azure-mgmt-recoveryservicessiterecovery 2.0.0 for Site Recovery 2025-08-01, azure-mgmt-compute
//! for VMs). Each struct names the model it follows; only the fields cutover reads are here.

use serde::Deserialize;

/// `CurrentScenarioDetails`: `scenarioName`, `jobId`, `startTime`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CurrentScenario {
    #[serde(default)]
    pub scenario_name: Option<String>,
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
}

impl CurrentScenario {
    /// The job running on the item, if any. An idle item still has a scenario: every 2025-08-01
    /// `ReplicationProtectedItems_*` example shows `{"scenarioName": "None", "jobId":
    /// ".../replicationJobs/None", "startTime": "1753-01-01T01:01:01Z"}`, so "no job" is
    /// `scenarioName == "None"` (or a job named `None`), not a missing `jobId`.
    pub fn running_job(&self) -> Option<&str> {
        let idle = |name: &str| name.is_empty() || name.eq_ignore_ascii_case("None");
        if self.scenario_name.as_deref().is_none_or(idle) {
            return None;
        }
        self.job_id
            .as_deref()
            .filter(|id| !idle(id.rsplit('/').next().unwrap_or_default()))
    }
}

/// `InMageRcmFabricSpecificDetails.processServers[]` (`ProcessServerDetails`): `id`, `name`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct ProcessServer {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// The process servers an InMageRcm fabric reports, from its `properties`
/// (`customDetails.processServers`).
pub fn process_servers(fabric_properties: &serde_json::Value) -> Vec<ProcessServer> {
    serde_json::from_value(fabric_properties["customDetails"]["processServers"].clone())
        .unwrap_or_default()
}

/// The process server an InMageRcm machine replicates through: the one running on the
/// replication appliance the vault names, or the fabric's only one.
pub fn process_server_of<'a>(
    servers: &'a [ProcessServer],
    appliance: &str,
) -> Option<&'a ProcessServer> {
    servers
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(appliance))
        .or(match servers {
            [only] => Some(only),
            _ => None,
        })
}

/// The replication figures of a protected item's `providerSpecificDetails`, as the providers
/// name them: `HyperVReplicaAzureReplicationDetails` and `A2AReplicationDetails` have
/// `rpoInSeconds`, `InMageRcmReplicationDetails` `lastRpoInSeconds`; Hyper-V and InMageRcm report
/// `lastRecoveryPointReceived`, A2A only `lastRpoCalculatedTime`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationFigures {
    #[serde(default)]
    pub rpo_in_seconds: Option<i64>,
    #[serde(default)]
    pub last_rpo_in_seconds: Option<i64>,
    /// Times as text: one the service writes in a shape jiff does not read must not cost the RPO.
    #[serde(default)]
    pub last_recovery_point_received: Option<String>,
    #[serde(default)]
    pub last_rpo_calculated_time: Option<String>,
}

impl ReplicationFigures {
    pub fn rpo_seconds(&self) -> Option<i64> {
        self.rpo_in_seconds.or(self.last_rpo_in_seconds)
    }

    /// When the newest recovery point was taken: as reported, or, for A2A, the RPO's age at the
    /// time it was calculated (the RPO is the age of the newest recovery point).
    pub fn last_recovery_point(&self) -> Option<jiff::Timestamp> {
        let time =
            |t: &Option<String>| t.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok());
        time(&self.last_recovery_point_received).or_else(|| {
            let calculated = time(&self.last_rpo_calculated_time)?;
            calculated
                .checked_sub(jiff::SignedDuration::from_secs(self.rpo_seconds()?))
                .ok()
        })
    }
}

/// `VirtualMachineInstanceView` (`VirtualMachines_InstanceView`, `GET {vm}/instanceView`): the
/// `statuses`, among them the power state as `PowerState/running` and the like.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct InstanceView {
    #[serde(default)]
    pub statuses: Vec<InstanceViewStatus>,
}

/// `InstanceViewStatus`: `code`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct InstanceViewStatus {
    #[serde(default)]
    pub code: Option<String>,
}

impl InstanceView {
    pub fn running(&self) -> bool {
        self.statuses
            .iter()
            .any(|s| s.code.as_deref() == Some("PowerState/running"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_idle_item_runs_no_job() {
        // ReplicationProtectedItems_UnplannedFailover.json (2025-08-01), response 200.
        let idle: CurrentScenario = serde_json::from_value(json!({
            "scenarioName": "None",
            "jobId": "/Subscriptions/c183865e-6077-46f2-a3b1-deb0f4f4650a/resourceGroups/resourceGroupPS1/providers/Microsoft.RecoveryServices/vaults/vault1/replicationJobs/None",
            "startTime": "1753-01-01T01:01:01Z"
        }))
        .unwrap();
        assert_eq!(idle.running_job(), None);
        assert_eq!(CurrentScenario::default().running_job(), None);
        let running: CurrentScenario = serde_json::from_value(json!({
            "scenarioName": "TestFailover",
            "jobId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/v/replicationJobs/3f1c",
            "startTime": "2026-12-01T10:00:00Z"
        }))
        .unwrap();
        assert_eq!(
            running.running_job(),
            Some(
                "/subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/v/replicationJobs/3f1c"
            )
        );
    }

    #[test]
    fn an_inmage_rcm_machine_replicates_through_its_appliances_process_server() {
        let fabric = json!({"customDetails": {"instanceType": "InMageRcm", "processServers": [
            {"id": "1d6f2b6a-0000-4000-8000-000000000001", "name": "dc2-appliance", "health": "Normal"},
            {"id": "1d6f2b6a-0000-4000-8000-000000000002", "name": "scale-out-ps", "health": "Normal"}
        ]}});
        let servers = process_servers(&fabric);
        assert_eq!(
            process_server_of(&servers, "DC2-appliance").map(|s| s.id.as_str()),
            Some("1d6f2b6a-0000-4000-8000-000000000001")
        );
        assert_eq!(
            process_server_of(&servers, "other"),
            None,
            "two servers, neither the appliance"
        );
        assert_eq!(
            process_server_of(&servers[1..], "other").map(|s| s.name.as_str()),
            Some("scale-out-ps"),
            "the only one"
        );
        assert!(process_servers(&json!({})).is_empty());
    }

    #[test]
    fn a2a_reports_its_recovery_point_through_the_rpo() {
        let a2a: ReplicationFigures = serde_json::from_value(json!({"instanceType": "A2A",
            "rpoInSeconds": 30, "lastRpoCalculatedTime": "2026-12-01T10:00:30Z"}))
        .unwrap();
        assert_eq!(a2a.rpo_seconds(), Some(30));
        assert_eq!(
            a2a.last_recovery_point(),
            Some("2026-12-01T10:00:00Z".parse().unwrap())
        );
        let rcm: ReplicationFigures = serde_json::from_value(json!({"instanceType": "InMageRcm",
            "lastRpoInSeconds": 60, "lastRecoveryPointReceived": "2026-12-01T09:59:00Z",
            "lastRpoCalculatedTime": "2026-12-01T10:00:00Z"}))
        .unwrap();
        assert_eq!(rcm.rpo_seconds(), Some(60));
        assert_eq!(
            rcm.last_recovery_point(),
            Some("2026-12-01T09:59:00Z".parse().unwrap())
        );
        assert_eq!(ReplicationFigures::default().last_recovery_point(), None);
    }

    #[test]
    fn a_vm_runs_when_its_instance_view_says_so() {
        let view: InstanceView = serde_json::from_value(json!({"statuses": [
            {"code": "ProvisioningState/succeeded", "level": "Info"},
            {"code": "PowerState/running", "level": "Info"}
        ]}))
        .unwrap();
        assert!(view.running());
        let stopped: InstanceView =
            serde_json::from_value(json!({"statuses": [{"code": "PowerState/deallocated"}]}))
                .unwrap();
        assert!(!stopped.running());
    }
}
