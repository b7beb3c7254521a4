//! RecoveryVaults end to end: a real control plane, azure-sim and the `cutover` binary.

use std::time::{Duration, Instant};

/// Vaults converge within 90 s here.
const TIMEOUT: Duration = Duration::from_secs(90);

use anyhow::Result;
use cutover_api::RecoveryVault;
use cutover_e2e::processes::{Controller, Simulator};
use cutover_e2e::wait::{apply, wait_for};
use cutover_e2e::{control_plane, repo_root, temp_namespace};
use kube::Api;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

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
        apply(plane, &ns, vault)?;
    }
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    for vault in &vaults {
        let name = vault["metadata"]["name"].as_str().unwrap_or_default();
        let ready = wait_for(&api, name, &controller, "Ready=True", TIMEOUT, is_ready).await?;
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
    tokio::time::sleep(Duration::from_secs(12)).await;
    let writes_after = sim.requests("method=PUT").await?.len()
        + sim.requests("method=POST").await?.len()
        + sim.requests("method=DELETE").await?.len();
    let reads = sim.requests("method=GET").await?.len() - reads_before;
    assert_eq!(writes_after, writes_before, "no write while converged");
    assert!(reads > 0, "resyncs happened");
    // One resync of one vault: its requests come in bursts (a pass takes milliseconds, the
    // resync interval is seconds); count the requests per burst. Bursts are told apart by a
    // gap of half the resync (3 s, 1800 s of the simulator's time at 600x): a pass that a
    // loaded machine stalls for a tenth of a second between two reads is still one pass.
    let dc1: Vec<jiff::Timestamp> = sim
        .requests("path=/rg-migration-dc1")
        .await?
        .iter()
        .filter_map(|r| r["time"].as_str()?.parse().ok())
        .filter(|t: &jiff::Timestamp| *t > window_start)
        .collect();
    let mut passes: Vec<usize> = Vec::new();
    for (i, time) in dc1.iter().enumerate() {
        let gap = i == 0 || time.duration_since(dc1[i - 1]) > jiff::SignedDuration::from_secs(900);
        if gap {
            passes.push(0);
        }
        *passes.last_mut().unwrap() += 1;
    }
    // The first burst may have begun before the window, the last been cut off by its end.
    let steady = passes
        .get(1..passes.len().saturating_sub(1))
        .unwrap_or_default();
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
    apply(plane, &ns, &vault)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let invalid = wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "Ready=False InvalidSpec",
        TIMEOUT,
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
    apply(plane, &ns, &deleted)?;
    apply(plane, &ns, &retained)?;
    wait_for(
        &api,
        "physical-dc3",
        &controller,
        "Ready",
        TIMEOUT,
        is_ready,
    )
    .await?;
    wait_for(&api, "aws-euwest1", &controller, "Ready", TIMEOUT, is_ready).await?;

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
    wait_for(
        &api,
        "aws-euwest1",
        &controller,
        "Ready again",
        TIMEOUT,
        is_ready,
    )
    .await?;

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

/// The example VMM vault, moved to its own resource group (and vault name) so nothing is shared.
fn vmm_vault(resource_group: &str, vault_name: &str) -> Result<Value> {
    let mut vault = example_vaults()?
        .into_iter()
        .find(|v| v["metadata"]["name"] == "vmm-dc1")
        .expect("the VMM example");
    vault["spec"]["resourceGroup"] = json!(resource_group);
    vault["spec"]["vault"] = json!({"create": {"name": vault_name}});
    // Storage account names are global: each test's vault gets its own.
    let account: String = vault_name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect();
    vault["spec"]["storage"]["replication"]["create"]["name"] = json!(format!("{account}repl"));
    Ok(vault)
}

async fn writes(sim: &Simulator) -> Result<usize> {
    let mut count = 0;
    for method in ["PUT", "POST", "PATCH", "DELETE"] {
        count += sim.requests(&format!("method={method}")).await?.len();
    }
    Ok(count)
}

#[tokio::test]
async fn adopted_storage_in_another_region_is_refused_before_any_write() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "wrong-region").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let sub = "/subscriptions/00000000-0000-0000-0000-000000000001";
    sim.arm(
        Method::PUT,
        &format!("{sub}/resourcegroups/rg-elsewhere?api-version=2025-04-01"),
        Some(json!({"location": "eastus"})),
    )
    .await?;
    let account = format!(
        "{sub}/resourceGroups/rg-elsewhere/providers/Microsoft.Storage/storageAccounts/eaststore"
    );
    sim.arm(
        Method::PUT,
        &format!("{account}?api-version=2026-09-01"),
        Some(json!({"location": "eastus", "sku": {"name": "Standard_GRS"}, "kind": "StorageV2"})),
    )
    .await?;
    let setup_writes = writes(&sim).await?;

    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let mut vault = vmm_vault("rg-adopting", "adopting-vault")?;
    vault["spec"]["storage"]["replication"] = json!({"existingId": account});
    apply(plane, &ns, &vault)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let refused = wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "StorageInWrongRegion",
        TIMEOUT,
        |v| condition(v, "Ready").is_some_and(|c| c.reason == "StorageInWrongRegion"),
    )
    .await?;
    assert_eq!(
        condition(&refused, "StorageReady").map(|c| c.message.as_str()),
        Some(
            "the replication storage account eaststore is in eastus; it must be in the vault's region westeurope"
        )
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        writes(&sim).await?,
        setup_writes,
        "nothing was written to Azure"
    );
    Ok(())
}

