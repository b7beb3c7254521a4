//! ASR's objects as the simulator keeps them, and their life: jobs that finish in simulated
//! time and then apply their effect, and the protected item's states with what each allows.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Site Recovery's part of the world.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Asr {
    /// Fabrics, containers, networks, policies and mappings, by lowercased ID.
    pub objects: BTreeMap<String, AsrObject>,
    /// Protected items, by lowercased ID.
    pub items: BTreeMap<String, ProtectedItem>,
    /// Jobs, by lowercased ID.
    pub jobs: BTreeMap<String, Job>,
    /// `source name -> vault ID` of registered sources.
    pub registered: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectKind {
    Fabric,
    Container,
    Network,
    NetworkMapping,
    Policy,
    ContainerMapping,
}

impl ObjectKind {
    /// ARM `type` of the object.
    pub fn arm_type(self) -> &'static str {
        match self {
            ObjectKind::Fabric => "Microsoft.RecoveryServices/vaults/replicationFabrics",
            ObjectKind::Container => {
                "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers"
            }
            ObjectKind::Network => {
                "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationNetworks"
            }
            ObjectKind::NetworkMapping => {
                "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationNetworks/replicationNetworkMappings"
            }
            ObjectKind::Policy => "Microsoft.RecoveryServices/vaults/replicationPolicies",
            ObjectKind::ContainerMapping => {
                "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectionContainerMappings"
            }
        }
    }
}

/// An ASR object other than a protected item: its properties are what ARM returns.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AsrObject {
    pub id: String,
    pub name: String,
    pub kind: ObjectKind,
    pub vault_id: String,
    /// The fabric of a container or network, the container of a mapping.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// The inventory source it stands for (fabrics and containers of registered sources).
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    pub properties: Value,
}

/// The Azure VM a protected item fails over to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetVm {
    pub resource_group_id: String,
    pub name: String,
    pub size: String,
    pub location: String,
    pub os_type: String,
    /// The VNet its network interface goes in, and the subnet's name there (the enable input's).
    #[serde(default)]
    pub network_id: Option<String>,
    #[serde(default)]
    pub subnet: Option<String>,
    /// The primary NIC's static address, once an update of the item gave it one.
    #[serde(default)]
    pub static_ip: Option<String>,
}

impl TargetVm {
    /// The opaque `nicId` of the item's one NIC: for InMage RCM the source NIC's MAC address
    /// (terraform-provider-azurerm sends `source_mac_address` as `nicId`), for the others an
    /// identifier of ASR's own (the 2025-08-01 update example's is base64 text).
    pub fn nic_id(item_name: &str, provider: &str) -> String {
        let hash = item_name
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            })
            .to_be_bytes();
        if provider == "InMageRcm" {
            format!("00:15:5d:{:02x}:{:02x}:{:02x}", hash[0], hash[1], hash[2])
        } else {
            hash.iter().map(|b| format!("{b:02X}")).collect()
        }
    }

    pub fn id(&self, suffix: &str) -> String {
        format!(
            "{}/providers/Microsoft.Compute/virtualMachines/{}{suffix}",
            self.resource_group_id, self.name
        )
    }
}

/// A VM a finished job creates or removes.
#[derive(Clone, Debug, PartialEq)]
pub enum VmChange {
    Create { id: String, vm: TargetVm },
    Delete { id: String },
}

/// Where a protected item is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemState {
    Enabling,
    InitialReplication,
    Protected,
    TestFailingOver,
    TestFailedOver,
    CleaningUpTest,
    FailingOver,
    FailedOver,
    Committing,
    Committed,
    Removing,
}

