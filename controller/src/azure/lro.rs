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

/// ARM's terminal states of an `Azure-AsyncOperation` status or a `provisioningState`.
pub fn is_terminal(state: &str) -> bool {
    ["Succeeded", "Failed", "Canceled", "Cancelled"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(state))
}

#[cfg(test)]
mod tests {
    use super::*;

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