#[tokio::test]
async fn a_storage_name_taken_elsewhere_is_said_as_azures_refusal_not_as_an_operation_in_progress()
-> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "name-taken").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let sub = "/subscriptions/00000000-0000-0000-0000-000000000001";
    sim.arm(
        Method::PUT,
        &format!("{sub}/resourcegroups/rg-someone-else?api-version=2025-04-01"),
        Some(json!({"location": "westeurope"})),
    )
    .await?;
    // Storage account names are global: someone else's account already has the vault's name.
    sim.arm(
        Method::PUT,
        &format!("{sub}/resourceGroups/rg-someone-else/providers/Microsoft.Storage/storageAccounts/takenvaultrepl?api-version=2026-09-01"),
        Some(json!({"location": "westeurope", "sku": {"name": "Standard_GRS"}, "kind": "StorageV2"})),
    )
    .await?;

    let controller = Controller::start(plane, &sim, &ns, &[])?;
    apply(plane, &ns, &vmm_vault("rg-taken", "taken-vault")?)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    // A 409 `StorageAccountAlreadyTaken` lasts until the spec changes: Azure's refusal, with its
    // code, not "another operation in progress".
    let refused = wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "AzureRejected",
        TIMEOUT,
        |v| condition(v, "Ready").is_some_and(|c| c.reason == "AzureRejected"),
    )
    .await?;
    let message = &condition(&refused, "Ready").unwrap().message;
    assert!(
        message.contains("StorageAccountAlreadyTaken") && message.contains("takenvaultrepl"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn a_site_recovery_configuration_job_that_fails_is_said_and_not_written_again_every_pass()
-> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "failed-job").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    // The policy's "Configure" job ends Failed; ASR's error is in the job and in the operation
    // its `Azure-AsyncOperation` names (ASR's 2025-08-01 job examples carry `errors`).
    let fault = json!({"method": "PUT", "pathContains": "/replicationPolicies/", "times": 1, "failJob": {
        "code": "28054", "message": "injected: the policy could not be created",
        "possibleCauses": "A test.", "recommendedAction": "Retry."}});
    sim.admin(Method::POST, "faults", Some(fault)).await?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let mut vault = example_vaults()?
        .into_iter()
        .find(|v| v["metadata"]["name"] == "vmm-dc1")
        .expect("the VMM example");
    apply(plane, &ns, &vault)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let refused = wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "the policy job's failure",
        TIMEOUT,
        |v| condition(v, "ReplicationReady").is_some_and(|c| c.reason == "AzureOperationFailed"),
    )
    .await?;
    let message = &condition(&refused, "ReplicationReady").unwrap().message;
    assert!(
        message.contains("28054") && message.contains("the policy could not be created"),
        "{message}"
    );
    assert_eq!(
        refused.status.as_ref().and_then(|s| s.phase),
        Some(cutover_api::vault::VaultPhase::Failed)
    );
    let policy_puts = || async {
        Ok::<usize, anyhow::Error>(
            sim.requests("method=PUT&path=/replicationPolicies/")
                .await?
                .len(),
        )
    };
    assert_eq!(policy_puts().await?, 1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        policy_puts().await?,
        1,
        "a failed job is not followed by a PUT on every pass"
    );

    // A spec change writes the policy again, and this time its job succeeds.
    vault["spec"]["replicationPolicy"]["appConsistentSnapshotFrequencyHours"] = json!(2);
    apply(plane, &ns, &vault)?;
    let ready = wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "Ready=True",
        TIMEOUT,
        is_ready,
    )
    .await?;
    assert!(
        ready
            .status
            .as_ref()
            // kube-apiserver 1.20's server-side apply leaves an emptied object behind.
            .is_some_and(|s| s
                .resources
                .operation
                .as_ref()
                .is_none_or(|o| o.url.is_empty())),
        "{:?}",
        ready.status
    );
    Ok(())
}

