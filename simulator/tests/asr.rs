//! Site Recovery paths the SDK conformance suite does not walk: a Hyper-V site whose hosts
//! register into the fabric ARM created, Azure to Azure, registration by hand, the 400s of a
//! bad enable-protection request, a vault that still holds replication, and persistence.

use azure_sim::{Persistence, Settings};
use common::{ASR_API, Harness, fast};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

mod common;

const STORAGE_API: &str = "api-version=2026-09-01";
const NETWORK_API: &str = "api-version=2026-03-01";

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["properties"]["friendlyName"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

async fn get(sim: &Harness, path: &str) -> Value {
    let (status, _, body) = sim.call(Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

#[tokio::test]
async fn hyper_v_hosts_register_into_the_site_arm_created() {
    let sim = Harness::start(Settings {
        page_size: 50,
        ..fast()
    })
    .await;
    let vault = sim.vault("rg-migration-branch", "branch-vault").await;
    assert_eq!(
        get(&sim, &format!("{vault}/replicationFabrics?{ASR_API}")).await["value"],
        json!([]),
        "a site exists only once ARM creates it"
    );

    let (status, headers, _) = sim
        .put_ok(
            &format!("{vault}/replicationFabrics/branch-office?{ASR_API}"),
            json!({"properties": {"customDetails": {"instanceType": "HyperVSite"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(
        headers["location"]
            .to_str()
            .unwrap()
            .contains("/replicationOperationResults/")
    );
    assert!(
        headers["azure-asyncoperation"]
            .to_str()
            .unwrap()
            .contains("/replicationOperationStatus/")
    );

    let containers = get(
        &sim,
        &format!(
            "{vault}/replicationFabrics/branch-office/replicationProtectionContainers?{ASR_API}"
        ),
    )
    .await;
    assert_eq!(names(&containers), ["branch-office-container"]);
    let items = get(&sim, &format!("{vault}/replicationFabrics/branch-office/replicationProtectionContainers/branch-office-container/replicationProtectableItems?{ASR_API}")).await;
    assert_eq!(names(&items), ["APP01", "FS01", "PRINT01"]);
}

/// A vault with a storage account and a VNet, for enabling protection.
async fn landing_zone(
    sim: &Harness,
    group: &str,
    vault_name: &str,
) -> (String, String, String, String) {
    let vault = sim.vault(group, vault_name).await;
    let group_path = format!("{}/resourceGroups/{group}", sim.subscription());
    sim.put_ok(
        &format!(
            "{group_path}/providers/Microsoft.Storage/storageAccounts/{}store?{STORAGE_API}",
            group.replace('-', "")
        ),
        json!({"location": "westeurope", "sku": {"name": "Standard_GRS"}, "kind": "StorageV2"}),
    )
    .await;
    sim.put_ok(
        &format!(
            "{group_path}/providers/Microsoft.Storage/storageAccounts/{}far?{STORAGE_API}",
            group.replace('-', "")
        ),
        json!({"location": "eastus", "sku": {"name": "Standard_GRS"}, "kind": "StorageV2"}),
    )
    .await;
    sim.put_ok(
        &format!("{group_path}/providers/Microsoft.Network/virtualNetworks/vnet?{NETWORK_API}"),
        json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [{"name": "app", "properties": {"addressPrefix": "10.0.1.0/24"}}]}}),
    )
    .await;
    sim.advance(60);
    let storage = format!(
        "{group_path}/providers/Microsoft.Storage/storageAccounts/{}store",
        group.replace('-', "")
    );
    let far = format!(
        "{group_path}/providers/Microsoft.Storage/storageAccounts/{}far",
        group.replace('-', "")
    );
    let vnet = format!("{group_path}/providers/Microsoft.Network/virtualNetworks/vnet");
    (vault, storage, far, vnet)
}

#[tokio::test]
async fn azure_vms_replicate_to_another_region() {
    let sim = Harness::start(fast()).await;
    let (vault, _, _, vnet) = landing_zone(&sim, "rg-a2a", "a2a-vault").await;
    sim.put_ok(&format!("{vault}/replicationFabrics/neu?{ASR_API}"), json!({"properties": {"customDetails": {"instanceType": "Azure", "location": "northeurope"}}})).await;
    sim.put_ok(&format!("{vault}/replicationFabrics/weu?{ASR_API}"), json!({"properties": {"customDetails": {"instanceType": "Azure", "location": "westeurope"}}})).await;
    let a2a = json!({"properties": {"providerSpecificInput": [{"instanceType": "A2A"}]}});
    sim.put_ok(
        &format!(
            "{vault}/replicationFabrics/neu/replicationProtectionContainers/neu-container?{ASR_API}"
        ),
        a2a.clone(),
    )
    .await;
    sim.put_ok(
        &format!(
            "{vault}/replicationFabrics/weu/replicationProtectionContainers/weu-container?{ASR_API}"
        ),
        a2a,
    )
    .await;
    let items = get(&sim, &format!("{vault}/replicationFabrics/neu/replicationProtectionContainers/neu-container/replicationProtectableItems?{ASR_API}")).await;
    assert_eq!(names(&items), ["app-vm1", "app-vm2", "app-vm3"]);

    sim.put_ok(&format!("{vault}/replicationPolicies/a2a-24h?{ASR_API}"), json!({"properties": {"providerSpecificInput": {"instanceType": "A2A", "recoveryPointHistory": 1440}}})).await;
    let policy = format!("{vault}/replicationPolicies/a2a-24h");
    sim.put_ok(
        &format!("{vault}/replicationFabrics/neu/replicationProtectionContainers/neu-container/replicationProtectionContainerMappings/neu-to-weu?{ASR_API}"),
        json!({"properties": {"targetProtectionContainerId": format!("{vault}/replicationFabrics/weu/replicationProtectionContainers/weu-container"), "policyId": policy, "providerSpecificInput": {"instanceType": "A2A"}}}),
    )
    .await;
    let item = format!(
        "{vault}/replicationFabrics/neu/replicationProtectionContainers/neu-container/replicationProtectedItems/app-vm1"
    );
    let vm = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app-neu/providers/Microsoft.Compute/virtualMachines/app-vm1";
    sim.put_ok(
        &format!("{item}?{ASR_API}"),
        json!({"properties": {"policyId": policy, "providerSpecificDetails": {"instanceType": "A2A", "fabricObjectId": vm, "recoveryResourceGroupId": format!("{}/resourceGroups/rg-a2a", sim.subscription()), "recoveryAzureNetworkId": vnet}}}),
    )
    .await;
    sim.advance(3600);
    let protected = get(&sim, &format!("{item}?{ASR_API}")).await;
    assert_eq!(protected["properties"]["protectionState"], "Protected");
    assert_eq!(
        protected["properties"]["providerSpecificDetails"]["instanceType"],
        "A2A"
    );
    assert_eq!(
        protected["properties"]["providerSpecificDetails"]["fabricObjectId"],
        vm
    );
}

#[tokio::test]
async fn enable_protection_refuses_what_asr_refuses() {
    let sim = Harness::start(fast()).await;
    let (vault, storage, far, vnet) = landing_zone(&sim, "rg-migration-dc1", "dc1-vault").await;
    let fabric = format!("{vault}/replicationFabrics/vmm01-contoso-local");
    let container = format!("{fabric}/replicationProtectionContainers/gold");
    sim.put_ok(&format!("{vault}/replicationPolicies/p?{ASR_API}"), json!({"properties": {"providerSpecificInput": {"instanceType": "HyperVReplicaAzure", "replicationInterval": 300}}})).await;
    let policy = format!("{vault}/replicationPolicies/p");
    let enable = |protectable: &str, storage: &str| {
        json!({"properties": {"policyId": policy, "protectableItemId": format!("{container}/replicationProtectableItems/{protectable}"), "providerSpecificDetails": {
            "instanceType": "HyperVReplicaAzure", "targetStorageAccountId": storage, "targetAzureNetworkId": vnet,
            "targetAzureV2ResourceGroupId": format!("{}/resourceGroups/rg-migration-dc1", sim.subscription())}}})
    };
    let web01 = "3f2c1a10-0000-4000-8000-000000000002";

    // Not paired with the policy yet.
    let (status, _, body) = sim
        .call(
            Method::PUT,
            &format!("{container}/replicationProtectedItems/web01?{ASR_API}"),
            Some(enable(web01, &storage)),
        )
        .await;
    assert_eq!(
        (status, body["error"]["target"].as_str()),
        (StatusCode::BAD_REQUEST, Some("properties.policyId")),
        "{body}"
    );

    sim.put_ok(
        &format!("{container}/replicationProtectionContainerMappings/m?{ASR_API}"),
        json!({"properties": {"targetProtectionContainerId": "Microsoft Azure", "policyId": policy, "providerSpecificInput": {"instanceType": "HyperVReplicaAzure"}}}),
    )
    .await;
    let cases = [
        (
            enable("00000000-dead-beef-0000-000000000000", &storage),
            "properties.protectableItemId",
            "was not found",
        ),
        (
            enable(web01, &far),
            "properties.providerSpecificDetails.targetStorageAccountId",
            "is in eastus, not in the vault's region westeurope",
        ),
        (
            json!({"properties": {"protectableItemId": format!("{container}/replicationProtectableItems/{web01}")}}),
            "properties.policyId",
            "required",
        ),
    ];
    for (body, target, message) in cases {
        let (status, _, error) = sim
            .call(
                Method::PUT,
                &format!("{container}/replicationProtectedItems/web01?{ASR_API}"),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["error"]["target"], target, "{error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{error}"
        );
    }

    // A vault that holds replication cannot be deleted.
    let (status, _, error) = sim
        .call(
            Method::DELETE,
            &format!("{vault}?api-version=2026-11-01"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "ServiceResourceNotEmpty");
}

#[tokio::test]
async fn sources_register_by_hand_and_added_machines_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let persistence = Persistence {
        path: Some(dir.path().join("state.json")),
    };
    let sim = Harness::start_with(fast(), persistence.clone()).await;
    let lab = json!({"sources": [{"kind": "physical", "name": "lab-appliance", "machines": [
        {"name": "lab01", "id": "aa00", "osType": "Linux", "disks": [{"id": "sda", "sizeGb": 10, "osDisk": true}]}]}]});
    assert!(
        sim.http
            .post(format!("{}/_sim/inventory", sim.url()))
            .json(&lab)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let vault = sim.vault("rg-lab", "lab-vault").await;
    let vault_id = vault.clone();
    let registered = sim
        .http
        .post(format!("{}/_sim/register", sim.url()))
        .json(&json!({"source": "lab-appliance", "vaultId": vault_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::OK);
    let items_path = format!(
        "{vault}/replicationFabrics/lab-appliance/replicationProtectionContainers/lab-appliance-container/replicationProtectableItems?{ASR_API}"
    );
    assert_eq!(names(&get(&sim, &items_path).await), ["lab01"]);
    sim.running.shutdown().await;

    let restarted = Harness::start_with(fast(), persistence).await;
    assert_eq!(names(&get(&restarted, &items_path).await), ["lab01"]);
}
