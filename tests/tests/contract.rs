//! A third-party check of the controller: every request cutover sends while it migrates every
//! scenario of deploy/examples to `Completed` and then tears everything down (machines, plans and
//! vaults with `deletionPolicy: Delete`) is checked against Microsoft's models in the pinned
//! official Azure SDKs for Python (tests/conformance/contract.py), not against azure-sim.
//!
//! What is still wrong is listed, one violation a line, in tests/conformance/known-violations.txt
//! (issue 14's remaining work); the test fails on any violation not listed there, and on any
//! listed one that no longer happens, so the list only shrinks.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use cutover_api::{MigrationPlan, PlanPhase, RecoveryVault};
use cutover_e2e::examples::{SCENARIOS, approved_example};
use cutover_e2e::processes::{Controller, Simulator};
use cutover_e2e::wait::{apply, delete_and_wait_gone, wait_for};
use cutover_e2e::{control_plane, repo_root, temp_namespace};
use kube::Api;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(240);

/// The Python of the virtualenv that holds the pinned SDKs: tests/run sets `CUTOVER_PYTHON`.
fn python() -> Result<String> {
    std::env::var("CUTOVER_PYTHON").context(
        "CUTOVER_PYTHON must name the Python of the pinned SDKs' virtualenv: run the tests with tests/run",
    )
}

#[tokio::test]
async fn every_request_cutover_sends_is_what_microsofts_models_accept() -> Result<()> {
    let python = python()?;
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "contract").await?;
    let sim = Simulator::start(&["--time-scale", "600", "--replication-mbps", "200000"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;

    let mut names = Vec::new();
    for file in SCENARIOS {
        let (mut vault, mut plan) = approved_example(file)?;
        vault["spec"]["deletionPolicy"] = json!("Delete");
        plan["spec"]["deletionPolicy"] = json!("Delete");
        plan["spec"]["testFailover"] = json!({"required": true, "autoCleanup": true});
        apply(plane, &ns, &vault)?;
        apply(plane, &ns, &plan)?;
        names.push((
            vault["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            plan["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    for (_, plan) in &names {
        wait_for(&plans, plan, &controller, "Completed", TIMEOUT, |p| {
            p.status.as_ref().and_then(|s| s.phase) == Some(PlanPhase::Completed)
        })
        .await?;
    }
    let plan_names: Vec<&str> = names.iter().map(|(_, p)| p.as_str()).collect();
    delete_and_wait_gone(
        plane,
        &ns,
        &plans,
        "mplan",
        &plan_names,
        &controller,
        TIMEOUT,
    )
    .await?;
    let machines = Api::<cutover_api::ReplicatedMachine>::namespaced(client.clone(), &ns);
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !machines.list(&Default::default()).await?.items.is_empty() {
        if std::time::Instant::now() > deadline {
            bail!("the machines were not deleted:\n{}", controller.log());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let vaults = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let vault_names: Vec<&str> = names.iter().map(|(v, _)| v.as_str()).collect();
    delete_and_wait_gone(
        plane,
        &ns,
        &vaults,
        "rvault",
        &vault_names,
        &controller,
        TIMEOUT,
    )
    .await?;

    // Every write azure-sim accepted or refused, with its body.
    let mut writes = Vec::new();
    for method in ["PUT", "PATCH", "POST", "DELETE"] {
        writes.extend(sim.requests(&format!("method={method}")).await?);
    }
    assert!(
        writes.len() > 100,
        "the scenarios made {} writes",
        writes.len()
    );
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), serde_json::to_vec(&writes)?)?;
    let output = std::process::Command::new(&python)
        .arg(repo_root().join("tests/conformance/contract.py"))
        .arg(file.path())
        .output()
        .with_context(|| format!("running {python}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code().is_some_and(|c| c <= 1),
        "contract.py failed: {stderr}"
    );
    let found: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let known: BTreeSet<String> =
        std::fs::read_to_string(repo_root().join("tests/conformance/known-violations.txt"))?
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
    let new: Vec<&String> = found.difference(&known).collect();
    let fixed: Vec<&String> = known.difference(&found).collect();
    assert!(
        new.is_empty() && fixed.is_empty(),
        "requests that break Microsoft's models ({stderr}):\n{}\n\nlisted as known but no longer seen (remove them from known-violations.txt):\n{}",
        new.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        fixed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    Ok(())
}
