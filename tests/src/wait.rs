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
            let log = controller.log();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            bail!(
                "{name}: {what} did not happen in {timeout:?}\nstatus: {status:?}\ncontroller log (newest first):\n{}",
                tail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