#[tokio::test]
async fn an_arm_operation_that_fails_is_said_with_azures_error_and_not_repeated_blindly()
-> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "failed-operation").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    // The storage account's creation ends Failed and leaves no account (a GET answers 404, as
    // in terraform-provider-azurerm PR 16573); the VNet's ends Failed and leaves it `Failed`.
    for (path, code, leave) in [
        ("/storageAccounts/", "NetworkAclsValidationFailure", false),
        ("/virtualNetworks/", "InternalServerError", true),
    ] {
        let fault = json!({"method": "PUT", "pathContains": path, "times": 1, "failOperation": {
            "code": code, "message": format!("injected: {code}"), "leaveResource": leave}});
        sim.admin(Method::POST, "faults", Some(fault)).await?;
    }
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let mut vault = vmm_vault("rg-failing", "failing-vault")?;
    apply(plane, &ns, &vault)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let failed = |type_: &'static str| {
        move |v: &RecoveryVault| {
            condition(v, type_).is_some_and(|c| c.reason == "AzureOperationFailed")
        }
    };
    let refused = wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "the storage operation's failure",
        TIMEOUT,
        failed("StorageReady"),
    )
    .await?;
    let message = &condition(&refused, "StorageReady").unwrap().message;
    assert!(
        message.contains("NetworkAclsValidationFailure: injected: NetworkAclsValidationFailure"),
        "{message}"
    );
    assert_eq!(
        refused.status.as_ref().and_then(|s| s.phase),
        Some(cutover_api::vault::VaultPhase::Failed)
    );
    // Not written again on every pass.
    let storage_puts = || async {
        Ok::<usize, anyhow::Error>(
            sim.requests("method=PUT&path=/storageAccounts/failingvaultrepl")
                .await?
                .len(),
        )
    };
    let before = storage_puts().await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        storage_puts().await?,
        before,
        "a failed operation is not repeated blindly"
    );

    // A spec change tries again at once; the VNet's operation fails next, and leaves it Failed.
    vault["spec"]["replicationPolicy"]["appConsistentSnapshotFrequencyHours"] = json!(2);
    apply(plane, &ns, &vault)?;
    let refused = wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "the network operation's failure",
        TIMEOUT,
        failed("NetworkReady"),
    )
    .await?;
    assert!(
        condition(&refused, "NetworkReady")
            .unwrap()
            .message
            .contains("InternalServerError"),
        "{:?}",
        condition(&refused, "NetworkReady")
    );
    // Another spec change: the Failed VNet is put again, and the networks are ready (the vault
    // then waits for its VMM server to register, which this test's inventory never does).
    vault["spec"]["replicationPolicy"]["appConsistentSnapshotFrequencyHours"] = json!(3);
    apply(plane, &ns, &vault)?;
    wait_for(&api, "vmm-dc1", &controller, "NetworkReady", TIMEOUT, |v| {
        condition(v, "NetworkReady").is_some_and(|c| c.status == "True")
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_network_repair_keeps_what_others_set_on_it() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "vnet-rmw").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    apply(plane, &ns, &vmm_vault("rg-rmw", "rmw-vault")?)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let ready =
        |v: &RecoveryVault| condition(v, "NetworkReady").is_some_and(|c| c.status == "True");
    wait_for(&api, "vmm-dc1", &controller, "NetworkReady", TIMEOUT, ready).await?;

    // Someone attaches an NSG to `web`, adds a subnet of their own, and moves `web`'s prefix.
    let vnet = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-rmw/providers/Microsoft.Network/virtualNetworks/vnet-dc1";
    let api_version = "api-version=2026-03-01";
    let (_, mut body) = sim
        .arm(Method::GET, &format!("{vnet}?{api_version}"), None)
        .await?;
    let nsg = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-rmw/providers/Microsoft.Network/networkSecurityGroups/web-nsg";
    for subnet in body["properties"]["subnets"].as_array_mut().unwrap() {
        if subnet["name"] == "web" {
            subnet["properties"]["addressPrefix"] = json!("10.10.9.0/24");
            subnet["properties"]["networkSecurityGroup"] = json!({"id": nsg});
        }
    }
    body["properties"]["subnets"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "theirs", "properties": {"addressPrefix": "10.10.8.0/24"}}));
    let (status, answer) = sim
        .arm(Method::PUT, &format!("{vnet}?{api_version}"), Some(body))
        .await?;
    assert!(status < 300, "{status} {answer}");

    // cutover puts web's prefix back, and only that.
    let deadline = Instant::now() + TIMEOUT;
    let repaired = loop {
        let (_, now) = sim
            .arm(Method::GET, &format!("{vnet}?{api_version}"), None)
            .await?;
        let web = now["properties"]["subnets"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == "web").cloned())
            .unwrap_or_default();
        if web["properties"]["addressPrefix"] == "10.10.1.0/24" {
            break now;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the drift was not repaired: {now}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let subnets = repaired["properties"]["subnets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let web = subnets.iter().find(|s| s["name"] == "web").unwrap();
    assert_eq!(
        web["properties"]["networkSecurityGroup"]["id"], nsg,
        "{repaired}"
    );
    assert!(subnets.iter().any(|s| s["name"] == "theirs"), "{repaired}");
    Ok(())
}

#[tokio::test]
async fn a_source_that_never_registers_says_what_to_install_where() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "unregistered").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    // The simulated VMM server registers with dc1-vault only, so this vault waits for it.
    apply(plane, &ns, &vmm_vault("rg-lonely", "lonely-vault")?)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let waiting = wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "WaitingForRegistration",
        TIMEOUT,
        |v| condition(v, "SourceRegistered").is_some_and(|c| c.reason == "WaitingForRegistration"),
    )
    .await?;
    assert_eq!(
        condition(&waiting, "SourceRegistered").map(|c| c.message.as_str()),
        Some(
            "install the Azure Site Recovery Provider on the VMM server vmm01.contoso.local and register it with vault lonely-vault using the vault credentials file"
        )
    );
    assert_eq!(
        waiting.status.as_ref().and_then(|s| s.phase),
        Some(cutover_api::VaultPhase::WaitingForSource)
    );
    assert_eq!(
        condition(&waiting, "ReplicationReady").map(|c| c.reason.as_str()),
        Some("WaitingForPrerequisite")
    );
    for done in ["VaultReady", "StorageReady", "NetworkReady"] {
        assert_eq!(
            condition(&waiting, done).map(|c| c.status.as_str()),
            Some("True"),
            "{done}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn credentials_come_from_a_secret_or_from_workload_identity() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    // The application also has a certificate registered: the test fixture's.
    let fixtures = repo_root().join("tests/fixtures");
    let certificate = fixtures.join("service-principal.crt").display().to_string();
    let sim = Simulator::start(&["--time-scale", "600", "--client-certificate", &certificate])?;

    // A vault naming a Secret, with a controller that has no secret of its own.
    let ns = temp_namespace(&client, "secret-credentials").await?;
    let controller = Controller::start(plane, &sim, &ns, &[("AZURE_CLIENT_SECRET", "")])?;
    let mut vault = vmm_vault("rg-secret", "secret-vault")?;
    vault["spec"]["credentials"] = json!({"secretRef": {"name": "azure-sp"}});
    apply(plane, &ns, &vault)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let missing = wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "CredentialsUnavailable",
        TIMEOUT,
        |v| condition(v, "Ready").is_some_and(|c| c.reason == "CredentialsUnavailable"),
    )
    .await?;
    assert!(
        condition(&missing, "Ready")
            .unwrap()
            .message
            .contains("azure-sp")
    );
    sim.create_identity_secret(plane, &ns, "azure-sp")?;
    // A new Secret is no change to the vault: the retry after the credentials error picks it up.
    wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "VaultReady with the Secret's identity",
        TIMEOUT,
        |v| condition(v, "VaultReady").is_some_and(|c| c.status == "True"),
    )
    .await?;
    assert!(
        !controller.log().contains(&sim.info.client_secret),
        "the client secret never appears in the controller's log"
    );

    // Workload identity: a projected service-account token, exchanged for an ARM token.
    let ns = temp_namespace(&client, "workload-identity").await?;
    let token_file = sim.dir.path().join("federated-token");
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    // What a projected token carries; azure-sim checks audience, validity, issuer and subject.
    let expires = jiff::Timestamp::now().as_second() + 3600;
    let claims = json!({"aud": ["api://AzureADTokenExchange"], "iss": "https://kubernetes.default.svc",
        "sub": "system:serviceaccount:cutover:cutover", "exp": expires});
    std::fs::write(
        &token_file,
        format!(
            "{}.{}.signature",
            engine.encode(b"{\"alg\":\"RS256\"}"),
            engine.encode(claims.to_string())
        ),
    )?;
    let token_path = token_file.display().to_string();
    let controller = Controller::start(
        plane,
        &sim,
        &ns,
        &[
            ("AZURE_CLIENT_SECRET", ""),
            ("AZURE_FEDERATED_TOKEN_FILE", &token_path),
        ],
    )?;
    apply(plane, &ns, &vmm_vault("rg-federated", "federated-vault")?)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "VaultReady through workload identity",
        TIMEOUT,
        |v| condition(v, "VaultReady").is_some_and(|c| c.status == "True"),
    )
    .await?;
    assert!(
        controller.log().contains("WorkloadIdentity"),
        "the controller says which identity it uses"
    );

    // A certificate: the controller's own (AZURE_CLIENT_CERTIFICATE_PATH, a PEM with its key),
    // and a vault's, from a Secret's `clientCertificate`.
    let pem = fixtures.join("service-principal.pem").display().to_string();
    let ns = temp_namespace(&client, "certificate").await?;
    let controller = Controller::start(
        plane,
        &sim,
        &ns,
        &[
            ("AZURE_CLIENT_SECRET", ""),
            ("AZURE_CLIENT_CERTIFICATE_PATH", &pem),
        ],
    )?;
    apply(
        plane,
        &ns,
        &vmm_vault("rg-certificate", "certificate-vault")?,
    )?;
    let mut from_secret = vmm_vault("rg-certificate-secret", "cert-secret-vault")?;
    from_secret["metadata"]["name"] = json!("from-secret");
    from_secret["spec"]["credentials"] = json!({"secretRef": {"name": "azure-sp-certificate"}});
    plane.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "-n",
        &ns,
        "azure-sp-certificate",
        &format!("--from-literal=tenantId={}", sim.info.tenant_id),
        &format!("--from-literal=clientId={}", sim.info.client_id),
        &format!("--from-file=clientCertificate={pem}"),
    ])?;
    apply(plane, &ns, &from_secret)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    for name in ["vmm-dc1", "from-secret"] {
        wait_for(
            &api,
            name,
            &controller,
            "VaultReady through a certificate",
            TIMEOUT,
            |v| condition(v, "VaultReady").is_some_and(|c| c.status == "True"),
        )
        .await?;
    }
    assert!(
        controller.log().contains("ClientCertificate"),
        "the controller says which identity it uses"
    );
    Ok(())
}

