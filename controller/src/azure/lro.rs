//! ARM's long-running operations, in one place. A write answers 200/201 (done, or check
//! `provisioningState`), or 202 with `Azure-AsyncOperation` and/or `Location` and
//! `Retry-After`. Reconcilers do not block on them: they record what was started and re-GET
//! the resource (or follow the ASR job) on the next pass. For Site Recovery the operation's
//! ID is the job's, so the job to follow is read from these headers.

use std::time::Duration;

use azure_core::http::Url;

/// How ARM said to follow an accepted operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Polling {
    pub async_operation: Option<Url>,
    pub location: Option<Url>,
    pub retry_after: Option<Duration>,
}

impl Polling {
    pub fn from_headers(
        async_operation: Option<&str>,
        location: Option<&str>,
        retry_after: Option<&str>,
    ) -> Polling {
        Polling {
            async_operation: async_operation.and_then(|u| Url::parse(u).ok()),
            location: location.and_then(|u| Url::parse(u).ok()),
            retry_after: retry_after
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.async_operation.is_none() && self.location.is_none()
    }

    /// The ASR job an operation runs as: the last segment of
    /// `.../replicationOperationResults/{job}` or `.../replicationOperationStatus/{job}`, or of
    /// a `.../replicationJobs/{job}` URL.
    pub fn asr_job_name(&self) -> Option<String> {
        [&self.location, &self.async_operation]
            .into_iter()
            .flatten()
            .find_map(|url| {
                let segments: Vec<&str> = url.path_segments()?.collect();
                let at = segments.iter().rposition(|s| {
                    [
                        "replicationOperationResults",
                        "replicationOperationStatus",
                        "replicationJobs",
                        "operationresults",
                    ]
                    .iter()
                    .any(|k| s.eq_ignore_ascii_case(k))
                })?;
                segments
                    .get(at + 1)
                    .filter(|name| !name.is_empty())
                    .map(|name| (*name).to_owned())
            })
    }
}

/// Where a long-running operation is, as its polling URL answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperationStatus {
    Running {
        retry_after: Option<Duration>,
    },
    Succeeded,
    /// Ended `Failed` or `Canceled`, with ARM's error.
    Failed {
        code: String,
        message: String,
    },
    /// The URL no longer knows the operation (ARM keeps them for a while only).
    Unknown,
}

impl OperationStatus {
    /// Reads an answer of the operation's URL. `Azure-AsyncOperation` answers 200 with a status
    /// document (`status`: `InProgress`, `Succeeded`, `Failed`, `Canceled`, and `error` when it
    /// failed); `Location` answers 202 while running, then the result (2xx) or the operation's
    /// error as an ARM error body (Azure/azure-resource-manager-rpc `v1.0/async-api-reference.md`).
    pub fn read(
        async_operation: bool,
        status: u16,
        body: &serde_json::Value,
        retry_after: Option<Duration>,
    ) -> OperationStatus {
        let failed = |error: &serde_json::Value, fallback: &str| OperationStatus::Failed {
            code: error["code"].as_str().unwrap_or(fallback).to_owned(),
            message: error["message"]
                .as_str()
                .unwrap_or("Azure gave no message")
                .to_owned(),
        };
        match (async_operation, status) {
            (_, 404) => OperationStatus::Unknown,
            (_, 202) => OperationStatus::Running { retry_after },
            (true, 200) => match body["status"].as_str().unwrap_or_default() {
                state if state.eq_ignore_ascii_case("Succeeded") => OperationStatus::Succeeded,
                state if is_terminal(state) => failed(&body["error"], state),
                _ => OperationStatus::Running { retry_after },
            },
            (_, status) if (200..300).contains(&status) => OperationStatus::Succeeded,
            (_, status) if status >= 500 || status == 429 => {
                OperationStatus::Running { retry_after }
            }
            _ => failed(&body["error"], "Failed"),
        }
    }
}

/// ARM's terminal states of an `Azure-AsyncOperation` status or a `provisioningState`.
pub fn is_terminal(state: &str) -> bool {
    ["Succeeded", "Failed", "Canceled", "Cancelled"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_operation_is_read_from_its_url_as_the_rpc_says() {
        let none = json!(null);
        let status = |body: serde_json::Value| OperationStatus::read(true, 200, &body, None);
        assert_eq!(
            status(json!({"status": "InProgress"})),
            OperationStatus::Running { retry_after: None }
        );
        assert_eq!(
            status(json!({"status": "Succeeded"})),
            OperationStatus::Succeeded
        );
        assert_eq!(
            status(
                json!({"status": "Failed", "error": {"code": "NetworkAclsValidationFailure", "message": "Validation of network acls failure."}})
            ),
            OperationStatus::Failed {
                code: "NetworkAclsValidationFailure".into(),
                message: "Validation of network acls failure.".into()
            }
        );
        assert_eq!(
            status(json!({"status": "Canceled"})),
            OperationStatus::Failed {
                code: "Canceled".into(),
                message: "Azure gave no message".into()
            }
        );
        let later = Some(Duration::from_secs(7));
        assert_eq!(
            OperationStatus::read(false, 202, &none, later),
            OperationStatus::Running { retry_after: later }
        );
        assert_eq!(
            OperationStatus::read(false, 200, &json!({"id": "x"}), None),
            OperationStatus::Succeeded
        );
        assert_eq!(
            OperationStatus::read(false, 204, &none, None),
            OperationStatus::Succeeded
        );
        assert_eq!(
            OperationStatus::read(
                false,
                400,
                &json!({"error": {"code": "StorageAccountOperationFailed", "message": "no"}}),
                None
            ),
            OperationStatus::Failed {
                code: "StorageAccountOperationFailed".into(),
                message: "no".into()
            }
        );
        assert_eq!(
            OperationStatus::read(false, 503, &none, None),
            OperationStatus::Running { retry_after: None },
            "a 5xx is not the operation's outcome"
        );
        assert_eq!(
            OperationStatus::read(true, 404, &none, None),
            OperationStatus::Unknown
        );
    }

    #[test]
    fn the_asr_job_is_read_from_either_header() {
        let location = "https://arm/subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/v/replicationOperationResults/1234-job?api-version=2025-08-01";
        let polling = Polling::from_headers(None, Some(location), Some("10"));
        assert_eq!(polling.asr_job_name().as_deref(), Some("1234-job"));
        assert_eq!(polling.retry_after, Some(Duration::from_secs(10)));
        let status = "https://arm/subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/v/replicationOperationStatus/abcd?api-version=2025-08-01";
        assert_eq!(
            Polling::from_headers(Some(status), None, None)
                .asr_job_name()
                .as_deref(),
            Some("abcd")
        );
        let storage = "https://arm/subscriptions/s/providers/Microsoft.Storage/locations/westeurope/asyncoperations/x?monitor=true";
        assert_eq!(
            Polling::from_headers(None, Some(storage), None).asr_job_name(),
            None
        );
    }

    #[test]
    fn terminal_states() {
        assert!(is_terminal("Succeeded") && is_terminal("failed") && is_terminal("Canceled"));
        assert!(
            !is_terminal("InProgress") && !is_terminal("Creating") && !is_terminal("ResolvingDNS")
        );
    }
}
