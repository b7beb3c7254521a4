//! ReplicatedMachines end to end (without a plan): protection is enabled from the source's
//! protectable item, initial replication is reported as it progresses, and the machine waits
//! at ReadyForCutover; a machine the source does not have says so; deletion does what
//! `deletionPolicy` says.

use std::time::{Duration, Instant};

/// How long a test waits for one state.
const TIMEOUT: Duration = Duration::from_secs(120);

use anyhow::Result;
use cutover_api::{MachinePhase, RecoveryVault, ReplicatedMachine};
use cutover_e2e::examples::example;
use cutover_e2e::processes::{Controller, Simulator};
use cutover_e2e::wait::{apply, wait_for};
use cutover_e2e::{control_plane, temp_namespace};
use kube::Api;
use reqwest::Method;
use serde_json::{Value, json};

fn machine(name: &str, source: &str, policy: &str) -> Value {
    json!({
        "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine", "metadata": {"name": name},
        "spec": {"vaultRef": {"name": "vmm-dc1"}, "source": {"name": source, "container": "Gold"}, "osType": "Windows",
                 "target": {"vmSize": "Standard_D2s_v5", "subnet": "web"}, "deletionPolicy": policy}
    })
}

#[tokio::test]
async fn a_machine_replicates_and_waits_for_a_plan_to_cut_it_over() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "machines").await?;
    // Initial replication of WEB01's 128 GB takes minutes of simulated time at this link speed,
    // so its progress is seen between 0 and 100.
    let sim = Simulator::start(&["--time-scale", "120", "--replication-mbps", "2000"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    apply(plane, &ns, &example("hyperv-vmm.yaml")?.0)?;
    apply(plane, &ns, &machine("web01", "WEB01", "Delete"))?;
    apply(plane, &ns, &machine("ghost", "GHOST99", "Retain"))?;

    let api = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    let replicating = wait_for(
        &api,
        "web01",
        &controller,
        "InitialReplication",
        TIMEOUT,
        |m| m.status.as_ref().and_then(|s| s.phase) == Some(MachinePhase::InitialReplication),
    )
    .await?;
    let status = replicating.status.unwrap();
    assert!(
        status
            .protected_item_id
            .as_deref()
            .is_some_and(|id| id.ends_with("/replicationProtectedItems/web01")),
        "{status:?}"
    );
    assert_eq!(
        status
            .actions
            .iter()
            .filter(|a| a.action == "EnableProtection")
            .count(),
        1
    );

    let ready = wait_for(
        &api,
        "web01",
        &controller,
        "ReadyForCutover",
        TIMEOUT,
        |m| m.status.as_ref().and_then(|s| s.phase) == Some(MachinePhase::ReadyForCutover),
    )
    .await?;
    let status = ready.status.unwrap();
    let replication = status.replication.clone().unwrap_or_default();
    assert_eq!(replication.progress_percent, Some(100));
    assert_eq!(replication.health.as_deref(), Some("Normal"));
    assert!(replication.rpo_seconds.is_some_and(|rpo| rpo > 0));
    let ready_condition = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        ready_condition.message,
        "ready for cutover: add the machine to a MigrationPlan to cut it over"
    );
    assert_eq!(
        status.actions.len(),
        1,
        "one write: enable protection, and nothing was issued twice"
    );

    let (code, item) = sim
        .arm(
            Method::GET,
            &format!(
                "{}?api-version=2025-08-01",
                status.protected_item_id.clone().unwrap()
            ),
            None,
        )
        .await?;
    assert_eq!(code, 200);
    let details = &item["properties"]["providerSpecificDetails"];
    assert_eq!(details["recoveryAzureVMSize"], "Standard_D2s_v5");
    assert_eq!(details["recoveryAzureVmName"], "WEB01");
    let puts = sim
        .requests("method=PUT&path=/replicationProtectedItems/")
        .await?;
    assert_eq!(puts.len(), 1, "protection was enabled once: {puts:?}");

    let ghost = wait_for(
        &api,
        "ghost",
        &controller,
        "SourceMachineNotFound",
        TIMEOUT,
        |m| {
            m.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.reason == "SourceMachineNotFound")
            })
        },
    )
    .await?;
    assert_eq!(ghost.status.unwrap().phase, Some(MachinePhase::Pending));

    // Delete disables replication; the vault's own reconcile is untouched by it.
    plane.kubectl_ok(&["delete", "-n", &ns, "rmachine", "web01", "--wait=false"])?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while api.get_opt("web01").await?.is_some() {
        assert!(
            Instant::now() < deadline,
            "web01 was not deleted:\n{}",
            controller.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        sim.arm(
            Method::GET,
            &format!(
                "{}?api-version=2025-08-01",
                status.protected_item_id.unwrap()
            ),
            None
        )
        .await?
        .0,
        404
    );
    let vaults = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    assert!(
        vaults
            .get("vmm-dc1")
            .await?
            .status
            .unwrap()
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    );
    Ok(())
}

/// Deleting a namespace, or pruning a GitOps directory, deletes a vault and its machines at
/// once. The vault waits for its machines' replication to be disabled; the machines must not
/// wait for the vault to be Ready again (it never will be while it is being deleted).
#[tokio::test]
async fn a_vault_and_its_machines_deleted_together_both_go() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "deleted-together").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let mut vault = example("hyperv-vmm.yaml")?.0;
    vault["spec"]["deletionPolicy"] = json!("Delete");
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &machine("web01", "WEB01", "Delete"))?;
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    let protected = wait_for(
        &machines,
        "web01",
        &controller,
        "a protected item",
        TIMEOUT,
        |m| {
            m.status
                .as_ref()
                .is_some_and(|s| s.protected_item_id.is_some())
        },
    )
    .await?;
    let item = protected.status.unwrap().protected_item_id.unwrap();

    plane.kubectl_ok(&[
        "delete",
        "-n",
        &ns,
        "rvault/vmm-dc1",
        "rmachine/web01",
        "--wait=false",
    ])?;
    let vaults = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let deadline = Instant::now() + TIMEOUT;
    while machines.get_opt("web01").await?.is_some() || vaults.get_opt("vmm-dc1").await?.is_some() {
        assert!(
            Instant::now() < deadline,
            "the vault and its machine still wait for each other:\n{}",
            controller.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The machine's replication was disabled through ASR, not abandoned.
    assert!(
        !sim.requests("method=POST&path=/replicationProtectedItems/web01/remove")
            .await?
            .is_empty(),
        "replication of web01 was disabled"
    );
    let (status, _) = sim
        .arm(Method::GET, &format!("{item}?api-version=2025-08-01"), None)
        .await?;
    assert_ne!(status, 200, "the protected item is gone");
    Ok(())
}
