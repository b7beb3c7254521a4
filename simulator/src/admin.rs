//! `/_sim/`: the simulator's own API for tests and people (no authentication; loopback only).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::Sim;
use crate::faults::FaultSpec;

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/health", get(health))
        .route("/requests", get(requests).delete(clear_requests))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/clock", get(clock).post(advance_clock))
}

async fn health(State(sim): State<Sim>) -> Json<Value> {
    Json(
        json!({ "status": "ok", "time": sim.now().to_string(), "subscription": sim.settings.subscription }),
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
