//! Microsoft.Compute/virtualMachines, read-only: the VMs Site Recovery's test failover and
//! failover create in the target resource group.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use serde_json::{Value, json};

use super::{base_document, page, resource_id};
use crate::app::Sim;
use crate::error::ArmError;
use crate::state::Resource;

pub const TYPE: &str = "Microsoft.Compute/virtualMachines";

fn document(vm: &Resource) -> Value {
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
    let world = sim.world();
    world.require_resource_group(&group)?;
    let vm = world
        .resource(&resource_id(&subscription, &group, TYPE, &name))
        .ok_or_else(|| ArmError::not_found(TYPE, &name, &group))?;
    Ok(Json(document(vm)))
}

pub async fn list(
    State(sim): State<Sim>,
    Path((_, group)): Path<(String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    world.require_resource_group(&group)?;
    let items = world
        .list(TYPE, Some(&group))
        .into_iter()
        .map(document)
        .collect();
    Ok(Json(page(&sim, &uri, items)))
}
