//! Test support for cutover's end-to-end tests: a real etcd + kube-apiserver on loopback
//! ([`control_plane`]), throwaway namespaces, and paths into the repository.

pub mod bad_inputs;
pub mod control_plane;
pub mod examples;
pub mod kstatus;
pub mod processes;
pub mod pty;
pub mod wait;

use std::path::PathBuf;

pub use control_plane::ControlPlane;

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A name no other test run uses: `prefix-` and eight hex digits.
pub fn unique_name(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("{prefix}-{:08x}", hasher.finish() as u32)
}

/// Creates a namespace for one test, so tests sharing a control plane never see each other.
pub async fn temp_namespace(client: &kube::Client, prefix: &str) -> anyhow::Result<String> {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, ObjectMeta, PostParams};
    let name = unique_name(prefix);
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    Ok(name)
}

/// The metric names the alert rules and the dashboard query (each checked against a live
/// controller's `/metrics` in tests/tests/operations.rs).
pub fn queried_metrics() -> anyhow::Result<std::collections::BTreeSet<String>> {
    let mut text =
        std::fs::read_to_string(repo_root().join("deploy/grafana/cutover-dashboard.json"))?;
    text += &std::fs::read_to_string(repo_root().join("deploy/prometheus/cutover-rules.yaml"))?;
    let mut names = std::collections::BTreeSet::new();
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(found) = text[at..].find("cutover_") {
        let start = at + found;
        let end = start
            + text[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(text.len() - start);
        if start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            names.insert(text[start..end].to_owned());
        }
        at = end;
    }
    Ok(names)
}
