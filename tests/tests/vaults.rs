//! RecoveryVaults end to end: a real control plane, azure-sim and the `cutover` binary.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use cutover_api::RecoveryVault;
use cutover_e2e::processes::{Controller, Simulator};
use cutover_e2e::{control_plane, repo_root, temp_namespace};
use kube::Api;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

/// Waits until `check` holds for the vault, or fails with what the vault and controller said.
async fn wait_for(
    api: &Api<RecoveryVault>,
    name: &str,
    controller: &Controller,
    what: &str,
    check: impl Fn(&RecoveryVault) -> bool,
) -> Result<RecoveryVault> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(vault) = api.get_opt(name).await?
            && check(&vault)
        {
            return Ok(vault);
        }
        if Instant::now() > deadline {
            let status = api
                .get_opt(name)
                .await?
                .and_then(|v| v.status)
                .map(|s| serde_json::to_string_pretty(&s).unwrap_or_default());
            let log = controller.log();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            bail!(
                "{name}: {what} did not happen in 90 s\nstatus: {status:?}\ncontroller log (newest first):\n{}",
                tail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn condition<'a>(
    vault: &'a RecoveryVault,
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    vault
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}

fn is_ready(vault: &RecoveryVault) -> bool {
    condition(vault, "Ready").is_some_and(|c| c.status == "True")
}

/// The RecoveryVault documents of the examples, keyed by name.
fn example_vaults() -> Result<Vec<Value>> {
    let mut vaults = Vec::new();
    for entry in std::fs::read_dir(repo_root().join("deploy/examples"))? {
        let text = std::fs::read_to_string(entry?.path())?;
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc)?;
            if value["kind"] == "RecoveryVault" {
                vaults.push(value);
            }
        }
    }
    Ok(vaults)
}

async fn apply(plane: &control_plane::ControlPlane, namespace: &str, doc: &Value) -> Result<()> {
    let file = plane.dir().join(format!(
        "{namespace}-{}.json",
        doc["metadata"]["name"].as_str().unwrap_or("doc")
    ));
    std::fs::write(&file, serde_json::to_vec(doc)?)?;
    plane.kubectl_ok(&["apply", "-n", namespace, "-f", &file.display().to_string()])?;
    Ok(())
}