/// A replication protected item.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProtectedItem {
    pub id: String,
    pub name: String,
    pub vault_id: String,
    pub fabric_id: String,
    pub container_id: String,
    pub protectable_item_id: String,
    /// Inventory source and machine.
    pub source: String,
    pub machine: String,
    pub provider: String,
    pub policy_id: String,
    /// `providerSpecificDetails` of the enable-protection input.
    pub input: Value,
    pub state: ItemState,
    /// The state a running job started from, restored if the job fails.
    #[serde(default)]
    pub state_before: Option<ItemState>,
    pub active_location: String,
    /// The VM failover creates: its resource group ID, name, size, region and OS.
    pub vm: TargetVm,
    /// When initial replication started and how long it takes.
    #[serde(default)]
    pub replication_started: Option<Timestamp>,
    #[serde(default)]
    pub replication_duration: Option<SignedDuration>,
    #[serde(default)]
    pub current_job: Option<String>,
    #[serde(default)]
    pub test_vm_id: Option<String>,
    /// Real time before which lists do not show it (the consistency fault).
    #[serde(default)]
    pub visible_at: Option<Timestamp>,
    /// The isolated network the running (or last) test failover put its VM in.
    #[serde(default)]
    pub test_network_id: Option<String>,
    #[serde(default)]
    pub target_vm_id: Option<String>,
    #[serde(default)]
    pub last_test_failover: Option<Timestamp>,
    #[serde(default)]
    pub last_failover: Option<Timestamp>,
}

impl ProtectedItem {
    /// ASR's `allowedOperations` in this state (a job in flight allows nothing).
    pub fn allowed_operations(&self) -> Vec<&'static str> {
        if self.current_job.is_some() {
            return vec![];
        }
        let planned = self.provider == "HyperVReplicaAzure";
        match self.state {
            ItemState::Protected => {
                let mut ops = vec!["TestFailover", "UnplannedFailover", "DisableProtection"];
                if planned {
                    ops.insert(1, "PlannedFailover");
                }
                ops
            }
            ItemState::TestFailedOver => vec!["TestFailoverCleanup"],
            ItemState::FailedOver => vec!["Commit", "ChangePit"],
            ItemState::Committed => vec!["DisableProtection", "CompleteMigration"],
            ItemState::InitialReplication => vec!["DisableProtection"],
            _ => vec![],
        }
    }

    /// ASR's `protectionState` (free-form, informative).
    pub fn protection_state(&self) -> &'static str {
        match self.state {
            ItemState::Enabling => "EnablingProtection",
            ItemState::InitialReplication => "UnprotectedStatesBegin",
            ItemState::Protected
            | ItemState::TestFailingOver
            | ItemState::TestFailedOver
            | ItemState::CleaningUpTest => "Protected",
            ItemState::FailingOver => "FailoverInProgress",
            ItemState::FailedOver => {
                if self.input.get("plannedFailover").is_some() {
                    "PlannedFailoverCommitRequired"
                } else {
                    "UnplannedFailoverCommitPendingStatesBegin"
                }
            }
            ItemState::Committing => "FailoverCommitInProgress",
            ItemState::Committed => "FailoverCompleted",
            ItemState::Removing => "DisablingProtection",
        }
    }

    /// Initial replication progress at `now`, 0-100.
    pub fn replication_progress(&self, now: Timestamp) -> i32 {
        match self.state {
            ItemState::Enabling => 0,
            ItemState::InitialReplication => {
                match (self.replication_started, self.replication_duration) {
                    (Some(start), Some(total)) if total.as_secs_f64() > 0.0 => {
                        let done = now.duration_since(start).as_secs_f64() / total.as_secs_f64();
                        (done * 100.0).clamp(0.0, 99.0) as i32
                    }
                    _ => 0,
                }
            }
            _ => 100,
        }
    }
}

/// What a job does to its protected item when it succeeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scenario {
    EnableDr,
    TestFailover,
    TestFailoverCleanup,
    PlannedFailover,
    UnplannedFailover,
    Commit,
    /// `failoverCancel`. No provider the simulator serves offers it (docs/azure-fidelity.md).
    CancelFailover,
    DisableDr,
    /// Jobs of infrastructure (fabric, policy, mapping) changes: no item effect.
    Configure,
}

