//! What a client reads before it touches a resource: the subscriptions and tenants the
//! identity can see (`Subscriptions_List`, `Subscriptions_Get`, `Tenants_List`), and the cloud's
//! endpoints (`GET /metadata/endpoints`, unauthenticated), which `az cloud register` reads.
//!
//! Shapes: azure-mgmt-resource's `subscriptions` models at 2022-12-01 (`Subscription`,
//! `SubscriptionPolicies`, `TenantIdDescription`; the version Azure CLI 2.91.0 calls), and a
//! real `GET /subscriptions` answer quoted in public code (`authorizationSource`,
//! `managedByTenants`, `subscriptionPolicies`, `count`). The metadata document is the
//! 2022-09-01 single object management.azure.com serves (quoted in Azure/azure-cli issue 29283);
//! the Azure CLI 2.91.0 reads `name`, `authentication.loginEndpoint`, `authentication.audiences`,
//! `resourceManager` and `suffixes` (`azure/cli/core/cloud.py` `_arm_to_cli_mapper`).

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::Sim;
use crate::error::ArmError;

/// The audience ARM tokens are for: public Azure's management resource, as the metadata of
/// management.azure.com names it first (azure-sim's tokens are public Azure's).
pub const ARM_AUDIENCE: &str = "https://management.core.windows.net/";

fn subscription(sim: &Sim) -> Value {
    let id = &sim.settings.subscription;
    json!({
        "id": format!("/subscriptions/{id}"),
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": id,
        "tenantId": sim.settings.tenant,
        "displayName": "azure-sim",
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    })
}

/// `Subscriptions_List`: the one subscription azure-sim has.
pub async fn list(State(sim): State<Sim>) -> Json<Value> {
    Json(json!({ "value": [subscription(&sim)], "count": { "type": "Total", "value": 1 } }))
}

/// `Subscriptions_Get` (another subscription is refused by the gate: `SubscriptionNotFound`).
pub async fn get(State(sim): State<Sim>) -> Json<Value> {
    Json(subscription(&sim))
}

/// `Tenants_List`: the tenant the identity signs in to.
pub async fn tenants(State(sim): State<Sim>) -> Json<Value> {
    let tenant = &sim.settings.tenant;
    Json(json!({ "value": [{
        "id": format!("/tenants/{tenant}"),
        "tenantId": tenant,
        "tenantCategory": "Home",
        "displayName": "azure-sim",
        "defaultDomain": "azure-sim.onmicrosoft.com",
        "domains": ["azure-sim.onmicrosoft.com"],
        "tenantType": "AAD",
    }] }))
}

#[derive(Deserialize)]
pub struct MetadataQuery {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

/// `GET /metadata/endpoints`: where this cloud signs in and what its ARM tokens are for. The
/// login endpoint and ARM are both azure-sim. 2022-09-01 answers one object; 2019-05-01 and
/// 2020-06-01 a list of them.
pub async fn metadata_endpoints(
    State(sim): State<Sim>,
    Query(query): Query<MetadataQuery>,
) -> Result<Json<Value>, ArmError> {
    let base = format!("{}/", sim.base_url());
    let cloud = json!({
        "name": "AzureSim",
        "portal": base,
        "authentication": {
            "loginEndpoint": base,
            "audiences": [ARM_AUDIENCE, "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "resourceManager": base,
        "suffixes": {},
    });
    match query.api_version.as_deref() {
        Some("2022-09-01") => Ok(Json(cloud)),
        Some("2019-05-01" | "2020-06-01") => Ok(Json(json!([cloud]))),
        other => Err(ArmError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{}' is invalid. The supported versions are '2022-09-01,2020-06-01,2019-05-01'.",
                other.unwrap_or_default()
            ),
        )),
    }
}
