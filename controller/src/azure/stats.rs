//! Every ARM request, counted by resource type, method and outcome (for metrics).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// `(resource type, method, status)` -> requests, and what throttling cost.
#[derive(Debug, Default)]
pub struct RequestStats {
    counts: Mutex<BTreeMap<(String, String, u16), u64>>,
    throttled: AtomicU64,
    retry_after_ms: AtomicU64,
}

impl RequestStats {
    pub fn record(&self, resource: &str, method: &str, status: u16) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts
            .entry((resource.to_owned(), method.to_owned(), status))
            .or_default() += 1;
    }

    /// A 429, and the wait it asked for.
    pub fn record_throttled(&self, retry_after: Option<Duration>) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        let millis = retry_after.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.retry_after_ms.fetch_add(millis, Ordering::Relaxed);
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// The sum of the waits 429 answers asked for.
    pub fn retry_after(&self) -> Duration {
        Duration::from_millis(self.retry_after_ms.load(Ordering::Relaxed))
    }

    pub fn snapshot(&self) -> BTreeMap<(String, String, u16), u64> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn total(&self) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }
}

/// The resource type a path is about: `Microsoft.Storage/storageAccounts` for an account,
/// `Microsoft.RecoveryServices/vaults/replicationJobs` for a job, `resourceGroups` for a group.
pub fn resource_type(path: &str) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let Some(provider) = segments
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))
    else {
        return if segments
            .iter()
            .any(|s| s.eq_ignore_ascii_case("resourceGroups"))
        {
            "resourceGroups".into()
        } else {
            "subscriptions".into()
        };
    };
    let rest = &segments[provider + 1..];
    let Some(namespace) = rest.first() else {
        return "providers".into();
    };
    // Types sit at odd positions after the namespace: ns/type/name/type/name...
    let types: Vec<&str> = rest[1..].iter().step_by(2).copied().collect();
    format!("{namespace}/{}", types.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_types_come_from_the_path() {
        assert_eq!(
            resource_type("/subscriptions/s/resourceGroups/rg"),
            "resourceGroups"
        );
        assert_eq!(
            resource_type(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a"
            ),
            "Microsoft.Storage/storageAccounts"
        );
        assert_eq!(
            resource_type(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationJobs"
            ),
            "Microsoft.RecoveryServices/vaults/replicationJobs"
        );
        assert_eq!(
            resource_type(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/i/testFailover"
            ),
            "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems/testFailover"
        );
    }
}
