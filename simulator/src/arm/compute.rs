//! Microsoft.Compute/virtualMachines, read-only: the VMs Site Recovery's test failover and
//! failover create in the target resource group.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use serde_json::{Value, json};

use super::base_document;
use crate::app::Sim;
use crate::error::ArmError;
use crate::state::Resource;

pub const TYPE: &str = "Microsoft.Compute/virtualMachines";

pub fn document(vm: &Resource) -> Value {
    let mut body = base_document(vm, "Succeeded");
    body["properties"]["instanceView"] = json!({ "statuses": [
        { "code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded" },
        { "code": "PowerState/running", "level": "Info", "displayStatus": "VM running" },
    ]});
    body
}

pub async fn get(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ArmError> {
    super::get_in_group(&sim, &subscription, &group, TYPE, &name)
}

pub async fn list(
    State(sim): State<Sim>,
    Path((_, group)): Path<(String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    super::list_in_group(&sim, &uri, &group, TYPE)
}