#[tokio::test]
async fn a_vault_that_machines_still_use_is_not_deleted() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "vault-in-use").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let mut vault = vmm_vault("rg-in-use", "in-use-vault")?;
    vault["spec"]["deletionPolicy"] = json!("Delete");
    apply(plane, &ns, &vault)?;
    let machine = json!({
        "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine", "metadata": {"name": "web01"},
        "spec": {"vaultRef": {"name": "vmm-dc1"}, "source": {"name": "WEB01"}, "osType": "Windows"}
    });
    apply(plane, &ns, &machine)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "finalizer added",
        TIMEOUT,
        |v| {
            v.metadata
                .finalizers
                .as_ref()
                .is_some_and(|f| !f.is_empty())
        },
    )
    .await?;
    plane.kubectl_ok(&["delete", "-n", &ns, "rvault", "vmm-dc1", "--wait=false"])?;
    let blocked = wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "DeletionBlocked",
        TIMEOUT,
        |v| condition(v, "Ready").is_some_and(|c| c.reason == "DeletionBlocked"),
    )
    .await?;
    assert_eq!(
        condition(&blocked, "Ready").unwrap().message,
        "the vault is not deleted while ReplicatedMachines use it: web01"
    );
    plane.kubectl_ok(&["delete", "-n", &ns, "rmachine", "web01"])?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while api.get_opt("vmm-dc1").await?.is_some() {
        assert!(
            Instant::now() < deadline,
            "the vault was not deleted once unused:\n{}",
            controller.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}

#[tokio::test]
async fn sigterm_stops_the_controller_cleanly() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "shutdown").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let mut controller = Controller::start(plane, &sim, &ns, &[("CUTOVER_LOG_FORMAT", "json")])?;
    apply(plane, &ns, &vmm_vault("rg-shutdown", "shutdown-vault")?)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    wait_for(&api, "vmm-dc1", &controller, "a first pass", TIMEOUT, |v| {
        v.status.is_some()
    })
    .await?;
    let status = controller.terminate(Duration::from_secs(20))?;
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        controller.log()
    );
    let log = controller.log();
    let last = log.lines().last().unwrap_or_default();
    let line: Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("JSON log lines ({e}): {last}"));
    assert_eq!(line["fields"]["message"], "cutover controller stopped");
    Ok(())
}

