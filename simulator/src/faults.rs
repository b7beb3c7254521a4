//! Faults injected through `/_sim/faults`: an error status (with `Retry-After`), added
//! latency, a dropped connection, or a failed ASR job, for requests matching a method and a
//! path substring, a number of times or for a fraction of them.

use std::sync::Mutex;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::asr::model::ServiceError;
use crate::error::ArmError;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FaultSpec {
    /// HTTP method to match (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Case-insensitive substring of the path to match (any when absent).
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Status to answer instead of the real response.
    #[serde(default)]
    pub status: Option<u16>,
    /// ARM error code of that answer (a generic one per status when absent).
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub retry_after_seconds: Option<u64>,
    /// Delay before answering (or before the real handler runs, when no status is set).
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Apply to this many matching requests, then retire.
    #[serde(default)]
    pub times: Option<u32>,
    /// Apply to this fraction of matching requests, spread evenly (0.25: every fourth).
    #[serde(default)]
    pub rate: Option<f64>,
    /// Accept the request, but fail the ASR job it starts with this error.
    #[serde(default)]
    pub fail_job: Option<ServiceError>,
    /// Close the connection without an answer: before the request is handled (it never
    /// reached ARM) or after (ARM acted on it and the answer was lost).
    #[serde(default)]
    pub drop_connection: Option<DropConnection>,
    /// Accept the write, but end its long-running operation `Failed` with this error.
    #[serde(default)]
    pub fail_operation: Option<OperationFailure>,
}

/// How an accepted write fails: the operation's error, and whether the resource is left in
/// `Failed` (`provisioningState`) or never appears (terraform-provider-azurerm PR 16573 shows
/// a GET answering 404 while the operation held `NetworkAclsValidationFailure`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OperationFailure {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub leave_resource: bool,
}

/// When a dropped connection drops.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum DropConnection {
    Before,
    After,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    pub id: String,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Matching requests seen, and how many were hit.
    pub matched: u64,
    pub applied: u64,
}

/// What a fault does to one request.
#[derive(Debug, Default, PartialEq)]
pub struct Effect {
    pub latency_ms: u64,
    pub error: Option<ArmError>,
    pub fail_job: Option<ServiceError>,
    pub drop_connection: Option<DropConnection>,
    pub fail_operation: Option<OperationFailure>,
}

#[derive(Debug, Default)]
pub struct Faults {
    faults: Mutex<Vec<Fault>>,
}

impl Faults {
    pub fn add(&self, spec: FaultSpec) -> Fault {
        let fault = Fault {
            id: uuid::Uuid::new_v4().to_string(),
            spec,
            matched: 0,
            applied: 0,
        };
        self.faults.lock().expect("faults lock").push(fault.clone());
        fault
    }

    pub fn list(&self) -> Vec<Fault> {
        self.faults.lock().expect("faults lock").clone()
    }

    pub fn clear(&self) {
        self.faults.lock().expect("faults lock").clear();
    }

    /// The effect of the first fault matching this request, counting it.
    pub fn apply(&self, method: &str, path: &str) -> Effect {
        let mut faults = self.faults.lock().expect("faults lock");
        let path = path.to_ascii_lowercase();
        for fault in faults.iter_mut() {
            let spec = &fault.spec;
            let method_matches = spec
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method));
            let path_matches = spec
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(&p.to_ascii_lowercase()));
            let exhausted = spec
                .times
                .is_some_and(|times| fault.applied >= u64::from(times));
            if !method_matches || !path_matches || exhausted {
                continue;
            }
            fault.matched += 1;
            if let Some(rate) = spec.rate {
                // Hit exactly when the running share of hits would fall below `rate`.
                let due = (fault.matched as f64 * rate).floor() as u64;
                if due <= fault.applied {
                    continue;
                }
            }
            fault.applied += 1;
            return Effect {
                latency_ms: spec.latency_ms.unwrap_or(0),
                error: spec.status.map(|status| fault_error(spec, status)),
                fail_job: spec.fail_job.clone(),
                drop_connection: spec.drop_connection,
                fail_operation: spec.fail_operation.clone(),
            };
        }
        Effect::default()
    }
}

fn fault_error(spec: &FaultSpec, status: u16) -> ArmError {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = spec.error_code.clone().unwrap_or_else(|| {
        match status.as_u16() {
            409 => "Conflict",
            429 => "TooManyRequests",
            500 => "InternalServerError",
            502 => "BadGateway",
            503 => "ServiceUnavailable",
            504 => "GatewayTimeout",
            _ => "InjectedFault",
        }
        .to_owned()
    });
    let message = spec
        .message
        .clone()
        .unwrap_or_else(|| format!("azure-sim injected {} for this request.", status.as_u16()));
    let mut error = ArmError::new(status, &code, message);
    error.retry_after = spec.retry_after_seconds;
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_limits_how_often_a_fault_applies() {
        let faults = Faults::default();
        faults.add(FaultSpec {
            method: Some("GET".into()),
            path_contains: Some("/vaults/".into()),
            status: Some(503),
            times: Some(2),
            ..Default::default()
        });
        assert_eq!(faults.apply("PUT", "/x/vaults/v").error, None);
        assert_eq!(faults.apply("GET", "/x/storageAccounts/s").error, None);
        assert_eq!(
            faults.apply("GET", "/x/VAULTS/v").error.map(|e| e.code),
            Some("ServiceUnavailable".into())
        );
        assert!(faults.apply("GET", "/x/vaults/v").error.is_some());
        assert_eq!(faults.apply("GET", "/x/vaults/v").error, None);
    }

    #[test]
    fn rate_hits_an_even_share() {
        let faults = Faults::default();
        faults.add(FaultSpec {
            status: Some(500),
            rate: Some(0.25),
            ..Default::default()
        });
        let hits = (0..100)
            .filter(|_| faults.apply("GET", "/").error.is_some())
            .count();
        assert_eq!(hits, 25);
    }
}
