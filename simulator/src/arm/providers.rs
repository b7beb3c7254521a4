//! Resource providers of the subscription (azure-mgmt-resource 26.0.0 `ProvidersOperations`):
//! `GET /subscriptions/{s}/providers/{namespace}`, `POST .../register` and `.../unregister`. A
//! write to a namespace the subscription is not registered for is refused with ARM's 409
//! `MissingSubscriptionRegistration`, in the body real ARM sends (quoted in
//! microsoft/microsoft-foundry-for-vscode issue 270 and Azure/azure-sdk-for-node issue 2305:
//! `details[0].target` names the namespace).
//!
//! Every namespace starts registered, so a fresh simulator behaves like a subscription that has
//! been used for migration before; a test unregisters one to see the refusal.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::app::Sim;
use crate::error::ArmError;

/// The namespaces the simulator serves, with the resource types each has here.
const NAMESPACES: &[(&str, &[&str])] = &[
    ("Microsoft.Resources", &["resourceGroups", "subscriptions"]),
    ("Microsoft.RecoveryServices", &["vaults", "operations"]),
    ("Microsoft.Storage", &["storageAccounts", "operations"]),
    (
        "Microsoft.Network",
        &["virtualNetworks", "networkInterfaces", "operations"],
    ),
    (
        "Microsoft.Compute",
        &["virtualMachines", "disks", "operations"],
    ),
];

fn known(namespace: &str) -> Option<&'static (&'static str, &'static [&'static str])> {
    NAMESPACES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(namespace))
}

/// ARM's 404 for a namespace it does not know (the code is ARM's; the wording is not sourced).
fn unknown_namespace(namespace: &str) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "InvalidResourceNamespace",
        format!("The resource namespace '{namespace}' is invalid."),
    )
}

/// The api-versions a namespace serves here, newest first: those of azure-sim's request
/// contract, and for Compute (whose pinned SDK's VM operations the contract leaves out) also
/// the one cutover reads VMs at (azure-mgmt-compute's `VirtualMachinesOperations`).
fn api_versions(namespace: &str) -> Vec<String> {
    let mut versions = crate::contract::api_versions_of(namespace);
    if namespace.eq_ignore_ascii_case("Microsoft.Compute")
        && !versions.iter().any(|v| v == "2024-07-01")
    {
        versions.push("2024-07-01".into());
        versions.sort_unstable_by(|a, b| b.cmp(a));
    }
    versions
}

/// `Provider`: `id`, `namespace`, `registrationState`, `registrationPolicy`, `resourceTypes`.
fn document(sim: &Sim, subscription: &str, namespace: &str, types: &[&str]) -> Value {
    let registered = !sim
        .world()
        .unregistered_providers
        .contains(&namespace.to_ascii_lowercase());
    json!({
        "id": format!("/subscriptions/{subscription}/providers/{namespace}"),
        "namespace": namespace,
        "registrationState": if registered { "Registered" } else { "NotRegistered" },
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": types.iter().map(|t| json!({ "resourceType": t, "locations": [], "apiVersions": api_versions(namespace) })).collect::<Vec<_>>(),
    })
}

pub async fn get(
    State(sim): State<Sim>,
    Path((subscription, namespace)): Path<(String, String)>,
) -> Result<Json<Value>, ArmError> {
    let (name, types) = known(&namespace).ok_or_else(|| unknown_namespace(&namespace))?;
    Ok(Json(document(&sim, &subscription, name, types)))
}

/// Registration takes effect at once here; ARM may answer `Registering` for a while (not modelled).
pub async fn register(
    State(sim): State<Sim>,
    Path((subscription, namespace)): Path<(String, String)>,
) -> Result<Json<Value>, ArmError> {
    set_registered(&sim, &subscription, &namespace, true)
}

pub async fn unregister(
    State(sim): State<Sim>,
    Path((subscription, namespace)): Path<(String, String)>,
) -> Result<Json<Value>, ArmError> {
    set_registered(&sim, &subscription, &namespace, false)
}

fn set_registered(
    sim: &Sim,
    subscription: &str,
    namespace: &str,
    registered: bool,
) -> Result<Json<Value>, ArmError> {
    let (name, types) = known(namespace).ok_or_else(|| unknown_namespace(namespace))?;
    {
        let mut world = sim.world();
        let key = name.to_ascii_lowercase();
        if registered {
            world.unregistered_providers.remove(&key);
        } else {
            world.unregistered_providers.insert(key);
        }
    }
    Ok(Json(document(sim, subscription, name, types)))
}

/// The 409 for a write to `{...}/providers/{namespace}/...` when the subscription is not
/// registered for that namespace; `None` when it may go ahead.
pub fn check_registered(sim: &Sim, method: &str, path: &str) -> Option<ArmError> {
    if method == "GET" || method == "HEAD" {
        return None;
    }
    let lowered = path.to_ascii_lowercase();
    let namespace = lowered
        .split("/providers/")
        .nth(1)?
        .split('/')
        .next()?
        .to_owned();
    // Registering is how a subscription gets out of this state.
    if lowered.ends_with("/register") || lowered.ends_with("/unregister") {
        return None;
    }
    if !sim.world().unregistered_providers.contains(&namespace) {
        return None;
    }
    let name = known(&namespace).map_or(namespace.as_str(), |(name, _)| name);
    let message = format!(
        "The subscription is not registered to use namespace '{name}'. See https://aka.ms/rps-not-found for how to register subscriptions."
    );
    Some(ArmError {
        details: vec![
            json!({ "code": "MissingSubscriptionRegistration", "target": name, "message": message }),
        ],
        ..ArmError::conflict("MissingSubscriptionRegistration", message)
    })
}