#[tokio::test]
async fn a_same_named_resource_cutover_did_not_create_is_never_taken_over_or_deleted() -> Result<()>
{
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "not-owned").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let sub = "/subscriptions/00000000-0000-0000-0000-000000000001";
    sim.arm(
        Method::PUT,
        &format!("{sub}/resourcegroups/rg-shared?api-version=2025-04-01"),
        Some(json!({"location": "westeurope"})),
    )
    .await?;
    let account = format!(
        "{sub}/resourceGroups/rg-shared/providers/Microsoft.Storage/storageAccounts/teamstore?api-version=2026-09-01"
    );
    sim.arm(
        Method::PUT,
        &account,
        Some(
            json!({"location": "westeurope", "sku": {"name": "Standard_GRS"}, "kind": "StorageV2"}),
        ),
    )
    .await?;

    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let mut vault = vmm_vault("rg-shared", "shared-vault")?;
    vault["spec"]["storage"]["replication"]["create"]["name"] = json!("teamstore");
    vault["spec"]["deletionPolicy"] = json!("Delete");
    apply(plane, &ns, &vault)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let refused = wait_for(&api, "vmm-dc1", &controller, "NotOwned", TIMEOUT, |v| {
        condition(v, "StorageReady").is_some_and(|c| c.reason == "NotOwned")
    })
    .await?;
    assert_eq!(
        condition(&refused, "StorageReady").unwrap().message,
        "a replication storage account named teamstore already exists and was not created by cutover for this vault: adopt it with existingId, or choose another name"
    );

    plane.kubectl_ok(&["delete", "-n", &ns, "rvault", "vmm-dc1", "--wait=false"])?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while api.get_opt("vmm-dc1").await?.is_some() {
        assert!(
            Instant::now() < deadline,
            "the vault was not deleted:\n{}",
            controller.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        sim.arm(Method::GET, &account, None).await?.0,
        200,
        "the team's storage account is untouched"
    );
    let (status, _) = sim
        .arm(
            Method::GET,
            &format!("{sub}/resourcegroups/rg-shared?api-version=2025-04-01"),
            None,
        )
        .await?;
    assert_eq!(
        status, 200,
        "a resource group cutover did not create is not deleted"
    );
    let (status, _) = sim.arm(Method::GET, &format!("{sub}/resourceGroups/rg-shared/providers/Microsoft.RecoveryServices/vaults/shared-vault?api-version=2026-11-01"), None).await?;
    assert_eq!(status, 404, "the vault cutover created is deleted");
    Ok(())
}

