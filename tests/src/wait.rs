//! Helpers every end-to-end test uses: apply a document with kubectl, and wait for an object
//! to reach a state (failing with its status and the controller's log when it does not).

use std::fmt::Debug;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use kube::Api;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ControlPlane;
use crate::processes::Controller;

/// `kubectl apply` of one document (JSON) into `namespace`.
pub fn apply(plane: &ControlPlane, namespace: &str, doc: &Value) -> Result<()> {
    let name = format!(
        "{namespace}-{}-{}.json",
        doc["kind"].as_str().unwrap_or("doc"),
        doc["metadata"]["name"].as_str().unwrap_or("doc")
    );
    let file = plane.dir().join(name);
    std::fs::write(&file, serde_json::to_vec(doc)?)?;
    plane.kubectl_ok(&["apply", "-n", namespace, "-f", &file.display().to_string()])?;
    Ok(())
}

/// Waits up to `timeout` until `check` holds for the object `name`.
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    controller: &Controller,
    what: &str,
    timeout: Duration,
    check: impl Fn(&K) -> bool,
) -> Result<K>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(object) = api.get_opt(name).await?
            && check(&object)
        {
            return Ok(object);
        }
        if Instant::now() > deadline {
            let status = api.get_opt(name).await?.map(|o| {
                serde_json::to_value(&o)
                    .map(|v| v["status"].to_string())
                    .unwrap_or_default()
            });
            bail!(
                "{name}: {what} did not happen in {timeout:?}\nstatus: {status:?}\ncontroller log (newest first):\n{}",
                log_tail(controller)
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits up to `timeout` until none of the objects `names` exists (finalizers done).
pub async fn wait_gone<K>(
    api: &Api<K>,
    names: &[&str],
    controller: &Controller,
    timeout: Duration,
) -> Result<()>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug,
{
    let deadline = Instant::now() + timeout;
    loop {
        let mut remaining = Vec::new();
        for name in names {
            if api.get_opt(name).await?.is_some() {
                remaining.push(*name);
            }
        }
        if remaining.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{remaining:?} were not deleted in {timeout:?}\ncontroller log (newest first):\n{}",
                log_tail(controller)
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `kubectl delete` of objects of one kind (`mplan`, `rvault`...) without waiting, then waits
/// until the controller's finalizers let them go.
pub async fn delete_and_wait_gone<K>(
    plane: &ControlPlane,
    namespace: &str,
    api: &Api<K>,
    kind: &str,
    names: &[&str],
    controller: &Controller,
    timeout: Duration,
) -> Result<()>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug,
{
    let mut args = vec!["delete", "-n", namespace, kind];
    args.extend_from_slice(names);
    args.push("--wait=false");
    plane.kubectl_ok(&args)?;
    wait_gone(api, names, controller, timeout).await
}

/// The messages of the Events of one object with one reason, as `kubectl get events` shows them.
pub fn event_messages(
    plane: &ControlPlane,
    namespace: &str,
    object: &str,
    reason: &str,
) -> Result<String> {
    plane.kubectl_ok(&[
        "get",
        "events",
        "-n",
        namespace,
        "--field-selector",
        &format!("involvedObject.name={object},reason={reason}"),
        "-o",
        "jsonpath={.items[*].message}",
    ])
}

/// The controller's last 30 log lines, newest first, for a failure message.
fn log_tail(controller: &Controller) -> String {
    let log = controller.log();
    log.lines().rev().take(30).collect::<Vec<_>>().join("\n")
}
