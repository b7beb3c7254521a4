//! Replication jobs, and the operation endpoints that report them to LRO pollers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::model::{Job, Scenario};
use super::{asr_not_found, find, object_document, require_vault};
use crate::app::Sim;
use crate::arm::{operations, page};
use crate::error::ArmError;

type JobPath = Path<(String, String, String, String)>;

pub fn document(sim: &Sim, job: &Job) -> Value {
    let now = sim.now();
    let state = job.state(now);
    let (scenario, friendly) = job.scenario.names();
    let errors: Vec<Value> = match (&job.failure, state) {
        (Some(error), "Failed") => vec![json!({
            "serviceErrorDetails": {
                "code": error.code, "message": error.message, "possibleCauses": error.possible_causes,
                "recommendedAction": error.recommended_action, "activityId": job.name,
            },
            "errorLevel": "Error",
            "creationTime": job.done_at.to_string(),
            "taskId": format!("{}-task", job.name),
        })],
        _ => vec![],
    };
    json!({
        "id": job.id,
        "name": job.name,
        "type": "Microsoft.RecoveryServices/vaults/replicationJobs",
        "properties": {
            "activityId": job.name,
            "scenarioName": scenario,
            "friendlyName": friendly,
            "state": state,
            "stateDescription": state,
            "tasks": [],
            "errors": errors,
            "startTime": job.started_at.to_string(),
            "endTime": if now >= job.done_at { json!(job.done_at.to_string()) } else { Value::Null },
            "allowedActions": if state == "Failed" { json!(["Restart"]) } else { json!([]) },
            "targetObjectId": job.target_object_id,
            "targetObjectName": job.target_object_name,
            "targetInstanceType": job.target_instance_type,
            "customDetails": { "instanceType": "AsrJobDetails", "affectedObjectDetails": {} },
        },
    })
}

fn find_job(sim: &Sim, s: &str, g: &str, v: &str, name: &str) -> Result<Job, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, s, g, v)?;
    world
        .asr
        .jobs
        .get(&format!("{vault_id}/replicationJobs/{name}").to_ascii_lowercase())
        .cloned()
        .ok_or_else(|| asr_not_found("job", name))
}

pub async fn get(
    State(sim): State<Sim>,
    Path((s, g, v, j)): JobPath,
) -> Result<Json<Value>, ArmError> {
    let job = find_job(&sim, &s, &g, &v, &j)?;
    if !crate::state::visible(job.visible_at) {
        return Err(asr_not_found("job", &j));
    }
    Ok(Json(document(&sim, &job)))
}

pub async fn list(
    State(sim): State<Sim>,
    Path((s, g, v)): Path<(String, String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let mut jobs: Vec<&Job> = world
        .asr
        .jobs
        .values()
        .filter(|j| j.vault_id.eq_ignore_ascii_case(&vault_id))
        .filter(|j| crate::state::visible(j.visible_at))
        .collect();
    jobs.sort_by_key(|j| std::cmp::Reverse(j.started_at));
    Ok(Json(page(
        &sim,
        &uri,
        jobs.into_iter().map(|j| document(&sim, j)).collect(),
    )))
}

/// `Azure-AsyncOperation`: the job's status.
pub async fn operation_status(
    State(sim): State<Sim>,
    Path((s, g, v, j)): JobPath,
) -> Result<Json<Value>, ArmError> {
    let job = find_job(&sim, &s, &g, &v, &j)?;
    let state = job.state(sim.now());
    let mut body = json!({ "id": job.id, "name": job.name, "status": state, "startTime": job.started_at.to_string() });
    if let (Some(error), "Failed") = (&job.failure, state) {
        body["error"] = json!({ "code": error.code, "message": error.message });
    }
    Ok(Json(body))
}

/// `Location`: 202 while the job runs; then the object it worked on, or the job's error.
pub async fn operation_result(
    State(sim): State<Sim>,
    Path((s, g, v, j)): JobPath,
    uri: Uri,
) -> Result<Response, ArmError> {
    let job = find_job(&sim, &s, &g, &v, &j)?;
    let now = sim.now();
    if now < job.done_at {
        let mut response = StatusCode::ACCEPTED.into_response();
        let location = format!("{}{}", sim.base_url(), uri);
        operations::add_polling_headers(
            &sim,
            &mut response,
            Some(&location),
            None,
            job.done_at.duration_since(now),
        );
        return Ok(response);
    }
    if let Some(error) = &job.failure {
        return Err(ArmError::bad_request(
            &error.code,
            format!(
                "{} Job {} failed: {}",
                job.scenario.names().1,
                job.name,
                error.message
            ),
        ));
    }
    let world = sim.world();
    if let Some(item) = world
        .asr
        .items
        .get(&job.target_object_id.to_ascii_lowercase())
    {
        return Ok(Json(super::items::document(&sim, &world, item)).into_response());
    }
    if job.scenario == Scenario::Configure
        && let Some(object) = find(&world, &job.target_object_id)
    {
        return Ok(Json(object_document(object)).into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