#[tokio::test]
async fn a_resource_group_holding_a_resource_cutover_did_not_create_survives_deleting_the_vault()
-> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "shared-group").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let mut vault = vmm_vault("rg-landing", "landing-vault")?;
    vault["spec"]["deletionPolicy"] = json!("Delete");
    apply(plane, &ns, &vault)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    // The VMM server registers with the example's vault only: the landing zone is enough here.
    wait_for(&api, "vmm-dc1", &controller, "NetworkReady", TIMEOUT, |v| {
        condition(v, "NetworkReady").is_some_and(|c| c.status == "True")
    })
    .await?;

    // Someone else puts a resource in the resource group cutover created.
    let group = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-landing";
    let theirs = format!(
        "{group}/providers/Microsoft.Storage/storageAccounts/teamlogs?api-version=2026-09-01"
    );
    let (status, body) = sim
        .arm(
            Method::PUT,
            &theirs,
            Some(json!({"location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"})),
        )
        .await?;
    assert!(status == 200 || status == 202, "{status} {body}");

    cutover_e2e::wait::delete_and_wait_gone(
        plane,
        &ns,
        &api,
        "rvault",
        &["vmm-dc1"],
        &controller,
        TIMEOUT,
    )
    .await?;
    let get = |path: String| {
        let sim = &sim;
        async move { Ok::<u16, anyhow::Error>(sim.arm(Method::GET, &path, None).await?.0) }
    };
    assert_eq!(
        get(format!("{group}?api-version=2025-04-01")).await?,
        200,
        "the group stays"
    );
    assert_eq!(
        get(theirs.clone()).await?,
        200,
        "their storage account stays"
    );
    assert_eq!(
        get(format!("{group}/providers/Microsoft.RecoveryServices/vaults/landing-vault?api-version=2026-11-01")).await?,
        404,
        "the vault cutover created is deleted"
    );
    assert_eq!(
        get(format!("{group}/providers/Microsoft.Storage/storageAccounts/landingvaultrepl?api-version=2026-09-01")).await?,
        404,
        "the storage account cutover created is deleted"
    );
    assert!(
        sim.requests("method=DELETE&path=/resourceGroups/")
            .await?
            .iter()
            .all(|r| {
                !r["path"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
                    .ends_with("/resourcegroups/rg-landing")
            }),
        "no DELETE of the resource group was sent"
    );
    let events = cutover_e2e::wait::event_messages(plane, &ns, "vmm-dc1", "PartlyRetained")?;
    assert!(
        events.contains(
            "resource group rg-landing (it holds 1 resource(s) cutover did not create: teamlogs (Microsoft.Storage/storageAccounts))"
        ),
        "an Event names what kept the group: {events}"
    );
    Ok(())
}

