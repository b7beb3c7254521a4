//! ARM long-running operations: the `Azure-AsyncOperation` status document and the
//! `Location` result (202 until done, then the outcome), with `Retry-After`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::app::Sim;
use crate::error::ArmError;
use crate::state::{Operation, OperationKind, World};

/// Records an operation on `resource_id` that finishes `duration` from `now`.
pub fn start(
    world: &mut World,
    resource_id: &str,
    kind: OperationKind,
    now: Timestamp,
    duration: SignedDuration,
) -> Operation {
    let operation = Operation {
        id: uuid::Uuid::new_v4().to_string(),
        resource_id: resource_id.to_owned(),
        kind,
        started_at: now,
        done_at: now + duration,
        error: None,
    };
    world
        .operations
        .insert(operation.id.clone(), operation.clone());
    operation
}

/// Makes an accepted write's operation end `Failed` with the injected error: the resource is
/// left `Failed`, or, when the failure does not leave it, removed (a failed create leaves no
/// resource behind). Without a failure, a write that succeeds clears an earlier `Failed`.
pub fn fail(
    world: &mut World,
    operation_id: &str,
    resource_id: &str,
    failure: Option<&crate::faults::OperationFailure>,
) {
    match failure {
        None => {
            if let Some(resource) = world.resource_mut(resource_id) {
                resource.failed = false;
            }
        }
        Some(failure) => {
            if let Some(operation) = world.operations.get_mut(operation_id) {
                operation.error = Some(ArmError::bad_request(&failure.code, &failure.message));
            }
            if failure.leave_resource {
                if let Some(resource) = world.resource_mut(resource_id) {
                    resource.failed = true;
                }
            } else {
                world.resources.remove(&resource_id.to_ascii_lowercase());
            }
        }
    }
}

/// A 202 Accepted pointing at where to poll.
pub fn accepted(
    sim: &Sim,
    location: &str,
    async_operation: Option<&str>,
    duration: SignedDuration,
) -> Response {
    let mut response = StatusCode::ACCEPTED.into_response();
    add_polling_headers(
        sim,
        &mut response,
        Some(location),
        async_operation,
        duration,
    );
    response
}

/// Adds `Location`, `Azure-AsyncOperation` and `Retry-After` to a response.
pub fn add_polling_headers(
    sim: &Sim,
    response: &mut Response,
    location: Option<&str>,
    async_operation: Option<&str>,
    remaining: SignedDuration,
) {
    let headers = response.headers_mut();
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    if let Some(url) = async_operation.and_then(|u| HeaderValue::from_str(u).ok()) {
        headers.insert("azure-asyncoperation", url);
    }
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from(sim.clock.retry_after_seconds(remaining)),
    );
}

/// `GET /subscriptions/{s}/providers/{ns}/locations/{l}/{kind}/{id}`: a status document for
/// `operations` (Azure-AsyncOperation), a result for `operationResults` and `asyncoperations`.
pub async fn get(
    State(sim): State<Sim>,
    Path((_, namespace, _, kind, id)): Path<(String, String, String, String, String)>,
    uri: Uri,
) -> Result<Response, ArmError> {
    let operation = find(&sim, &id, &namespace)?;
    if kind.eq_ignore_ascii_case("operations") || kind.eq_ignore_ascii_case("operationStatus") {
        Ok(Json(status_document(&sim, &operation)).into_response())
    } else {
        Ok(result(&sim, &operation, &uri))
    }
}

/// `GET /subscriptions/{s}/operationResults/{id}`: a resource group deletion's result.
pub async fn get_group_operation(
    State(sim): State<Sim>,
    Path((_, id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, ArmError> {
    let operation = find(&sim, &id, "Microsoft.Resources")?;
    Ok(result(&sim, &operation, &uri))
}

fn find(sim: &Sim, id: &str, namespace: &str) -> Result<Operation, ArmError> {
    sim.world().operations.get(id).cloned().ok_or_else(|| {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            format!("The operation '{id}' of provider '{namespace}' could not be found."),
        )
    })
}

fn status_document(sim: &Sim, operation: &Operation) -> Value {
    let now = sim.now();
    let status = match (&operation.error, now >= operation.done_at) {
        (_, false) => "InProgress",
        (Some(_), true) => "Failed",
        (None, true) => "Succeeded",
    };
    let mut body = json!({
        "id": operation.id,
        "name": operation.id,
        "status": status,
        "startTime": operation.started_at.to_string(),
    });
    if now >= operation.done_at {
        body["endTime"] = json!(operation.done_at.to_string());
        if let Some(error) = &operation.error {
            body["error"] = error.body()["error"].clone();
        }
    }
    body
}

fn result(sim: &Sim, operation: &Operation, uri: &Uri) -> Response {
    let now = sim.now();
    if now < operation.done_at {
        let mut response = StatusCode::ACCEPTED.into_response();
        let location = format!("{}{}", sim.base_url(), uri);
        add_polling_headers(
            sim,
            &mut response,
            Some(&location),
            None,
            operation.done_at.duration_since(now),
        );
        return response;
    }
    if let Some(error) = &operation.error {
        return error.clone().into_response();
    }
    match operation.kind {
        OperationKind::Delete => StatusCode::NO_CONTENT.into_response(),
        OperationKind::Create => {
            let world = sim.world();
            match world.resource(&operation.resource_id) {
                Some(resource) => Json(super::document(sim, &world, resource)).into_response(),
                None => StatusCode::NO_CONTENT.into_response(),
            }
        }
    }
}