impl Scenario {
    /// The job's `scenarioName` and `friendlyName`.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Scenario::EnableDr => ("EnableDr", "Enable replication"),
            Scenario::TestFailover => ("TestFailover", "Test failover"),
            Scenario::TestFailoverCleanup => ("TestFailoverCleanup", "Cleanup test failover"),
            Scenario::PlannedFailover => ("PlannedFailover", "Planned failover"),
            Scenario::UnplannedFailover => ("UnplannedFailover", "Failover"),
            Scenario::Commit => ("Commit", "Commit"),
            // ReplicationRecoveryPlans_FailoverCancel's example names the job's scenario.
            Scenario::CancelFailover => ("CancelFailover", "Cancel failover"),
            Scenario::DisableDr => ("DisableDr", "Disable replication"),
            Scenario::Configure => ("Configure", "Configure Site Recovery"),
        }
    }

    /// How long the job runs, in simulated time.
    pub fn duration(self) -> SignedDuration {
        SignedDuration::from_secs(match self {
            Scenario::EnableDr => 60,
            Scenario::TestFailover | Scenario::PlannedFailover | Scenario::UnplannedFailover => 300,
            Scenario::TestFailoverCleanup
            | Scenario::Commit
            | Scenario::CancelFailover
            | Scenario::DisableDr => 120,
            Scenario::Configure => 10,
        })
    }
}

/// ASR's error of a failed job (`serviceErrorDetails`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceError {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub possible_causes: String,
    #[serde(default)]
    pub recommended_action: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub name: String,
    pub vault_id: String,
    pub scenario: Scenario,
    pub target_object_id: String,
    pub target_object_name: String,
    pub target_instance_type: String,
    pub started_at: Timestamp,
    pub done_at: Timestamp,
    #[serde(default)]
    pub failure: Option<ServiceError>,
    /// Whether its effect has been applied.
    #[serde(default)]
    pub settled: bool,
    /// Real time before which reads do not see it (the consistency fault).
    #[serde(default)]
    pub visible_at: Option<Timestamp>,
}

impl Job {
    /// ASR's job `state` at `now`.
    pub fn state(&self, now: Timestamp) -> &'static str {
        match (now < self.done_at, &self.failure) {
            (true, _) => "InProgress",
            (false, Some(_)) => "Failed",
            (false, None) => "Succeeded",
        }
    }
}

impl Asr {
    /// Applies every job that finished by `now` to its item, in the order they finished, and
    /// returns the VMs those jobs created or removed.
    pub fn settle(&mut self, now: Timestamp) -> Vec<VmChange> {
        let mut changes = Vec::new();
        let mut due: Vec<(Timestamp, String)> = self
            .jobs
            .iter()
            .filter(|(_, j)| !j.settled && j.done_at <= now)
            .map(|(k, j)| (j.done_at, k.clone()))
            .collect();
        due.sort();
        for (_, key) in due {
            let job = self.jobs.get_mut(&key).expect("due job exists");
            job.settled = true;
            let job = job.clone();
            self.apply(&job, &mut changes);
        }
        for item in self.items.values_mut() {
            if item.state == ItemState::InitialReplication
                && let (Some(start), Some(total)) =
                    (item.replication_started, item.replication_duration)
                && now >= start + total
            {
                item.state = ItemState::Protected;
            }
        }
        changes
    }