#[tokio::test]
async fn a_subscription_not_registered_for_a_provider_is_said_before_any_write() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "providers").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let providers = "/subscriptions/00000000-0000-0000-0000-000000000001/providers";
    let (status, body) = sim
        .arm(
            Method::POST,
            &format!("{providers}/Microsoft.RecoveryServices/unregister?api-version=2025-04-01"),
            None,
        )
        .await?;
    assert_eq!(
        (status, body["registrationState"].as_str()),
        (200, Some("NotRegistered"))
    );
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    apply(plane, &ns, &vmm_vault("rg-providers", "providers-vault")?)?;
    let api = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let refused = wait_for(
        &api,
        "vmm-dc1",
        &controller,
        "ProviderNotRegistered",
        TIMEOUT,
        |v| condition(v, "VaultReady").is_some_and(|c| c.reason == "ProviderNotRegistered"),
    )
    .await?;
    assert_eq!(
        condition(&refused, "VaultReady").map(|c| c.message.as_str()),
        Some(
            "subscription 00000000-0000-0000-0000-000000000001 is not registered for Microsoft.RecoveryServices (NotRegistered), which the vault and Site Recovery need: an administrator registers it (az provider register --namespace Microsoft.RecoveryServices, or Register-AzResourceProvider)"
        )
    );
    assert_eq!(
        writes(&sim).await?,
        1,
        "nothing but the test's own unregister was written"
    );

    // Once an administrator registers it, the landing zone converges.
    sim.arm(
        Method::POST,
        &format!("{providers}/Microsoft.RecoveryServices/register?api-version=2025-04-01"),
        None,
    )
    .await?;
    wait_for(&api, "vmm-dc1", &controller, "VaultReady", TIMEOUT, |v| {
        condition(v, "VaultReady").is_some_and(|c| c.status == "True")
    })
    .await?;
    Ok(())
}
