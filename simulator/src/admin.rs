//! `/_sim/`: the simulator's own API for tests and people (no authentication; loopback only).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::Sim;
use crate::error::ArmError;
use crate::faults::FaultSpec;
use crate::inventory::{Inventory, Source};

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/health", get(health))
        .route("/requests", get(requests).delete(clear_requests))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/clock", get(clock).post(advance_clock))
        .route("/inventory", get(inventory).post(add_to_inventory))
        .route("/register", post(register))
        .route("/identity", post(rotate_secret))
        .route("/consistency", get(consistency).put(set_consistency))
        .route("/quota", axum::routing::put(set_quota))
}

#[derive(Deserialize)]
struct Quota {
    location: String,
    /// `cores` (the regional total) or a family (`standardDSv5Family`).
    name: String,
    limit: u32,
}

/// Sets a vCPU quota's limit, as a quota increase (or a tight subscription) would.
async fn set_quota(State(sim): State<Sim>, Json(quota): Json<Quota>) -> StatusCode {
    crate::arm::capacity::set_limit(&mut sim.world(), &quota.location, &quota.name, quota.limit);
    sim.persist().await;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Consistency {
    /// For this long (real time) after its create returned, a new protected item is absent
    /// from lists and a new job from GETs and lists; 0 turns the fault off.
    new_object_lag_ms: u64,
}

async fn consistency(State(sim): State<Sim>) -> Json<Consistency> {
    Json(Consistency {
        new_object_lag_ms: sim.world().new_object_lag_ms.unwrap_or_default(),
    })
}

async fn set_consistency(State(sim): State<Sim>, Json(setting): Json<Consistency>) -> StatusCode {
    sim.world().new_object_lag_ms = Some(setting.new_object_lag_ms);
    sim.persist().await;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rotation {
    client_secret: String,
}

/// Rotates the service principal's client secret: from now on Entra accepts only the new one
/// (tokens already issued stay valid until they expire, as in Entra).
async fn rotate_secret(State(sim): State<Sim>, Json(rotation): Json<Rotation>) -> StatusCode {
    sim.world().rotated_client_secret = Some(rotation.client_secret);
    sim.persist().await;
    StatusCode::NO_CONTENT
}

async fn health(State(sim): State<Sim>) -> Json<Value> {
    Json(
        json!({ "status": "ok", "time": sim.now().to_string(), "subscription": sim.settings.subscription, "tokensIssued": sim.tokens.issued() }),
    )
}

/// Filters of `GET /_sim/requests`.
#[derive(Deserialize)]
struct RequestFilter {
    method: Option<String>,
    /// Case-insensitive substring of the path.
    path: Option<String>,
    status: Option<u16>,
}

async fn requests(State(sim): State<Sim>, Query(filter): Query<RequestFilter>) -> Json<Value> {
    let log = sim.requests.lock().unwrap_or_else(|e| e.into_inner());
    let path = filter.path.map(|p| p.to_ascii_lowercase());
    let matching: Vec<_> = log
        .iter()
        .filter(|r| {
            filter
                .method
                .as_deref()
                .is_none_or(|m| r.method.eq_ignore_ascii_case(m))
        })
        .filter(|r| {
            path.as_deref()
                .is_none_or(|p| r.path.to_ascii_lowercase().contains(p))
        })
        .filter(|r| filter.status.is_none_or(|s| r.status == s))
        .collect();
    Json(json!({ "count": matching.len(), "requests": matching }))
}

async fn clear_requests(State(sim): State<Sim>) -> StatusCode {
    sim.requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    StatusCode::NO_CONTENT
}

async fn list_faults(State(sim): State<Sim>) -> Json<Value> {
    Json(json!({ "faults": sim.faults.list() }))
}

async fn add_fault(
    State(sim): State<Sim>,
    Json(spec): Json<FaultSpec>,
) -> (StatusCode, Json<Value>) {
    let fault = sim.faults.add(spec);
    (StatusCode::CREATED, Json(json!(fault)))
}

async fn clear_faults(State(sim): State<Sim>) -> StatusCode {
    sim.faults.clear();
    StatusCode::NO_CONTENT
}

async fn clock(State(sim): State<Sim>) -> Json<Value> {
    Json(json!({ "now": sim.now().to_string(), "timeScale": sim.settings.time_scale }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Advance {
    advance_seconds: u64,
}

async fn advance_clock(State(sim): State<Sim>, Json(advance): Json<Advance>) -> Json<Value> {
    let now = sim
        .clock
        .advance(std::time::Duration::from_secs(advance.advance_seconds));
    Json(json!({ "now": now.to_string() }))
}

async fn inventory(State(sim): State<Sim>) -> Json<Inventory> {
    Json((*sim.inventory()).clone())
}

/// Adds sources, or machines to an existing source of the same name, while running.
async fn add_to_inventory(State(sim): State<Sim>, Json(added): Json<Inventory>) -> Json<Inventory> {
    let mut inventory = (*sim.inventory()).clone();
    inventory.merge(&added);
    sim.set_inventory(inventory.clone());
    sim.world().inventory_additions.merge(&added);
    sim.persist().await;
    Json(inventory)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Register {
    /// Inventory source name (VMM server, appliance).
    source: String,
    vault_id: String,
}

/// Registers a source with a vault, as installing the provider with a vault credentials file does.
async fn register(
    State(sim): State<Sim>,
    Json(request): Json<Register>,
) -> Result<Json<Value>, ArmError> {
    let inventory = sim.inventory();
    let source: &Source = inventory.source(&request.source).ok_or_else(|| {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("No source named {} in the inventory.", request.source),
        )
    })?;
    let vault_id = {
        let mut world = sim.world();
        let vault_id = world
            .resource(&request.vault_id)
            .map(|v| v.id.clone())
            .ok_or_else(|| {
                ArmError::new(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFound",
                    format!("No vault {}.", request.vault_id),
                )
            })?;
        crate::asr::register(&mut world, source, &vault_id);
        vault_id
    };
    let registered = source.name.clone();
    drop(inventory);
    sim.persist().await;
    Ok(Json(
        json!({ "registered": registered, "vaultId": vault_id }),
    ))
}