    fn apply(&mut self, job: &Job, changes: &mut Vec<VmChange>) {
        let key = job.target_object_id.to_ascii_lowercase();
        let Some(item) = self.items.get_mut(&key) else {
            return;
        };
        if item
            .current_job
            .as_deref()
            .is_some_and(|j| j.eq_ignore_ascii_case(&job.id))
        {
            item.current_job = None;
        }
        let failed = job.failure.is_some();
        let before = item.state_before.take();
        match (job.scenario, failed) {
            (Scenario::EnableDr, false) => {
                item.state = ItemState::InitialReplication;
                item.replication_started = Some(job.done_at);
            }
            // A failed enable leaves nothing behind, so it can be retried.
            (Scenario::EnableDr, true) => {
                self.items.remove(&key);
            }
            (Scenario::TestFailover, false) => {
                item.state = ItemState::TestFailedOver;
                item.last_test_failover = Some(job.done_at);
                let id = item.vm.id("-test");
                item.test_vm_id = Some(id.clone());
                let mut vm = item.vm.clone();
                if let Some(network) = &item.test_network_id {
                    vm.network_id = Some(network.clone());
                }
                // The test VM's own address (`tfoStaticIPAddress`) is not the target's: which
                // address ASR gives it when none is set is not documented (docs/azure-fidelity.md).
                vm.static_ip = None;
                changes.push(VmChange::Create { id, vm });
            }
            (Scenario::TestFailover, true) => item.state = ItemState::Protected,
            (Scenario::TestFailoverCleanup, false) => {
                item.state = ItemState::Protected;
                if let Some(id) = item.test_vm_id.take() {
                    changes.push(VmChange::Delete { id });
                }
            }
            (Scenario::TestFailoverCleanup, true) => item.state = ItemState::TestFailedOver,
            (Scenario::PlannedFailover | Scenario::UnplannedFailover, false) => {
                item.state = ItemState::FailedOver;
                item.active_location = "Recovery".into();
                item.last_failover = Some(job.done_at);
                let id = item.vm.id("");
                item.target_vm_id = Some(id.clone());
                changes.push(VmChange::Create {
                    id,
                    vm: item.vm.clone(),
                });
            }
            (Scenario::PlannedFailover | Scenario::UnplannedFailover, true) => {
                item.state = ItemState::Protected
            }
            (Scenario::Commit, false) => item.state = ItemState::Committed,
            (Scenario::Commit, true) => item.state = ItemState::FailedOver,
            // Back at the source, protected: ReplicationProtectedItems_FailoverCancel's answer.
            (Scenario::CancelFailover, false) => {
                item.state = ItemState::Protected;
                item.active_location = "Primary".into();
            }
            (Scenario::CancelFailover, true) => item.state = ItemState::FailedOver,
            (Scenario::DisableDr, false) => {
                self.items.remove(&key);
            }
            (Scenario::DisableDr, true) => item.state = before.unwrap_or(ItemState::Committed),
            (Scenario::Configure, _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn item(provider: &str, state: ItemState) -> ProtectedItem {
        ProtectedItem {
            id: "/v/replicationProtectedItems/web01".into(),
            name: "web01".into(),
            vault_id: "/v".into(),
            fabric_id: "/v/f".into(),
            container_id: "/v/f/c".into(),
            protectable_item_id: "/v/f/c/p".into(),
            source: "vmm".into(),
            machine: "WEB01".into(),
            provider: provider.into(),
            policy_id: "/v/p".into(),
            input: Value::Null,
            state,
            state_before: None,
            active_location: "Primary".into(),
            vm: TargetVm {
                resource_group_id: "/subscriptions/s/resourceGroups/rg".into(),
                name: "web01".into(),
                size: "Standard_D2s_v5".into(),
                location: "westeurope".into(),
                os_type: "Windows".into(),
                network_id: None,
                subnet: None,
                static_ip: None,
            },
            replication_started: None,
            replication_duration: Some(SignedDuration::from_secs(100)),
            current_job: None,
            test_vm_id: None,
            visible_at: None,
            test_network_id: None,
            target_vm_id: None,
            last_test_failover: None,
            last_failover: None,
        }
    }

    fn job(scenario: Scenario, start: i64, failure: Option<ServiceError>) -> Job {
        Job {
            id: format!("/v/replicationJobs/{scenario:?}-{start}"),
            name: format!("{scenario:?}-{start}"),
            vault_id: "/v".into(),
            scenario,
            target_object_id: "/v/replicationProtectedItems/web01".into(),
            target_object_name: "WEB01".into(),
            target_instance_type: "ProtectionEntity".into(),
            started_at: at(start),
            done_at: at(start) + scenario.duration(),
            failure,
            settled: false,
            visible_at: None,
        }
    }

    fn world_with(item: ProtectedItem, job: Job) -> Asr {
        let mut asr = Asr::default();
        let mut item = item;
        item.current_job = Some(job.id.clone());
        asr.items.insert(item.id.to_ascii_lowercase(), item);
        asr.jobs.insert(job.id.to_ascii_lowercase(), job);
        asr
    }

    #[test]
    fn allowed_operations_follow_the_state_and_the_provider() {
        assert_eq!(
            item("HyperVReplicaAzure", ItemState::Protected).allowed_operations(),
            [
                "TestFailover",
                "PlannedFailover",
                "UnplannedFailover",
                "DisableProtection"
            ]
        );
        assert_eq!(
            item("InMageRcm", ItemState::Protected).allowed_operations(),
            ["TestFailover", "UnplannedFailover", "DisableProtection"]
        );
        assert_eq!(
            item("InMageRcm", ItemState::TestFailedOver).allowed_operations(),
            ["TestFailoverCleanup"]
        );
        assert_eq!(
            item("InMageRcm", ItemState::FailedOver).allowed_operations(),
            ["Commit", "ChangePit"]
        );
        let mut busy = item("InMageRcm", ItemState::Protected);
        busy.current_job = Some("job".into());
        assert!(
            busy.allowed_operations().is_empty(),
            "nothing is allowed while a job runs"
        );
    }

    #[test]
    fn enable_then_initial_replication_then_protected() {
        let mut asr = world_with(
            item("HyperVReplicaAzure", ItemState::Enabling),
            job(Scenario::EnableDr, 0, None),
        );
        assert!(asr.settle(at(59)).is_empty());
        assert_eq!(
            asr.items.values().next().unwrap().state,
            ItemState::Enabling
        );
        asr.settle(at(60));
        let replicating = asr.items.values().next().unwrap();
        assert_eq!(replicating.state, ItemState::InitialReplication);
        assert_eq!(replicating.replication_progress(at(110)), 50);
        assert!(replicating.current_job.is_none());
        asr.settle(at(160));
        assert_eq!(
            asr.items.values().next().unwrap().state,
            ItemState::Protected
        );
    }

    #[test]
    fn test_failover_creates_the_test_vm_and_cleanup_removes_it() {
        let mut running = item("InMageRcm", ItemState::TestFailingOver);
        running.state_before = Some(ItemState::Protected);
        let mut asr = world_with(running, job(Scenario::TestFailover, 0, None));
        let created = asr.settle(at(300));
        assert_eq!(created, vec![VmChange::Create { id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web01-test".into(), vm: item("InMageRcm", ItemState::Protected).vm }]);
        let cleanup = job(Scenario::TestFailoverCleanup, 400, None);
        let key = cleanup.id.to_ascii_lowercase();
        asr.jobs.insert(key, cleanup);
        let removed = asr.settle(at(520));
        assert_eq!(removed, vec![VmChange::Delete { id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web01-test".into() }]);
        assert_eq!(
            asr.items.values().next().unwrap().state,
            ItemState::Protected
        );
    }

    #[test]
    fn a_failed_job_restores_the_state_it_started_from() {
        let failure = ServiceError {
            code: "70094".into(),
            message: "no".into(),
            ..Default::default()
        };
        let mut removing = item("InMageRcm", ItemState::Removing);
        removing.state_before = Some(ItemState::Protected);
        let mut asr = world_with(removing, job(Scenario::DisableDr, 0, Some(failure.clone())));
        asr.settle(at(120));
        assert_eq!(
            asr.items.values().next().unwrap().state,
            ItemState::Protected
        );
        let failover = world_with(
            item("InMageRcm", ItemState::FailingOver),
            job(Scenario::UnplannedFailover, 0, Some(failure)),
        );
        let mut failover = failover;
        assert!(
            failover.settle(at(300)).is_empty(),
            "a failed failover creates no VM"
        );
        assert_eq!(
            failover.jobs.values().next().unwrap().state(at(300)),
            "Failed"
        );
    }
}
