//! The simulated Azure: resource groups, resources and long-running operations, in memory,
//! optionally saved to a file (`--state`) after every change so a restart resumes it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::asr::model::{Asr, VmChange};
use crate::error::ArmError;

/// Everything the simulator holds. Keys are lowercased, as ARM compares names and IDs.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct World {
    /// Simulated time when the world was last saved; a restart resumes from it.
    #[serde(default)]
    pub saved_at: Option<Timestamp>,
    pub resource_groups: BTreeMap<String, ResourceGroup>,
    /// Resources inside resource groups, by lowercased resource ID.
    pub resources: BTreeMap<String, Resource>,
    pub operations: BTreeMap<String, Operation>,
    /// Site Recovery's objects, items and jobs.
    #[serde(default)]
    pub asr: Asr,
    /// Sources and machines added through `/_sim/inventory`, so a restart keeps them.
    #[serde(default)]
    pub inventory_additions: crate::inventory::Inventory,
    /// Access tokens issued and still valid, with their expiry: a restart keeps them valid.
    #[serde(default)]
    pub tokens: std::collections::HashMap<String, Timestamp>,
    /// The client secret accepted since the last rotation through `/_sim/identity`.
    #[serde(default)]
    pub rotated_client_secret: Option<String>,
    /// Eventual consistency, as a fault (`/_sim/consistency`): for this long (real time) after
    /// its create returned, a new protected item is absent from lists and a new job from GETs
    /// and lists.
    #[serde(default)]
    pub new_object_lag_ms: Option<u64>,
    /// Resource provider namespaces (lowercased) the subscription is not registered for.
    #[serde(default)]
    pub unregistered_providers: std::collections::BTreeSet<String>,
    /// vCPU quota limits set through `/_sim/quota`, by `{location}/{usage name}`.
    #[serde(default)]
    pub quotas: BTreeMap<String, u32>,
}

impl World {
    /// When an object created now becomes visible to reads, under the consistency fault.
    pub fn visible_at(&self) -> Option<Timestamp> {
        self.new_object_lag_ms
            .filter(|&ms| ms > 0)
            .map(|ms| Timestamp::now() + jiff::SignedDuration::from_millis(ms as i64))
    }
}

/// Whether an object stamped `visible_at` can be read yet.
pub fn visible(visible_at: Option<Timestamp>) -> bool {
    visible_at.is_none_or(|t| Timestamp::now() >= t)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResourceGroup {
    pub name: String,
    pub location: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Set while a deletion runs; the group and its resources vanish then.
    #[serde(default)]
    pub deleting_until: Option<Timestamp>,
}

/// One ARM resource, stored as the properties the client sent plus what ARM adds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub resource_group: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub sku: Option<Value>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub properties: Value,
    pub created_at: Timestamp,
    /// When the last create or update finishes provisioning.
    pub ready_at: Timestamp,
    /// Set while a deletion runs; the resource vanishes then.
    #[serde(default)]
    pub deleting_until: Option<Timestamp>,
    /// Its last create or update ended `Failed` (an injected fault): `provisioningState` says
    /// so once the operation is over, until a PUT succeeds.
    #[serde(default)]
    pub failed: bool,
}

impl Resource {
    /// ARM's 409 for a PUT that would move an existing resource to another location.
    pub fn check_same_location(&self, location: &str) -> Result<(), ArmError> {
        match self.location.as_deref() {
            Some(current) if current != location => Err(ArmError::conflict(
                "InvalidResourceLocation",
                format!(
                    "The resource '{}' already exists in location '{current}' in resource group '{}'. A resource with the same name cannot be created in location '{location}'.",
                    self.name, self.resource_group
                ),
            )),
            _ => Ok(()),
        }
    }

    /// ARM's `provisioningState` at `now`.
    pub fn provisioning_state(&self, now: Timestamp, in_progress: &str) -> &'static str {
        match (self.deleting_until, now < self.ready_at) {
            (Some(_), _) => "Deleting",
            (None, false) if self.failed => "Failed",
            (None, true) if in_progress == "Creating" => "Creating",
            (None, true) if in_progress == "ResolvingDNS" => "ResolvingDNS",
            (None, true) => "Updating",
            (None, false) => "Succeeded",
        }
    }
}

/// A long-running operation a client polls.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Operation {
    pub id: String,
    /// The resource it creates, updates or deletes.
    pub resource_id: String,
    pub kind: OperationKind,
    pub started_at: Timestamp,
    pub done_at: Timestamp,
    /// Set when the operation fails; the error body clients see.
    #[serde(default)]
    pub error: Option<ArmError>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationKind {
    Create,
    Delete,
}

impl World {
    /// Applies what finished by `now`: ASR jobs (and the VMs they create or remove), and
    /// deletions.
    pub fn settle(&mut self, now: Timestamp) {
        for change in self.asr.settle(now) {
            match change {
                VmChange::Create { id, vm } => {
                    crate::arm::compute::create_vm(self, &id, &vm, now);
                }
                VmChange::Delete { id } => crate::arm::compute::delete_vm(self, &id),
            }
        }
        let gone_groups: Vec<String> = self
            .resource_groups
            .iter()
            .filter(|(_, g)| g.deleting_until.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for group in gone_groups {
            self.resource_groups.remove(&group);
            self.resources
                .retain(|_, r| r.resource_group.to_ascii_lowercase() != group);
        }
        self.resources
            .retain(|_, r| r.deleting_until.is_none_or(|t| t > now));
    }

    pub fn resource_group(&self, name: &str) -> Option<&ResourceGroup> {
        self.resource_groups
            .get(&name.to_ascii_lowercase())
            .filter(|g| g.deleting_until.is_none())
    }

    /// The resource group, or ARM's 404 for it.
    pub fn require_resource_group(&self, name: &str) -> Result<&ResourceGroup, ArmError> {
        self.resource_group(name)
            .ok_or_else(|| ArmError::resource_group_not_found(name))
    }

    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.get(&id.to_ascii_lowercase())
    }

    pub fn resource_mut(&mut self, id: &str) -> Option<&mut Resource> {
        self.resources.get_mut(&id.to_ascii_lowercase())
    }

    pub fn insert(&mut self, resource: Resource) {
        self.resources
            .insert(resource.id.to_ascii_lowercase(), resource);
    }

    /// Resources of a type in a resource group (or in the subscription), sorted by ID.
    pub fn list(&self, resource_type: &str, resource_group: Option<&str>) -> Vec<&Resource> {
        self.resources
            .values()
            .filter(|r| r.resource_type.eq_ignore_ascii_case(resource_type))
            .filter(|r| resource_group.is_none_or(|g| r.resource_group.eq_ignore_ascii_case(g)))
            .filter(|r| r.deleting_until.is_none())
            .collect()
    }
}

/// Where the world is saved, if anywhere.
#[derive(Clone, Debug, Default)]
pub struct Persistence {
    pub path: Option<PathBuf>,
}

impl Persistence {
    pub fn load(&self) -> anyhow::Result<World> {
        let Some(path) = &self.path else {
            return Ok(World::default());
        };
        match std::fs::read(path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(World::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes a serialized world atomically (a temporary file renamed over the old one).
    pub fn save_bytes(&self, bytes: &[u8]) -> anyhow::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let partial = path.with_extension("partial");
        std::fs::write(&partial, bytes)?;
        std::fs::rename(&partial, path)?;
        Ok(())
    }
}