#[tokio::test]
async fn every_example_vault_reaches_ready_and_azure_has_what_it_asked_for() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "vaults").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let vaults = example_vaults()?;
    assert_eq!(vaults.len(), 6);
    for vault in &vaults {
        apply(plane, &ns, vault).await?;
    }
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    for vault in &vaults {
        let name = vault["metadata"]["name"].as_str().unwrap_or_default();
        let ready = wait_for(&api, name, &controller, "Ready=True", is_ready).await?;
        let status = ready.status.clone().unwrap_or_default();
        for type_ in [
            "VaultReady",
            "StorageReady",
            "NetworkReady",
            "SourceRegistered",
            "ReplicationReady",
        ] {
            assert_eq!(
                condition(&ready, type_).map(|c| c.status.as_str()),
                Some("True"),
                "{name} {type_}"
            );
        }
        assert!(
            status.resources.vault_id.is_some() && status.resources.policy_id.is_some(),
            "{name}: {status:?}"
        );
        assert!(!status.resources.container_mapping_ids.is_empty(), "{name}");
        assert_eq!(status.phase, Some(cutover_api::VaultPhase::Ready));
        assert!(status.provisioned.is_some());
    }

    // What Azure holds is what the specs asked for.
    let sub = "/subscriptions/00000000-0000-0000-0000-000000000001";
    let (_, account) = sim.arm(Method::GET, &format!("{sub}/resourceGroups/rg-migration-dc2/providers/Microsoft.Storage/storageAccounts/dc2replication?api-version=2026-09-01"), None).await?;
    assert_eq!(account["sku"]["name"], "Premium_LRS");
    let (_, logs) = sim.arm(Method::GET, &format!("{sub}/resourceGroups/rg-migration-dc2/providers/Microsoft.Storage/storageAccounts/dc2replicationlogs?api-version=2026-09-01"), None).await?;
    assert_eq!(logs["sku"]["name"], "Standard_GRS");
    let (_, vnet) = sim.arm(Method::GET, &format!("{sub}/resourceGroups/rg-migration-dc1/providers/Microsoft.Network/virtualNetworks/vnet-dc1?api-version=2026-03-01"), None).await?;
    let mut subnets: Vec<&str> = vnet["properties"]["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    subnets.sort();
    assert_eq!(subnets, ["data", "web"]);
    let vault_path = format!(
        "{sub}/resourceGroups/rg-migration-dc1/providers/Microsoft.RecoveryServices/vaults/dc1-vault"
    );
    let (_, policy) = sim
        .arm(
            Method::GET,
            &format!("{vault_path}/replicationPolicies/migration-24h?api-version=2025-08-01"),
            None,
        )
        .await?;
    assert_eq!(
        policy["properties"]["providerSpecificDetails"]["replicationInterval"],
        300
    );
    let (_, mappings) = sim
        .arm(
            Method::GET,
            &format!("{vault_path}/replicationNetworkMappings?api-version=2025-08-01"),
            None,
        )
        .await?;
    assert_eq!(
        mappings["value"].as_array().map(Vec::len),
        Some(2),
        "{mappings}"
    );

    // A converged vault costs only reads: a resync GETs and compares, and writes nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let window_start: jiff::Timestamp = sim.admin(Method::GET, "clock", None).await?["now"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    let writes_before = sim.requests("method=PUT").await?.len()
        + sim.requests("method=POST").await?.len()
        + sim.requests("method=DELETE").await?.len();
    let reads_before = sim.requests("method=GET").await?.len();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let writes_after = sim.requests("method=PUT").await?.len()
        + sim.requests("method=POST").await?.len()
        + sim.requests("method=DELETE").await?.len();
    let reads = sim.requests("method=GET").await?.len() - reads_before;
    assert_eq!(writes_after, writes_before, "no write while converged");
    assert!(reads > 0, "resyncs happened");
    // One resync of one vault: its requests come in bursts (a pass takes milliseconds, the
    // resync interval is seconds); count the requests per burst.
    let dc1: Vec<jiff::Timestamp> = sim
        .requests("path=/rg-migration-dc1")
        .await?
        .iter()
        .filter_map(|r| r["time"].as_str()?.parse().ok())
        .filter(|t: &jiff::Timestamp| *t > window_start)
        .collect();
    let mut passes: Vec<usize> = Vec::new();
    for (i, time) in dc1.iter().enumerate() {
        let gap = i == 0 || time.duration_since(dc1[i - 1]) > jiff::SignedDuration::from_secs(60);
        if gap {
            passes.push(0);
        }
        *passes.last_mut().unwrap() += 1;
    }
    // The last burst may have been cut off by the end of the window.
    let steady = &passes[..passes.len().saturating_sub(1)];
    assert!(
        !steady.is_empty() && steady.iter().all(|n| *n == steady[0]),
        "a resync costs the same every time: {passes:?}"
    );
    println!(
        "steady state: {reads} ARM reads in 8 s for 6 ready vaults, 0 writes; one resync of vault vmm-dc1 = {} reads",
        steady[0]
    );

    // kubectl describe tells a newcomer where it is.
    let described = plane.kubectl_ok(&["describe", "-n", &ns, "rvault", "vmm-dc1"])?;
    for expected in [
        "SourceRegistered",
        "ReplicationReady",
        "vmm01.contoso.local registered",
    ] {
        assert!(
            described.contains(expected),
            "describe lacks {expected}:\n{described}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_invalid_vault_says_why_and_writes_nothing_to_azure() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "invalid-vault").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let mut vault = example_vaults()?
        .into_iter()
        .find(|v| v["metadata"]["name"] == "vmm-dc1")
        .unwrap();
    vault["spec"]["resourceGroup"] = json!("rg-invalid");
    vault["spec"]["storage"]["replication"]["create"]["sku"] = json!("Premium_LRS");
    apply(plane, &ns, &vault).await?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let invalid = wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "Ready=False InvalidSpec",
        |v| condition(v, "Ready").is_some_and(|c| c.reason == "InvalidSpec"),
    )
    .await?;
    let message = &condition(&invalid, "Ready").unwrap().message;
    assert_eq!(
        message,
        "spec.storage.log: Premium replication storage (Premium_LRS) needs a Standard storage account for replication logs"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sim.requests("path=rg-invalid").await?.len(),
        0,
        "an invalid spec makes no Azure request at all"
    );
    let events = plane.kubectl_ok(&[
        "get",
        "events",
        "-n",
        &ns,
        "--field-selector",
        "involvedObject.name=vmm-dc1",
        "-o",
        "jsonpath={.items[*].reason}",
    ])?;
    assert!(events.contains("InvalidSpec"), "events: {events}");
    Ok(())
}

#[tokio::test]
async fn deletion_does_what_the_policy_says_and_drift_is_repaired() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "vault-delete").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let examples = example_vaults()?;
    let mut deleted = examples
        .iter()
        .find(|v| v["metadata"]["name"] == "physical-dc3")
        .unwrap()
        .clone();
    deleted["spec"]["deletionPolicy"] = json!("Delete");
    let retained = examples
        .iter()
        .find(|v| v["metadata"]["name"] == "aws-euwest1")
        .unwrap()
        .clone();
    apply(plane, &ns, &deleted).await?;
    apply(plane, &ns, &retained).await?;
    wait_for(&api, "physical-dc3", &controller, "Ready", is_ready).await?;
    wait_for(&api, "aws-euwest1", &controller, "Ready", is_ready).await?;

    // Drift: the storage account is deleted behind cutover's back, and comes back.
    let sub = "/subscriptions/00000000-0000-0000-0000-000000000001";
    let account = format!(
        "{sub}/resourceGroups/rg-migration-aws/providers/Microsoft.Storage/storageAccounts/awsreplication?api-version=2026-09-01"
    );
    assert_eq!(sim.arm(Method::DELETE, &account, None).await?.0, 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.arm(Method::GET, &account, None).await?.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the deleted storage account was not recreated:\n{}",
            controller.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    wait_for(&api, "aws-euwest1", &controller, "Ready again", is_ready).await?;

    plane.kubectl_ok(&[
        "delete",
        "-n",
        &ns,
        "rvault",
        "physical-dc3",
        "aws-euwest1",
        "--wait=false",
    ])?;
    let deadline = Instant::now() + Duration::from_secs(90);
    while api.get_opt("physical-dc3").await?.is_some()
        || api.get_opt("aws-euwest1").await?.is_some()
    {
        assert!(
            Instant::now() < deadline,
            "the vaults were not deleted:\n{}",
            controller.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Delete: the landing zone cutover created is gone, resource group included.
    let (status, _) = sim
        .arm(
            Method::GET,
            &format!("{sub}/resourcegroups/rg-migration-dc3?api-version=2025-04-01"),
            None,
        )
        .await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut status = status;
    while status != 404 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        status = sim
            .arm(
                Method::GET,
                &format!("{sub}/resourcegroups/rg-migration-dc3?api-version=2025-04-01"),
                None,
            )
            .await?
            .0;
    }
    assert_eq!(status, 404, "rg-migration-dc3 should be gone");
    // Retain: everything is still there.
    let (status, vault) = sim.arm(Method::GET, &format!("{sub}/resourceGroups/rg-migration-aws/providers/Microsoft.RecoveryServices/vaults/aws-vault?api-version=2026-11-01"), None).await?;
    assert_eq!(status, 200, "{vault}");
    assert_eq!(sim.arm(Method::GET, &account, None).await?.0, 200);
    Ok(())
}
